//! The latency modes, as redis-cli 7.0 runs them.
//!
//! - `--latency`: PING every 10 ms, timing each round trip in whole milliseconds. On a
//!   terminal (the human-readable output mode) a line `min: 0, max: 1, avg: 0.11 (95 samples)`
//!   is rewritten in place forever; otherwise the figures are printed once after `-i` seconds
//!   (1 by default): `0 1 0.11 95` raw, `0,1,0.11,95` in CSV, a JSON object with `--json`.
//! - `--latency-history`: the same, starting over every `-i` seconds (15 by default), each
//!   period closed by ` -- 15.01 seconds range`; outside the terminal every sample prints a
//!   line.
//! - `--latency-dist`: PING every 10 ms timed in microseconds, and every `-i` seconds (1 by
//!   default) one line of the spectrum: a character per latency bucket (`.` up to 10 µs, `-`
//!   125 µs, ... `?` over a minute) on a background colour from xterm's 256-colour palette,
//!   brighter for a larger share of the samples (`--mono`: greys). A legend comes first and
//!   every 20 lines.
//! - `--intrinsic-latency N`: no server; for N seconds, how long the process is kept from
//!   running a short computation, the system's own latency floor.
//!
//! A server that goes away is waited for ("Reconnecting..."), as in redis-cli.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;

use crate::format::OutputMode;
use crate::modes::call::{self, c_float};
use crate::modes::special::Special;
use crate::session::Session;

/// The pause between two samples.
const SAMPLE_PAUSE: Duration = Duration::from_millis(10);

/// `--latency-history`'s default period, in milliseconds.
const HISTORY_DEFAULT_MS: i64 = 15_000;

/// `--latency-dist`'s default period, in milliseconds.
const DIST_DEFAULT_MS: i64 = 1_000;

/// The time in microseconds (C's `ustime()`).
fn ustime() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_micros()).unwrap_or(i64::MAX)
}

/// The time in milliseconds (C's `mstime()`).
fn mstime() -> i64 {
    ustime() / 1000
}

/// Running figures over the samples of a period.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    /// The smallest latency.
    pub min: i64,
    /// The largest.
    pub max: i64,
    /// Their sum.
    pub total: i64,
    /// How many.
    pub count: i64,
}

impl Figures {
    /// Adds a sample.
    pub fn add(&mut self, latency: i64) {
        self.count += 1;
        if self.count == 1 {
            (self.min, self.max, self.total) = (latency, latency, latency);
        } else {
            self.min = self.min.min(latency);
            self.max = self.max.max(latency);
            self.total += latency;
        }
    }

    /// The mean.
    pub fn average(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total as f64 / self.count as f64
        }
    }

    /// The figures as redis-cli's `latencyModePrint` prints them in `output` mode.
    pub fn line(&self, output: OutputMode) -> String {
        let (min, max, count) = (self.min, self.max, self.count);
        let avg = c_float(self.average(), 0, 2, false);
        match output {
            OutputMode::Standard => format!("min: {min}, max: {max}, avg: {avg} ({count} samples)"),
            OutputMode::Csv => format!("{min},{max},{avg},{count}\n"),
            OutputMode::Raw => format!("{min} {max} {avg} {count}\n"),
            OutputMode::Json => {
                format!("{{\"min\": {min}, \"max\": {max}, \"avg\": {avg}, \"count\": {count}}}\n")
            }
            // redis-cli 7.0 prints nothing in this mode.
            OutputMode::QuotedJson => String::new(),
        }
    }
}

/// `--latency` and `--latency-history`; returns the exit status.
pub fn latency<W: Write>(session: &mut Session<W>, special: &Special) -> Result<u8> {
    let history = special.options.latency_history;
    let interval_ms = special.interval_micros / 1000;
    let history_ms = if special.interval_micros != 0 {
        interval_ms
    } else {
        HISTORY_DEFAULT_MS
    };
    // Without -i, a single report comes after a second.
    let report_ms = if special.interval_micros == 0 {
        1000
    } else {
        interval_ms
    };
    let mut history_start = mstime();
    let mut figures = Figures::default();
    loop {
        let start = mstime();
        call::reconnecting(session, &[b"PING".to_vec()])?;
        figures.add(mstime() - start);
        let line = figures.line(special.output);
        let out = session.out();
        if special.output == OutputMode::Standard {
            // Back to the first column, clear the line.
            write!(out, "\x1b[0G\x1b[2K{line}")?;
        } else if history {
            out.write_all(line.as_bytes())?;
        } else if mstime() - history_start > report_ms {
            out.write_all(line.as_bytes())?;
            out.flush()?;
            return Ok(0);
        }
        if history && mstime() - history_start > history_ms {
            let seconds = (mstime() - history_start) as f32 / 1000.0;
            writeln!(
                out,
                " -- {} seconds range",
                c_float(f64::from(seconds), 0, 2, false)
            )?;
            history_start = mstime();
            figures = Figures::default();
        }
        out.flush()?;
        std::thread::sleep(SAMPLE_PAUSE);
    }
}

