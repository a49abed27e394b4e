//! kv-cli against redis-cli 7.0: both are run with the same flags, standard input and
//! environment against the same server (the reference redis-server, and kv-server), on the
//! same data, and must print the same bytes on stdout and exit with the same status. Where
//! redis-cli's stderr says something deterministic (the password warning, AUTH and SELECT
//! failures, connection errors, `-e`), it must match too.
//!
//! kv-server is the binary built beside kv-cli (`cargo test --workspace` builds it). When it
//! is missing, the kv-server half of each test is skipped with a note, except under CI
//! (`CI` set), where that is a failure.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{client, finish, Target, KV_CLI};
use kv_testkit::free_port;

/// What one run of a client left.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: Option<i32>,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// One way of running a client: arguments, standard input, extra environment.
#[derive(Debug, Clone, Default)]
struct Invocation {
    args: Vec<String>,
    stdin: Vec<u8>,
    env: Vec<(String, String)>,
}

impl Invocation {
    fn new<S: AsRef<str>>(args: &[S]) -> Invocation {
        Invocation {
            args: args.iter().map(|a| a.as_ref().to_string()).collect(),
            ..Invocation::default()
        }
    }

    fn stdin(mut self, input: impl Into<Vec<u8>>) -> Invocation {
        self.stdin = input.into();
        self
    }

    fn env(mut self, name: &str, value: &str) -> Invocation {
        self.env.push((name.into(), value.into()));
        self
    }
}

/// Runs `program` as `invocation` says, killing it after 30 s.
fn run(program: &str, invocation: &Invocation) -> Run {
    let mut command = client(program, &invocation.args);
    for (name, value) in &invocation.env {
        command.env(name, value);
    }
    let output = finish(command, invocation.stdin.clone(), Duration::from_secs(30));
    Run {
        stdout: output.stdout,
        stderr: output.stderr,
        status: output.status.code(),
    }
}

impl Target {
    /// Empties the server and loads `setup` (commands, one per line, as redis-cli reads them).
    fn reset(&self, setup: &str) {
        let mut args = self.args(&[]);
        if let Some(password) = self.password {
            args.extend(["--no-auth-warning".into(), "-a".into(), password.into()]);
        }
        let script = format!("FLUSHALL\n{setup}");
        let out = run("redis-cli", &Invocation::new(&args).stdin(script));
        assert_eq!(out.status, Some(0), "setup failed: {}", out.stderr());
        assert!(
            !out.stdout().contains("ERR"),
            "setup failed on {}: {}",
            self.name,
            out.stdout()
        );
    }
}

/// The reference Redis's options: DEBUG allowed (for DEBUG PROTOCOL), then `extra`.
fn redis_options<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut options = vec!["--enable-debug-command", "yes"];
    options.extend_from_slice(extra);
    options
}

/// The reference Redis with `extra` options.
fn redis(extra: &[&str], password: Option<&'static str>) -> Target {
    common::redis(&redis_options(extra), password)
}

/// The servers to test against, with `extra` options: the reference Redis, and kv-server
/// when it is built.
fn targets(extra: &[&str], password: Option<&'static str>) -> Vec<Target> {
    common::targets(&redis_options(extra), extra, password)
}

/// Asserts that kv-cli ran (`got`) as redis-cli did (`expected`), both as `invocation` says
/// against the server `name`: same stdout and exit status (and stderr, with
/// `compare_stderr`). Returns kv-cli's run.
fn assert_same(
    name: &str,
    invocation: &Invocation,
    expected: &Run,
    got: Run,
    compare_stderr: bool,
) -> Run {
    let show = |run: &Run| {
        format!(
            "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.status,
            run.stdout(),
            run.stderr()
        )
    };
    let same = expected.stdout == got.stdout
        && expected.status == got.status
        && (!compare_stderr || expected.stderr == got.stderr);
    assert!(
        same,
        "{name}: {:?} stdin {:?} env {:?}\n===== redis-cli: {}\n===== kv-cli: {}",
        invocation.args,
        String::from_utf8_lossy(&invocation.stdin),
        invocation.env,
        show(expected),
        show(&got)
    );
    got
}

