//! kv-cli's special modes against redis-cli 7.0's, and `kv-cli bench` on its own.
//!
//! Each mode is run by both clients with the same flags and input against the same server
//! (the reference redis-server, and kv-server), on the same data: `--pipe`, `--bigkeys` and
//! `--memkeys` must print the same bytes (stdout and stderr) and exit alike; `--scan` the same
//! keys; the timing modes (`--latency*`, `--stat`) the same shape of output, numbers aside.
//! The modes that run until interrupted are stopped after a while; redis-cli runs under
//! `stdbuf -oL` there, since it would otherwise lose its buffered output when killed.
//!
//! kv-server is the binary built beside kv-cli. When it is missing, its half of each test is
//! skipped with a note, except under CI (`CI` set), where that is a failure.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::Duration;

use common::{client, finish, Target, KV_CLI};
use kv_testkit::{exchange, free_port, resp};

/// What one run of a client left.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    stdout: String,
    stderr: String,
    status: Option<i32>,
}

/// A client command line: the program (with `stdbuf -oL` in front for redis-cli when asked)
/// and its arguments.
fn command(program: &str, args: &[String], line_buffered: bool) -> Command {
    if line_buffered && program == "redis-cli" {
        let mut all = vec!["-oL".to_string(), program.to_string()];
        all.extend_from_slice(args);
        client("stdbuf", &all)
    } else {
        client(program, args)
    }
}

/// What a finished (or killed) client left, as text.
fn collect(output: Output) -> Run {
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        status: output.status.code(),
    }
}

/// Runs `program` with `stdin` to its end, killing it after 60 s.
fn run(program: &str, args: &[String], stdin: &[u8]) -> Run {
    let command = command(program, args, false);
    collect(finish(command, stdin.to_vec(), Duration::from_secs(60)))
}

/// Runs `program` for `duration`, then kills it and returns what it printed.
fn run_for(program: &str, args: &[String], duration: Duration) -> Run {
    let mut child = command(program, args, true).spawn().unwrap();
    drop(child.stdin.take());
    std::thread::sleep(duration);
    let _ = child.kill();
    collect(child.wait_with_output().unwrap())
}

impl Target {
    /// Empties the server and loads `setup` (RESP, sent with redis-cli --pipe).
    fn load(&self, setup: &[u8]) {
        let flushed = run("redis-cli", &self.args(&["FLUSHALL"]), b"");
        assert_eq!(flushed.stdout, "OK\n", "FLUSHALL on {}", self.name);
        let loaded = run("redis-cli", &self.args(&["--pipe"]), setup);
        assert_eq!(loaded.status, Some(0), "loading {}: {loaded:?}", self.name);
    }

    /// A command's reply, raw.
    fn query(&self, args: &[&str]) -> String {
        run("redis-cli", &self.args(args), b"").stdout
    }
}

/// The servers: the reference Redis, and kv-server when it is built.
fn targets() -> Vec<Target> {
    common::targets(&[], &[], None)
}

/// Commands as one RESP stream.
fn stream(commands: &[Vec<&[u8]>]) -> Vec<u8> {
    commands.iter().flat_map(|args| resp(args)).collect()
}

/// Asserts both clients printed the same bytes and exited alike.
fn assert_same(what: &str, expected: &Run, got: &Run) {
    assert_eq!(
        (&expected.stdout, &expected.stderr, expected.status),
        (&got.stdout, &got.stderr, got.status),
        "{what}: redis-cli (left) and kv-cli (right) differ"
    );
}

/// The text with every run of digits replaced by one `9`: the shape of a line of figures.
fn shape(text: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('9');
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    out
}

