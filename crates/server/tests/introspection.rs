//! Introspection over TCP: INFO commandstats and errorstats, SLOWLOG, LATENCY, MONITOR, DEBUG,
//! LASTSAVE and CLIENT PAUSE, checked against a real kv-server (and, for the command table's
//! facts and the counters, against the reference redis-server).
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use kv_resp::{Frame, FrameDecoder, Limits};
use support::{config_set, read_lines, resp, Server};

/// Redis's refusal of DEBUG when `enable-debug-command` does not allow it.
const DEBUG_NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// A raw connection that reads replies one frame at a time.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    decoder: FrameDecoder,
}

impl Conn {
    fn open(server: &Server) -> Conn {
        Conn {
            stream: server.raw(),
            buf: BytesMut::new(),
            decoder: FrameDecoder::new(Limits::DEFAULT),
        }
    }

    /// This end's port, as the server sees the client.
    fn port(&self) -> u16 {
        self.stream.local_addr().unwrap().port()
    }

    fn send(&mut self, args: &[&[u8]]) {
        self.stream.write_all(&resp(args)).unwrap();
    }

    /// The next reply, or `None` if none arrives before the read timeout.
    fn try_read(&mut self) -> Option<Frame> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf).unwrap() {
                return Some(frame);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn read(&mut self) -> Frame {
        self.try_read().expect("no reply")
    }

    fn call(&mut self, args: &[&[u8]]) -> Frame {
        self.send(args);
        self.read()
    }

    /// Sends a command written as space-separated words.
    fn cmd(&mut self, line: &str) -> Frame {
        let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.call(&words)
    }

    fn set_timeout(&self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
    }
}