/// Runs both clients as `invocation` says against `target`, on data freshly loaded from
/// `setup` for each, and asserts they agree. Returns kv-cli's run.
fn check(target: &Target, setup: &str, invocation: &Invocation, compare_stderr: bool) -> Run {
    target.reset(setup);
    let expected = run("redis-cli", invocation);
    target.reset(setup);
    let got = run(KV_CLI, invocation);
    assert_same(target.name, invocation, &expected, got, compare_stderr)
}

/// Both clients on the data as it is (or without a server at all), same comparison; `name`
/// names the server in a failure.
fn check_without_reset(name: &str, invocation: &Invocation, compare_stderr: bool) -> Run {
    let expected = run("redis-cli", invocation);
    let got = run(KV_CLI, invocation);
    assert_same(name, invocation, &expected, got, compare_stderr)
}

/// Data every output test starts from: strings of every awkward kind, a list, a hash, a set,
/// a sorted set, and a key in database 2.
const DATA: &str = r#"SET a 1
SET b "two words"
SET c "quote\"and\nnewline"
SET bin "\x00\x01\x7f\xff\xc3\xa9\t\r\x07\x08\x0c\\"
SET utf8 "h\xc3\xa9llo w\xc3\xb6rld"
RPUSH list x y z
HSET hash field value
SADD set only
ZADD zset 1.5 m 2 n
SET which db0
SELECT 2
SET which db2
"#;

/// The output modes redis-cli has, and the default (raw, as stdout is a pipe here).
const MODES: &[&[&str]] = &[
    &[],
    &["--raw"],
    &["--no-raw"],
    &["--csv"],
    &["--json"],
    &["--quoted-json"],
    &["-3", "--no-raw"],
    &["-3", "--raw"],
    &["-3", "--csv"],
    &["-3", "--quoted-json"],
    &["-2", "--json"],
];

/// Commands both servers answer, with whether they change the data (then each client gets
/// fresh data).
const COMMANDS: &[(&[&str], bool)] = &[
    (&["SET", "k", "v"], true),
    (&["GET", "a"], false),
    (&["GET", "missing"], false),
    (&["GET", "bin"], false),
    (&["GET", "utf8"], false),
    (&["INCR", "a"], true),
    (&["INCR", "b"], true),
    (&["INCRBYFLOAT", "a", "0.1"], true),
    (&["MGET", "a", "b", "c", "missing", "bin"], false),
    (&["LRANGE", "list", "0", "-1"], false),
    (&["LRANGE", "nolist", "0", "-1"], false),
    (&["HGETALL", "hash"], false),
    (&["SMEMBERS", "set"], false),
    (&["ZRANGE", "zset", "0", "-1", "WITHSCORES"], false),
    (&["ZSCORE", "zset", "m"], false),
    (&["ZSCORE", "zset", "missing"], false),
    (&["ZINCRBY", "zset", "0.1", "m"], true),
    (&["EXISTS", "a", "b", "nope"], false),
    (&["TYPE", "hash"], false),
    (&["CONFIG", "GET", "maxmemory-policy"], false),
    (&["COMMAND", "GETKEYS", "MSET", "x", "1", "y", "2"], false),
    (&["LCS", "b", "c", "IDX", "WITHMATCHLEN"], false),
    (&["INFO", "keyspace"], false),
    (&["NOSUCHCOMMAND", "arg"], false),
    (&["GET"], false),
    (&["SET", "a", "b", "NX", "XX"], false),
];

#[test]
fn replies_print_the_same_in_every_output_mode() {
    for target in targets(&[], None) {
        target.reset(DATA);
        for mode in MODES {
            for (command, mutates) in COMMANDS {
                let mut args: Vec<&str> = mode.to_vec();
                args.extend_from_slice(command);
                let invocation = Invocation::new(&target.args(&args));
                if *mutates {
                    check(&target, DATA, &invocation, false);
                    target.reset(DATA);
                } else {
                    check_without_reset(target.name, &invocation, false);
                }
            }
        }
        // FAKETTY makes both believe stdout is a terminal: human-readable by default.
        for protocol in ["-2", "-3"] {
            for command in [
                &["MGET", "a", "missing"][..],
                &["HGETALL", "hash"],
                &["GET", "c"],
            ] {
                let mut args = vec![protocol];
                args.extend_from_slice(command);
                let invocation = Invocation::new(&target.args(&args)).env("FAKETTY", "1");
                let got = check_without_reset(target.name, &invocation, false);
                assert!(!got.stdout.is_empty());
            }
        }
    }
}

