//! The latency monitor (`LATENCY`): for each event class (`command`, `fast-command`,
//! `expire-cycle`) the latest 160 samples of at least `latency-monitor-threshold`
//! milliseconds, one per second, and the all-time maximum; plus `LATENCY HISTOGRAM`, from the
//! per-command counters of [`crate::cmdstats`].

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use kv_engine::{CommandError, CommandSpec, Flags};
use parking_lot::Mutex;

use crate::cmdstats::CommandCounters;
use crate::connection::Connection;

/// Samples kept per event, as Redis's `LATENCY_TS_LEN`.
const SAMPLES: usize = 160;

/// One event's recent history.
#[derive(Debug, Clone)]
struct Series {
    /// Where the next sample goes.
    next: usize,
    /// The highest latency ever recorded, in milliseconds.
    max: u64,
    /// `(unix seconds, milliseconds)`; a zero time marks a slot never written.
    samples: [(u64, u64); SAMPLES],
}

impl Series {
    fn new() -> Series {
        Series {
            next: 0,
            max: 0,
            samples: [(0, 0); SAMPLES],
        }
    }

    /// Adds a sample taken at `now`; samples within one second keep only the highest.
    fn add(&mut self, now: u64, latency: u64) {
        self.max = self.max.max(latency);
        let previous = (self.next + SAMPLES - 1) % SAMPLES;
        if self.samples[previous].0 == now {
            let slot = &mut self.samples[previous].1;
            *slot = (*slot).max(latency);
            return;
        }
        self.samples[self.next] = (now, latency);
        self.next = (self.next + 1) % SAMPLES;
    }

    /// The latest sample.
    fn latest(&self) -> (u64, u64) {
        self.samples[(self.next + SAMPLES - 1) % SAMPLES]
    }

    /// Every written sample, oldest first.
    fn history(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        (0..SAMPLES)
            .map(move |j| self.samples[(self.next + j) % SAMPLES])
            .filter(|&(time, _)| time != 0)
    }
}

/// One event's samples, copied out of the monitor for a report.
struct Recorded {
    name: String,
    /// `(unix seconds, milliseconds)`, oldest first.
    samples: Vec<(u64, u64)>,
    /// The highest latency ever recorded, in milliseconds.
    max: u64,
}

/// Every event's history.
#[derive(Debug, Default)]
pub struct LatencyMonitor {
    events: Mutex<BTreeMap<String, Series>>,
}

impl LatencyMonitor {
    /// Records `latency` milliseconds for `event` if it reaches `threshold` (0: monitor off).
    pub fn add_if_needed(&self, event: &str, latency: u64, threshold: i64) {
        if threshold > 0 && latency >= threshold as u64 {
            self.add(event, latency);
        }
    }

    /// Records `latency` milliseconds for `event`.
    pub fn add(&self, event: &str, latency: u64) {
        let now = kv_engine::now_ms() / 1000;
        let mut events = self.events.lock();
        match events.get_mut(event) {
            Some(series) => series.add(now, latency),
            None => {
                let mut series = Series::new();
                series.add(now, latency);
                events.insert(event.to_string(), series);
            }
        }
    }

    /// A copy of every event's samples (oldest first), with its all-time maximum.
    fn recorded(&self) -> Vec<Recorded> {
        self.events
            .lock()
            .iter()
            .map(|(name, series)| Recorded {
                name: name.clone(),
                samples: series.history().collect(),
                max: series.max,
            })
            .collect()
    }

    /// Forgets the events named (ignoring case), or every event; returns how many were forgotten.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut events = self.events.lock();
        if names.is_empty() {
            let count = events.len();
            events.clear();
            return count;
        }
        let mut count = 0;
        for name in names {
            let before = events.len();
            events.retain(|event, _| !event.as_bytes().eq_ignore_ascii_case(name));
            count += before - events.len();
        }
        count
    }
}

/// Records a command that ran for `usec` microseconds, under Redis's event name for it.
pub fn record_command(conn: &Connection, spec: &CommandSpec, usec: u64) {
    let threshold = conn
        .shared
        .config
        .hot
        .latency_threshold
        .load(Ordering::Relaxed);
    let event = if spec.has(Flags::FAST) {
        "fast-command"
    } else {
        "command"
    };
    conn.shared
        .latency
        .add_if_needed(event, usec / 1000, threshold);
}

/// `LATENCY <subcommand>`, with `args` the whole command.
pub fn command(conn: &mut Connection, sub: &str, args: &[&[u8]]) -> Result<(), CommandError> {
    match sub {
        "latest" => latest(conn),
        "history" => history(conn, args[2]),
        "reset" => {
            let count = conn.shared.latency.reset(&args[2..]);
            conn.reply.count(count);
        }
        "histogram" => histogram(conn, &args[2..]),
        "graph" => graph(conn, args[2])?,
        "doctor" => {
            let report = doctor(conn);
            conn.reply.verbatim(report.as_bytes());
        }
        "help" => crate::admin::help(conn, HELP),
        _ => {
            return Err(CommandError::Internal(
                "LATENCY subcommand without an implementation",
            ))
        }
    }
    Ok(())
}