#[test]
fn pipe_prints_the_same_summary() {
    let mut insert: Vec<Vec<&[u8]>> = Vec::new();
    let keys: Vec<String> = (0..2000).map(|i| format!("key:{i}")).collect();
    for key in &keys {
        insert.push(vec![b"SET", key.as_bytes(), b"value"]);
    }
    // Two errors among the replies, and an inline command.
    insert.push(vec![b"INCR", b"key:1"]);
    insert.push(vec![b"NOSUCHCOMMAND"]);
    let mut with_inline = stream(&insert);
    with_inline.extend_from_slice(b"PING\r\n");
    let quitting = b"PING\r\nQUIT\r\n".to_vec();

    for target in targets() {
        for (what, input, keys_after) in [
            (
                "2000 SETs, 2 errors, an inline PING",
                with_inline.clone(),
                "2000",
            ),
            ("no input", Vec::new(), "0"),
            ("QUIT", quitting.clone(), "0"),
        ] {
            target.load(b"");
            let expected = run("redis-cli", &target.args(&["--pipe"]), &input);
            assert_eq!(target.query(&["DBSIZE"]).trim(), keys_after);
            target.load(b"");
            let got = run(KV_CLI, &target.args(&["--pipe"]), &input);
            assert_eq!(target.query(&["DBSIZE"]).trim(), keys_after);
            assert_same(&format!("{}: --pipe, {what}", target.name), &expected, &got);
        }
        let got = run(KV_CLI, &target.args(&["--pipe"]), &with_inline);
        assert_eq!(
            got.stdout,
            "All data transferred. Waiting for the last reply...\n\
             Last reply received from server.\n\
             errors: 2, replies: 2003\n"
        );
        assert_eq!(got.status, Some(1));
        assert_eq!(got.stderr.lines().count(), 2, "{}", got.stderr);
    }
}

#[test]
fn pipe_gives_up_after_the_timeout() {
    // BLPOP blocks the connection: neither its reply nor the end marker's ever comes.
    let input = stream(&[vec![b"SET", b"a", b"1"], vec![b"BLPOP", b"nolist", b"0"]]);
    for target in targets() {
        let args = target.args(&["--pipe", "--pipe-timeout", "1"]);
        target.load(b"");
        let expected = run("redis-cli", &args, &input);
        target.load(b"");
        let got = run(KV_CLI, &args, &input);
        assert_same(&format!("{}: --pipe-timeout", target.name), &expected, &got);
        assert_eq!(
            got.stdout,
            "All data transferred. Waiting for the last reply...\nerrors: 1, replies: 1\n"
        );
        assert_eq!(got.stderr, "No replies for 1 seconds: exiting.\n");
    }
}

/// Keys of several types and awkward names for `--scan`, `--bigkeys` and `--memkeys`.
fn keyspace() -> Vec<u8> {
    let mut commands: Vec<Vec<Vec<u8>>> = Vec::new();
    for i in 0..300 {
        let key = format!("user:{i}").into_bytes();
        commands.push(vec![b"SET".to_vec(), key, "x".repeat(i % 37).into_bytes()]);
    }
    for i in 0..40 {
        let list = format!("list:{i}").into_bytes();
        let mut push = vec![b"RPUSH".to_vec(), list];
        push.extend((0..=i % 9).map(|j| format!("e{j}").into_bytes()));
        commands.push(push);
        let hash = format!("hash:{i}").into_bytes();
        commands.push(vec![b"HSET".to_vec(), hash, b"f".to_vec(), b"v".to_vec()]);
        commands.push(vec![
            b"SADD".to_vec(),
            format!("set:{i}").into_bytes(),
            b"m".to_vec(),
        ]);
        let zset = format!("zset:{i}").into_bytes();
        let mut add = vec![b"ZADD".to_vec(), zset];
        for j in 0..i % 5 + 1 {
            add.extend([j.to_string().into_bytes(), format!("m{j}").into_bytes()]);
        }
        commands.push(add);
    }
    commands.push(vec![b"SET".to_vec(), b"with space".to_vec(), b"v".to_vec()]);
    commands.push(vec![
        b"SET".to_vec(),
        b"bin\x00\xff\n".to_vec(),
        b"v".to_vec(),
    ]);
    commands.push(vec![b"SET".to_vec(), b"empty".to_vec(), Vec::new()]);
    commands
        .iter()
        .flat_map(|c| resp(&c.iter().map(Vec::as_slice).collect::<Vec<_>>()))
        .collect()
}

