//! `--pipe`: mass insertion. Standard input is RESP (or inline commands) sent to the server as
//! it is, while the replies are read and counted, as redis-cli's `pipeMode` does.
//!
//! At the end of the input, "All data transferred. Waiting for the last reply..." is printed
//! and one more command is sent: `ECHO` of 20 random bytes (after a CRLF, so that a truncated
//! command before it cannot swallow it). Its reply proves every earlier reply was read: "Last
//! reply received from server." Then "errors: N, replies: M" (the ECHO not counted), and exit
//! status 1 if any reply was an error (each printed on stderr) or no reply came for
//! `--pipe-timeout` seconds after the input ended ("No replies for N seconds: exiting.",
//! counted as an error; 0 waits forever).
//!
//! This thread copies standard input to the socket; another reads the replies on a second
//! handle of the same socket, so that neither side waits for the other. A connection that
//! drops ends the run with status 1 (a protocol error says so on stderr); a write to a closed
//! connection ends it with 141, as redis-cli dies of SIGPIPE there.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::connection::{strerror, ConnectionError, Stream};
use crate::format::c_str;
use crate::reply::{read_reply, Reply};
use crate::session::{Fatal, Session};

/// How much standard input is sent at a time.
const CHUNK: usize = 16 * 1024;

/// The end marker's length.
const MAGIC_LEN: usize = 20;

/// What the replies came to (shared between the reading thread and this one).
#[derive(Debug, Default)]
struct Tally {
    /// Replies read, the end marker's excepted.
    replies: AtomicU64,
    /// Error replies among them.
    errors: AtomicU64,
    /// When the last reply was read, in milliseconds since the start.
    last_read_ms: AtomicU64,
    /// Set once the end marker has been queued: only then can a reply be it.
    eof: AtomicBool,
}

/// How the reading thread ended.
#[derive(Debug)]
enum Ending {
    /// The end marker came back.
    LastReply,
    /// The connection failed.
    Failed(ConnectionError),
}

/// Sends standard input and counts the replies; returns the exit status.
pub fn run<W: Write>(
    session: &mut Session<W>,
    stdin: &mut impl Read,
    timeout_seconds: i32,
) -> Result<u8> {
    let Some(conn) = session.connection() else {
        return Ok(1);
    };
    let mut socket = conn.try_clone_stream()?;
    let reader = conn.try_clone_stream()?;
    let magic = random_magic();
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let (done, ending) = mpsc::channel();
    {
        let tally = Arc::clone(&tally);
        std::thread::spawn(move || {
            let reader = BufReader::with_capacity(64 * 1024, reader);
            let _ = done.send(read_replies(reader, &tally, &magic, start));
        });
    }

    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match stdin.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                let message = format!("Error reading from stdin: {}", strerror(&e));
                return Err(Fatal(message.into_bytes()).into());
            }
        };
        if n == 0 {
            break;
        }
        // A connection that failed ends the run before more is written to it.
        if let Ok(Ending::Failed(e)) = ending.try_recv() {
            return Ok(failed(&e));
        }
        if let Some(status) = send(&mut socket, &chunk[..n])? {
            return Ok(status);
        }
    }

    // Everything is sent: queue the end marker, which only then counts as one.
    tally.eof.store(true, Ordering::SeqCst);
    session
        .out()
        .write_all(b"All data transferred. Waiting for the last reply...\n")?;
    session.out().flush()?;
    let mut echo = b"\r\n*2\r\n$4\r\nECHO\r\n$20\r\n".to_vec();
    echo.extend_from_slice(&magic);
    echo.extend_from_slice(b"\r\n");
    if let Some(status) = send(&mut socket, &echo)? {
        return Ok(status);
    }

    let mut timed_out = false;
    loop {
        match ending.recv_timeout(Duration::from_millis(100)) {
            Ok(Ending::LastReply) => {
                session
                    .out()
                    .write_all(b"Last reply received from server.\n")?;
                break;
            }
            Ok(Ending::Failed(e)) => return Ok(failed(&e)),
            Err(RecvTimeoutError::Disconnected) => return Ok(1),
            Err(RecvTimeoutError::Timeout) => {}
        }
        // As redis-cli: whole seconds since the last reply (or the start), more than the limit.
        let idle_seconds = start
            .elapsed()
            .as_secs()
            .saturating_sub(tally.last_read_ms.load(Ordering::SeqCst) / 1000);
        if timeout_seconds > 0 && idle_seconds > u64::from(timeout_seconds.unsigned_abs()) {
            eprintln!("No replies for {timeout_seconds} seconds: exiting.");
            timed_out = true;
            break;
        }
    }
    let errors = tally.errors.load(Ordering::SeqCst) + u64::from(timed_out);
    let replies = tally.replies.load(Ordering::SeqCst);
    session
        .out()
        .write_all(summary(errors, replies).as_bytes())?;
    session.out().flush()?;
    Ok(if errors > 0 { 1 } else { 0 })
}

