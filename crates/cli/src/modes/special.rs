//! redis-cli's special modes: the options that select them and the dispatch to each.
//!
//! A special mode replaces the command: `kv-cli --scan --pattern 'user:*'`. The options are
//! read with the rest of the command line ([`parse_option`] is called from
//! [`crate::options`] for every argument), with redis-cli 7.0's spelling and its C number
//! conversions. When several modes are asked for, the first in redis-cli's `main()` order
//! runs: `--latency`/`--latency-history`, `--latency-dist`, `--pipe`, `--bigkeys`,
//! `--memkeys`, `--stat`, `--scan`, `--intrinsic-latency`.
//!
//! Beyond redis-cli 7.0: `--count N` adds COUNT to every SCAN kv-cli sends (redis-cli 7.2 has
//! it), `--type TYPE` adds SCAN's TYPE; `--memkeys-samples` without a value is refused instead
//! of crashing as redis-cli 7.0 does.

use std::io::{Read, Write};

use anyhow::Result;

use crate::cnum::atoi;
use crate::format::OutputMode;
use crate::modes::{bigkeys, latency, pipe, scan, stat};
use crate::options::Options;
use crate::session::Session;

/// redis-cli's default for `--pipe-timeout`, in seconds.
pub const DEFAULT_PIPE_TIMEOUT: i32 = 30;

/// What the command line says about the special modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeOptions {
    /// `--latency` (or `--latency-history`).
    pub latency: bool,
    /// `--latency-history`: a line per interval instead of one rolling line.
    pub latency_history: bool,
    /// `--latency-dist`.
    pub latency_dist: bool,
    /// `--mono`: `--latency-dist`'s grey palette.
    pub mono: bool,
    /// `--pipe`.
    pub pipe: bool,
    /// `--pipe-timeout`: seconds to wait for a reply once everything is sent (0: forever).
    pub pipe_timeout: i32,
    /// `--scan`.
    pub scan: bool,
    /// `--pattern` or `--quoted-pattern`: SCAN's MATCH, for `--scan`, `--bigkeys`, `--memkeys`.
    pub pattern: Option<Vec<u8>>,
    /// `--count`: SCAN's COUNT (kv-cli's addition; redis-cli 7.2 has it).
    pub count: Option<i32>,
    /// `--type`: SCAN's TYPE (kv-cli's addition).
    pub scan_type: Option<Vec<u8>>,
    /// `--bigkeys`.
    pub bigkeys: bool,
    /// `--memkeys` or `--memkeys-samples`.
    pub memkeys: bool,
    /// `--memkeys-samples`: MEMORY USAGE's SAMPLES (0: the server's default), as C's unsigned.
    pub memkeys_samples: u32,
    /// `--stat`.
    pub stat: bool,
    /// `--intrinsic-latency`: how many seconds to run the test for.
    pub intrinsic_latency: Option<i32>,
}

impl Default for ModeOptions {
    fn default() -> ModeOptions {
        ModeOptions {
            latency: false,
            latency_history: false,
            latency_dist: false,
            mono: false,
            pipe: false,
            pipe_timeout: DEFAULT_PIPE_TIMEOUT,
            scan: false,
            pattern: None,
            count: None,
            scan_type: None,
            bigkeys: false,
            memkeys: false,
            memkeys_samples: 0,
            stat: false,
            intrinsic_latency: None,
        }
    }
}

