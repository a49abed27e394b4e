//! Test support: real `kv-server` and reference `redis-server` processes on free loopback
//! ports, stopped by pid when dropped, and raw-socket helpers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process on a loopback port, killed on drop.
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
    /// Starts the kv-server binary built for these tests, with extra `--name value` options
    /// (a config file, if any, comes first, as redis-server wants it).
    pub fn kv(extra: &[&str]) -> Server {
        let port = free_port();
        let (file, options) = match extra.first() {
            Some(first) if !first.starts_with("--") => (Some(*first), &extra[1..]),
            _ => (None, extra),
        };
        let child = Command::new(env!("CARGO_BIN_EXE_kv-server"))
            .args(file)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start kv-server");
        Server::wait(child, port)
    }

    /// Starts the reference Redis (Debian's redis-server, installed by `cargo xtask test`).
    pub fn redis(extra: &[&str]) -> Server {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed: run `cargo xtask test`, which installs it");
        Server::wait(child, port)
    }

    fn wait(mut child: Child, port: u16) -> Server {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("server exited during start-up: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "server did not start listening on {port}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Server { child, port }
    }

    /// A `redis` crate client.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("cannot connect")
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