/// Lines sorted: SCAN's order is the server's business.
fn sorted(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn scan_lists_the_same_keys() {
    let data = keyspace();
    for target in targets() {
        target.load(&data);
        for args in [
            &["--scan"][..],
            &["--scan", "--pattern", "user:1*"],
            &["--scan", "--pattern", "nomatch*"],
            &["--scan", "--quoted-pattern", "\"bin\\x00*\""],
            &["--scan", "--no-raw", "--pattern", "*i*"],
            &["--scan", "-i", "0.01", "--pattern", "list:*"],
            &["--quoted-pattern", "\"unterminated"],
        ] {
            let args = target.args(args);
            let expected = run("redis-cli", &args, b"");
            let got = run(KV_CLI, &args, b"");
            assert_eq!(
                (sorted(&expected.stdout), &expected.stderr, expected.status),
                (sorted(&got.stdout), &got.stderr, got.status),
                "{}: {args:?}",
                target.name
            );
        }
        let all = run(KV_CLI, &target.args(&["--scan"]), b"");
        assert_eq!(all.stdout.lines().count(), 463);
        let quoted = run(
            KV_CLI,
            &target.args(&["--scan", "--no-raw", "--pattern", "bin*"]),
            b"",
        );
        assert_eq!(quoted.stdout, "\"bin\\x00\\xff\\n\"\n");

        // kv-cli's additions: SCAN's COUNT and TYPE.
        let hashes = run(KV_CLI, &target.args(&["--scan", "--type", "hash"]), b"");
        let expected: Vec<String> =
            sorted(&(0..40).map(|i| format!("hash:{i}\n")).collect::<String>());
        assert_eq!(sorted(&hashes.stdout), expected, "{}", target.name);
        let counted = run(KV_CLI, &target.args(&["--scan", "--count", "1000"]), b"");
        assert_eq!(sorted(&counted.stdout), sorted(&all.stdout));
    }
}

#[test]
fn bigkeys_and_memkeys_print_the_same() {
    let data = keyspace();
    for target in targets() {
        target.load(&data);
        for args in [
            &["--bigkeys"][..],
            &["--bigkeys", "--pattern", "list:*"],
            &["--bigkeys", "--pattern", "list:1"],
            &["--bigkeys", "-i", "0.001"],
            &["--memkeys"],
            &["--memkeys-samples", "2", "--pattern", "zset:*"],
        ] {
            let args = target.args(args);
            let expected = run("redis-cli", &args, b"");
            let got = run(KV_CLI, &args, b"");
            assert_same(&format!("{}: {args:?}", target.name), &expected, &got);
        }
        let got = run(KV_CLI, &target.args(&["--bigkeys"]), b"");
        let summary = got.stdout.split("-------- summary -------").nth(1).unwrap();
        for line in [
            "\nSampled 463 keys in the keyspace!\n",
            "' has 36 bytes\n",
            "' has 9 items\n",
            "\n303 strings with 5336 bytes (65.44% of keys, avg size 17.61)\n",
            "\n40 zsets with 120 members (08.64% of keys, avg size 3.00)\n",
            "\n0 streams with 0 entries (00.00% of keys, avg size 0.00)\n",
        ] {
            assert!(summary.contains(line), "{line:?} not in {summary}");
        }
        // Both servers answer MEMORY USAGE for every key: each type's total is counted.
        let got = run(KV_CLI, &target.args(&["--memkeys"]), b"");
        let summary = got.stdout.split("-------- summary -------").nth(1).unwrap();
        for kind in ["strings", "lists", "hashs", "sets", "zsets"] {
            let line = summary
                .lines()
                .find(|l| l.split(' ').nth(1) == Some(kind))
                .unwrap_or_else(|| panic!("{}: no {kind} in {summary}", target.name));
            assert!(!line.contains(" with 0 bytes"), "{}: {line}", target.name);
        }
        assert!(got.stderr.is_empty(), "{}: {}", target.name, got.stderr);
    }
}

#[test]
fn latency_reports_once_with_an_interval() {
    for target in targets() {
        for (flags, line_shape) in [
            (&["--latency", "-i", "0.3"][..], "9 9 9.9 9\n"),
            (&["--latency", "-i", "0.3", "--csv"], "9,9,9.9,9\n"),
            (
                &["--latency", "-i", "0.3", "--json"],
                "{\"min\": 9, \"max\": 9, \"avg\": 9.9, \"count\": 9}\n",
            ),
            (&["--latency", "-i", "0.3", "--quoted-json"], ""),
        ] {
            let args = target.args(flags);
            let expected = run("redis-cli", &args, b"");
            let got = run(KV_CLI, &args, b"");
            assert_eq!(shape(&expected.stdout), line_shape, "redis-cli {flags:?}");
            assert_eq!(shape(&got.stdout), line_shape, "kv-cli {flags:?}");
            assert_eq!((expected.status, got.status), (Some(0), Some(0)));
            if !flags.contains(&"--json") && !got.stdout.is_empty() {
                // About 30 samples in 0.3 s, one every 10 ms.
                let count = got.stdout.trim().rsplit([' ', ',']).next().unwrap();
                let count: u32 = count.parse().unwrap();
                assert!((10..=31).contains(&count), "{count} samples");
            }
        }
    }
}

#[test]
fn latency_history_closes_each_period() {
    for target in targets() {
        let args = target.args(&["--latency-history", "-i", "0.2"]);
        for program in ["redis-cli", KV_CLI] {
            let run = run_for(program, &args, Duration::from_millis(900));
            let lines: Vec<&str> = run.stdout.lines().collect();
            let ranges: Vec<&&str> = lines.iter().filter(|l| l.starts_with(" -- ")).collect();
            assert!(ranges.len() >= 2, "{program}: {}", run.stdout);
            for range in ranges {
                assert_eq!(shape(range), " -- 9.9 seconds range", "{program}");
            }
            for line in lines.iter().filter(|l| !l.starts_with(" -- ")) {
                assert_eq!(shape(line), "9 9 9.9 9", "{program}");
            }
            // Each period starts counting from one again.
            for pair in lines.windows(2).filter(|pair| pair[0].starts_with(" -- ")) {
                assert!(pair[1].ends_with(" 1"), "{program}: {pair:?}");
            }
        }
    }
}

#[test]
fn latency_dist_draws_the_same_legend_and_spectrum() {
    for target in targets() {
        let args = target.args(&["--latency-dist", "-i", "0.3"]);
        let expected = run_for("redis-cli", &args, Duration::from_millis(1000));
        let got = run_for(KV_CLI, &args, Duration::from_millis(1000));
        let legend = |text: &str| text.lines().take(8).collect::<Vec<_>>().join("\n");
        assert_eq!(legend(&expected.stdout), legend(&got.stdout));
        assert!(legend(&got.stdout).contains("K,L,M,N,O,P,Q,?  1,2,4,8,16,30,60,>60 seconds"));
        let spectrum_shape = |text: &str| text.lines().nth(8).map(shape);
        assert!(spectrum_shape(&got.stdout).is_some(), "{}", got.stdout);
        assert_eq!(
            spectrum_shape(&expected.stdout),
            spectrum_shape(&got.stdout)
        );
    }
}

#[test]
fn stat_prints_the_header_and_rolling_lines() {
    let data = keyspace();
    for target in targets() {
        target.load(&data);
        let args = target.args(&["--stat", "-i", "0.3"]);
        let expected = run_for("redis-cli", &args, Duration::from_millis(1100));
        let got = run_for(KV_CLI, &args, Duration::from_millis(1100));
        for (program, run) in [("redis-cli", &expected), ("kv-cli", &got)] {
            let lines: Vec<&str> = run.stdout.lines().collect();
            assert!(lines.len() >= 4, "{program}: {}", run.stdout);
            assert_eq!(
                lines[..2].join("\n"),
                "------- data ------ --------------------- load -------------------- - child -\n\
                 keys       mem      clients blocked requests            connections          "
            );
            for (i, line) in lines[2..].iter().enumerate() {
                let fields: Vec<&str> = line.split_whitespace().collect();
                assert_eq!(fields.len(), 7, "{program}: {line:?}");
                assert_eq!(fields[0], "463", "{program}: keys in {line:?}");
                assert!(
                    fields[1].ends_with(['B', 'K', 'M', 'G']),
                    "{program}: {line:?}"
                );
                // This client, none blocked.
                assert_eq!((fields[2], fields[3]), ("1", "0"), "{program}: {line:?}");
                // The requests since the line before: none before the first line, then this
                // client's INFO.
                let delta = if i == 0 { "(+0)" } else { "(+1)" };
                assert_eq!(fields[5], delta, "{program}: {line:?}");
                // Each column starts where redis-cli's widths put it.
                for (column, field) in [0, 11, 20, 28, 36, 56].into_iter().zip([0, 1, 2, 3, 4, 6]) {
                    assert!(
                        line[column..].starts_with(fields[field]),
                        "{program}: {line:?}"
                    );
                }
            }
        }
    }
}

/// `kv-cli bench -q`'s lines: name, then the figures.
fn quiet_lines(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .map(|line| {
            let (name, rest) = line.split_once(": ").unwrap();
            (name.to_string(), shape(rest))
        })
        .collect()
}

#[test]
fn bench_runs_every_request_once() {
    let quiet_shape = shape("1.5 requests per second, p50=0.1 msec, p99=0.2 msec, p999=0.3 msec");
    for target in targets() {
        target.load(b"");
        let args = target.args(&["bench", "-t", "set,get", "-n", "2000", "-c", "4", "-q"]);
        let got = run(KV_CLI, &args, b"");
        assert_eq!(got.status, Some(0), "{}: {got:?}", target.name);
        assert_eq!(
            quiet_lines(&got.stdout),
            [
                ("SET".to_string(), quiet_shape.clone()),
                ("GET".to_string(), quiet_shape.clone())
            ]
        );
        // Without -r every SET names the same key.
        assert_eq!(target.query(&["DBSIZE"]), "1\n");
        assert_eq!(target.query(&["GET", "key:__rand_int__"]), "xxx\n");

        // Every INCR ran exactly once, whatever the clients, batches and event loops.
        let args = target.args(&[
            "bench",
            "-t",
            "incr",
            "-n",
            "2000",
            "-c",
            "3",
            "-P",
            "7",
            "--threads",
            "2",
        ]);
        let got = run(KV_CLI, &args, b"");
        assert_eq!(target.query(&["GET", "counter:__rand_int__"]), "2000\n");
        let report = &got.stdout;
        assert!(
            report.starts_with("====== INCR ======\n  2000 requests completed in "),
            "{report}"
        );
        assert!(report.contains("\n  3 parallel clients\n  3 bytes payload\n  pipeline: 7\n"));
        assert!(report.contains("\n  throughput: "));
        // The histogram's rows count every request.
        let rows: u64 = report
            .lines()
            .filter(|l| l.contains('|'))
            .map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(rows, 2000, "{report}");

        // -r: random keys within the range; 2000 draws over 10 keys reach them all.
        target.load(b"");
        let args = target.args(&[
            "bench", "-t", "set", "-n", "2000", "-c", "4", "-r", "10", "-d", "8", "--csv",
        ]);
        let got = run(KV_CLI, &args, b"");
        let lines: Vec<&str> = got.stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{}", got.stdout);
        assert!(lines[0].starts_with("\"test\",\"rps\",\"avg_latency_ms\""));
        assert!(lines[1].starts_with("\"SET\","));
        assert!(lines[1].ends_with(",\"0\""));
        assert_eq!(target.query(&["DBSIZE"]), "10\n");
        let keys = sorted(&run("redis-cli", &target.args(&["--scan"]), b"").stdout);
        let expected: Vec<String> = (0..10).map(|i| format!("key:{i:012}")).collect();
        assert_eq!(keys, expected);
        assert_eq!(target.query(&["GET", "key:000000000003"]), "xxxxxxxx\n");

        // Lists: LPUSH then LRANGE over the 600 elements filled in first.
        target.load(b"");
        let args = target.args(&[
            "bench",
            "-t",
            "lpush,lrange_100",
            "-n",
            "999",
            "-c",
            "5",
            "-P",
            "4",
            "-q",
        ]);
        let got = run(KV_CLI, &args, b"");
        assert_eq!(got.status, Some(0), "{got:?}");
        let names: Vec<String> = quiet_lines(&got.stdout)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["LPUSH", "LRANGE_100 (first 100 elements)"]);
        assert_eq!(target.query(&["LLEN", "mylist"]), "1599\n");
    }
}