/// Reads one argument if it is a mode option: `Some(Ok(n))` when it took `n` arguments (the
/// option and its value), `Some(Err(message))` when redis-cli would refuse it, `None` when it
/// is not a mode option or lacks its value (the caller then refuses it as unknown, as
/// redis-cli does).
pub fn parse_option(
    arg: &[u8],
    value: Option<&[u8]>,
    m: &mut ModeOptions,
) -> Option<Result<usize, String>> {
    match (arg, value) {
        (b"--latency", _) => m.latency = true,
        (b"--latency-dist", _) => m.latency_dist = true,
        (b"--mono", _) => m.mono = true,
        (b"--latency-history", _) => {
            m.latency = true;
            m.latency_history = true;
        }
        (b"--stat", _) => m.stat = true,
        (b"--scan", _) => m.scan = true,
        (b"--pipe", _) => m.pipe = true,
        (b"--bigkeys", _) => m.bigkeys = true,
        (b"--memkeys", _) => {
            m.memkeys = true;
            m.memkeys_samples = 0;
        }
        (b"--pattern", Some(v)) => {
            m.pattern = Some(v.to_vec());
            return Some(Ok(2));
        }
        (b"--quoted-pattern", Some(v)) => {
            return Some(match unquote(v) {
                Some(pattern) => {
                    m.pattern = Some(pattern);
                    Ok(2)
                }
                None => Err("Invalid quoted string specified for --quoted-pattern.".into()),
            });
        }
        (b"--count", Some(v)) => {
            m.count = Some(atoi(v));
            return Some(Ok(2));
        }
        (b"--type", Some(v)) => {
            m.scan_type = Some(v.to_vec());
            return Some(Ok(2));
        }
        (b"--intrinsic-latency", Some(v)) => {
            m.intrinsic_latency = Some(atoi(v));
            return Some(Ok(2));
        }
        (b"--pipe-timeout", Some(v)) => {
            m.pipe_timeout = atoi(v);
            return Some(Ok(2));
        }
        (b"--memkeys-samples", Some(v)) => {
            m.memkeys = true;
            // `unsigned memkeys_samples = atoi(...)`: a negative number wraps.
            m.memkeys_samples = atoi(v) as u32;
            return Some(Ok(2));
        }
        _ => return None,
    }
    Some(Ok(1))
}

/// `--quoted-pattern`'s argument: one string with the inline-command quoting (redis-cli's
/// `unquoteCString`); `None` if it is not exactly one.
fn unquote(text: &[u8]) -> Option<Vec<u8>> {
    match kv_resp::split_inline(text) {
        Ok(mut parts) if parts.len() == 1 => parts.pop().map(|part| part.to_vec()),
        _ => None,
    }
}

/// The mode to run, the first of those asked for in redis-cli's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--latency` / `--latency-history`.
    Latency,
    /// `--latency-dist`.
    LatencyDist,
    /// `--pipe`.
    Pipe,
    /// `--bigkeys`.
    BigKeys,
    /// `--memkeys`.
    MemKeys,
    /// `--stat`.
    Stat,
    /// `--scan`.
    Scan,
    /// `--intrinsic-latency`.
    IntrinsicLatency,
}

impl ModeOptions {
    /// The mode that runs, if any.
    pub fn mode(&self) -> Option<Mode> {
        [
            (self.latency, Mode::Latency),
            (self.latency_dist, Mode::LatencyDist),
            (self.pipe, Mode::Pipe),
            (self.bigkeys, Mode::BigKeys),
            (self.memkeys, Mode::MemKeys),
            (self.stat, Mode::Stat),
            (self.scan, Mode::Scan),
            (self.intrinsic_latency.is_some(), Mode::IntrinsicLatency),
        ]
        .into_iter()
        .find_map(|(asked, mode)| asked.then_some(mode))
    }
}

/// Everything a special mode needs from the command line, taken before the options go into
/// the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Special {
    /// The mode.
    pub mode: Mode,
    /// The mode options.
    pub options: ModeOptions,
    /// `-i` in microseconds (0 when not given).
    pub interval_micros: i64,
    /// The output mode in effect (flag or terminal).
    pub output: OutputMode,
}

impl Special {
    /// The special mode the command line asks for, if any.
    pub fn from_options(options: &Options, output: OutputMode) -> Option<Special> {
        Some(Special {
            mode: options.modes.mode()?,
            options: options.modes.clone(),
            interval_micros: options.interval_micros,
            output,
        })
    }

