//! # kv-testkit
//!
//! What kv's integration tests share: a server process (kv-server, or the reference
//! redis-server) started on a free loopback port, proven to be the process the test started,
//! and stopped by its pid when dropped; helpers that talk raw RESP over a socket; and a TCP
//! [`Proxy`] that cuts or stalls the connections through it, for fault tests; and a seeded
//! [`Rng`] for random inputs and faults.
//!
//! A dev-dependency only (`publish = false`), with no dependencies of its own, so any crate of
//! the workspace can test against a real server without a copy of this code.

mod proxy;
mod rng;

pub use proxy::Proxy;
pub use rng::Rng;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process on a loopback port, killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

impl Server {
    /// Starts the reference Redis (Debian's redis-server, installed by `cargo xtask test`)
    /// without persistence, with extra `--name value` options.
    pub fn redis(extra: &[&str]) -> Server {
        Server::redis_with_file(None, extra)
    }

    /// [`Server::redis`] reading the config file `file` first, if any.
    pub fn redis_with_file(file: Option<&str>, extra: &[&str]) -> Server {
        Server::start(|port| {
            let mut command = Command::new("redis-server");
            command
                .args(file)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(extra);
            command
        })
    }

    /// Starts `command(port)` on a free port and waits until that very process answers there.
    ///
    /// A port found free can be taken by another test's server before ours binds it; then ours
    /// exits, or another process answers on the port. So the server must report our child's
    /// pid (INFO's `process_id`) before it counts as started, and a lost race is retried on a
    /// new port.
    pub fn start(command: impl Fn(u16) -> Command) -> Server {
        for _ in 0..10 {
            let port = free_port();
            let child = command(port)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect(
                    "cannot start the server (redis-server is installed by `cargo xtask test`)",
                );
            if let Some(server) = Server::wait(child, port) {
                return server;
            }
        }
        panic!("could not start a server on a free port after 10 tries");
    }

    /// Waits for `child` to answer on `port`; `None` (child killed) if it exits or another
    /// process answers there instead.
    fn wait(mut child: Child, port: u16) -> Option<Server> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "server did not start listening on {port}"
            );
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
                stream.set_read_timeout(Some(Duration::from_secs(2))).ok();
                // A server still starting (or one losing the port race) may reset the
                // connection: that is "not yet", not a failure.
                if stream.write_all(&resp(&[b"INFO", b"server"])).is_err() {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                let info = read_at_least(&mut stream, 1);
                let bytes = read_more(&mut stream, info);
                let text = String::from_utf8_lossy(&bytes);
                if text.contains(&format!("process_id:{}\r\n", child.id())) {
                    // Hang up with QUIT and wait for the close: a server unregisters a
                    // quitting client before it answers, so the probe is gone from CLIENT
                    // LIST and `maxclients` before the test's first client arrives. A plain
                    // drop would be noticed whenever the server next polls the socket.
                    if stream.write_all(&resp(&[b"QUIT"])).is_ok() {
                        read_to_close(&mut stream);
                    }
                    return Some(Server { child, port });
                }
                if text.starts_with("-NOAUTH") {
                    // A password-protected server will not say who it is; a loser of the port
                    // race exits at once, so one still running after a moment is ours.
                    std::thread::sleep(Duration::from_millis(200));
                    if let Ok(None) = child.try_wait() {
                        return Some(Server { child, port });
                    }
                    return None;
                }
                if text.contains("process_id:") {
                    // Someone else's server took the port.
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A raw TCP connection with a read timeout.
    pub fn raw(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("cannot connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
        stream
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to exit by itself, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// The pid, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `request` and reads until `expected_len` bytes arrived, the peer closed, or 5 s passed.
pub fn exchange(stream: &mut TcpStream, request: &[u8], expected_len: usize) -> Vec<u8> {
    stream.write_all(request).expect("write");
    read_at_least(stream, expected_len)
}

/// Keeps reading after `first` until INFO's `process_id` line has arrived (or the read
/// timed out).
fn read_more(stream: &mut TcpStream, mut first: Vec<u8>) -> Vec<u8> {
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&first).contains("run_id:") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => first.extend_from_slice(&chunk[..k]),
        }
    }
    first
}

/// Reads until `n` bytes arrived, the peer closed, or the read timed out.
pub fn read_at_least(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    while out.len() < n {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => out.extend_from_slice(&chunk[..k]),
        }
    }
    out
}

/// Reads until `lines` CRLF-terminated lines arrived (or the read timed out).
pub fn read_lines(stream: &mut TcpStream, lines: usize) -> String {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while out.windows(2).filter(|w| w == b"\r\n").count() < lines {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => out.extend_from_slice(&chunk[..k]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads everything until the peer closes (or 5 s pass).
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    read_at_least(stream, usize::MAX)
}

/// Encodes a command as a RESP multibulk request.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}
