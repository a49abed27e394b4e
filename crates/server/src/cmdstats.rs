//! Per-command and per-error counters: INFO's `commandstats`, `errorstats` and
//! `latencystats` sections and `LATENCY HISTOGRAM`.
//!
//! Every command runs through [`CommandStats::record_call`] or
//! [`CommandStats::record_rejected`], so both are a few relaxed atomic additions on counters
//! found without hashing: each row of the static command table gets one slot, found from the
//! row's address. The rows sit in a dozen static arrays (one per family, one per container's
//! subcommands), so a search over those arrays' address ranges and a division find the slot.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use kv_engine::{table, CommandSpec};
use parking_lot::Mutex;

/// Buckets of the latency histogram: 20 powers of two from 1024 ns, then one for the rest.
pub const HISTOGRAM_BUCKETS: usize = 21;

/// Redis clamps recorded latencies to this range, in nanoseconds.
const HISTOGRAM_MIN_NS: u64 = 1;
/// See [`HISTOGRAM_MIN_NS`].
const HISTOGRAM_MAX_NS: u64 = 1_000_000_000;

/// How many distinct error codes `errorstats` tracks; a bound on memory, since kv's error codes
/// come from its own messages this is never reached in practice.
const MAX_ERROR_CODES: usize = 128;

/// The counters of one command or subcommand. A call costs two atomic additions: its time, and
/// its latency bucket (whose sum is the number of calls).
#[derive(Debug, Default)]
pub struct CommandCounters {
    /// Microseconds spent running it (`usec`).
    pub usec: AtomicU64,
    /// Times it was refused before running: arity, authentication, ... (`rejected_calls`).
    pub rejected: AtomicU64,
    /// Times it ran and replied an error (`failed_calls`).
    pub failed: AtomicU64,
    /// Calls by latency bucket, see [`histogram_bucket`].
    histogram: [AtomicU64; HISTOGRAM_BUCKETS],
    /// Calls by latency in Redis's HdrHistogram slots (see [`hdr`]), for INFO latencystats;
    /// made on the command's first call while `latency-tracking` is on, as Redis makes its
    /// histogram.
    fine: OnceLock<Box<[AtomicU64]>>,
}