#[test]
fn every_resp3_type_prints_as_redis_cli_prints_it() {
    // DEBUG PROTOCOL <type> makes the reference Redis reply with each RESP3 type (or its
    // RESP2 form); kv-server has no DEBUG PROTOCOL.
    let target = redis(&[], None);
    target.reset(DATA);
    let types = [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
        "verbatim", "true", "false",
    ];
    for mode in MODES {
        for kind in types {
            let mut args: Vec<&str> = mode.to_vec();
            args.extend_from_slice(&["DEBUG", "PROTOCOL", kind]);
            let got = check_without_reset(target.name, &Invocation::new(&target.args(&args)), true);
            if kind == "bignum" && mode.contains(&"-3") {
                // redis-cli 7.0 cannot print a big number: it says so and exits 1.
                assert_eq!(got.stderr(), "Unknown reply type: 13\n");
                assert_eq!(got.status, Some(1));
            }
            if kind == "attrib" && mode.contains(&"-3") {
                assert_eq!(
                    got.stderr(),
                    "Error: Protocol error, got \"|\" as reply type byte\n"
                );
            }
        }
        // Pushes before the reply: shown or not.
        for show in ["y", "n"] {
            let mut args: Vec<&str> = mode.to_vec();
            args.extend_from_slice(&["--show-pushes", show, "DEBUG", "PROTOCOL", "push"]);
            check_without_reset(target.name, &Invocation::new(&target.args(&args)), true);
        }
        let mut args: Vec<&str> = mode.to_vec();
        args.extend_from_slice(&["DEBUG", "PROTOCOL", "push"]);
        check_without_reset(
            target.name,
            &Invocation::new(&target.args(&args)).env("FAKETTY", "1"),
            true,
        );
    }
    // Nested aggregates of every kind, from Lua.
    let scripts = [
        "return {1,{2,{}},'x',{err='bad'},{ok='fine'}}",
        "redis.setresp(3); return {map={a={1,2},b={3},c={},d={map={x=1}},e={map={x=1,y=2}}, f={{1,2}}, g={{1}} }}",
        "redis.setresp(3); return {1,{map={a=1}},{},{set={z=1}},{double=3.5},{map={}},{set={}}}",
        "return {1,2,3,4,5,6,7,8,9,10,{1,{2,{3,{4}}}}}",
        "return {}",
        "return {false}",
    ];
    for mode in MODES {
        for script in scripts {
            let mut args: Vec<&str> = mode.to_vec();
            args.extend_from_slice(&["EVAL", script, "0"]);
            check_without_reset(target.name, &Invocation::new(&target.args(&args)), true);
        }
    }
}