/// Writes to the server: `Some(status)` when the write failed and the run ends.
fn send(socket: &mut Stream, bytes: &[u8]) -> Result<Option<u8>> {
    match socket.write_all(bytes) {
        Ok(()) => Ok(None),
        // redis-cli dies of SIGPIPE writing to a closed connection; a shell says 141.
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(Some(141)),
        Err(e) => {
            let message = format!("Error writing to the server: {}", strerror(&e));
            Err(Fatal(message.into_bytes()).into())
        }
    }
}

/// The exit status after the connection failed: 1, with "Error reading replies from server"
/// when the server spoke nonsense (a dropped connection ends it silently, as in redis-cli).
fn failed(e: &ConnectionError) -> u8 {
    if let ConnectionError::Protocol(_) = e {
        eprintln!("Error reading replies from server");
    }
    1
}

/// Reads replies until the end marker comes back or the connection fails, printing each
/// error reply on stderr.
fn read_replies(mut reader: impl BufRead, tally: &Tally, magic: &[u8], start: Instant) -> Ending {
    loop {
        let reply = match read_reply(&mut reader) {
            Ok(reply) => reply,
            Err(e) => return Ending::Failed(ConnectionError::from(e)),
        };
        let elapsed = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        tally.last_read_ms.store(elapsed, Ordering::SeqCst);
        match &reply {
            Reply::Error(text) => {
                let mut line = c_str(text).to_vec();
                line.push(b'\n');
                let _ = io::stderr().write_all(&line);
                tally.errors.fetch_add(1, Ordering::SeqCst);
            }
            Reply::String(bytes) if tally.eof.load(Ordering::SeqCst) && bytes == magic => {
                return Ending::LastReply;
            }
            _ => {}
        }
        tally.replies.fetch_add(1, Ordering::SeqCst);
    }
}

/// The last line: errors and replies.
fn summary(errors: u64, replies: u64) -> String {
    format!("errors: {errors}, replies: {replies}\n")
}

/// 20 random bytes for the end marker.
fn random_magic() -> [u8; MAGIC_LEN] {
    let mut magic = [0u8; MAGIC_LEN];
    for chunk in magic.chunks_mut(8) {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(Instant::now().elapsed().as_nanos());
        let random = hasher.finish().to_le_bytes();
        chunk.copy_from_slice(&random[..chunk.len()]);
    }
    magic
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: &[u8; 20] = b"01234567890123456789";

    /// Reads `bytes` as the server's replies, with the end marker queued or not.
    fn tally(bytes: &[u8], eof: bool) -> (Ending, u64, u64) {
        let tally = Tally::default();
        tally.eof.store(eof, Ordering::SeqCst);
        let ending = read_replies(bytes, &tally, MAGIC, Instant::now());
        let errors = tally.errors.load(Ordering::SeqCst);
        (ending, errors, tally.replies.load(Ordering::SeqCst))
    }

    #[test]
    fn replies_are_counted_up_to_the_marker() {
        let stream = b"+OK\r\n-ERR value is not an integer\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n\
            $20\r\n01234567890123456789\r\n+AFTER\r\n";
        let (ending, errors, replies) = tally(stream, true);
        assert!(matches!(ending, Ending::LastReply), "{ending:?}");
        assert_eq!((errors, replies), (1, 4));
        assert_eq!(summary(errors, replies), "errors: 1, replies: 4\n");
    }

    #[test]
    fn the_marker_counts_only_once_queued() {
        // An ECHO of the same bytes in the input is an ordinary reply.
        let stream = b"$20\r\n01234567890123456789\r\n";
        let (ending, errors, replies) = tally(stream, false);
        assert!(
            matches!(ending, Ending::Failed(ConnectionError::Eof)),
            "{ending:?}"
        );
        assert_eq!((errors, replies), (0, 1));
        // A bulk of another length or content is not the marker.
        let (ending, ..) = tally(b"$3\r\nabc\r\n$20\r\n0123456789012345678x\r\n", true);
        assert!(matches!(ending, Ending::Failed(ConnectionError::Eof)));
    }

    #[test]
    fn nonsense_from_the_server_is_a_protocol_error() {
        let (ending, _, replies) = tally(b"+OK\r\n?what\r\n", true);
        assert!(
            matches!(ending, Ending::Failed(ConnectionError::Protocol(_))),
            "{ending:?}"
        );
        assert_eq!(replies, 1);
        assert_eq!(failed(&ConnectionError::Eof), 1);
    }

    #[test]
    fn markers_differ() {
        assert_ne!(random_magic(), random_magic());
    }
}
