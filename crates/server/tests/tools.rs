//! The tools Redis users already have, pointed at kv-server: redis-benchmark, redis-cli's
//! modes, and redis-py (installed by `cargo xtask test`).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use redis::Commands;
use support::Server;

fn run(program: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn redis_benchmark_runs_against_kv() {
    let server = Server::kv(&[]);
    let port = server.port.to_string();
    for pipeline in ["1", "16"] {
        let (ok, text) = run(
            "redis-benchmark",
            &[
                "-p",
                &port,
                "-n",
                "2000",
                "-c",
                "10",
                "-r",
                "1000",
                "-P",
                pipeline,
                "-t",
                "ping,set,get,incr,mset",
                "--csv",
            ],
        );
        assert!(ok, "{text}");
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with('"') && !l.starts_with("\"test\""))
            .collect();
        assert_eq!(lines.len(), 6, "{text}");
        for line in lines {
            let rps: f64 = line
                .split(',')
                .nth(1)
                .unwrap()
                .trim_matches('"')
                .parse()
                .unwrap();
            assert!(rps > 0.0, "{line}");
        }
    }
    let mut con = server.client();
    assert!(redis::cmd("DBSIZE").query::<i64>(&mut con).unwrap() > 0);
}

#[test]
fn redis_cli_modes_work_against_kv() {
    let server = Server::kv(&[]);
    let port = server.port.to_string();
    // Mass insertion: redis-cli --pipe ends with an ECHO of a random marker and waits for it.
    let mut stream = Vec::new();
    for i in 0..5000 {
        let key = format!("user:{i}");
        write!(
            stream,
            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\n{}\r\n",
            key.len(),
            i % 10
        )
        .unwrap();
    }
    let mut pipe = Command::new("redis-cli")
        .args(["-p", &port, "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    pipe.stdin.take().unwrap().write_all(&stream).unwrap();
    let output = pipe.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && text.contains("errors: 0, replies: 5000"),
        "{text}"
    );

    let (ok, text) = run(
        "redis-cli",
        &["-p", &port, "--scan", "--pattern", "user:42*"],
    );
    assert!(ok);
    let mut keys: Vec<&str> = text.lines().collect();
    keys.sort_unstable();
    let mut expected: Vec<String> = (0..5000)
        .map(|i| format!("user:{i}"))
        .filter(|k| k.starts_with("user:42"))
        .collect();
    expected.sort_unstable();
    assert_eq!(keys, expected);

    let (ok, text) = run("redis-cli", &["-p", &port, "--bigkeys"]);
    assert!(
        ok && text.contains("5000 strings with 5000 bytes"),
        "{text}"
    );
    let (ok, text) = run("redis-cli", &["-p", &port, "INFO", "keyspace"]);
    assert!(ok && text.contains("db0:keys=5000,expires=0"), "{text}");
}

#[test]
fn redis_py_works_against_kv() {
    let server = Server::kv(&[]);
    let script = r#"
import sys, redis
port = int(sys.argv[1])
for protocol in (2, 3):
    r = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    r.flushall()
    assert r.ping() is True
    assert r.set("a", "1") is True and r.get("a") == "1"
    assert r.incr("n", 5) == 5 and r.incrbyfloat("f", 1.5) == 1.5
    assert r.mset({"x": "1", "y": "2"}) and r.mget("x", "y", "z") == ["1", "2", None]
    assert r.expire("a", 100) and 99 <= r.ttl("a") <= 100
    assert r.exists("a", "b") == 1 and r.type("a") == "string"
    assert sorted(r.scan_iter(match="*")) == ["a", "f", "n", "x", "y"]
    assert r.info("server")["redis_version"] == "7.0.15"
    assert r.client_setname("py") and r.client_getname() == "py"
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    p = r.pipeline(transaction=False)
    p.set("p", 1).incr("p").get("p")
    assert p.execute() == [True, 2, "2"]
    try:
        r.incr("a_string") if r.set("a_string", "x") else None
        raise SystemExit("expected an error")
    except redis.ResponseError as e:
        assert str(e) == "value is not an integer or out of range", str(e)
print("redis-py ok")
"#;
    let (ok, text) = run("python3", &["-c", script, &server.port.to_string()]);
    assert!(ok && text.contains("redis-py ok"), "{text}");
    let mut con = server.client();
    assert_eq!(con.get::<_, String>("p").unwrap(), "2");
}
