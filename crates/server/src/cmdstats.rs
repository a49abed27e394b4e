//! Per-command and per-error counters: INFO's `commandstats` and `errorstats` sections and
//! `LATENCY HISTOGRAM`.
//!
//! Every command runs through [`CommandStats::record_call`] or
//! [`CommandStats::record_rejected`], so both are a few relaxed atomic additions on counters
//! found without hashing: each row of the static command table gets one slot, found from the
//! row's address. The rows sit in a dozen static arrays (one per family, one per container's
//! subcommands), so a search over those arrays' address ranges and a division find the slot.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

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
}

impl CommandCounters {
    fn reset(&self) {
        for counter in [&self.usec, &self.rejected, &self.failed]
            .into_iter()
            .chain(&self.histogram)
        {
            counter.store(0, Ordering::Relaxed);
        }
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

/// The histogram bucket of a call that took `usec` microseconds.
///
/// Redis records `usec * 1000` nanoseconds in an HdrHistogram (1 ns to 1 s, 2 significant
/// digits) and reports it with a logarithmic iterator starting at 1024 ns, doubling. A report
/// level `L = 1024 << k` counts every value whose histogram slot starts at or below `L`; slots
/// there are `L / 128` wide, so bucket `k` ends just before `L + L / 128`. Values beyond the
/// last level (2^29 ns) land in a final bucket.
pub fn histogram_bucket(usec: u64) -> usize {
    let ns = usec
        .saturating_mul(1000)
        .clamp(HISTOGRAM_MIN_NS, HISTOGRAM_MAX_NS);
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
    /// The latency bucket of every call counted.
    bucket: usize,
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

    /// Records one run of `spec` that took `usec` microseconds.
    pub fn record_call(&self, spec: &CommandSpec, usec: u64, failed: bool) {
        let mut tally = Tally::default();
        self.tally_call(&mut tally, spec, usec, failed);
        self.flush(&mut tally);
    }

    /// Counts one run of `spec` that took `usec` microseconds in `tally`, adding what `tally`
    /// held to the counters first if that was another command or latency bucket.
    pub fn tally_call(&self, tally: &mut Tally, spec: &CommandSpec, usec: u64, failed: bool) {
        let bucket = histogram_bucket(usec);
        let addr = address(spec);
        if tally.addr != addr || tally.bucket != bucket {
            self.flush(tally);
            if tally.addr != addr {
                let Some(slot) = self.slot(spec) else {
                    return;
                };
                tally.addr = addr;
                tally.slot = slot;
            }
            tally.bucket = bucket;
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
        stats.record_call(get, 2_100_374, false);
        stats.record_call(get, 0, true);
        stats.record_call(get, 0, false);
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
