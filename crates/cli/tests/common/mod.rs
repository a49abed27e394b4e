//! What kv-cli's integration tests share: the kv-cli binary, kv-server built beside it, the
//! servers both clients are run against, and running a client to its end.
//!
//! Each test file is a crate of its own that takes in this module (`mod common;`) and uses
//! only part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kv_testkit::Server;

/// The kv-cli binary under test.
pub const KV_CLI: &str = env!("CARGO_BIN_EXE_kv-cli");

/// Whether a prerequisite is there; outside CI a missing one is reported and what needs it is
/// skipped, under CI (`CI` set) it fails the test.
pub fn available(what: &str, present: bool, how: &str) -> bool {
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what} is missing under CI ({how})"
        );
        eprintln!("note: {what} is missing, what needs it is skipped ({how})");
    }
    present
}

/// kv-server, built beside kv-cli, on a free port with `extra` options and no snapshots;
/// `None` (after a note, see [`available`]) when it is not built.
pub fn kv_server(extra: &[&str]) -> Option<Server> {
    let path = PathBuf::from(KV_CLI).with_file_name("kv-server");
    let what = format!("kv-server ({})", path.display());
    if !available(&what, path.exists(), "cargo build -p kv-server") {
        return None;
    }
    let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
    Some(Server::start(move |port| {
        let mut command = Command::new(&path);
        command
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(&extra);
        command
    }))
}

/// A server under test, with the password it needs, if any.
pub struct Target {
    /// `redis` or `kv`, for failure messages.
    pub name: &'static str,
    pub server: Server,
    pub password: Option<&'static str>,
}

impl Target {
    /// The server's port, as an argument.
    pub fn port(&self) -> String {
        self.server.port.to_string()
    }

    /// `-p PORT` followed by `args`.
    pub fn args(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["-p".to_string(), self.port()];
        all.extend(args.iter().map(|a| a.to_string()));
        all
    }
}

/// The reference Redis with `options`, asking for `password` if they make it.
pub fn redis(options: &[&str], password: Option<&'static str>) -> Target {
    Target {
        name: "redis",
        server: Server::redis(options),
        password,
    }
}

/// kv-server with `options` when it is built (see [`kv_server`]), asking for `password` if
/// they make it.
pub fn kv(options: &[&str], password: Option<&'static str>) -> Option<Target> {
    Some(Target {
        name: "kv",
        server: kv_server(options)?,
        password,
    })
}

/// The servers to test against: [`redis`] with `redis_options`, and [`kv`] with `kv_options`
/// when it is built.
pub fn targets(
    redis_options: &[&str],
    kv_options: &[&str],
    password: Option<&'static str>,
) -> Vec<Target> {
    let mut all = vec![redis(redis_options, password)];
    all.extend(kv(kv_options, password));
    all
}

/// A client's command line: `program` and `args`, its three streams piped, without the
/// environment that changes what a client does (REDISCLI_AUTH, FAKETTY).
pub fn client(program: &str, args: &[String]) -> Command {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_remove("REDISCLI_AUTH")
        .env_remove("FAKETTY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `command` with `stdin` to its end and returns what it left; past `limit` it is
/// killed and the test fails.
pub fn finish(mut command: Command, stdin: Vec<u8>, limit: Duration) -> Output {
    let mut child = command.spawn().unwrap();
    let pid = child.id();
    let mut input = child.stdin.take().unwrap();
    // A client that does not read its input must not block the test.
    std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match result.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let args: Vec<_> = command.get_args().collect();
            panic!(
                "{} {args:?} did not finish in {} s",
                command.get_program().to_string_lossy(),
                limit.as_secs()
            );
        }
    }
}
