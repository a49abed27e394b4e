//! kv-cli prints exactly what redis-cli prints, against the same server, in both output modes.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Redis(Child, u16);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts redis-server on a free port. A port found free can be taken by another test's server
/// before ours binds it, so the server must report our child's pid before it is used; a lost
/// race is retried on another port.
fn start_redis() -> Redis {
    for _ in 0..10 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("redis-server")
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
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (cargo xtask test installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err()
            && child.try_wait().unwrap().is_none()
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        let info = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "INFO", "server"])
            .output();
        let ours = format!("process_id:{}", child.id());
        if info.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&ours)) {
            return Redis(child, port);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("could not start redis-server on a free port");
}

fn output(program: &str, port: u16, extra: &[&str], command: &[&str]) -> (String, Option<i32>) {
    let out = Command::new(program)
        .args(["-p", &port.to_string()])
        .args(extra)
        .args(command)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

#[test]
fn output_matches_redis_cli() {
    let redis = start_redis();
    // Each command runs on the same fresh data for both clients.
    let reset = |port: u16| {
        output("redis-cli", port, &[], &["FLUSHALL"]);
        output(
            "redis-cli",
            port,
            &[],
            &[
                "MSET",
                "a",
                "1",
                "b",
                "two words",
                "c",
                "quote\"and\nnewline",
            ],
        );
    };
    let commands: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["GET", "missing"],
        &[
            "MGET", "a", "b", "c", "missing", "e", "f", "g", "h", "i", "j",
        ],
        &["INCR", "a"],
        &["INCR", "b"],
        &["CONFIG", "GET", "maxmemory*"],
        &["COMMAND", "GETKEYS", "MSET", "x", "1", "y", "2"],
        &["LCS", "b", "c", "IDX", "WITHMATCHLEN"],
        &["NOSUCHCOMMAND", "arg"],
    ];
    for mode in [&["--no-raw"][..], &["--raw"][..], &["-3", "--no-raw"][..]] {
        for command in commands {
            reset(redis.1);
            let expected = output("redis-cli", redis.1, mode, command);
            reset(redis.1);
            let got = output(env!("CARGO_BIN_EXE_kv-cli"), redis.1, mode, command);
            assert_eq!(got, expected, "{mode:?} {command:?}");
        }
    }
}
