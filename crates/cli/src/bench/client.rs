//! One benchmark client: a connection of its own, which sends its share of the requests in
//! batches of `-P` and times every reply from the moment its batch was written (as
//! redis-benchmark does, so pipelined requests include their wait in the batch). Clients are
//! tokio tasks: many of them share an event loop, as redis-benchmark's share its `ae` loop.
//!
//! Replies are not decoded, only measured: [`reply_len`] finds where each ends and whether it
//! is an error, which is all a load generator needs and keeps a client cheap enough for a
//! handful of them to saturate a server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use crate::bench::histogram::Histogram;
use crate::bench::workload::{Random, Template};
use crate::connection::{strerror, Target};

/// Who the clients log in as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    /// `--user`.
    pub user: Option<Vec<u8>>,
    /// `-a`.
    pub password: Option<Vec<u8>>,
    /// `--dbnum`: the database to SELECT (0: none).
    pub db: i64,
}

/// What the clients of one test share.
#[derive(Debug)]
pub struct Shared {
    /// The requests to send in all.
    pub requests: u64,
    /// Requests claimed by a client so far (may pass `requests`: claims are clamped).
    claimed: AtomicU64,
    /// Replies read so far.
    pub completed: AtomicU64,
    /// Their latencies added up, in nanoseconds.
    pub latency_ns: AtomicU64,
    /// Error replies so far.
    pub errors: AtomicU64,
    /// The first error reply's text.
    pub first_error: Mutex<Option<String>>,
}

impl Shared {
    /// Nothing sent yet of `requests`.
    pub fn new(requests: u64) -> Shared {
        Shared {
            requests,
            claimed: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            latency_ns: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
        }
    }

    /// Claims up to `batch` requests to send: how many are left for this client (0: done).
    /// Every request is claimed exactly once, whichever client gets it.
    pub fn claim(&self, batch: u64) -> u64 {
        let before = self.claimed.fetch_add(batch, Ordering::Relaxed);
        self.requests.saturating_sub(before).min(batch)
    }

    /// Records an error reply.
    fn error(&self, text: &[u8]) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert_with(|| String::from_utf8_lossy(text).into_owned());
        }
    }
}

/// The socket of a client.
#[derive(Debug)]
enum Socket {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix socket.
    Unix(UnixStream),
}

impl Socket {
    /// Writes all of `bytes`.
    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Socket::Tcp(s) => s.write_all(bytes).await,
            Socket::Unix(s) => s.write_all(bytes).await,
        }
    }

    /// Reads what is there (at least a byte; 0 at the end).
    async fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buffer).await,
            Socket::Unix(s) => s.read(buffer).await,
        }
    }
}

/// A client's connection and its read buffer.
#[derive(Debug)]
pub struct Client {
    /// The socket.
    socket: Socket,
    /// Bytes read and not yet parsed: `buffer[start..end]`.
    buffer: Vec<u8>,
    /// Where the unparsed bytes start.
    start: usize,
    /// Where they end.
    end: usize,
}

/// What a client measured.
#[derive(Debug)]
pub struct Measured {
    /// Each reply's latency, in nanoseconds.
    pub histogram: Histogram,
    /// When its last reply came.
    pub finished: Instant,
}

impl Client {
    /// Connects and logs in (AUTH, SELECT); the error is what to print.
    pub async fn connect(target: &Target, login: &Login) -> Result<Client, String> {
        let refused =
            |e: std::io::Error| format!("Could not connect to Redis at {target}: {}", strerror(&e));
        let socket = match target {
            Target::Tcp { host, port } => {
                let port = u16::try_from(*port).map_err(|_| format!("Invalid port {port}"))?;
                let stream = TcpStream::connect((host.as_str(), port))
                    .await
                    .map_err(refused)?;
                stream
                    .set_nodelay(true)
                    .map_err(|e| format!("Could not set TCP_NODELAY: {}", strerror(&e)))?;
                Socket::Tcp(stream)
            }
            Target::Unix(path) => Socket::Unix(UnixStream::connect(path).await.map_err(refused)?),
        };
        let mut client = Client {
            socket,
            buffer: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        };
        if let Some(password) = &login.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            args.extend(login.user.as_deref());
            args.push(password);
            client.handshake(&args, "AUTH failed").await?;
        }
        if login.db != 0 {
            let db = login.db.to_string();
            client
                .handshake(&[b"SELECT", db.as_bytes()], "SELECT failed")
                .await?;
        }
        Ok(client)
    }

    /// Sends one command and wants a reply that is not an error.
    async fn handshake(&mut self, args: &[&[u8]], failure: &str) -> Result<(), String> {
        let command = Template::command(args);
        self.socket
            .write_all(&command.bytes)
            .await
            .map_err(|e| format!("{failure}: {}", strerror(&e)))?;
        let (range, is_error) = self
            .next_reply()
            .await
            .map_err(|e| format!("{failure}: {e}"))?;
        if is_error {
            let text = String::from_utf8_lossy(&self.buffer[range]).into_owned();
            return Err(format!("{failure}: {}", text.trim_end()));
        }
        Ok(())
    }

    /// Reads until a whole reply is buffered and consumes it: where it was in the buffer, and
    /// whether it is an error.
    async fn next_reply(&mut self) -> Result<(std::ops::Range<usize>, bool), String> {
        loop {
            if let Some((len, is_error)) = reply_len(&self.buffer[self.start..self.end])? {
                let range = self.start + 1..self.start + len;
                self.start += len;
                return Ok((range, is_error));
            }
            self.fill().await?;
        }
    }

    /// Reads more bytes into the buffer, making room first.
    async fn fill(&mut self) -> Result<(), String> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buffer.len() {
            self.buffer.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
            if self.end == self.buffer.len() {
                self.buffer.resize(self.buffer.len() * 2, 0);
            }
        }
        match self.socket.read(&mut self.buffer[self.end..]).await {
            Ok(0) => Err("Server closed the connection".into()),
            Ok(n) => {
                self.end += n;
                Ok(())
            }
            Err(e) => Err(strerror(&e)),
        }
    }

    /// Sends requests of `template` in batches of `pipeline` until the shared count is
    /// reached, timing each reply.
    pub async fn run(
        &mut self,
        template: &Template,
        pipeline: u64,
        keyspace: Option<u64>,
        shared: &Shared,
        random: &mut Random,
    ) -> Result<Measured, String> {
        let mut histogram = Histogram::new();
        let mut batch = Vec::with_capacity(template.bytes.len() * pipeline as usize);
        let mut finished = Instant::now();
        loop {
            let count = shared.claim(pipeline);
            if count == 0 {
                return Ok(Measured {
                    histogram,
                    finished,
                });
            }
            batch.clear();
            for _ in 0..count {
                template.write(&mut batch, keyspace, random);
            }
            let sent = Instant::now();
            self.socket
                .write_all(&batch)
                .await
                .map_err(|e| strerror(&e))?;
            let mut batch_ns = 0u64;
            for _ in 0..count {
                let (range, is_error) = self.next_reply().await?;
                let latency = u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX);
                histogram.record(latency);
                batch_ns = batch_ns.saturating_add(latency);
                if is_error {
                    let text = &self.buffer[range];
                    shared.error(text.strip_suffix(b"\r\n").unwrap_or(text));
                }
            }
            finished = Instant::now();
            shared.completed.fetch_add(count, Ordering::Relaxed);
            shared.latency_ns.fetch_add(batch_ns, Ordering::Relaxed);
        }
    }
}