/// `--latency-dist`'s buckets: the largest latency each holds, in microseconds (0: any), and
/// its character.
pub const BUCKETS: [(i64, u8); 31] = [
    (10, b'.'),
    (125, b'-'),
    (250, b'*'),
    (500, b'#'),
    (1_000, b'1'),
    (2_000, b'2'),
    (3_000, b'3'),
    (4_000, b'4'),
    (5_000, b'5'),
    (6_000, b'6'),
    (7_000, b'7'),
    (8_000, b'8'),
    (9_000, b'9'),
    (10_000, b'A'),
    (20_000, b'B'),
    (30_000, b'C'),
    (40_000, b'D'),
    (50_000, b'E'),
    (100_000, b'F'),
    (200_000, b'G'),
    (300_000, b'H'),
    (400_000, b'I'),
    (500_000, b'J'),
    (1_000_000, b'K'),
    (2_000_000, b'L'),
    (4_000_000, b'M'),
    (8_000_000, b'N'),
    (16_000_000, b'O'),
    (30_000_000, b'P'),
    (60_000_000, b'Q'),
    (0, b'?'),
];

/// The colour palette, from no samples to all of them.
pub const PALETTE_COLOR: [u8; 19] = [
    0, 233, 234, 235, 237, 239, 241, 243, 245, 247, 144, 143, 142, 184, 226, 214, 208, 202, 196,
];

/// `--mono`'s palette.
pub const PALETTE_MONO: [u8; 13] = [
    0, 233, 234, 235, 237, 239, 241, 243, 245, 247, 249, 251, 253,
];

/// The bucket a latency (microseconds) falls in.
pub fn bucket_of(latency: i64) -> usize {
    BUCKETS
        .iter()
        .position(|&(max, _)| max == 0 || latency <= max)
        .unwrap_or(BUCKETS.len() - 1)
}

/// One line of the spectrum (`showLatencyDistSamples`) for the samples counted per bucket.
pub fn spectrum(counts: &[i64; BUCKETS.len()], palette: &[u8]) -> String {
    let total: i64 = counts.iter().sum();
    // Black characters.
    let mut line = String::from("\x1b[38;5;0m");
    for (&(_, character), &count) in BUCKETS.iter().zip(counts) {
        let share = count as f64 / total as f64 * (palette.len() - 1) as f64;
        let index = (share.ceil() as usize).min(palette.len() - 1);
        line.push_str(&format!(
            "\x1b[48;5;{}m{}",
            palette[index],
            char::from(character)
        ));
    }
    line.push_str("\x1b[0m\n");
    line
}

/// The spectrum's legend (`showLatencyDistLegend`).
pub fn legend(palette: &[u8]) -> String {
    let rule = "---------------------------------------------\n";
    let mut text = String::from(rule);
    text.push_str(". - * #          .01 .125 .25 .5 milliseconds\n");
    text.push_str("1,2,3,...,9      from 1 to 9     milliseconds\n");
    text.push_str("A,B,C,D,E        10,20,30,40,50  milliseconds\n");
    text.push_str("F,G,H,I,J        .1,.2,.3,.4,.5       seconds\n");
    text.push_str("K,L,M,N,O,P,Q,?  1,2,4,8,16,30,60,>60 seconds\n");
    text.push_str("From 0 to 100%: ");
    for color in palette {
        text.push_str(&format!("\x1b[48;5;{color}m "));
    }
    text.push_str("\x1b[0m\n");
    text.push_str(rule);
    text
}

/// `--latency-dist`; runs until interrupted.
pub fn distribution<W: Write>(session: &mut Session<W>, special: &Special) -> Result<u8> {
    let period_ms = if special.interval_micros != 0 {
        special.interval_micros / 1000
    } else {
        DIST_DEFAULT_MS
    };
    let palette: &[u8] = if special.options.mono {
        &PALETTE_MONO
    } else {
        &PALETTE_COLOR
    };
    let mut counts = [0i64; BUCKETS.len()];
    let mut period_start = ustime();
    let mut outputs = 0u64;
    loop {
        let start = ustime();
        call::reconnecting(session, &[b"PING".to_vec()])?;
        counts[bucket_of(ustime() - start)] += 1;
        if (ustime() - period_start) / 1000 > period_ms {
            let out = session.out();
            if outputs % 20 == 0 {
                out.write_all(legend(palette).as_bytes())?;
            }
            outputs += 1;
            out.write_all(spectrum(&counts, palette).as_bytes())?;
            out.flush()?;
            counts = [0; BUCKETS.len()];
            period_start = ustime();
        }
        std::thread::sleep(SAMPLE_PAUSE);
    }
}