/// Arguments as owned strings.
fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

#[test]
fn bench_reports_failures() {
    let closed = free_port().to_string();
    let got = run(KV_CLI, &strings(&["-p", &closed, "bench", "-n", "10"]), b"");
    assert_eq!(got.status, Some(1));
    assert_eq!(
        got.stderr,
        format!("Could not connect to Redis at 127.0.0.1:{closed}: Connection refused\n")
    );
    let got = run(KV_CLI, &strings(&["bench", "-t", "nope"]), b"");
    assert_eq!(got.status, Some(1));
    assert!(
        got.stderr.starts_with("Unknown test 'nope'"),
        "{}",
        got.stderr
    );
    let got = run(KV_CLI, &strings(&["bench", "--help"]), b"");
    assert_eq!(got.status, Some(0));
    assert!(got.stdout.contains("-P <numreq>"));

    // Error replies are counted, reported, and make the exit status 1.
    let target = common::redis(&[], None);
    target.load(&resp(&[b"SET", b"mylist", b"not a list"]));
    let got = run(
        KV_CLI,
        &target.args(&["bench", "-t", "lpush", "-n", "50", "-c", "2", "-q"]),
        b"",
    );
    assert_eq!(got.status, Some(1));
    assert!(
        got.stdout.ends_with(" msec (50 errors)\n"),
        "{}",
        got.stdout
    );
    let mut conn = TcpStream::connect(("127.0.0.1", target.server.port)).unwrap();
    assert_eq!(
        exchange(&mut conn, &resp(&[b"TYPE", b"mylist"]), 9),
        b"+string\r\n"
    );
}
