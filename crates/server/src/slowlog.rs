//! The slow log (`SLOWLOG`): the most recent commands that took at least
//! `slowlog-log-slower-than` microseconds, newest first, at most `slowlog-max-len` of them.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use kv_engine::CommandError;
use parking_lot::Mutex;

use crate::connection::Connection;

/// Arguments kept per entry; the last kept one then says how many more there were.
const MAX_ARGS: usize = 32;
/// Bytes kept per argument; the rest is summarised.
const MAX_ARG_LEN: usize = 128;

/// One logged command.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    /// Unique, increasing id (never reused, even across `SLOWLOG RESET`).
    pub id: u64,
    /// Unix time, in seconds, when it was logged.
    pub time: u64,
    /// How long it ran, in microseconds.
    pub duration: u64,
    /// Its arguments, shortened as Redis shortens them.
    pub args: Vec<Bytes>,
    /// The client's `ip:port`.
    pub peer: String,
    /// The client's name, empty if it has none.
    pub name: Bytes,
}

#[derive(Debug, Default)]
struct Log {
    /// Newest first.
    entries: VecDeque<SlowEntry>,
    next_id: u64,
}

/// The slow log.
#[derive(Debug, Default)]
pub struct SlowLog {
    log: Mutex<Log>,
}

impl SlowLog {
    /// Logs a command that took `duration` microseconds, then trims the log to `max_len`
    /// entries. As in Redis, an entry (and its id) is made even when `max_len` is 0.
    pub fn push(&self, args: &[&[u8]], duration: u64, peer: String, name: Bytes, max_len: usize) {
        let args = shorten(args);
        let mut log = self.log.lock();
        let id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(SlowEntry {
            id,
            time: kv_engine::now_ms() / 1000,
            duration,
            args,
            peer,
            name,
        });
        log.entries.truncate(max_len);
    }

    /// How many entries the log holds.
    pub fn len(&self) -> usize {
        self.log.lock().entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<SlowEntry> {
        self.log
            .lock()
            .entries
            .iter()
            .take(count)
            .cloned()
            .collect()
    }

    /// Empties the log; ids keep counting.
    pub fn reset(&self) {
        self.log.lock().entries.clear();
    }
}

/// The arguments as the log keeps them: copied (so an entry never pins a read buffer), at most
/// [`MAX_ARGS`] of them with the last replaced by `... (N more arguments)`, each at most
/// [`MAX_ARG_LEN`] bytes followed by `... (N more bytes)`.
fn shorten(args: &[&[u8]]) -> Vec<Bytes> {
    let kept = args.len().min(MAX_ARGS);
    let mut out = Vec::with_capacity(kept);
    for (i, arg) in args.iter().take(kept).enumerate() {
        if kept != args.len() && i == kept - 1 {
            let more = args.len() - kept + 1;
            out.push(Bytes::from(format!("... ({more} more arguments)")));
        } else if arg.len() > MAX_ARG_LEN {
            let mut shortened = arg[..MAX_ARG_LEN].to_vec();
            let more = arg.len() - MAX_ARG_LEN;
            shortened.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
            out.push(Bytes::from(shortened));
        } else {
            out.push(Bytes::copy_from_slice(arg));
        }
    }
    out
}

/// `SLOWLOG <subcommand>`, with `args` the whole command.
pub fn command(conn: &mut Connection, sub: &str, args: &[&[u8]]) -> Result<(), CommandError> {
    let slowlog = &conn.shared.slowlog;
    match sub {
        "get" => {
            let count = match args.get(2) {
                None if args.len() == 2 => 10,
                Some(count) if args.len() == 3 => parse_count(count)?,
                _ => return Err(crate::admin::subcommand_syntax_error(args)),
            };
            let entries = slowlog.newest(count);
            write_entries(conn, &entries);
        }
        "len" => conn.reply.count(slowlog.len()),
        "reset" => {
            slowlog.reset();
            conn.reply.ok();
        }
        "help" => crate::admin::help(conn, HELP),
        _ => {
            return Err(CommandError::Internal(
                "SLOWLOG subcommand without an implementation",
            ))
        }
    }
    Ok(())
}

/// `SLOWLOG GET`'s count: -1 (everything) or more.
fn parse_count(arg: &[u8]) -> Result<usize, CommandError> {
    match kv_resp::parse_i64(arg) {
        Some(-1) => Ok(usize::MAX),
        Some(n) if n >= 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(CommandError::msg(
            "ERR count should be greater than or equal to -1",
        )),
    }
}

/// Each entry as Redis's six-element array.
fn write_entries(conn: &mut Connection, entries: &[SlowEntry]) {
    let reply = &mut conn.reply;
    reply.array(entries.len());
    for entry in entries {
        reply.array(6);
        reply.integer(entry.id as i64);
        reply.integer(entry.time as i64);
        reply.integer(entry.duration as i64);
        reply.array(entry.args.len());
        for arg in &entry.args {
            reply.bulk(arg);
        }
        reply.bulk(entry.peer.as_bytes());
        reply.bulk(&entry.name);
    }
}

/// Whether a command that took `duration` microseconds is logged, and the log's length bound.
pub fn threshold_met(conn: &Connection, duration: u64) -> Option<usize> {
    let hot = &conn.shared.config.hot;
    let slower_than = hot.slowlog_slower_than.load(Ordering::Relaxed);
    if slower_than < 0 || duration < slower_than as u64 {
        return None;
    }
    Some(usize::try_from(hot.slowlog_max_len.load(Ordering::Relaxed)).unwrap_or(0))
}

/// `SLOWLOG HELP`, Redis's text.
const HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_commands_are_shortened_like_redis() {
        let args: Vec<Bytes> = (0..40).map(|i| Bytes::from(format!("a{i}"))).collect();
        let short = shorten(&kv_engine::arg_slices(&args));
        assert_eq!(short.len(), 32);
        assert_eq!(short[30], "a30");
        assert_eq!(short[31], "... (9 more arguments)");
        let long = vec![Bytes::from("set"), Bytes::from(vec![b'x'; 200])];
        let short = shorten(&kv_engine::arg_slices(&long));
        assert_eq!(
            short[1],
            Bytes::from(format!("{}... (72 more bytes)", "x".repeat(128)))
        );
        // Exactly 32 arguments and 128 bytes are kept whole.
        let exact: Vec<Bytes> = (0..32).map(|_| Bytes::from(vec![b'y'; 128])).collect();
        assert_eq!(shorten(&kv_engine::arg_slices(&exact)), exact);
    }

    #[test]
    fn entries_are_newest_first_and_trimmed() {
        let log = SlowLog::default();
        for i in 0..5 {
            log.push(
                &[format!("c{i}").as_bytes()],
                i,
                "p".into(),
                Bytes::new(),
                3,
            );
        }
        let ids: Vec<u64> = log.newest(10).iter().map(|e| e.id).collect();
        assert_eq!(ids, [4, 3, 2]);
        log.push(&[b"x"], 0, "p".into(), Bytes::new(), 0);
        assert!(log.is_empty());
        log.push(&[b"y"], 0, "p".into(), Bytes::new(), 10);
        assert_eq!(log.newest(1)[0].id, 6);
    }
}