impl CommandCounters {
    fn reset(&self) {
        for counter in [&self.usec, &self.rejected, &self.failed]
            .into_iter()
            .chain(&self.histogram)
            .chain(self.fine.get().into_iter().flatten())
        {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// The latency at each of `percentiles` (0 to 100), in microseconds as Redis's
    /// `hdr_value_at_percentile` gives them; `None` when no call was recorded.
    pub fn percentiles(&self, percentiles: &[f64]) -> Option<Vec<f64>> {
        let counts: Vec<u64> = self.fine.get()?.iter().map(Self::load).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        Some(
            percentiles
                .iter()
                .map(|&p| hdr::value_at_percentile(&counts, total, p) as f64 / 1000.0)
                .collect(),
        )
    }

    fn load(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The cumulative histogram as `LATENCY HISTOGRAM` reports it: `(usec, calls at or below)`
    /// for every bucket where the count grows.
    pub fn cumulative_histogram(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut total = 0;
        for (bucket, count) in self.histogram.iter().enumerate() {
            let count = Self::load(count);
            if count > 0 {
                total += count;
                out.push((bucket_usec(bucket), total));
            }
        }
        out
    }

    /// Times it ran (`calls`): every run lands in one histogram bucket.
    pub fn calls(&self) -> u64 {
        self.histogram.iter().map(Self::load).sum()
    }
}

/// What Redis records for a call of `usec` microseconds: nanoseconds, within 1 ns to 1 s.
fn latency_ns(usec: u64) -> u64 {
    usec.saturating_mul(1000)
        .clamp(HISTOGRAM_MIN_NS, HISTOGRAM_MAX_NS)
}

/// A percentile as Redis names it: C's `%f`, trailing zeros (and a bare point) removed.
pub fn trimmed_percentile(p: f64) -> String {
    let text = format!("{p:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The slots of the HdrHistogram Redis keeps per command for INFO latencystats (1 ns to 1 s,
/// 2 significant digits), and how it reads a percentile from them: the same slots give the
/// same figures. Within each power of two from 256 ns up, 128 slots; below, one per ns.
pub mod hdr {
    /// Slots per power of two (`sub_bucket_half_count`), as a magnitude.
    const HALF_MAGNITUDE: u32 = 7;
    /// `sub_bucket_count`: the first 256 values have a slot each.
    const SUB_BUCKETS: u64 = 256;
    /// Powers of two needed to reach 1 s from 256 ns (`bucket_count`).
    const BUCKETS: usize = 23;
    /// Every slot (`counts_len`).
    pub const COUNTS: usize = (BUCKETS + 1) << HALF_MAGNITUDE;

    /// The power-of-two bucket of `value`.
    fn bucket(value: u64) -> u32 {
        let pow2ceiling = 64 - (value | (SUB_BUCKETS - 1)).leading_zeros();
        pow2ceiling - (HALF_MAGNITUDE + 1)
    }

    /// The slot of `value` (`counts_index_for`).
    pub fn index(value: u64) -> usize {
        let bucket = bucket(value);
        let sub_bucket = value >> bucket;
        (((bucket as u64 + 1) << HALF_MAGNITUDE) + sub_bucket - (SUB_BUCKETS / 2)) as usize
    }

    /// The smallest value of slot `index` (`hdr_value_at_index`).
    fn value_at(index: usize) -> u64 {
        let mut bucket = (index >> HALF_MAGNITUDE) as i64 - 1;
        let mut sub_bucket = (index as u64 & ((1 << HALF_MAGNITUDE) - 1)) + SUB_BUCKETS / 2;
        if bucket < 0 {
            sub_bucket -= SUB_BUCKETS / 2;
            bucket = 0;
        }
        sub_bucket << bucket
    }

    /// How many values share `value`'s slot.
    fn range_size(value: u64) -> u64 {
        let bucket = bucket(value);
        let adjusted = if value >> bucket >= SUB_BUCKETS {
            bucket + 1
        } else {
            bucket
        };
        1 << adjusted
    }

    /// The smallest value of `value`'s slot.
    fn lowest_equivalent(value: u64) -> u64 {
        let bucket = bucket(value);
        (value >> bucket) << bucket
    }

    /// `hdr_value_at_percentile` over `counts` (`total` in all): the highest value of the
    /// slot where the percentile's count is reached (the lowest for percentile 0).
    pub fn value_at_percentile(counts: &[u64], total: u64, percentile: f64) -> u64 {
        let requested = percentile.min(100.0);
        let wanted = (((requested / 100.0) * total as f64) + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        let mut found = 0;
        for (index, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                found = value_at(index);
                break;
            }
        }
        let low = lowest_equivalent(found);
        if percentile == 0.0 {
            low
        } else {
            low + range_size(found) - 1
        }
    }
}

/// The histogram bucket of a call that took `usec` microseconds.
///
/// Redis records `usec * 1000` nanoseconds in an HdrHistogram (1 ns to 1 s, 2 significant
/// digits) and reports it with a logarithmic iterator starting at 1024 ns, doubling. A report
/// level `L = 1024 << k` counts every value whose histogram slot starts at or below `L`; slots
/// there are `L / 128` wide, so bucket `k` ends just before `L + L / 128`. Values beyond the
/// last level (2^29 ns) land in a final bucket.
pub fn histogram_bucket(usec: u64) -> usize {
    let ns = latency_ns(usec);
    let log2 = 63 - ns.leading_zeros() as usize;
    if log2 < 10 {
        return 0;
    }
    let k = log2 - 10;
    let level = 1024u64 << k;
    let bucket = if ns < level + level / 128 { k } else { k + 1 };
    bucket.min(HISTOGRAM_BUCKETS - 1)
}

/// The microseconds Redis prints for a bucket: the highest value of the histogram slot at the
/// report level, in whole microseconds; the final bucket reports the histogram's last slot.
pub fn bucket_usec(bucket: usize) -> u64 {
    if bucket + 1 >= HISTOGRAM_BUCKETS {
        return 1_073_741;
    }
    let level = 1024u64 << bucket;
    (level + level / 128 - 1) / 1000
}

/// One row of the command table and where its counters are.
#[derive(Debug)]
struct Slot {
    spec: &'static CommandSpec,
    /// The full name: `get`, `client|list`.
    name: String,
    counters: CommandCounters,
}

/// Counters for every command, and for every error code.
#[derive(Debug)]
pub struct CommandStats {
    /// Every command and subcommand, in table order (a container before its subcommands).
    slots: Vec<Slot>,
    /// Runs of rows at consecutive addresses (the static arrays), sorted by address.
    runs: Vec<Run>,
    /// Slot indexes in address order: run `r`'s rows are `slot_of[r.first..r.first + r.len]`.
    slot_of: Vec<usize>,
    /// Error replies by error code, sorted as Redis's radix tree lists them.
    errors: Mutex<BTreeMap<Vec<u8>, u64>>,
}

impl Default for CommandStats {
    fn default() -> Self {
        CommandStats::new()
    }
}

/// Calls counted by one connection and not yet added to the shared counters: a run of calls of
/// one command in one latency bucket, as a pipelined batch of like commands makes. Counting a
/// batch's calls here and adding them once (see [`CommandStats::flush`]) saves every call
/// its own atomic additions and the search for its slot.
#[derive(Debug, Default)]
pub struct Tally {
    /// The address of the command's row ([`address`]; 0 before the first call) and its slot,
    /// kept after a flush: the next batch is likely to run the same command.
    addr: usize,
    slot: usize,
    /// The latency bucket of every call counted, and its HdrHistogram slot.
    bucket: usize,
    fine: usize,
    /// Whether the calls go into the fine histogram too (`latency-tracking`).
    track: bool,
    /// Calls counted (0: the tally is empty), their microseconds, and how many failed.
    calls: u64,
    usec: u64,
    failed: u64,
}

/// Rows at consecutive addresses.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Address of the first row.
    start: usize,
    /// How many rows.
    len: usize,
    /// Where the run's rows begin in `slot_of`.
    first: usize,
}

/// The size of a row, the distance between consecutive rows of a static array.
const ROW: usize = std::mem::size_of::<CommandSpec>();

/// The address of a row: rows live in statics, so it identifies the row for the process's life.
fn address(spec: &CommandSpec) -> usize {
    spec as *const CommandSpec as usize
}

/// Groups sorted `(address, slot)` pairs into runs of consecutive rows.
fn runs_of(sorted: &[(usize, usize)]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (i, &(addr, _)) in sorted.iter().enumerate() {
        match runs.last_mut() {
            Some(run) if run.start + run.len * ROW == addr => run.len += 1,
            _ => runs.push(Run {
                start: addr,
                len: 1,
                first: i,
            }),
        }
    }
    runs
}

impl CommandStats {
    /// Zeroed counters for every row of the command table.
    pub fn new() -> CommandStats {
        let mut slots = Vec::new();
        for spec in table::all() {
            slots.push(Slot {
                spec,
                name: spec.name.to_string(),
                counters: CommandCounters::default(),
            });
            for sub in spec.subcommands {
                slots.push(Slot {
                    spec: sub,
                    name: format!("{}|{}", spec.name, sub.name),
                    counters: CommandCounters::default(),
                });
            }
        }
        let mut sorted: Vec<(usize, usize)> = slots
            .iter()
            .enumerate()
            .map(|(i, slot)| (address(slot.spec), i))
            .collect();
        sorted.sort_unstable();
        CommandStats {
            slots,
            runs: runs_of(&sorted),
            slot_of: sorted.iter().map(|&(_, slot)| slot).collect(),
            errors: Mutex::new(BTreeMap::new()),
        }
    }

    /// The counters of `spec`, a row of the command table.
    pub fn counters(&self, spec: &CommandSpec) -> Option<&CommandCounters> {
        Some(&self.slots[self.slot(spec)?].counters)
    }

    /// The slot of `spec`, a row of the command table.
    fn slot(&self, spec: &CommandSpec) -> Option<usize> {
        let addr = address(spec);
        let run = self.runs[..self.runs.partition_point(|r| r.start <= addr)].last()?;
        let offset = addr - run.start;
        if offset % ROW != 0 || offset / ROW >= run.len {
            return None;
        }
        Some(self.slot_of[run.first + offset / ROW])
    }

    /// Records one run of `spec` that took `usec` microseconds (`track`: in the fine
    /// histogram too).
    pub fn record_call(&self, spec: &CommandSpec, usec: u64, failed: bool, track: bool) {
        let mut tally = Tally::default();
        self.tally_call(&mut tally, spec, usec, failed, track);
        self.flush(&mut tally);
    }

    /// Counts one run of `spec` that took `usec` microseconds in `tally`, adding what `tally`
    /// held to the counters first if that was another command or latency (`track`: the run
    /// goes into the fine histogram too, `latency-tracking`).
    pub fn tally_call(
        &self,
        tally: &mut Tally,
        spec: &CommandSpec,
        usec: u64,
        failed: bool,
        track: bool,
    ) {
        let fine = hdr::index(latency_ns(usec));
        let addr = address(spec);
        if tally.addr != addr || tally.fine != fine || tally.track != track {
            self.flush(tally);
            if tally.addr != addr {
                let Some(slot) = self.slot(spec) else {
                    return;
                };
                tally.addr = addr;
                tally.slot = slot;
            }
            tally.bucket = histogram_bucket(usec);
            tally.fine = fine;
            tally.track = track;
        }
        tally.calls += 1;
        tally.usec += usec;
        tally.failed += u64::from(failed);
    }

    /// Adds what `tally` counted to the counters, and empties it.
    pub fn flush(&self, tally: &mut Tally) {
        if tally.calls == 0 {
            return;
        }
        let c = &self.slots[tally.slot].counters;
        c.usec.fetch_add(tally.usec, Ordering::Relaxed);
        c.histogram[tally.bucket].fetch_add(tally.calls, Ordering::Relaxed);
        if tally.track {
            let fine = c
                .fine
                .get_or_init(|| (0..hdr::COUNTS).map(|_| AtomicU64::new(0)).collect());
            fine[tally.fine].fetch_add(tally.calls, Ordering::Relaxed);
        }
        if tally.failed > 0 {
            c.failed.fetch_add(tally.failed, Ordering::Relaxed);
        }
        tally.calls = 0;
        tally.usec = 0;
        tally.failed = 0;
    }

    /// Records that `spec` was refused before it ran.
    pub fn record_rejected(&self, spec: &CommandSpec) {
        if let Some(c) = self.counters(spec) {
            c.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one error reply, given the error line without its leading `-`.
    pub fn record_error(&self, line: &[u8]) {
        let code = error_code(line);
        let mut errors = self.errors.lock();
        if let Some(count) = errors.get_mut(code) {
            *count += 1;
        } else if errors.len() < MAX_ERROR_CODES {
            errors.insert(code.to_vec(), 1);
        }
    }

    /// Zeroes everything (`CONFIG RESETSTAT`).
    pub fn reset(&self) {
        for slot in &self.slots {
            slot.counters.reset();
        }
        self.errors.lock().clear();
    }

    /// Every command and subcommand with its counters, in table order, with its full name
    /// (`get`, `client|list`).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &'static CommandSpec, &CommandCounters)> {
        self.slots
            .iter()
            .map(|slot| (slot.name.as_str(), slot.spec, &slot.counters))
    }

    /// INFO's `commandstats` lines: every command that ran or was refused.
    pub fn render_commandstats(&self, out: &mut String) {
        for (name, _, c) in self.iter() {
            let load = CommandCounters::load;
            let (calls, usec) = (c.calls(), load(&c.usec));
            let (rejected, failed) = (load(&c.rejected), load(&c.failed));
            if calls == 0 && rejected == 0 && failed == 0 {
                continue;
            }
            // Redis divides in single precision: `(float)usec/calls`.
            let per_call = if calls == 0 {
                0.0
            } else {
                f64::from(usec as f32 / calls as f32)
            };
            let _ = write!(
                out,
                "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
                safe_info_string(name.as_bytes())
            );
        }
    }

    /// INFO's `latencystats` lines: for every command with a latency histogram, its latency
    /// at each of `percentiles` (`latency-tracking-info-percentiles`), as Redis prints them.
    pub fn render_latencystats(&self, out: &mut String, percentiles: &[f64]) {
        for (name, _, c) in self.iter() {
            let Some(values) = c.percentiles(percentiles) else {
                continue;
            };
            let _ = write!(
                out,
                "latency_percentiles_usec_{}:",
                safe_info_string(name.as_bytes())
            );
            for (i, (p, value)) in percentiles.iter().zip(values).enumerate() {
                let separator = if i > 0 { "," } else { "" };
                let _ = write!(out, "{separator}p{}={value:.3}", trimmed_percentile(*p));
            }
            out.push_str("\r\n");
        }
    }

    /// INFO's `errorstats` lines, by error code.
    pub fn render_errorstats(&self, out: &mut String) {
        for (code, count) in self.errors.lock().iter() {
            let _ = write!(
                out,
                "errorstat_{}:count={count}\r\n",
                safe_info_string(code)
            );
        }
    }
}

/// The error code of an error line (its first word), as Redis finds it: the text before the
/// first space among the first 31 bytes, or `ERR` when there is none.
pub fn error_code(line: &[u8]) -> &[u8] {
    // Redis searches the first 32 bytes of the line including its leading '-'.
    let window = &line[..line.len().min(31)];
    match window.iter().position(|&b| b == b' ') {
        Some(end) => &line[..end],
        None => b"ERR",
    }
}

/// Text safe to print as an INFO field name: Redis replaces `#`, `:`, CR and LF with `_`.
fn safe_info_string(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .map(|c| {
            if matches!(c, '#' | ':' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_redis_report_levels() {
        // (usec, reported bucket value) pairs observed from Redis 7.0's LATENCY HISTOGRAM.
        for (usec, reported) in [
            (0, 1),
            (1, 1),
            (2, 2),
            (3, 4),
            (5, 8),
            (9, 16),
            (32, 33),
            (33, 33),
            (34, 66),
            (66, 66),
            (67, 132),
            (186, 264),
            (300_000, 541_065),
            (600_000, 1_073_741),
            (2_000_000, 1_073_741),
        ] {
            assert_eq!(bucket_usec(histogram_bucket(usec)), reported, "{usec} usec");
        }
    }

    /// Percentiles read from one recorded latency are those Redis 7.0 printed for the same
    /// microseconds (INFO latencystats of CONFIG SET, CONFIG GET and PING).
    #[test]
    fn percentiles_match_redis_hdr_histogram() {
        let stats = CommandStats::new();
        let spec = table::all().next().unwrap();
        for (usec, p0, p50) in [
            (0, 0.001, 0.001),
            (1, 1.0, 1.003),
            (4, 4.0, 4.015),
            (6, 5.984, 6.015),
            (7, 6.976, 7.007),
            (12, 11.968, 12.031),
            (14, 13.952, 14.015),
            (25, 24.96, 25.087),
        ] {
            stats.reset();
            stats.record_call(spec, usec, false, true);
            let counters = stats.counters(spec).unwrap();
            let got = counters.percentiles(&[0.0, 50.0, 100.0]).unwrap();
            assert_eq!(got, [p0, p50, p50], "{usec} usec");
        }
        stats.reset();
        assert_eq!(stats.counters(spec).unwrap().percentiles(&[50.0]), None);
        // Untracked calls make no histogram.
        stats.record_call(spec, 3, false, false);
        assert_eq!(stats.counters(spec).unwrap().percentiles(&[50.0]), None);
        // Many calls: the percentile's count decides the slot.
        for usec in 1..=100 {
            stats.record_call(spec, usec, false, true);
        }
        let got = stats
            .counters(spec)
            .unwrap()
            .percentiles(&[50.0, 99.0])
            .unwrap();
        assert_eq!(got, [50.175, 99.327]);
        assert_eq!(trimmed_percentile(99.9), "99.9");
        assert_eq!(trimmed_percentile(50.0), "50");
    }

    #[test]
    fn every_row_has_its_own_counters() {
        let stats = CommandStats::new();
        assert!(stats.runs.len() < 32, "{} runs", stats.runs.len());
        for (name, spec, counters) in stats.iter() {
            let found = stats.counters(spec).unwrap();
            assert!(std::ptr::eq(found, counters), "{name}");
        }
        // A row that is not in the table has none.
        let stranger = CommandSpec {
            name: "stranger",
            ..CommandSpec::DEFAULT
        };
        assert!(stats.counters(&stranger).is_none());
    }

    #[test]
    fn commandstats_lines_use_single_precision() {
        let stats = CommandStats::new();
        let get = table::find(b"get").unwrap();
        stats.record_call(get, 2_100_374, false, true);
        stats.record_call(get, 0, true, true);
        stats.record_call(get, 0, false, true);
        stats.record_rejected(get);
        let mut out = String::new();
        stats.render_commandstats(&mut out);
        assert_eq!(
            out,
            "cmdstat_get:calls=3,usec=2100374,usec_per_call=700124.69,rejected_calls=1,failed_calls=1\r\n"
        );
        stats.reset();
        out.clear();
        stats.render_commandstats(&mut out);
        assert_eq!(out, "");
    }

    #[test]
    fn error_codes_are_the_first_word() {
        assert_eq!(error_code(b"ERR syntax error"), b"ERR");
        assert_eq!(error_code(b"WRONGTYPE Operation"), b"WRONGTYPE");
        assert_eq!(error_code(b"NOSPACE"), b"ERR");
        assert_eq!(error_code(&[b'A'; 40]), b"ERR");
        let stats = CommandStats::new();
        for line in [&b"NOAUTH x"[..], b"ERR a", b"ERR b", b"ERR:x y"] {
            stats.record_error(line);
        }
        let mut out = String::new();
        stats.render_errorstats(&mut out);
        assert_eq!(
            out,
            "errorstat_ERR:count=2\r\nerrorstat_ERR_x:count=1\r\nerrorstat_NOAUTH:count=1\r\n"
        );
    }
}