/// Some work the compiler cannot remove, a few microseconds' worth (redis-cli's
/// `compute_something_fast`, an RC4-like shuffle).
fn compute_something_fast() -> u64 {
    let mut s: [u8; 256] = std::array::from_fn(|k| k as u8);
    let (mut i, mut j) = (0u8, 0u8);
    let mut output = 0u64;
    for _ in 0..1000 {
        i = i.wrapping_add(1);
        j = j.wrapping_add(s[usize::from(i)]);
        s.swap(usize::from(i), usize::from(j));
        let k = s[usize::from(i)].wrapping_add(s[usize::from(j)]);
        output += u64::from(s[usize::from(k)]);
    }
    std::hint::black_box(output)
}

/// `--intrinsic-latency seconds`: prints each new worst delay, then the summary; returns the
/// exit status.
pub fn intrinsic(out: &mut impl Write, seconds: i32) -> Result<u8> {
    let run_time = i64::from(seconds) * 1_000_000;
    let test_end = ustime() + run_time;
    let (mut max_latency, mut runs) = (0i64, 0i64);
    loop {
        let start = ustime();
        std::hint::black_box(compute_something_fast());
        let end = ustime();
        let latency = end - start;
        runs += 1;
        if latency <= 0 {
            continue;
        }
        if latency > max_latency {
            max_latency = latency;
            writeln!(out, "Max latency so far: {max_latency} microseconds.")?;
            out.flush()?;
        }
        let avg_us = run_time as f64 / runs as f64;
        if end > test_end {
            writeln!(
                out,
                "\n{runs} total runs (avg latency: {} microseconds / {} nanoseconds per run).",
                c_float(avg_us, 0, 4, false),
                c_float(avg_us * 1e3, 0, 2, false)
            )?;
            writeln!(
                out,
                "Worst run took {}x longer than the average latency.",
                c_float(max_latency as f64 / avg_us, 0, 0, false)
            )?;
            out.flush()?;
            return Ok(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_and_their_lines() {
        let mut f = Figures::default();
        for latency in [1, 0, 0, 2] {
            f.add(latency);
        }
        assert_eq!((f.min, f.max, f.count), (0, 2, 4));
        assert_eq!(f.line(OutputMode::Raw), "0 2 0.75 4\n");
        assert_eq!(f.line(OutputMode::Csv), "0,2,0.75,4\n");
        assert_eq!(
            f.line(OutputMode::Standard),
            "min: 0, max: 2, avg: 0.75 (4 samples)"
        );
        assert_eq!(
            f.line(OutputMode::Json),
            "{\"min\": 0, \"max\": 2, \"avg\": 0.75, \"count\": 4}\n"
        );
        assert_eq!(f.line(OutputMode::QuotedJson), "");
        // After a reset, the first sample sets min and max again.
        let mut f = Figures::default();
        f.add(5);
        assert_eq!((f.min, f.max, f.average()), (5, 5, 5.0));
    }

    #[test]
    fn buckets() {
        assert_eq!(BUCKETS[bucket_of(0)].1, b'.');
        assert_eq!(BUCKETS[bucket_of(10)].1, b'.');
        assert_eq!(BUCKETS[bucket_of(11)].1, b'-');
        assert_eq!(BUCKETS[bucket_of(1_500)].1, b'2');
        assert_eq!(BUCKETS[bucket_of(60_000_000)].1, b'Q');
        assert_eq!(BUCKETS[bucket_of(60_000_001)].1, b'?');
    }

    #[test]
    fn spectrum_as_redis_cli_draws_it() {
        // 3/4 of the samples under 125 µs, the rest under 250 µs: the palette's entries
        // ceil(3/4 * 12) and ceil(1/4 * 12), black for the empty buckets.
        let mut counts = [0i64; BUCKETS.len()];
        counts[1] = 3;
        counts[2] = 1;
        let line = spectrum(&counts, &PALETTE_MONO);
        assert!(line.starts_with("\x1b[38;5;0m\x1b[48;5;0m.\x1b[48;5;247m-\x1b[48;5;235m*"));
        assert!(line.ends_with("\x1b[48;5;0mQ\x1b[48;5;0m?\x1b[0m\n"));
        let legend = legend(&PALETTE_MONO);
        assert!(legend.contains("From 0 to 100%: \x1b[48;5;0m \x1b[48;5;233m "));
        assert_eq!(legend.lines().count(), 8);
    }

    #[test]
    fn intrinsic_latency_summary() {
        let mut out = Vec::new();
        assert_eq!(intrinsic(&mut out, 0).unwrap(), 0);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("Max latency so far: "), "{text}");
        assert!(text.contains(" total runs (avg latency: "), "{text}");
        assert!(
            text.ends_with("x longer than the average latency.\n"),
            "{text}"
        );
    }
}