#[test]
fn connection_and_authentication_options() {
    let refused = free_port().to_string();
    for target in targets(&["--requirepass", "secret"], Some("secret")) {
        let port = target.port();
        let uri = |rest: &str| format!("redis://{rest}@127.0.0.1:{port}");
        let cases: Vec<Invocation> = vec![
            // Passwords, users and their warnings.
            Invocation::new(&["-p", &port, "PING"]),
            Invocation::new(&["-p", &port, "-a", "secret", "PING"]),
            Invocation::new(&["-p", &port, "--pass", "secret", "PING"]),
            Invocation::new(&["-p", &port, "-a", "wrong", "PING"]),
            Invocation::new(&["-p", &port, "--no-auth-warning", "-a", "secret", "PING"]),
            Invocation::new(&[
                "-p",
                &port,
                "-a",
                "secret",
                "--no-auth-warning",
                "GET",
                "which",
            ]),
            Invocation::new(&["-p", &port, "--user", "default", "-a", "secret", "PING"]),
            Invocation::new(&["-p", &port, "--user", "nobody", "-a", "secret", "PING"]),
            Invocation::new(&["-p", &port, "--user", "default", "PING"]),
            Invocation::new(&["-p", &port, "PING"]).env("REDISCLI_AUTH", "secret"),
            Invocation::new(&["-p", &port, "-a", "secret", "PING"]).env("REDISCLI_AUTH", "x"),
            Invocation::new(&["-p", &port, "PING"]).env("REDISCLI_AUTH", "wrong"),
            // Databases: GET which says where the command ran.
            Invocation::new(&["-p", &port, "-a", "secret", "-n", "2", "GET", "which"]),
            Invocation::new(&["-p", &port, "-a", "secret", "-n", "99", "GET", "which"]),
            Invocation::new(&["-p", &port, "-a", "secret", "-n", "abc", "GET", "which"]),
            Invocation::new(&["-p", &port, "-a", "wrong", "-n", "2", "GET", "which"]),
            // RESP3: HELLO 3 after AUTH and SELECT, skipped when one of them fails.
            Invocation::new(&[
                "-p", &port, "-a", "secret", "-3", "-n", "2", "HGETALL", "hash",
            ]),
            Invocation::new(&["-p", &port, "-a", "secret", "-2", "HGETALL", "hash"]),
            Invocation::new(&["-p", &port, "-a", "wrong", "-3", "HGETALL", "hash"]),
            Invocation::new(&[
                "-p", &port, "-a", "secret", "-n", "99", "-3", "HGETALL", "hash",
            ]),
            Invocation::new(&["-p", &port, "-a", "secret", "--json", "HGETALL", "hash"]),
            // URIs.
            Invocation::new(&["-u", &uri(":secret"), "GET", "which"]),
            Invocation::new(&["-u", &format!("{}/2", uri(":secret")), "GET", "which"]),
            Invocation::new(&[
                "-u",
                &format!("{}/2", uri("default:secret")),
                "GET",
                "which",
            ]),
            Invocation::new(&["-u", &format!("{}/2", uri("secret")), "GET", "which"]),
            Invocation::new(&["-u", &uri("s%65cr%45t"), "PING"]),
            Invocation::new(&["-u", &uri("%73ecret"), "PING"]),
            Invocation::new(&["-u", &uri(":wrong"), "PING"]),
            Invocation::new(&["--no-auth-warning", "-u", &uri(":secret"), "PING"]),
            Invocation::new(&["-u", &format!("REDIS://127.0.0.1:{port}/2"), "GET", "which"]),
            Invocation::new(&["-u", &uri(":secret"), "-n", "2", "GET", "which"]),
            Invocation::new(&["-u", &uri(":secret"), "-a", "wrong", "PING"]),
            Invocation::new(&[
                "-p",
                "1",
                "-u",
                &format!("redis://127.0.0.1:{port}"),
                "PING",
            ]),
            Invocation::new(&["-u", "http://127.0.0.1", "PING"]),
            Invocation::new(&["-u", &uri("p%zz"), "PING"]),
            Invocation::new(&["-u", &uri("p%"), "PING"]),
            Invocation::new(&["-u", &uri("p%4"), "PING"]),
            // Hosts and ports.
            Invocation::new(&["-h", "127.0.0.1", "-p", &port, "-a", "secret", "PING"]),
            Invocation::new(&["-h", "localhost", "-p", &port, "-a", "secret", "PING"]),
            Invocation::new(&["-p", &refused, "PING"]),
            Invocation::new(&["-h", "localhost", "-p", &refused, "PING"]),
            Invocation::new(&["-p", "-5", "PING"]),
            Invocation::new(&["-p", "abc", "PING"]),
            Invocation::new(&["-h", "no.such.host.invalid", "-p", &port, "PING"]),
            Invocation::new(&["-s", "/nonexistent/kv-cli-test.sock", "PING"]),
        ];
        for invocation in &cases {
            check(&target, DATA, invocation, true);
        }
    }

    // A Unix socket, on each server (a socket file of its own).
    for server in ["redis", "kv"] {
        let socket =
            std::env::temp_dir().join(format!("kv-cli-test-{server}-{}.sock", std::process::id()));
        let socket_arg = socket.to_str().unwrap().to_string();
        let options = ["--unixsocket", &socket_arg, "--unixsocketperm", "700"];
        let target = match server {
            "redis" => redis(&options, None),
            _ => match common::kv(&options, None) {
                Some(target) => target,
                None => continue,
            },
        };
        unix_socket_invocations(&target, &socket_arg);
        drop(target);
        let _ = std::fs::remove_file(&socket);
    }
}