    /// Runs the mode on `session` (not yet connected); returns the exit status.
    pub fn run<W: Write>(&self, session: &mut Session<W>, stdin: &mut impl Read) -> Result<u8> {
        if let Mode::IntrinsicLatency = self.mode {
            // The only mode that needs no server.
            let seconds = self.options.intrinsic_latency.unwrap_or(0);
            return latency::intrinsic(session.out(), seconds);
        }
        // cliConnect(0): a failure is reported, and ends the run with status 1.
        if !session.connect(false, false)? {
            return Ok(1);
        }
        match self.mode {
            Mode::Latency => latency::latency(session, self),
            Mode::LatencyDist => latency::distribution(session, self),
            Mode::Pipe => pipe::run(session, stdin, self.options.pipe_timeout),
            Mode::BigKeys => bigkeys::run(session, self, bigkeys::Measure::Elements),
            Mode::MemKeys => bigkeys::run(
                session,
                self,
                bigkeys::Measure::Memory {
                    samples: self.options.memkeys_samples,
                },
            ),
            Mode::Stat => stat::run(session, self),
            Mode::Scan => scan::run(session, self),
            Mode::IntrinsicLatency => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &[&str]) -> Result<ModeOptions, String> {
        let mut m = ModeOptions::default();
        let mut i = 0;
        while i < line.len() {
            let value = line.get(i + 1).map(|v| v.as_bytes());
            match parse_option(line[i].as_bytes(), value, &mut m) {
                Some(Ok(n)) => i += n,
                Some(Err(e)) => return Err(e),
                None => return Err(format!("unknown {}", line[i])),
            }
        }
        Ok(m)
    }

    #[test]
    fn flags_and_values() {
        let m = parse(&[
            "--scan",
            "--pattern",
            "a*",
            "--count",
            "100",
            "--type",
            "hash",
        ])
        .unwrap();
        assert!(m.scan);
        assert_eq!(m.pattern.as_deref(), Some(&b"a*"[..]));
        assert_eq!(
            (m.count, m.scan_type.as_deref()),
            (Some(100), Some(&b"hash"[..]))
        );
        assert_eq!(m.mode(), Some(Mode::Scan));

        let m = parse(&["--latency-history"]).unwrap();
        assert!(m.latency && m.latency_history);
        let m = parse(&["--pipe", "--pipe-timeout", "5x"]).unwrap();
        assert_eq!((m.pipe, m.pipe_timeout), (true, 5));
        assert_eq!(ModeOptions::default().pipe_timeout, 30);
        let m = parse(&["--memkeys-samples", "-1"]).unwrap();
        assert_eq!((m.memkeys, m.memkeys_samples), (true, u32::MAX));
        let m = parse(&["--memkeys-samples", "7", "--memkeys"]).unwrap();
        assert_eq!(m.memkeys_samples, 0);
        assert_eq!(
            parse(&["--intrinsic-latency", "3"])
                .unwrap()
                .intrinsic_latency,
            Some(3)
        );
    }

    #[test]
    fn quoted_pattern() {
        let m = parse(&["--quoted-pattern", r#""a\x00*""#]).unwrap();
        assert_eq!(m.pattern.as_deref(), Some(&b"a\0*"[..]));
        for bad in ["\"a", "a b", ""] {
            assert_eq!(
                parse(&["--quoted-pattern", bad]).unwrap_err(),
                "Invalid quoted string specified for --quoted-pattern."
            );
        }
    }

    #[test]
    fn a_value_option_without_its_value_is_not_taken() {
        for option in [
            "--pattern",
            "--quoted-pattern",
            "--count",
            "--type",
            "--pipe-timeout",
            "--memkeys-samples",
            "--intrinsic-latency",
        ] {
            let mut m = ModeOptions::default();
            assert_eq!(
                parse_option(option.as_bytes(), None, &mut m),
                None,
                "{option}"
            );
        }
        let mut m = ModeOptions::default();
        assert_eq!(parse_option(b"GET", Some(b"a"), &mut m), None);
    }

    #[test]
    fn the_first_mode_in_redis_cli_order_wins() {
        let m = parse(&["--scan", "--stat", "--bigkeys", "--pipe", "--latency-dist"]).unwrap();
        assert_eq!(m.mode(), Some(Mode::LatencyDist));
        let m = parse(&["--scan", "--memkeys", "--bigkeys"]).unwrap();
        assert_eq!(m.mode(), Some(Mode::BigKeys));
        let m = parse(&["--scan", "--intrinsic-latency", "1"]).unwrap();
        assert_eq!(m.mode(), Some(Mode::Scan));
        assert_eq!(ModeOptions::default().mode(), None);
    }
}