/// The text of a status, bulk, verbatim or error reply.
fn text(frame: &Frame) -> String {
    match frame {
        Frame::Simple(b) | Frame::Bulk(b) | Frame::Error(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        Frame::Verbatim { text, .. } => String::from_utf8_lossy(text).into_owned(),
        other => panic!("not text: {other:?}"),
    }
}

fn int(frame: &Frame) -> i64 {
    match frame {
        Frame::Integer(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn array(frame: &Frame) -> &[Frame] {
    match frame {
        Frame::Array(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}

fn ok() -> Frame {
    Frame::simple("OK")
}

fn error(text: &str) -> Frame {
    Frame::Error(text.as_bytes().to_vec().into())
}

/// The value of `name` in an INFO text.
fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(str::to_string)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `(calls, rejected_calls, failed_calls)` of every `cmdstat_` line, checking each line's shape.
fn commandstats(conn: &mut Conn) -> Vec<(String, u64, u64, u64)> {
    let info = text(&conn.cmd("INFO commandstats"));
    let mut out = Vec::new();
    for line in info.lines().filter(|l| l.starts_with("cmdstat_")) {
        let (name, fields) = line["cmdstat_".len()..].split_once(':').unwrap();
        let values: Vec<(&str, &str)> = fields
            .split(',')
            .map(|f| f.split_once('=').unwrap())
            .collect();
        let keys: Vec<&str> = values.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "calls",
                "usec",
                "usec_per_call",
                "rejected_calls",
                "failed_calls"
            ],
            "{line}"
        );
        let per_call = values[2].1;
        assert!(
            per_call.split_once('.').is_some_and(|(_, d)| d.len() == 2),
            "{line}"
        );
        let number = |i: usize| values[i].1.parse::<u64>().unwrap();
        out.push((name.to_string(), number(0), number(3), number(4)));
    }
    out.sort();
    out
}

/// The commands of the counters test, with the number of error replies they cause.
const COUNTED: &[&str] = &[
    "SET a b",
    "GET a",
    "INCR a",
    "GET",
    "NOPE x",
    "CONFIG",
    "OBJECT foo",
    "CLIENT LIST x",
    "CLIENT bogus",
    "AUTH x",
];

#[test]
fn commandstats_count_calls_rejections_and_failures() {
    let server = Server::kv(&[]);
    let mut conn = Conn::open(&server);
    assert_eq!(conn.cmd("CONFIG RESETSTAT"), ok());
    for line in COUNTED {
        conn.cmd(line);
    }
    let expected = [
        ("auth", 1, 0, 1),
        ("client|list", 1, 0, 1),
        ("config", 0, 1, 0),
        ("config|resetstat", 1, 0, 0),
        ("get", 1, 1, 0),
        ("incr", 1, 0, 1),
        ("set", 1, 0, 0),
    ];
    let expected: Vec<(String, u64, u64, u64)> = expected
        .iter()
        .map(|&(n, c, r, f)| (n.to_string(), c, r, f))
        .collect();
    assert_eq!(commandstats(&mut conn), expected);
    let errors = text(&conn.cmd("INFO errorstats"));
    assert_eq!(errors, "# Errorstats\r\nerrorstat_ERR:count=8\r\n");
    let stats = text(&conn.cmd("INFO stats"));
    assert_eq!(info_field(&stats, "total_error_replies").unwrap(), "8");
    // Only commands that ran count as processed: RESETSTAT, 5 that ran, 2 INFOs.
    assert_eq!(info_field(&stats, "total_commands_processed").unwrap(), "8");
    assert!(info_field(&stats, "instantaneous_ops_per_sec").is_some());

    // A refusal for want of authentication is a NOAUTH error and a rejected call.
    assert_eq!(conn.cmd("CONFIG SET requirepass pw"), ok());
    let mut stranger = Conn::open(&server);
    assert_eq!(
        stranger.cmd("GET a"),
        error("NOAUTH Authentication required.")
    );
    assert_eq!(conn.cmd("AUTH pw"), ok());
    let errors = text(&conn.cmd("INFO errorstats"));
    assert_eq!(
        errors,
        "# Errorstats\r\nerrorstat_ERR:count=8\r\nerrorstat_NOAUTH:count=1\r\n"
    );
    assert!(commandstats(&mut conn).contains(&("get".to_string(), 1, 2, 0)));

    // The default sections include errorstats, `all` adds commandstats.
    let default = text(&conn.cmd("INFO"));
    assert!(default.contains("# Errorstats\r\n") && !default.contains("# Commandstats"));
    for all in ["INFO all", "INFO everything"] {
        let everything = text(&conn.cmd(all));
        let cpu = everything.find("# CPU").unwrap();
        let commands = everything.find("# Commandstats").unwrap();
        let errors = everything.find("# Errorstats").unwrap();
        let keyspace = everything.find("# Keyspace").unwrap();
        assert!(cpu < commands && commands < errors && errors < keyspace);
    }

    // CONFIG RESETSTAT forgets everything; only its own call remains.
    assert_eq!(conn.cmd("CONFIG RESETSTAT"), ok());
    assert_eq!(
        commandstats(&mut conn),
        [("config|resetstat".to_string(), 1, 0, 0)]
    );
    assert_eq!(text(&conn.cmd("INFO errorstats")), "# Errorstats\r\n");
}

#[test]
fn commandstats_and_errorstats_match_redis() {
    let kv = Server::kv(&[]);
    let redis = Server::redis(&[]);
    let mut results = Vec::new();
    for server in [&kv, &redis] {
        let mut conn = Conn::open(server);
        conn.cmd("CONFIG RESETSTAT");
        for line in COUNTED {
            conn.cmd(line);
        }
        let stats = commandstats(&mut conn);
        let errors = text(&conn.cmd("INFO errorstats"));
        let info = text(&conn.cmd("INFO stats"));
        let processed = info_field(&info, "total_commands_processed");
        results.push((stats, errors, processed));
    }
    assert_eq!(results[0], results[1]);
}

/// Sends `lines` (commands written as space-separated words) in one write, as a pipelined
/// batch, and reads their replies.
fn pipeline(conn: &mut Conn, lines: &[&str]) -> Vec<Frame> {
    let mut batch = Vec::new();
    for line in lines {
        let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        batch.extend_from_slice(&resp(&words));
    }
    conn.stream.write_all(&batch).unwrap();
    lines.iter().map(|_| conn.read()).collect()
}

/// The `client list` line of the client connected from `port`.
fn client_line(list: &Frame, port: u16) -> String {
    let list = text(list);
    let addr = format!(" addr=127.0.0.1:{port} ");
    let line = list.lines().find(|l| l.contains(&addr));
    line.unwrap_or_else(|| panic!("no client at {port}: {list}"))
        .to_string()
}

/// A connection keeps its counters and its CLIENT LIST entry back until the end of each
/// batch of pipelined commands; a command of the same batch that reads them, and any other
/// client after the batch, must still see every command of it, as Redis shows them.
#[test]
fn a_pipelined_batch_is_counted_for_itself_and_for_other_clients() {
    let batch = [
        "CONFIG RESETSTAT",
        "SET a 1",
        "GET a",
        "GET a",
        "INCR a",
        "GET a",
        "GET nope x",
        "INCR a",
        "INFO commandstats",
        "INFO stats",
    ];
    let kv = Server::kv(&[]);
    let redis = Server::redis(&[]);
    let mut seen = Vec::new();
    for server in [&kv, &redis] {
        let mut conn = Conn::open(server);
        let replies = pipeline(&mut conn, &batch);
        let commands = text(&replies[8]);
        // Sorted: Redis lists them in its hash table's order.
        let mut counts: Vec<String> = commands
            .lines()
            .filter(|l| l.starts_with("cmdstat_"))
            .map(|l| {
                let (name, fields) = l.split_once(':').unwrap();
                let kept: Vec<&str> = fields
                    .split(',')
                    .filter(|f| !f.starts_with("usec"))
                    .collect();
                format!("{name}:{}", kept.join(","))
            })
            .collect();
        counts.sort();
        let processed = info_field(&text(&replies[9]), "total_commands_processed");
        // Another client, after the batch, sees all of it.
        let mut other = Conn::open(server);
        let from_other = commandstats(&mut other);
        let line = client_line(&other.cmd("CLIENT LIST"), conn.port());
        let last = line.split(' ').find(|f| f.starts_with("cmd=")).unwrap();
        seen.push((counts, processed, from_other, last.to_string()));
    }
    assert_eq!(seen[0], seen[1]);
    let (counts, _, from_other, last) = &seen[0];
    assert!(counts.contains(&"cmdstat_get:calls=3,rejected_calls=1,failed_calls=0".into()));
    assert!(from_other.contains(&("incr".to_string(), 2, 0, 0)));
    assert_eq!(last, "cmd=info");

    // The database a batch ends in is the one other clients see, with its last command.
    let mut conn = Conn::open(&kv);
    pipeline(&mut conn, &["SELECT 3", "GET a", "SET b 2", "GET b"]);
    let mut other = Conn::open(&kv);
    let line = client_line(&other.cmd("CLIENT LIST"), conn.port());
    assert!(
        line.contains(" db=3 ") && line.contains(" cmd=get "),
        "{line}"
    );
}

/// A client idle for more than 2 s gives its query buffer back, as Redis's client cron frees
/// it (its querybuf.tcl), and gets one again with its next request.
#[test]
fn an_idle_clients_query_buffer_is_given_back() {
    let mut seen = Vec::new();
    for server in [Server::kv(&[]), Server::redis(&[])] {
        let mut idle = Conn::open(&server);
        let mut other = Conn::open(&server);
        assert_eq!(idle.cmd("CLIENT SETNAME idle"), ok());
        let query_buffer = |other: &mut Conn| {
            let list = text(&other.cmd("CLIENT LIST"));
            let line = list
                .lines()
                .find(|l| l.contains(" name=idle "))
                .unwrap()
                .to_string();
            let field = |name: &str| {
                line.split(' ')
                    .find_map(|f| f.strip_prefix(&format!("{name}=")))
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            };
            field("qbuf") + field("qbuf-free")
        };
        let before = query_buffer(&mut other);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut after = before;
        while after > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            after = query_buffer(&mut other);
        }
        assert_eq!(idle.cmd("PING"), Frame::Simple("PONG".into()));
        seen.push((before > 0, after));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0], (true, 0));
}

/// COMMAND LIST without a filter names subcommands too (`client|list`), as Redis lists them.
#[test]
fn command_list_names_subcommands() {
    let mut lists = Vec::new();
    for server in [Server::kv(&[]), Server::redis(&[])] {
        let mut con = server.client();
        let list: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut con).unwrap();
        lists.push(list);
    }
    let (kv, redis) = (&lists[0], &lists[1]);
    for name in [
        "client|list",
        "config|get",
        "command|getkeysandflags",
        "object|encoding",
    ] {
        assert!(kv.iter().any(|n| n == name), "{name} missing from {kv:?}");
    }
    // Hash field expiry is Redis 7.4's, newer than the reference.
    let newer = [
        "hexpire",
        "hexpireat",
        "hexpiretime",
        "hgetdel",
        "hgetex",
        "hpersist",
        "hpexpire",
        "hpexpireat",
        "hpexpiretime",
        "hpttl",
        "hsetex",
        "httl",
    ];
    let unknown: Vec<&String> = kv
        .iter()
        .filter(|n| !redis.contains(n) && !newer.contains(&n.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "not in Redis's COMMAND LIST: {unknown:?}"
    );
}

/// CLIENT LIST's `multi` and `multi-mem` of a client queuing a transaction, as Redis 7.0
/// counts the queue: each command's argument bytes plus a pointer per argument.
#[test]
fn client_list_shows_a_transactions_queue_and_its_memory() {
    let steps = [
        "WATCH a b",
        "MULTI",
        "SET a 123",
        "SET abcdefghij 0123456789012345678901234567890123456789",
        "PING",
        "EXEC",
        "MULTI",
        "GET a",
        "DISCARD",
    ];
    let mut seen = Vec::new();
    for server in [Server::kv(&[]), Server::redis(&[])] {
        let mut conn = Conn::open(&server);
        let mut other = Conn::open(&server);
        let mut fields = Vec::new();
        for step in steps {
            pipeline(&mut conn, &[step]);
            let line = client_line(&other.cmd("CLIENT LIST"), conn.port());
            let shown: Vec<&str> = line
                .split(' ')
                .filter(|f| f.starts_with("multi=") || f.starts_with("multi-mem="))
                .collect();
            fields.push(format!("{step}: {}", shown.join(" ")));
        }
        seen.push(fields);
    }
    assert_eq!(seen[0], seen[1]);
    assert!(
        seen[0].contains(&"PING: multi=3 multi-mem=120".to_string()),
        "{:?}",
        seen[0]
    );
}

/// The values CONFIG SET gives sensitive parameters are hidden from the slow log, as Redis
/// hides them (its slowlog.tcl).
#[test]
fn slowlog_hides_sensitive_config_values() {
    let mut logged = Vec::new();
    for server in [Server::kv(&[]), Server::redis(&[])] {
        let mut conn = Conn::open(&server);
        assert_eq!(conn.cmd("CONFIG SET slowlog-log-slower-than 0"), ok());
        assert_eq!(conn.cmd("CONFIG SET masterauth secret maxmemory 0"), ok());
        assert_eq!(conn.cmd("CONFIG SET requirepass \"\""), ok());
        let entries = conn.cmd("SLOWLOG GET 2");
        let args: Vec<Vec<String>> = array(&entries)
            .iter()
            .map(|entry| array(&array(entry)[3]).iter().map(text).collect())
            .collect();
        logged.push(args);
    }
    assert_eq!(logged[0], logged[1]);
    assert_eq!(
        logged[0][1],
        [
            "CONFIG",
            "SET",
            "masterauth",
            "(redacted)",
            "maxmemory",
            "0"
        ]
    );
}

/// A blocking command is counted in commandstats when it starts waiting and logged in the slow
/// log when its wait ends, after the command that served it, as Redis records it (its
/// slowlog.tcl 'blocked command').
fn blocked_command_records(server: &Server) -> Vec<String> {
    let mut admin = Conn::open(server);
    let mut waiting = Conn::open(server);
    let mut seen = Vec::new();
    assert_eq!(admin.cmd("CONFIG SET slowlog-log-slower-than 0"), ok());
    assert_eq!(admin.cmd("CONFIG RESETSTAT"), ok());
    assert_eq!(admin.cmd("SLOWLOG RESET"), ok());
    waiting.send(&[b"BLPOP", b"l", b"0"]);
    std::thread::sleep(Duration::from_millis(200));
    let stats = |admin: &mut Conn| {
        let text = text(&admin.cmd("INFO commandstats"));
        text.lines()
            .find(|l| l.starts_with("cmdstat_blpop:"))
            .map(|l| l.split(',').next().unwrap_or_default().to_string())
            .unwrap_or_else(|| "no blpop".to_string())
    };
    seen.push(format!("while waiting: {}", stats(&mut admin)));
    assert_eq!(admin.cmd("LPUSH l foo"), Frame::Integer(1));
    waiting.read();
    seen.push(format!("after: {}", stats(&mut admin)));
    let entries = admin.cmd("SLOWLOG GET 3");
    for entry in array(&entries) {
        let args: Vec<String> = array(&array(entry)[3]).iter().map(text).collect();
        seen.push(args.join(" "));
    }
    seen
}

#[test]
fn a_blocked_command_is_recorded_when_its_wait_ends() {
    let kv = blocked_command_records(&Server::kv(&[]));
    let redis = blocked_command_records(&Server::redis(&[]));
    assert_eq!(kv, redis);
    assert_eq!(kv[3..], ["BLPOP l 0", "LPUSH l foo"], "{kv:?}");
}

#[test]
fn slowlog_logs_every_command_at_threshold_zero() {
    let server = Server::kv(&["--slowlog-log-slower-than", "0"]);
    let mut conn = Conn::open(&server);
    let peer = format!("127.0.0.1:{}", conn.port());
    assert_eq!(conn.cmd("CLIENT SETNAME me"), ok());
    assert_eq!(conn.cmd("SLOWLOG RESET"), ok());
    let keys: Vec<String> = (0..39).map(|i| format!("k{i}")).collect();
    let mut del: Vec<&[u8]> = vec![b"DEL"];
    del.extend(keys.iter().map(|k| k.as_bytes()));
    assert_eq!(conn.call(&del), Frame::Integer(0));
    let long = vec![b'x'; 200];
    assert_eq!(conn.call(&[b"SET", b"k", &long]), ok());
    assert_eq!(
        conn.cmd("AUTH secret"),
        error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    );
    let before = unix_now();
    let reply = conn.cmd("SLOWLOG GET 3");
    let entries = array(&reply);
    assert_eq!(entries.len(), 3);
    let args =
        |entry: &Frame| -> Vec<String> { array(&array(entry)[3]).iter().map(text).collect() };
    assert_eq!(args(&entries[0]), ["AUTH", "(redacted)"]);
    let mut shortened = vec!["SET".to_string(), "k".to_string()];
    shortened.push(format!("{}... (72 more bytes)", "x".repeat(128)));
    assert_eq!(args(&entries[1]), shortened);
    let mut expected = vec!["DEL".to_string()];
    expected.extend(keys[..30].iter().cloned());
    expected.push("... (9 more arguments)".to_string());
    assert_eq!(args(&entries[2]), expected);
    for (i, entry) in entries.iter().enumerate() {
        let fields = array(entry);
        assert_eq!(fields.len(), 6);
        let time = int(&fields[1]);
        assert!((before - 5..=before + 5).contains(&time), "{time}");
        assert!(int(&fields[2]) >= 0);
        assert_eq!(text(&fields[4]), peer);
        assert_eq!(text(&fields[5]), "me");
        if i > 0 {
            assert_eq!(int(&fields[0]), int(&array(&entries[i - 1])[0]) - 1);
        }
    }
    // RESET, DEL, SET, AUTH and the GET itself.
    assert_eq!(conn.cmd("SLOWLOG LEN"), Frame::Integer(5));
    assert_eq!(array(&conn.cmd("SLOWLOG GET")).len(), 6);
    assert_eq!(array(&conn.cmd("SLOWLOG GET -1")).len(), 7);
    assert_eq!(array(&conn.cmd("SLOWLOG GET 0")).len(), 0);
    assert_eq!(
        conn.cmd("SLOWLOG GET -2"),
        error("ERR count should be greater than or equal to -1")
    );
    // The log keeps slowlog-max-len entries, newest first.
    assert_eq!(conn.cmd("CONFIG SET slowlog-max-len 2"), ok());
    conn.cmd("PING");
    assert_eq!(conn.cmd("SLOWLOG LEN"), Frame::Integer(2));
    let reply = conn.cmd("SLOWLOG GET");
    let newest = array(&reply);
    assert_eq!(args(&newest[0]), ["SLOWLOG", "LEN"]);
    assert_eq!(args(&newest[1]), ["PING"]);
    // -1 turns it off.
    assert_eq!(conn.cmd("CONFIG SET slowlog-log-slower-than -1"), ok());
    assert_eq!(conn.cmd("SLOWLOG RESET"), ok());
    conn.cmd("PING");
    assert_eq!(conn.cmd("SLOWLOG LEN"), Frame::Integer(0));
}

#[test]
fn latency_monitor_records_slow_commands() {
    let server = Server::kv(&["--enable-debug-command", "yes"]);
    let mut conn = Conn::open(&server);
    let before = unix_now();
    let started = Instant::now();
    // The threshold is 1 ms around the sleep only, then a minute: on a loaded machine any
    // command may be preempted for a millisecond, and the checks below count the sleep's
    // spike alone (0 would turn the monitor off, and LATENCY DOCTOR would say so).
    assert_eq!(conn.cmd("CONFIG SET latency-monitor-threshold 1"), ok());
    assert_eq!(conn.cmd("DEBUG SLEEP 0.01"), ok());
    assert_eq!(conn.cmd("CONFIG SET latency-monitor-threshold 60000"), ok());
    assert!(started.elapsed() >= Duration::from_millis(10));
    let reply = conn.cmd("LATENCY LATEST");
    let event = array(&reply)
        .iter()
        .map(array)
        .find(|event| text(&event[0]) == "command")
        .unwrap();
    assert!((before..=before + 5).contains(&int(&event[1])));
    assert!(int(&event[2]) >= 10 && int(&event[3]) >= int(&event[2]));
    let reply = conn.cmd("LATENCY HISTORY command");
    let history = array(&reply);
    assert_eq!(history.len(), 1);
    assert!(int(&array(&history[0])[1]) >= 10);
    assert_eq!(conn.cmd("LATENCY HISTORY nosuch"), Frame::Array(vec![]));
    // The graph of one sample: the title, a rule, a plot four rows high (one column at the
    // bottom: the lowest is the highest), a blank line, the sample's age written downwards.
    let graph = text(&conn.cmd("LATENCY GRAPH command"));
    let lines: Vec<&str> = graph.lines().collect();
    assert!(
        lines[0].starts_with("command - high ") && lines[0].ends_with(" ms)"),
        "{graph}"
    );
    assert_eq!(lines[1], "-".repeat(80));
    assert_eq!(&lines[2..7], &[" ", " ", " ", "_", " "], "{graph}");
    assert!(lines[7].chars().all(|c| c.is_ascii_digit()), "{graph}");
    assert_eq!(lines.last(), Some(&"s"), "{graph}");
    assert_eq!(
        conn.cmd("LATENCY GRAPH nosuch"),
        Frame::Error("ERR No samples available for event 'nosuch'".into())
    );
    let doctor = text(&conn.cmd("LATENCY DOCTOR"));
    assert!(doctor.contains("1. command: 1 spike (once)"), "{doctor}");
    // The sleep also reached the slow log (default threshold 10 ms).
    let reply = conn.cmd("SLOWLOG GET -1");
    let slow = array(&reply)
        .iter()
        .map(array)
        .find(|entry| text(&array(&entry[3])[0]) == "DEBUG")
        .unwrap();
    assert!(int(&slow[2]) >= 10_000);
    assert_eq!(conn.cmd("LATENCY RESET nosuch"), Frame::Integer(0));
    assert_eq!(conn.cmd("LATENCY RESET COMMAND"), Frame::Integer(1));
    let reply = conn.cmd("LATENCY LATEST");
    assert!(array(&reply)
        .iter()
        .all(|event| text(&array(event)[0]) != "command"));

    // LATENCY HISTOGRAM: calls and cumulative counts by power-of-two bucket.
    let reply = conn.cmd("LATENCY HISTOGRAM debug nosuch");
    let map = array(&reply);
    assert_eq!(map.len(), 2);
    assert_eq!(text(&map[0]), "debug");
    let detail = array(&map[1]);
    assert_eq!(text(&detail[0]), "calls");
    assert_eq!(detail[1], Frame::Integer(1));
    assert_eq!(text(&detail[2]), "histogram_usec");
    let buckets = array(&detail[3]);
    assert_eq!(buckets.len(), 2);
    assert!(int(&buckets[0]) >= 8454, "{buckets:?}");
    assert_eq!(buckets[1], Frame::Integer(1));
    // RESP3 makes them maps; a container's name stands for its subcommands.
    conn.cmd("HELLO 3");
    conn.cmd("CONFIG GET hz");
    let reply = conn.cmd("LATENCY HISTOGRAM config");
    let Frame::Map(pairs) = &reply else {
        panic!("{reply:?}")
    };
    let mut names: Vec<String> = pairs.iter().map(|(name, _)| text(name)).collect();
    names.sort();
    assert_eq!(names, ["config|get", "config|set"]);
    let help = conn.cmd("LATENCY HELP");
    assert_eq!(
        text(&array(&help)[0]),
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
}

/// A MONITOR line without its timestamp, checking the timestamp's shape.
fn monitor_line(line: &str) -> &str {
    let line = line.strip_prefix('+').unwrap();
    let (time, rest) = line.split_once(' ').unwrap();
    let (secs, micros) = time.split_once('.').unwrap();
    assert!((unix_now() - 5..=unix_now() + 5).contains(&secs.parse::<i64>().unwrap()));
    assert!(micros.len() == 6 && micros.bytes().all(|b| b.is_ascii_digit()));
    rest
}

#[test]
fn monitor_streams_every_client_s_commands() {
    let server = Server::kv(&[]);
    let mut monitor = server.raw();
    monitor.write_all(&resp(&[b"MONITOR"])).unwrap();
    assert_eq!(read_lines(&mut monitor, 1), "+OK\r\n");
    let mut conn = Conn::open(&server);
    let me = format!("127.0.0.1:{}", conn.port());
    conn.cmd("SET a b");
    conn.cmd("get a");
    conn.cmd("SELECT 1");
    conn.call(&[b"GET", b"x y\n\"\\\x01\xff\t"]);
    conn.cmd("SELECT 0");
    conn.cmd("AUTH secret");
    conn.cmd("HELLO 2 AUTH default pw SETNAME n");
    // Not shown: administrative commands, and commands refused before running.
    conn.cmd("CONFIG GET hz");
    conn.cmd("CLIENT LIST");
    conn.cmd("GET");
    conn.cmd("NOPE");
    conn.cmd("DEBUG SLEEP 0");
    conn.cmd("INCR a");
    let expected = [
        format!("[0 {me}] \"SET\" \"a\" \"b\""),
        format!("[0 {me}] \"get\" \"a\""),
        format!("[1 {me}] \"SELECT\" \"1\""),
        format!("[1 {me}] \"GET\" \"x y\\n\\\"\\\\\\x01\\xff\\t\""),
        format!("[0 {me}] \"SELECT\" \"0\""),
        format!("[0 {me}] \"AUTH\" \"(redacted)\""),
        format!(
            "[0 {me}] \"HELLO\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\""
        ),
        format!("[0 {me}] \"INCR\" \"a\""),
    ];
    let lines = read_lines(&mut monitor, expected.len());
    let got: Vec<&str> = lines.split_terminator("\r\n").map(monitor_line).collect();
    assert_eq!(got, expected);

    // A monitor is listed with flag O.
    let list = text(&conn.cmd("CLIENT LIST"));
    assert!(
        list.lines()
            .any(|l| l.contains(" flags=O ") && l.contains(" cmd=monitor ")),
        "{list}"
    );
    // It may still PING (and sees its own PING), but not touch keys; RESET ends monitoring.
    monitor.write_all(&resp(&[b"PING"])).unwrap();
    let reply = read_lines(&mut monitor, 2);
    let (pong, own) = reply.split_once("\r\n").unwrap();
    assert_eq!(pong, "+PONG");
    let mine = format!("127.0.0.1:{}", monitor.local_addr().unwrap().port());
    assert_eq!(monitor_line(own.trim_end()), format!("[0 {mine}] \"PING\""));
    monitor.write_all(&resp(&[b"GET", b"a"])).unwrap();
    assert_eq!(
        read_lines(&mut monitor, 1),
        "-ERR Replica can't interact with the keyspace\r\n"
    );
    monitor.write_all(&resp(&[b"MONITOR"])).unwrap();
    monitor.write_all(&resp(&[b"RESET"])).unwrap();
    assert_eq!(read_lines(&mut monitor, 1), "+RESET\r\n");
    conn.cmd("SET z 1");
    monitor.write_all(&resp(&[b"GET", b"z"])).unwrap();
    assert_eq!(read_lines(&mut monitor, 2), "$1\r\n1\r\n");
}

#[test]
fn a_monitor_that_never_reads_is_dropped_without_slowing_anyone() {
    let server = Server::kv(&[]);
    let mut monitor = server.raw();
    monitor.write_all(&resp(&[b"MONITOR"])).unwrap();
    assert_eq!(read_lines(&mut monitor, 1), "+OK\r\n");
    // The monitor now never reads; 80 MiB of commands go past it.
    let mut conn = Conn::open(&server);
    let value = vec![b'v'; 512 * 1024];
    let started = Instant::now();
    for _ in 0..160 {
        assert_eq!(conn.call(&[b"SET", b"k", &value]), ok());
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    // The server disconnects it once its backlog is full.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = text(&conn.cmd("CLIENT LIST"));
        if !list.contains("flags=O") {
            break;
        }
        assert!(Instant::now() < deadline, "monitor still connected: {list}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut drained = 0;
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        match monitor.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    assert!(drained < 80 * 1024 * 1024, "{drained}");
}

#[test]
fn debug_needs_enable_debug_command() {
    let server = Server::kv(&["--requirepass", "pw"]);
    let mut conn = Conn::open(&server);
    // Redis checks the gate before authentication, and arity before both.
    assert_eq!(conn.cmd("DEBUG SLEEP 0"), error(DEBUG_NOT_ALLOWED));
    assert_eq!(
        conn.cmd("DEBUG"),
        error("ERR wrong number of arguments for 'debug' command")
    );
    assert_eq!(conn.cmd("AUTH pw"), ok());
    assert_eq!(conn.cmd("DEBUG HELP"), error(DEBUG_NOT_ALLOWED));
    drop(server);
    let local = Server::kv(&["--enable-debug-command", "local"]);
    assert_eq!(Conn::open(&local).cmd("DEBUG SLEEP 0"), ok());
}

#[test]
fn debug_object_sleep_and_active_expire() {
    let server = Server::kv(&["--enable-debug-command", "yes"]);
    let mut conn = Conn::open(&server);
    conn.cmd("SET s hello");
    conn.cmd("SET n 123");
    let described = text(&conn.cmd("DEBUG OBJECT s"));
    let words: Vec<&str> = described.split(' ').collect();
    assert_eq!(words.len(), 7, "{described}");
    assert_eq!(words[0], "Value");
    assert!(words[1].starts_with("at:0x"), "{described}");
    assert_eq!(
        words[2..5],
        ["refcount:1", "encoding:embstr", "serializedlength:6"]
    );
    assert!(
        words[5]
            .strip_prefix("lru:")
            .unwrap()
            .parse::<u32>()
            .unwrap()
            < 1 << 24
    );
    assert_eq!(words[6], "lru_seconds_idle:0");
    let shared = text(&conn.cmd("DEBUG OBJECT n"));
    assert!(
        shared.contains(" refcount:2147483647 encoding:int "),
        "{shared}"
    );
    assert_eq!(conn.cmd("DEBUG OBJECT nokey"), error("ERR no such key"));
    assert_eq!(
        conn.cmd("DEBUG sleep"),
        error("ERR unknown subcommand or wrong number of arguments for 'sleep'. Try DEBUG HELP.")
    );
    let help = conn.cmd("DEBUG HELP");
    assert_eq!(
        text(&array(&help)[0]),
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );

    // DEBUG SLEEP holds only its own client in kv.
    let mut sleeper = Conn::open(&server);
    let started = Instant::now();
    sleeper.send(&[b"DEBUG", b"SLEEP", b"0.3"]);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(conn.cmd("PING"), Frame::simple("PONG"));
    assert!(started.elapsed() < Duration::from_millis(250));
    assert_eq!(sleeper.read(), ok());
    assert!(started.elapsed() >= Duration::from_millis(300));

    // With active expiry off, expired keys stay stored until something touches them.
    assert_eq!(conn.cmd("DEBUG SET-ACTIVE-EXPIRE 0"), ok());
    for i in 0..50 {
        conn.cmd(&format!("SET t{i} v PX 10"));
    }
    std::thread::sleep(Duration::from_millis(400));
    let keyspace = text(&conn.cmd("INFO keyspace"));
    assert!(keyspace.contains("db0:keys=52,"), "{keyspace}");
    assert_eq!(conn.cmd("DEBUG SET-ACTIVE-EXPIRE 1"), ok());
    std::thread::sleep(Duration::from_millis(500));
    let keyspace = text(&conn.cmd("INFO keyspace"));
    assert!(keyspace.contains("db0:keys=2,"), "{keyspace}");
}

#[test]
fn client_pause_write_holds_writes_but_not_reads() {
    let server = Server::kv(&[]);
    let mut admin = Conn::open(&server);
    let mut writer = Conn::open(&server);
    let mut reader = Conn::open(&server);
    writer.set_timeout(Duration::from_millis(300));
    assert_eq!(admin.cmd("CLIENT PAUSE 20000 WRITE"), ok());
    // Pipelined: the GET is answered at once, the SET is held.
    writer.send(&[b"GET", b"k"]);
    writer.send(&[b"SET", b"k", b"v"]);
    assert_eq!(writer.try_read(), Some(Frame::NullBulk));
    assert_eq!(writer.try_read(), None);
    let started = Instant::now();
    assert_eq!(reader.cmd("GET k"), Frame::NullBulk);
    assert!(started.elapsed() < Duration::from_secs(2));
    let list = text(&reader.cmd("CLIENT LIST"));
    assert!(
        list.lines()
            .any(|l| l.contains(" flags=b ") && l.contains(" cmd=set ")),
        "{list}"
    );
    assert_eq!(admin.cmd("CLIENT UNPAUSE"), ok());
    writer.set_timeout(Duration::from_secs(5));
    assert_eq!(writer.read(), ok());
    assert_eq!(reader.cmd("GET k"), Frame::Bulk("v".into()));

    // A pause ends by itself at its timeout.
    assert_eq!(admin.cmd("CLIENT PAUSE 300 WRITE"), ok());
    let started = Instant::now();
    assert_eq!(writer.cmd("SET k w"), ok());
    assert!(started.elapsed() >= Duration::from_millis(250));
    // ALL holds every command, reads included.
    assert_eq!(admin.cmd("CLIENT PAUSE 300 ALL"), ok());
    let started = Instant::now();
    assert_eq!(reader.cmd("GET k"), Frame::Bulk("w".into()));
    assert!(started.elapsed() >= Duration::from_millis(250));
}

/// What a CLIENT PAUSE WRITE does to the rest of the server, as Redis 7.0 does it (its
/// pause.tcl): a held client counts in INFO's `blocked_clients`, PUBLISH is held (it may
/// replicate), and a key past its TTL stays while the pause lasts (a read sees it gone;
/// nothing deletes it or counts it expired) and goes once it ends.
fn pause_effects(server: &Server) -> Vec<String> {
    let mut admin = Conn::open(server);
    let mut writer = Conn::open(server);
    let mut publisher = Conn::open(server);
    let mut seen = Vec::new();
    let blocked = |conn: &mut Conn| info_field(&text(&conn.cmd("INFO clients")), "blocked_clients");
    let expired = |conn: &mut Conn| info_field(&text(&conn.cmd("INFO stats")), "expired_keys");
    assert_eq!(admin.cmd("CONFIG RESETSTAT"), ok());
    assert_eq!(admin.cmd("SET gone v PX 10"), ok());
    assert_eq!(admin.cmd("CLIENT PAUSE 20000 WRITE"), ok());
    std::thread::sleep(Duration::from_millis(100));
    writer.set_timeout(Duration::from_millis(300));
    publisher.set_timeout(Duration::from_millis(300));
    writer.send(&[b"SET", b"k", b"v"]);
    publisher.send(&[b"PUBLISH", b"ch", b"hello"]);
    assert_eq!(writer.try_read(), None);
    seen.push(format!(
        "PUBLISH answered during the pause: {:?}",
        publisher.try_read()
    ));
    seen.push(format!("blocked_clients {:?}", blocked(&mut admin)));
    seen.push(format!("GET gone {:?}", admin.cmd("GET gone")));
    seen.push(format!("DBSIZE {:?}", admin.cmd("DBSIZE")));
    seen.push(format!("expired_keys {:?}", expired(&mut admin)));
    assert_eq!(admin.cmd("CLIENT UNPAUSE"), ok());
    writer.set_timeout(Duration::from_secs(5));
    publisher.set_timeout(Duration::from_secs(5));
    seen.push(format!("SET {:?}", writer.read()));
    seen.push(format!("PUBLISH {:?}", publisher.read()));
    seen.push(format!("blocked_clients {:?}", blocked(&mut admin)));
    seen.push(format!("GET gone {:?}", admin.cmd("GET gone")));
    seen.push(format!("DBSIZE {:?}", admin.cmd("DBSIZE")));
    seen.push(format!("expired_keys {:?}", expired(&mut admin)));
    seen
}

#[test]
fn client_pause_write_holds_publish_and_expiry() {
    let debug = ["--enable-debug-command", "yes"];
    let kv = pause_effects(&Server::kv(&debug));
    let redis = pause_effects(&Server::redis(&debug));
    assert_eq!(kv, redis);
    assert!(
        kv.contains(&"blocked_clients Some(\"2\")".to_string()),
        "{kv:?}"
    );
    assert!(kv.contains(&"DBSIZE Integer(1)".to_string()), "{kv:?}");
}

#[test]
fn lastsave_is_the_start_time() {
    let before = unix_now();
    let server = Server::kv(&[]);
    let mut conn = Conn::open(&server);
    let lastsave = int(&conn.cmd("LASTSAVE"));
    assert!((before..=unix_now()).contains(&lastsave));
    let persistence = text(&conn.cmd("INFO persistence"));
    assert_eq!(
        info_field(&persistence, "rdb_last_save_time").unwrap(),
        lastsave.to_string()
    );
}

#[test]
fn instantaneous_ops_per_sec_follows_the_load() {
    let server = Server::kv(&[]);
    let mut conn = Conn::open(&server);
    let pings = resp(&[b"PING"]).repeat(2000);
    conn.stream.write_all(&pings).unwrap();
    for _ in 0..2000 {
        conn.read();
    }
    std::thread::sleep(Duration::from_millis(250));
    let stats = text(&conn.cmd("INFO stats"));
    let ops: u64 = info_field(&stats, "instantaneous_ops_per_sec")
        .unwrap()
        .parse()
        .unwrap();
    assert!(ops > 0, "{stats}");
}

/// The facts `COMMAND INFO` reports for every command this test file covers are Redis's.
/// Containers are compared through their subcommands: Redis lists those in its hash table's
/// order, which changes from one run to the next.
#[test]
fn command_rows_match_redis() {
    let kv = Server::kv(&[]);
    let redis = Server::redis(&[]);
    let (mut kv, mut redis) = (Conn::open(&kv), Conn::open(&redis));
    for name in [
        "slowlog|get",
        "slowlog|len",
        "slowlog|reset",
        "slowlog|help",
        "latency|latest",
        "latency|history",
        "latency|reset",
        "latency|histogram",
        "latency|help",
        "monitor",
        "debug",
        "lastsave",
        "client|pause",
        "client|unpause",
    ] {
        let command = format!("COMMAND INFO {name}");
        assert_eq!(kv.cmd(&command), redis.cmd(&command), "{name}");
    }
}

/// `INFO everything` names the fields Redis 7.0's names, section by section and in its order
/// (per-command, per-error and per-database lines aside), but for kv's own additions and the
/// fields docs/differences.md lists as missing.
#[test]
fn info_names_redis_fields_in_redis_order() {
    const KV_ONLY: &[&str] = &["kv_version", "sync_full_snapshots", "expired_subkeys"];
    const REDIS_ONLY: &[&str] = &[];
    let names = |server: &Server, leave_out: &[&str]| -> Vec<String> {
        let mut con = server.client();
        let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
        let info: String = redis::cmd("INFO")
            .arg("everything")
            .query(&mut con)
            .unwrap();
        info.lines()
            .filter(|line| !line.is_empty())
            .map(|line| line.split(':').next().unwrap_or(line).to_string())
            .filter(|name| {
                let per_item = ["cmdstat_", "errorstat_", "latency_percentiles_usec_"]
                    .iter()
                    .any(|prefix| name.starts_with(prefix));
                let per_database = name
                    .strip_prefix("db")
                    .is_some_and(|n| n.parse::<u32>().is_ok());
                !per_item && !per_database
            })
            .filter(|name| !leave_out.contains(&name.as_str()))
            .collect()
    };
    let kv = names(&Server::kv(&[]), KV_ONLY);
    let redis = names(&Server::redis(&[]), REDIS_ONLY);
    assert_eq!(kv, redis);
}

/// INFO latencystats: a line per command called, with the configured percentiles in Redis's
/// format; `latency-tracking no` stops recording; CONFIG RESETSTAT clears them.
#[test]
fn latencystats_report_the_configured_percentiles() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let latencystats = |con: &mut redis::Connection| -> String {
        redis::cmd("INFO").arg("latencystats").query(con).unwrap()
    };
    for _ in 0..3 {
        let _: String = redis::cmd("PING").query(&mut con).unwrap();
    }
    let text = latencystats(&mut con);
    let line = text
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_ping:"))
        .unwrap_or_else(|| panic!("{text}"));
    let values: Vec<(&str, f64)> = line
        .split_once(':')
        .unwrap()
        .1
        .split(',')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            assert_eq!(value.split_once('.').unwrap().1.len(), 3, "{line}");
            (name, value.parse().unwrap())
        })
        .collect();
    let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["p50", "p99", "p99.9"]);
    assert!(values.windows(2).all(|w| w[0].1 <= w[1].1), "{line}");
    assert!(!text.contains("_usec_get:"), "only commands that ran");
    config_set(&mut con, "latency-tracking-info-percentiles", "0 100");
    config_set(&mut con, "latency-tracking", "no");
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    let text = latencystats(&mut con);
    assert!(!text.contains("_usec_get:"), "{text}");
    assert!(text.contains("latency_percentiles_usec_ping:p0="), "{text}");
    config_set(&mut con, "latency-tracking", "yes");
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    let text = latencystats(&mut con);
    assert!(!text.contains("_usec_ping:"), "{text}");
}

/// `qbuf` and `argv-mem` of a client's own CLIENT INFO: the request is still in its query
/// buffer while it runs (26 bytes), and its arguments take 10, as Redis shows them.
#[test]
fn client_info_shows_the_running_request_as_redis_does() {
    let fields = |server: &Server| {
        let mut con = server.client();
        let line: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
        let field = |name: &str| {
            line.split(' ')
                .find_map(|f| f.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("{name} in {line}"))
                .to_string()
        };
        (field("qbuf"), field("argv-mem"), field("multi-mem"))
    };
    let kv = fields(&Server::kv(&[]));
    assert_eq!(kv, fields(&Server::redis(&[])));
    assert_eq!(kv, ("26".to_string(), "10".to_string(), "0".to_string()));
}