/// kv-cli and redis-cli with `-s socket` (and `-s` over `-h`/`-p`) against `target`.
fn unix_socket_invocations(target: &Target, socket_arg: &str) {
    for args in [
        &["-s", socket_arg, "PING"][..],
        &["-s", socket_arg, "-n", "2", "GET", "which"],
        &[
            "-h",
            "nowhere.invalid",
            "-p",
            "1",
            "-s",
            socket_arg,
            "GET",
            "which",
        ],
    ] {
        check(target, DATA, &Invocation::new(args), true);
    }
}

#[test]
fn one_shot_flags() {
    for target in targets(&[], None) {
        let port = target.port();
        let p = |args: &[&str]| Invocation::new(&target.args(args));
        let cases: Vec<Invocation> = vec![
            // -r and -i.
            p(&["-r", "3", "INCR", "a"]),
            p(&["-r", "0", "INCR", "a"]),
            p(&["-r", "abc", "INCR", "a"]),
            p(&["-r", "2x", "INCR", "a"]),
            p(&["-r", "2", "--no-raw", "LRANGE", "list", "0", "-1"]),
            p(&["-r", "2", "-i", "0.05", "INCR", "a"]),
            p(&["-i", "0.05", "PING"]),
            // -x and -X.
            p(&["-x", "ECHO"]).stdin("hello\nworld\n"),
            p(&["-x", "SET", "k"]).stdin("from stdin"),
            p(&["-x", "ECHO"]),
            p(&["--no-raw", "-x", "ECHO"]).stdin(b"\x00\xff\r\n".to_vec()),
            p(&["-x"]).stdin("a b"),
            p(&["-X", "tag", "ECHO", "tag"]).stdin("tagged"),
            p(&["-X", "tag", "SET", "k", "tag"]).stdin("tagged"),
            p(&["-X", "tag", "ECHO", "nothing"]).stdin("tagged"),
            p(&["-x", "-X", "tag", "ECHO", "tag"]).stdin("x"),
            // -e, and error replies without it.
            p(&["NOSUCHCOMMAND"]),
            p(&["--no-raw", "NOSUCHCOMMAND"]),
            p(&["-e", "NOSUCHCOMMAND"]),
            p(&["-e", "--no-raw", "NOSUCHCOMMAND"]),
            p(&["-e", "GET", "a"]),
            p(&["-e", "-r", "2", "NOSUCHCOMMAND"]),
            // -d and -D.
            p(&["--raw", "-d", ",", "LRANGE", "list", "0", "-1"]),
            p(&["-d", "", "LRANGE", "list", "0", "-1"]),
            p(&["--raw", "-D", "|", "-r", "2", "LRANGE", "list", "0", "1"]),
            p(&["--raw", "-d", "<>", "-D", "", "-3", "HGETALL", "hash"]),
            p(&["--no-raw", "-d", ",", "-D", "|", "LRANGE", "list", "0", "1"]),
            p(&["--csv", "-D", "|", "-r", "2", "PING"]),
            // --quoted-input.
            p(&["--quoted-input", "--no-raw", "ECHO", r#""a\x00b\n""#]),
            p(&["--quoted-input", "SET", "'k 1'", r#""v\tv""#]),
            p(&["--quoted-input", "ECHO", "a b"]),
            p(&["--quoted-input", "ECHO", "\"open"]),
            // Commands printed raw in every mode.
            p(&["--no-raw", "INFO", "keyspace"]),
            p(&["--csv", "INFO", "keyspace"]),
            // Refused command lines.
            p(&["--bogus", "PING"]),
            p(&["PING", "-p"]),
            p(&["-2", "-3", "PING"]),
            p(&["-3", "-2", "PING"]),
            p(&["-n"]),
            p(&["QUIT"]),
            p(&["--no-raw", "SUBSCRIBE"]),
            p(&["--show-pushes", "maybe", "PING"]),
        ];
        for invocation in &cases {
            check(&target, DATA, invocation, true);
        }
        // What -x and --quoted-input stored is what redis-cli stores.
        for (write, read) in [
            (
                p(&["-x", "SET", "k"]).stdin("line\n"),
                p(&["--no-raw", "GET", "k"]),
            ),
            (
                p(&["--quoted-input", "SET", r#""k\x00""#, r#""\xff""#]),
                p(&["--quoted-input", "--no-raw", "GET", r#""k\x00""#]),
            ),
        ] {
            target.reset(DATA);
            run("redis-cli", &write);
            let expected = run("redis-cli", &read);
            target.reset(DATA);
            run(KV_CLI, &write);
            let got = run("redis-cli", &read);
            assert_same(target.name, &write, &expected, got, true);
        }
        // -i waits after each run.
        let start = Instant::now();
        let got = run(KV_CLI, &p(&["-r", "3", "-i", "0.1", "PING"]));
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert_eq!(got.stdout(), "PONG\nPONG\nPONG\n");
        // Help and version: kv-cli's own text, redis-cli's exit status.
        for args in [&["--help"][..], &["-p", &port, "-h"], &["--version"]] {
            let expected = run("redis-cli", &Invocation::new(args));
            let got = run(KV_CLI, &Invocation::new(args));
            assert_eq!(got.status, expected.status, "{args:?}");
            assert!(got.stdout().starts_with("kv-cli "), "{args:?}");
        }
    }
}

#[test]
fn commands_from_standard_input() {
    let scripts = [
        "SET q 1\n\n   \nGET q\n3 INCR q\nGET q\n",
        "0 PING\n-1 PING\n99999999999999999999 PING\n\"\" PING\n3\nNOSUCHCOMMAND\n",
        "\"unbalanced\nECHO \"a\\x41\\n\" 'b\\n'\nECHO \"a\\x41\\n\"\nECHO 'it\\'s'\n",
        "PING\nquit\nPING\n",
        "PING\nEXIT now\nPING\n",
        ":set hints\n:set colors\n:other\nrestart\nPING\n",
        "SELECT 2\nGET which\nMULTI\nSELECT 0\nEXEC\nGET which\n",
        "GET which\nPING\nGET a",
        "HGETALL hash\nLRANGE list 0 -1\nGET bin\nGET missing\nNOSUCHCOMMAND x\n",
    ];
    for target in targets(&[], None) {
        let port = target.port();
        for mode in [
            &[][..],
            &["--no-raw"],
            &["--csv"],
            &["--json"],
            &["-3", "--no-raw"],
        ] {
            for script in scripts {
                let invocation = Invocation::new(&target.args(mode)).stdin(script);
                check(&target, DATA, &invocation, true);
            }
        }
        // -e and -r apply to one-shot commands only; -n to the connection.
        for extra in [&["-e"][..], &["-r", "3"], &["-n", "2"]] {
            let invocation =
                Invocation::new(&target.args(extra)).stdin("NOSUCHCOMMAND\nGET which\n");
            check(&target, DATA, &invocation, true);
        }
        // connect HOST PORT moves to another server.
        let invocation = Invocation::new(&["-p", "1"])
            .stdin(format!("PING\nconnect 127.0.0.1 {port}\nGET which\n"));
        check(&target, DATA, &invocation, true);
        // Pushes: client-side caching invalidations, shown or not.
        let tracking = "CLIENT TRACKING on\nGET a\nSET a 2\nPING\n";
        for (args, env) in [
            (&["-3"][..], None),
            (&["-3", "--show-pushes", "y"], None),
            (&["-3", "--show-pushes", "y", "--no-raw"], None),
            (&["-3", "--show-pushes", "y", "--json"], None),
            (&["-3"], Some("1")),
            (&["-3", "--show-pushes", "n"], Some("1")),
        ] {
            let mut invocation = Invocation::new(&target.args(args)).stdin(tracking);
            if let Some(value) = env {
                invocation = invocation.env("FAKETTY", value);
            }
            check(&target, DATA, &invocation, true);
        }
    }
    // Nothing listening: every line tries again and says so.
    let refused = free_port().to_string();
    check_without_reset(
        "no server",
        &Invocation::new(&["-p", &refused]).stdin("PING\nPING\n"),
        true,
    );
}

/// `help` is answered by the client itself, in one-shot mode and from standard input, from
/// the server's COMMAND DOCS (the same server, so the same entries).
#[test]
fn help_outside_the_interactive_mode() {
    for target in targets(&[], None) {
        for args in [
            &["help", "set"][..],
            &["HELP", "@hash"],
            &["?", "config", "get"],
            &["help", "nosuch"],
        ] {
            check(&target, DATA, &Invocation::new(&target.args(args)), true);
        }
        let invocation = Invocation::new(&target.args(&[])).stdin(
            "help get
PING
help lmove
",
        );
        check(&target, DATA, &invocation, true);
        let invocation = Invocation::new(&target.args(&["-r", "3", "help", "incr"]));
        check(&target, DATA, &invocation, true);
    }
}

#[test]
fn a_slow_command_is_timed_on_a_terminal_only() {
    let target = redis(&[], None);
    for mode in ["--no-raw", "--raw"] {
        let got = run(
            KV_CLI,
            &Invocation::new(&target.args(&[mode])).stdin("DEBUG SLEEP 0.6\nPING\n"),
        );
        let out = got.stdout();
        if mode == "--no-raw" {
            assert!(
                out.starts_with("OK\n(0.6") && out.ends_with("s)\nPONG\n"),
                "{out}"
            );
        } else {
            assert_eq!(out, "OK\nPONG\n");
        }
    }
}

#[test]
fn subscribers_print_messages_as_they_come() {
    for target in targets(&[], None) {
        for mode in [
            &["--raw"][..],
            &["--no-raw"],
            &["-3", "--no-raw"],
            &["--json"],
        ] {
            let subscribe = |program: &str| {
                // The last subscriber was killed, but the server may not have seen its socket
                // close yet: until it has, a PUBLISH would count it, and the new subscriber
                // could miss the one message.
                let deadline = Instant::now() + Duration::from_secs(10);
                let numsub = target.args(&["PUBSUB", "NUMSUB", "ch"]);
                while run("redis-cli", &Invocation::new(&numsub)).stdout() != "ch\n0\n" {
                    assert!(
                        Instant::now() < deadline,
                        "a subscriber stayed on {}",
                        target.name
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
                let mut args = target.args(mode);
                args.extend(["SUBSCRIBE".to_string(), "ch".to_string()]);
                let mut child = Command::new(program)
                    .args(&args)
                    .env_remove("FAKETTY")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                // Collect what the subscriber prints while it runs.
                let mut stdout = child.stdout.take().unwrap();
                let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
                let sink = printed.clone();
                let reader = std::thread::spawn(move || {
                    let mut chunk = [0u8; 4096];
                    while let Ok(n @ 1..) = std::io::Read::read(&mut stdout, &mut chunk) {
                        sink.lock().unwrap().extend_from_slice(&chunk[..n]);
                    }
                });
                // Publish once the subscriber is there, then wait for the message to show.
                let deadline = Instant::now() + Duration::from_secs(10);
                let publish = target.args(&["PUBLISH", "ch", "hello"]);
                while run("redis-cli", &Invocation::new(&publish)).stdout() != "1\n" {
                    assert!(
                        Instant::now() < deadline,
                        "no subscriber on {}",
                        target.name
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
                while !String::from_utf8_lossy(&printed.lock().unwrap()).contains("hello") {
                    assert!(Instant::now() < deadline, "{program} printed no message");
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = Command::new("kill").arg(child.id().to_string()).status();
                let _ = child.wait();
                reader.join().unwrap();
                let out = printed.lock().unwrap().clone();
                out
            };
            let expected = subscribe("redis-cli");
            let got = subscribe(KV_CLI);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&expected),
                "{} {mode:?}",
                target.name
            );
        }
    }
}

#[test]
fn tls_uris_are_refused_with_a_clear_message() {
    let got = run(
        KV_CLI,
        &Invocation::new(&["-u", "rediss://127.0.0.1:6379", "PING"]),
    );
    assert_eq!(got.status, Some(1));
    assert!(got.stdout.is_empty());
    assert!(got.stderr().contains("TLS"), "{}", got.stderr());
}