/// `LATENCY LATEST`: `[event, time, latest, max]` for every event.
fn latest(conn: &mut Connection) {
    let events: Vec<(String, (u64, u64), u64)> = conn
        .shared
        .latency
        .events
        .lock()
        .iter()
        .map(|(name, series)| (name.clone(), series.latest(), series.max))
        .collect();
    conn.reply.array(events.len());
    for (name, (time, latency), max) in events {
        conn.reply.array(4);
        conn.reply.bulk(name.as_bytes());
        conn.reply.integer(time as i64);
        conn.reply.integer(latency as i64);
        conn.reply.integer(max as i64);
    }
}

/// `LATENCY HISTORY event`: `[time, latency]` pairs, oldest first (event names are
/// case-sensitive here, as in Redis).
fn history(conn: &mut Connection, event: &[u8]) {
    let samples: Vec<(u64, u64)> = std::str::from_utf8(event)
        .ok()
        .and_then(|event| {
            let events = conn.shared.latency.events.lock();
            events.get(event).map(|series| series.history().collect())
        })
        .unwrap_or_default();
    conn.reply.array(samples.len());
    for (time, latency) in samples {
        conn.reply.array(2);
        conn.reply.integer(time as i64);
        conn.reply.integer(latency as i64);
    }
}

/// Columns of a `LATENCY GRAPH`, and rows of its plot, as Redis draws it.
const GRAPH_COLUMNS: usize = 80;
const GRAPH_ROWS: usize = 4;

/// `LATENCY GRAPH event`: the event's samples as an ASCII plot, oldest first, each column
/// labelled with the sample's age (`5s`, `3m`, `2h`, `1d`, read downwards), under a title
/// with the lowest and highest samples; Redis's layout.
fn graph(conn: &mut Connection, event: &[u8]) -> Result<(), CommandError> {
    let found = conn
        .shared
        .latency
        .recorded()
        .into_iter()
        .find(|recorded| recorded.name.as_bytes() == event);
    let Some(Recorded {
        name,
        samples,
        max: all_time_high,
    }) = found
    else {
        return Err(CommandError::Other(
            format!(
                "ERR No samples available for event '{}'",
                String::from_utf8_lossy(event)
            )
            .into(),
        ));
    };
    let now = kv_engine::now_ms() / 1000;
    let latencies: Vec<u64> = samples.iter().map(|&(_, latency)| latency).collect();
    let labels: Vec<String> = samples
        .iter()
        .map(|&(time, _)| age_label(now.saturating_sub(time)))
        .collect();
    let high = latencies.iter().copied().max().unwrap_or(0);
    let low = latencies.iter().copied().min().unwrap_or(0);
    let mut text =
        format!("{name} - high {high} ms, low {low} ms (all time high {all_time_high} ms)\n");
    text.push_str(&"-".repeat(GRAPH_COLUMNS));
    text.push('\n');
    text.push_str(&crate::sparkline::render(
        &latencies,
        &labels,
        GRAPH_COLUMNS,
        GRAPH_ROWS,
    ));
    conn.reply.verbatim(text.as_bytes());
    Ok(())
}

/// How long ago, in the largest whole unit: `59s`, `59m`, `23h`, `2d`.
fn age_label(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    }
}

/// `LATENCY DOCTOR`: a report, for a person, of each event's spikes (how many, their average
/// and mean deviation, how often, the worst) and what usually causes them.
fn doctor(conn: &Connection) -> String {
    let hot = &conn.shared.config.hot;
    let threshold = hot.latency_threshold.load(Ordering::Relaxed);
    if threshold <= 0 {
        return "Latency monitoring is off, so there is nothing to report. Turn it on with \
                CONFIG SET latency-monitor-threshold <milliseconds>: events that take at \
                least that long are then recorded.\n"
            .to_string();
    }
    let events = conn.shared.latency.recorded();
    if events.is_empty() {
        return format!(
            "No event has taken {threshold} ms or more (latency-monitor-threshold) since the \
             server started, or since LATENCY RESET.\n"
        );
    }
    let mut report = format!(
        "Latency spikes recorded (events of {threshold} ms or more, one sample per second, \
         the latest {SAMPLES} kept):\n\n"
    );
    for (n, recorded) in events.iter().enumerate() {
        let (name, samples, worst) = (&recorded.name, &recorded.samples, recorded.max);
        let count = samples.len() as u64;
        let average = samples.iter().map(|&(_, l)| l).sum::<u64>() / count.max(1);
        let deviation = samples
            .iter()
            .map(|&(_, l)| l.abs_diff(average))
            .sum::<u64>()
            / count.max(1);
        let span = match (samples.first(), samples.last()) {
            (Some(first), Some(last)) => last.0 - first.0,
            _ => 0,
        };
        let period = if count > 1 {
            format!("one every {:.2} s", span as f64 / (count - 1) as f64)
        } else {
            "once".to_string()
        };
        report.push_str(&format!(
            "{}. {name}: {count} spike{} ({period}), average {average} ms, mean deviation \
             {deviation} ms; the worst ever took {worst} ms.\n",
            n + 1,
            if count == 1 { "" } else { "s" },
        ));
    }
    report.push_str("\nWhat to look at:\n\n");
    let names: Vec<&str> = events
        .iter()
        .map(|recorded| recorded.name.as_str())
        .collect();
    if names.contains(&"command") || names.contains(&"fast-command") {
        let slower_than = hot.slowlog_slower_than.load(Ordering::Relaxed);
        report.push_str(
            "- Slow commands: SLOWLOG GET lists them with their arguments. Commands that \
             touch many elements (KEYS, SMEMBERS, HGETALL, LRANGE, SORT, ZRANGE of large \
             ranges, DEL of large values) take time in proportion; SCAN, HSCAN, SSCAN and \
             ZSCAN, UNLINK and smaller values keep each call short.\n",
        );
        if slower_than < 0 || slower_than > threshold.saturating_mul(1000) {
            report.push_str(&format!(
                "- The slow log records commands slower than {slower_than} microseconds, \
                 more than the latency threshold: CONFIG SET slowlog-log-slower-than {} \
                 records the ones seen here too.\n",
                threshold.saturating_mul(1000)
            ));
        }
    }
    if names.contains(&"fast-command") {
        report.push_str(
            "- Commands of O(1) or O(log N) were slow: the machine itself was busy \
             (other processes, memory pressure or swapping, a noisy virtual machine \
             neighbour).\n",
        );
    }
    if names.contains(&"expire-cycle") {
        report.push_str(
            "- The active expiry cycle took long: many keys expired at about the same time. \
             Spreading their TTLs (adding a random part) spreads the work.\n",
        );
    }
    report
}

