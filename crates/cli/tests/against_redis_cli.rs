//! kv-cli prints exactly what redis-cli prints, against the same server, in both output modes.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use kv_testkit::Server;

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
    let redis = Server::redis(&[]);
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
            reset(redis.port);
            let expected = output("redis-cli", redis.port, mode, command);
            reset(redis.port);
            let got = output(env!("CARGO_BIN_EXE_kv-cli"), redis.port, mode, command);
            assert_eq!(got, expected, "{mode:?} {command:?}");
        }
    }
}