/// How long the first reply in `bytes` is and whether it is an error; `None` when it is not
/// all there yet. RESP2 and RESP3 types are known; anything else is a protocol error.
pub fn reply_len(bytes: &[u8]) -> Result<Option<(usize, bool)>, String> {
    let is_error = matches!(bytes.first(), Some(b'-' | b'!'));
    // Values still to skip: aggregates add their elements.
    let mut remaining: u64 = 1;
    let mut at = 0;
    while remaining > 0 {
        remaining -= 1;
        let Some(newline) = bytes[at..].iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let line_end = at + newline + 1;
        let line = &bytes[at..line_end];
        if line.len() < 3 || line[line.len() - 2] != b'\r' {
            return Err("Protocol error: a line without CRLF".into());
        }
        let kind = line[0];
        let number = || -> Result<i64, String> {
            std::str::from_utf8(&line[1..line.len() - 2])
                .ok()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| "Protocol error: bad length".to_string())
        };
        at = line_end;
        match kind {
            b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => {}
            b'$' | b'!' | b'=' => {
                let len = number()?;
                if len >= 0 {
                    let end = at + len as usize + 2;
                    if bytes.len() < end {
                        return Ok(None);
                    }
                    at = end;
                }
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let count = number()?.max(0) as u64;
                remaining += match kind {
                    b'%' => 2 * count,
                    // An attribute map comes before the value it describes.
                    b'|' => 2 * count + 1,
                    _ => count,
                };
            }
            other => {
                return Err(format!(
                    "Protocol error: unexpected reply type byte {:?}",
                    char::from(other)
                ))
            }
        }
    }
    Ok(Some((at, is_error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lengths() {
        assert_eq!(reply_len(b"+OK\r\n+NEXT"), Ok(Some((5, false))));
        assert_eq!(reply_len(b"-ERR no\r\n"), Ok(Some((9, true))));
        assert_eq!(reply_len(b":12\r\n"), Ok(Some((5, false))));
        assert_eq!(reply_len(b"$3\r\nabc\r\n"), Ok(Some((9, false))));
        assert_eq!(reply_len(b"$-1\r\n"), Ok(Some((5, false))));
        assert_eq!(reply_len(b"*2\r\n$1\r\na\r\n:1\r\n"), Ok(Some((15, false))));
        assert_eq!(reply_len(b"*0\r\n"), Ok(Some((4, false))));
        assert_eq!(reply_len(b"*-1\r\n"), Ok(Some((5, false))));
        assert_eq!(reply_len(b"%1\r\n+a\r\n*1\r\n_\r\n"), Ok(Some((15, false))));
        assert_eq!(reply_len(b"!3\r\nERR\r\n"), Ok(Some((9, true))));
        assert_eq!(
            reply_len(b"|1\r\n+k\r\n+v\r\n:5\r\n"),
            Ok(Some((16, false)))
        );
    }

    #[test]
    fn partial_replies_wait_for_more() {
        for partial in [
            &b""[..],
            b"+OK",
            b"+OK\r",
            b"$3\r\nab",
            b"$3\r\nabc\r",
            b"*2\r\n$1\r\na\r\n",
            b"*2\r\n",
        ] {
            assert_eq!(reply_len(partial), Ok(None), "{partial:?}");
        }
    }

    #[test]
    fn nonsense_is_an_error() {
        assert!(reply_len(b"?\r\n").is_err());
        assert!(reply_len(b"$x\r\n").is_err());
        assert!(reply_len(b"+OK\n").is_err());
    }

    #[test]
    fn claims_add_up_to_the_requests() {
        let shared = Shared::new(10);
        let claims: Vec<u64> = (0..6).map(|_| shared.claim(3)).collect();
        assert_eq!(claims, [3, 3, 3, 1, 0, 0]);
        let shared = Shared::new(0);
        assert_eq!(shared.claim(1), 0);
    }
}