/// `LATENCY HISTOGRAM [command ...]`: for every named command (every command if none is named)
/// that has run since the last `CONFIG RESETSTAT`, its calls and cumulative latency histogram.
/// A container's name stands for its subcommands; unknown names are skipped.
fn histogram(conn: &mut Connection, names: &[&[u8]]) {
    let stats = &conn.shared.cmdstats;
    let mut found: Vec<(&str, &CommandCounters)> = Vec::new();
    if names.is_empty() {
        found.extend(
            stats
                .iter()
                .filter(|(_, _, c)| c.calls() > 0)
                .map(|(name, _, c)| (name, c)),
        );
    } else {
        for wanted in names {
            let wanted = String::from_utf8_lossy(wanted).to_ascii_lowercase();
            // `client|list` names one subcommand; `client` the command and its subcommands.
            found.extend(
                stats
                    .iter()
                    .filter(|(name, _, c)| c.calls() > 0 && names_match(name, &wanted))
                    .map(|(name, _, c)| (name, c)),
            );
        }
    }
    write_histograms(&mut conn.reply, &found);
}

/// Whether the command or subcommand `name` is one LATENCY HISTOGRAM was asked for by
/// `wanted`: its own name, or (for a subcommand) its container's name.
fn names_match(name: &str, wanted: &str) -> bool {
    name == wanted
        || (!wanted.contains('|')
            && name
                .split_once('|')
                .is_some_and(|(parent, _)| parent == wanted))
}

/// One `{calls, histogram_usec}` map per command.
fn write_histograms(reply: &mut kv_engine::Reply, found: &[(&str, &CommandCounters)]) {
    reply.map(found.len());
    for (name, counters) in found {
        let buckets = counters.cumulative_histogram();
        reply.bulk(name.as_bytes());
        reply.map(2);
        reply.bulk(b"calls");
        reply.integer(counters.calls() as i64);
        reply.bulk(b"histogram_usec");
        reply.map(buckets.len());
        for (usec, count) in buckets {
            reply.integer(usec as i64);
            reply.integer(count as i64);
        }
    }
}

/// `LATENCY HELP`: Redis's text for the subcommands kv implements (not DOCTOR and GRAPH).
const HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeping_the_highest() {
        let mut series = Series::new();
        series.add(100, 5);
        series.add(100, 9);
        series.add(100, 7);
        series.add(101, 3);
        assert_eq!(series.history().collect::<Vec<_>>(), [(100, 9), (101, 3)]);
        assert_eq!(series.latest(), (101, 3));
        assert_eq!(series.max, 9);
        for t in 0..200 {
            series.add(1000 + t, t);
        }
        let history: Vec<_> = series.history().collect();
        assert_eq!(history.len(), SAMPLES);
        assert_eq!(history[0], (1040, 40));
        assert_eq!(series.max, 199);
    }

    #[test]
    fn reset_ignores_case_and_counts() {
        let monitor = LatencyMonitor::default();
        monitor.add_if_needed("command", 5, 0);
        assert_eq!(monitor.reset(&[]), 0);
        monitor.add_if_needed("command", 5, 10);
        assert_eq!(monitor.reset(&[]), 0);
        monitor.add_if_needed("command", 15, 10);
        monitor.add("fast-command", 1);
        assert_eq!(monitor.reset(&[b"COMMAND", b"nope"]), 1);
        assert_eq!(monitor.reset(&[]), 1);
    }
}
