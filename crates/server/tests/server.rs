//! kv-server driven over TCP by the `redis` crate and by raw RESP bytes: behaviour, bad input,
//! limits, configuration and shutdown.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::time::Duration;

use redis::{Commands, Value};
use support::{exchange, read_to_close, resp, Server};

#[test]
fn strings_through_the_redis_crate() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let _: () = con.set("greeting", "hello").unwrap();
    assert_eq!(con.get::<_, String>("greeting").unwrap(), "hello");
    assert_eq!(con.incr::<_, _, i64>("counter", 5).unwrap(), 5);
    assert_eq!(con.append::<_, _, i64>("greeting", " world").unwrap(), 11);
    let _: () = redis::cmd("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query(&mut con)
        .unwrap();
    let values: Vec<Option<String>> = con.mget(&["a", "b", "missing"]).unwrap();
    assert_eq!(values, [Some("1".into()), Some("2".into()), None]);
    let float: String = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("1000.1")
        .query(&mut con)
        .unwrap();
    assert_eq!(float, "1000.09999999999999998");
    let err = redis::cmd("INCR")
        .arg("greeting")
        .query::<i64>(&mut con)
        .unwrap_err();
    assert_eq!(
        err.detail(),
        Some("value is not an integer or out of range")
    );
}

#[test]
fn expiry_is_never_visible() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("PX")
        .arg(50)
        .query(&mut con)
        .unwrap();
    assert_eq!(con.get::<_, Option<String>>("k").unwrap(), Some("v".into()));
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(con.get::<_, Option<String>>("k").unwrap(), None);
    // The active cycle reclaims keys nobody reads.
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("t{i}"))
            .arg("v")
            .arg("PX")
            .arg(20)
            .query(&mut con)
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(600));
    let info: String = redis::cmd("INFO").arg("keyspace").query(&mut con).unwrap();
    assert!(
        !info.contains("db0:"),
        "expired keys were not reclaimed: {info}"
    );
    let stats: String = redis::cmd("INFO").arg("stats").query(&mut con).unwrap();
    assert!(stats.contains("expired_keys:201"), "{stats}");
}

/// Hash fields with a TTL are reclaimed by the background cycle even when nobody reads them.
/// Only INFO and DBSIZE are asked, and both count what is stored, reclaimed or not, so they
/// change only when the server reclaims on its own: the hash that loses one field stays, the
/// one that loses its only field is deleted.
#[test]
fn hash_fields_expire_actively() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let hset = |con: &mut redis::Connection, key: &str, fields: &[&str]| {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(key);
        for field in fields {
            cmd.arg(field).arg("v");
        }
        cmd.query::<i64>(con).unwrap()
    };
    assert_eq!(hset(&mut con, "h", &["keep", "short"]), 2);
    assert_eq!(hset(&mut con, "gone", &["only"]), 1);
    for (key, field) in [("h", "short"), ("gone", "only")] {
        let codes: Vec<i64> = redis::cmd("HPEXPIRE")
            .arg(key)
            .arg(50)
            .arg("FIELDS")
            .arg(1)
            .arg(field)
            .query(&mut con)
            .unwrap();
        assert_eq!(codes, [1]);
    }
    let info = |con: &mut redis::Connection, section: &str| {
        redis::cmd("INFO")
            .arg(section)
            .query::<String>(con)
            .unwrap()
    };
    assert!(
        info(&mut con, "keyspace").contains("db0:keys=2,expires=0,avg_ttl=0,subexpiry=2"),
        "{}",
        info(&mut con, "keyspace")
    );
    // The cycle runs `hz` (10) times a second; give it a generous while.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stats = info(&mut con, "stats");
        if stats.contains("expired_subkeys:2\r\n") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fields not reclaimed: {stats}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let keyspace = info(&mut con, "keyspace");
    assert!(
        keyspace.contains("db0:keys=1,expires=0,avg_ttl=0,subexpiry=0"),
        "{keyspace}"
    );
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut con).unwrap(), 1);
    let left: Vec<String> = redis::cmd("HKEYS").arg("h").query(&mut con).unwrap();
    assert_eq!(left, ["keep"]);
    assert!(info(&mut con, "stats").contains("expired_keys:0\r\n"));
}

#[test]
fn pipelined_commands_answer_in_order() {
    let server = Server::kv(&[]);
    let mut stream = server.raw();
    let mut request = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1000 {
        request.extend(resp(&[b"INCR", b"n"]));
        expected.extend(format!(":{}\r\n", i + 1).into_bytes());
    }
    // Plus an inline command in the middle of the stream.
    request.extend_from_slice(b"ECHO \"a b\"\r\n");
    expected.extend_from_slice(b"$3\r\na b\r\n");
    let reply = exchange(&mut stream, &request, expected.len());
    assert_eq!(reply, expected);
}

/// Many clients sending pipelined batches at once, each batch written in pieces so the server
/// sees partial ones: every connection gets every reply, in its own order. (A connection
/// yields to the others before writing a batch's replies; nothing may be lost or mixed there.)
#[test]
fn concurrent_pipelines_get_every_reply_in_order() {
    let server = Server::kv(&[]);
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let mut stream = server.raw();
            std::thread::spawn(move || {
                let key = format!("counter:{c}");
                for round in 0..20u64 {
                    let mut request = Vec::new();
                    let mut expected = Vec::new();
                    for i in 0..50u64 {
                        request.extend(resp(&[b"INCR", key.as_bytes()]));
                        expected.extend(format!(":{}\r\n", round * 50 + i + 1).into_bytes());
                    }
                    request.extend(resp(&[b"ECHO", key.as_bytes()]));
                    expected.extend(format!("${}\r\n{key}\r\n", key.len()).into_bytes());
                    let (head, tail) = request.split_at(request.len() / 3);
                    stream.write_all(head).unwrap();
                    let reply = exchange(&mut stream, tail, expected.len());
                    assert_eq!(reply, expected, "client {c}, round {round}");
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
}

/// A database large enough for a connection to look up the keys of its pipelined requests
/// ahead of running them (50,000 keys, see `Keyspace::warm_ahead`): mixed pipelines (keyless
/// commands, non-key arguments, an inline request, a transaction, another database, a request
/// split across two writes, a request with many arguments) get Redis's replies, byte for
/// byte.
#[test]
fn pipelines_over_a_large_database_match_redis() {
    let run = |server: &Server| -> Vec<u8> {
        let mut stream = server.raw();
        let mut fill = Vec::new();
        for batch in 0..60 {
            let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
            for i in batch * 1000..(batch + 1) * 1000 {
                args.push(format!("key:{i}").into_bytes());
                args.push(format!("value:{i}").into_bytes());
            }
            let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            fill.extend(resp(&args));
        }
        assert_eq!(exchange(&mut stream, &fill, 60 * 5), b"+OK\r\n".repeat(60));
        let mut request = Vec::new();
        for i in 0..40 {
            let key = format!("key:{}", i * 997 % 70_000);
            request.extend(resp(&[b"GET", key.as_bytes()]));
            request.extend(resp(&[b"APPEND", key.as_bytes(), b"+"]));
        }
        request.extend(resp(&[b"PING"]));
        request.extend(resp(&[b"PING", b"key:1"]));
        request.extend(resp(&[b"DBSIZE"]));
        request.extend_from_slice(b"GET key:2\r\n");
        for i in 0..20 {
            let key = format!("counter:{}", i % 3);
            request.extend(resp(&[b"INCR", key.as_bytes()]));
            request.extend(resp(&[b"EXISTS", b"key:5", key.as_bytes(), b"nope"]));
        }
        request.extend(resp(&[b"MULTI"]));
        request.extend(resp(&[b"GET", b"key:7"]));
        request.extend(resp(&[b"SET", b"key:7", b"changed"]));
        request.extend(resp(&[b"EXEC"]));
        request.extend(resp(&[b"SELECT", b"1"]));
        request.extend(resp(&[b"GET", b"key:7"]));
        request.extend(resp(&[b"SET", b"key:7", b"one"]));
        request.extend(resp(&[b"SELECT", b"0"]));
        let many: Vec<Vec<u8>> = std::iter::once(b"MGET".to_vec())
            .chain((0..300).map(|i| format!("key:{}", i * 31).into_bytes()))
            .collect();
        let many: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        request.extend(resp(&many));
        request.extend(resp(&[b"GET", b"key:7"]));
        request.extend(resp(&[b"ECHO", b"end-of-pipeline"]));
        // Split in the middle of a request: the first batch ends with half of one.
        let (head, tail) = request.split_at(request.len() / 2 + 3);
        stream.write_all(head).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        stream.write_all(tail).unwrap();
        let mut replies = Vec::new();
        let mut chunk = [0u8; 65536];
        while !replies.ends_with(b"end-of-pipeline\r\n") {
            let n = std::io::Read::read(&mut stream, &mut chunk).unwrap();
            assert!(
                n > 0,
                "closed after {:?}",
                String::from_utf8_lossy(&replies)
            );
            replies.extend_from_slice(&chunk[..n]);
        }
        replies
    };
    let kv = run(&Server::kv(&[]));
    let redis = run(&Server::redis(&[]));
    assert_eq!(
        String::from_utf8_lossy(&kv),
        String::from_utf8_lossy(&redis)
    );
}

/// Resident memory of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// A client that pipelines requests for 300 MB of replies and reads none of them holds up only
/// itself: the server's memory stays far below that, others are served, and every reply is
/// there, in order, once the client reads.
#[test]
fn a_client_that_never_reads_cannot_grow_server_memory() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let value = vec![b'v'; 1024 * 1024];
    let _: () = con.set("big", &value).unwrap();
    let before = rss(server.pid());
    let mut stream = server.raw();
    let mut request = Vec::new();
    for _ in 0..300 {
        request.extend(resp(&[b"GET", b"big"]));
    }
    stream.write_all(&request).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let grown = rss(server.pid()).saturating_sub(before);
    assert!(grown < 64 * 1024 * 1024, "the server grew by {grown} bytes");
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let one = format!("${}\r\n", value.len()).len() + value.len() + 2;
    let replies = support::read_at_least(&mut stream, 300 * one);
    assert_eq!(replies.len(), 300 * one);
    assert!(replies.starts_with(b"$1048576\r\nvvv"));
}

#[test]
fn protocol_errors_close_only_that_connection() {
    let server = Server::kv(&[]);
    let cases: [(&[u8], &str); 5] = [
        (
            b"*x\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$536870913\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n+PING\r\n",
            "-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            b"SET a \"b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (input, expected) in cases {
        let mut stream = server.raw();
        stream.write_all(input).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&read_to_close(&mut stream)),
            expected
        );
    }
    let mut stream = server.raw();
    stream.write_all(&vec![b'x'; 70 * 1024]).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&mut stream)),
        "-ERR Protocol error: too big inline request\r\n"
    );
    let mut con = server.client();
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).unwrap(),
        "PONG"
    );
}

#[test]
fn errors_match_redis_wording() {
    let server = Server::kv(&[]);
    let mut stream = server.raw();
    stream
        .write_all(b"GET\r\nFOO a b\r\nSELECT 99\r\nCLIENT NOPE\r\n")
        .unwrap();
    let text = support::read_lines(&mut stream, 4);
    assert!(
        text.contains("-ERR wrong number of arguments for 'get' command\r\n"),
        "{text}"
    );
    assert!(
        text.contains("-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"),
        "{text}"
    );
    assert!(text.contains("-ERR DB index is out of range\r\n"), "{text}");
    assert!(
        text.contains("-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n"),
        "{text}"
    );
}

#[test]
fn a_slow_or_dead_client_does_not_stall_others() {
    let server = Server::kv(&[]);
    // Half a command, then silence.
    let mut slow = server.raw();
    slow.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk").unwrap();
    // A client that declares a huge bulk and disconnects.
    let mut dead = server.raw();
    dead.write_all(b"*2\r\n$4\r\nECHO\r\n$100000000\r\nabc")
        .unwrap();
    drop(dead);
    let mut con = server.client();
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).unwrap(),
        "PONG"
    );
    // The slow client finishes its command later and gets its reply.
    slow.write_all(b"\r\n$1\r\nv\r\n").unwrap();
    assert_eq!(support::read_at_least(&mut slow, 5), b"+OK\r\n");
}

#[test]
fn requirepass_auth_and_hello() {
    let server = Server::kv(&["--requirepass", "s3cret"]);
    let mut stream = server.raw();
    assert_eq!(
        exchange(&mut stream, &resp(&[b"GET", b"a"]), 10),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        exchange(&mut stream, &resp(&[b"AUTH", b"wrong"]), 10),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        exchange(&mut stream, &resp(&[b"AUTH", b"s3cret"]), 5),
        b"+OK\r\n"
    );
    assert_eq!(exchange(&mut stream, &resp(&[b"GET", b"a"]), 5), b"$-1\r\n");
    // HELLO can authenticate and switch to RESP3 at once; then nulls are `_`.
    let mut other = server.raw();
    let hello = exchange(
        &mut other,
        &resp(&[b"HELLO", b"3", b"AUTH", b"default", b"s3cret"]),
        50,
    );
    assert!(
        hello.starts_with(b"%7\r\n$6\r\nserver\r\n"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    std::thread::sleep(Duration::from_millis(50));
    let _ = support::read_at_least(&mut other, 0);
    assert_eq!(exchange(&mut other, &resp(&[b"GET", b"a"]), 3), b"_\r\n");
    let client =
        redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", server.port)).unwrap();
    let mut con = client.get_connection().unwrap();
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).unwrap(),
        "PONG"
    );
}

#[test]
fn maxclients_refuses_extra_connections() {
    let server = Server::kv(&["--maxclients", "2"]);
    let _a = server.client();
    let _b = server.client();
    let mut third = server.raw();
    assert_eq!(
        read_to_close(&mut third),
        b"-ERR max number of clients reached\r\n"
    );
}

#[test]
fn idle_clients_time_out() {
    let server = Server::kv(&["--timeout", "1"]);
    let mut idle = server.raw();
    let started = std::time::Instant::now();
    assert!(read_to_close(&mut idle).is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let server = Server::kv(&["--client-query-buffer-limit", "1mb"]);
    let mut greedy = server.raw();
    greedy
        .write_all(b"*2\r\n$4\r\nECHO\r\n$5000000\r\n")
        .unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut closed = false;
    for _ in 0..40 {
        if greedy.write_all(&chunk).is_err() {
            closed = true;
            break;
        }
    }
    if !closed {
        closed = read_to_close(&mut greedy).is_empty();
    }
    assert!(closed);
    let mut con = server.client();
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).unwrap(),
        "PONG"
    );
}

#[test]
fn client_commands() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("worker-1")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        redis::cmd("CLIENT")
            .arg("GETNAME")
            .query::<String>(&mut con)
            .unwrap(),
        "worker-1"
    );
    let err = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("has space")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(err
        .to_string()
        .contains("Client names cannot contain spaces"));
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    let mut victim = server.client();
    let victim_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut victim).unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(
        list.contains(&format!("id={id} ")) && list.contains("name=worker-1"),
        "{list}"
    );
    assert!(list.contains(&format!("id={victim_id} ")), "{list}");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(victim_id)
        .query(&mut con)
        .unwrap();
    assert_eq!(killed, 1);
    assert!(redis::cmd("PING").query::<String>(&mut victim).is_err());
    // CLIENT REPLY OFF silences replies until ON.
    let mut stream = server.raw();
    let reply = exchange(
        &mut stream,
        &[
            resp(&[b"CLIENT", b"REPLY", b"OFF"]),
            resp(&[b"SET", b"x", b"1"]),
            resp(&[b"CLIENT", b"REPLY", b"ON"]),
            resp(&[b"GET", b"x"]),
        ]
        .concat(),
        12,
    );
    assert_eq!(reply, b"+OK\r\n$1\r\n1\r\n");
}

#[test]
fn config_get_set_and_rewrite() {
    let dir = std::env::temp_dir().join(format!("kv-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("kv.conf");
    std::fs::write(&file, "# test config\nhz 20\nmaxclients 500\n").unwrap();
    let server = Server::kv(&[file.to_str().unwrap()]);
    let mut con = server.client();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("hz")
        .arg("maxc*")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, ["hz", "20", "maxclients", "500"]);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("hz")
        .arg("30")
        .arg("timeout")
        .arg("100")
        .query(&mut con)
        .unwrap();
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg("0")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("argument must be between 1 and 4294967295 inclusive"),
        "{err}"
    );
    let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut con).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("# test config") && text.contains("hz 30") && text.contains("timeout 100"),
        "{text}"
    );
    assert!(text.contains("maxclients 500"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The redis.conf that comes with redis-server (Debian's copy of Redis 7.0's, which CI
/// installs) starts kv as it starts Redis, once only what must differ here is changed (run in
/// the foreground, log to stdout, files in a directory of the test's), and CONFIG GET reads
/// every directive of it as Redis does.
#[test]
fn redis_own_config_file_starts_kv_and_reads_the_same() {
    let stock = std::fs::read_to_string("/etc/redis/redis.conf")
        .expect("the redis.conf of Debian's redis-server, which `cargo xtask test` installs");
    let write_for = |who: &str| -> (std::path::PathBuf, String) {
        let dir = std::env::temp_dir().join(format!("kv-stockconf-{who}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text: Vec<String> = stock
            .lines()
            .map(|line| match line.split_whitespace().next() {
                Some("daemonize") => "daemonize no".to_string(),
                Some("logfile") => "logfile \"\"".to_string(),
                Some("dir") => format!("dir {}", dir.display()),
                Some("pidfile") => format!("pidfile {}", dir.join("server.pid").display()),
                _ => line.to_string(),
            })
            .collect();
        let file = dir.join("redis.conf");
        std::fs::write(&file, text.join("\n")).unwrap();
        (dir, file.to_string_lossy().into_owned())
    };
    let (kv_dir, kv_file) = write_for("kv");
    let (redis_dir, redis_file) = write_for("redis");
    let kv = Server::kv(&[&kv_file]);
    let redis = Server::redis_with_file(&redis_file, &[]);
    let names: std::collections::BTreeSet<&str> = stock
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| !["port", "dir", "pidfile"].contains(name))
        .collect();
    assert!(names.len() > 50, "{names:?}");
    let get = |server: &Server, name: &str| -> Vec<String> {
        redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(&mut server.client())
            .unwrap()
    };
    for name in names {
        assert_eq!(get(&kv, name), get(&redis, name), "CONFIG GET {name}");
    }
    drop((kv, redis));
    let _ = std::fs::remove_dir_all(kv_dir);
    let _ = std::fs::remove_dir_all(redis_dir);
}

#[test]
fn a_bad_config_file_is_refused_with_its_line() {
    let dir = std::env::temp_dir().join(format!("kv-badconf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.conf");
    std::fs::write(&file, "port 7777\nno-such-directive yes\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kv-server"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.conf:2") && stderr.contains("no-such-directive"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_and_shutdown_stop_gracefully() {
    let mut server = Server::kv(&[]);
    let _con = server.client();
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(server.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server
        .wait_exit(Duration::from_secs(10))
        .expect("kv-server did not stop on SIGTERM");
    assert!(exit.success(), "{exit}");

    let mut server = Server::kv(&[]);
    let mut stream = server.raw();
    stream.write_all(&resp(&[b"SHUTDOWN", b"NOSAVE"])).unwrap();
    let exit = server
        .wait_exit(Duration::from_secs(10))
        .expect("kv-server did not stop on SHUTDOWN");
    assert!(exit.success());
    assert!(!server.alive());
}

/// A kv-server command for 127.0.0.1 at `port` with no save points, after `config_file` if
/// one is given, for the tests that start the process themselves (to see it exit, go to the
/// background or lose its pipes).
fn kv_command(config_file: Option<&str>, port: u16) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kv-server"));
    command.args(config_file).args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ]);
    command
}

/// `kill -SIGNAL pid`; whether the signal was delivered (false once the process is gone).
fn send_signal(signal: &str, pid: u32) -> bool {
    std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Polls `done` every 20 ms for up to 10 s; whether it came true.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// `daemonize yes`: the command returns at once with success, and a background copy serves,
/// writes the pid file (its own pid), logs to `logfile`, survives SIGHUP, and removes the pid
/// file when it shuts down.
#[test]
fn daemonize_yes_serves_in_the_background_with_a_pid_file() {
    /// Stops the background server if the test fails half-way.
    struct Reap(Option<u32>);
    impl Drop for Reap {
        fn drop(&mut self) {
            if let Some(pid) = self.0 {
                send_signal("KILL", pid);
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("kv-daemonize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pidfile, logfile) = (dir.join("kv.pid"), dir.join("kv.log"));
    let port = support::free_port();
    let mut parent = kv_command(None, port)
        .args(["--daemonize", "yes", "--dir"])
        .arg(&dir)
        .arg("--pidfile")
        .arg(&pidfile)
        .arg("--logfile")
        .arg(&logfile)
        .spawn()
        .unwrap();
    let parent_pid = parent.id();
    let exit = parent.wait().unwrap();
    assert!(exit.success(), "{exit}");
    assert!(eventually(
        || std::fs::read_to_string(&pidfile).is_ok_and(|text| text.ends_with('\n'))
    ));
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut reap = Reap(Some(pid));
    assert_ne!(pid, parent_pid, "the pid file names the background copy");
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let mut con = None;
    assert!(eventually(|| {
        con = client.get_connection().ok();
        con.is_some()
    }));
    let mut con = con.unwrap();
    let daemonize: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("daemonize")
        .query(&mut con)
        .unwrap();
    assert_eq!(daemonize, ["daemonize", "yes"]);
    assert!(send_signal("HUP", pid));
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG", "SIGHUP is ignored");
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains(&format!("pid={pid}")), "{log}");
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").exec(&mut con);
    assert!(eventually(|| !send_signal("0", pid)), "still running");
    reap.0 = None;
    assert!(!pidfile.exists(), "the pid file is removed at shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

/// As in Redis, the server works in `dir`: a relative `pidfile` and `logfile` land there,
/// and a config file named by a relative path stays the one INFO shows (absolute) and CONFIG
/// REWRITE writes.
#[test]
fn relative_paths_are_taken_in_dir_as_redis_takes_them() {
    let base = std::env::temp_dir().join(format!("kv-reldir-{}", std::process::id()));
    let (data, conf) = (base.join("data"), base.join("conf"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("kv.conf"), "hz 11\n").unwrap();
    let port = support::free_port();
    let mut child = kv_command(Some("conf/kv.conf"), port)
        .current_dir(&base)
        .args([
            "--dir",
            "data",
            "--pidfile",
            "kv.pid",
            "--logfile",
            "kv.log",
        ])
        .spawn()
        .unwrap();
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let mut con = None;
    if !eventually(|| {
        con = client.get_connection().ok();
        con.is_some()
    }) {
        let _ = child.kill();
        panic!("kv-server never answered");
    }
    let mut con = con.unwrap();
    let pid = std::fs::read_to_string(data.join("kv.pid")).unwrap();
    assert_eq!(pid.trim(), child.id().to_string());
    assert!(data.join("kv.log").exists(), "the log is in dir");
    let info: String = redis::cmd("INFO").arg("server").query(&mut con).unwrap();
    let shown = std::fs::canonicalize(conf.join("kv.conf")).unwrap();
    assert!(
        info.contains(&format!("config_file:{}\r\n", shown.display())),
        "{info}"
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("hz")
        .arg("12")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut con).unwrap();
    let text = std::fs::read_to_string(conf.join("kv.conf")).unwrap();
    assert!(text.contains("hz 12"), "{text}");
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").exec(&mut con);
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit}");
    assert!(!data.join("kv.pid").exists());
    let _ = std::fs::remove_dir_all(&base);
}

/// `pidfile` without `daemonize`: written with the server's pid, removed on SIGTERM.
#[test]
fn a_pid_file_is_written_at_start_and_removed_at_shutdown() {
    let dir = std::env::temp_dir().join(format!("kv-pidfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join("kv.pid");
    let mut server = Server::kv(&["--pidfile", pidfile.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        format!("{}\n", server.pid())
    );
    assert!(send_signal("TERM", server.pid()));
    let exit = server
        .wait_exit(Duration::from_secs(10))
        .expect("kv-server did not stop on SIGTERM");
    assert!(exit.success(), "{exit}");
    assert!(!pidfile.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fields of a `CLIENT INFO` line that do not change from one run to the next: where the
/// client is connected from and to, and its flags.
fn client_info_ends(info: &str) -> Vec<String> {
    info.split_whitespace()
        .filter(|field| {
            ["addr=", "laddr=", "flags="]
                .iter()
                .any(|f| field.starts_with(f))
        })
        .map(str::to_string)
        .collect()
}

/// `unixsocket` and `unixsocketperm`: kv listens on the socket file (replacing a stale one)
/// with the mode asked for, serves a unix client as it serves a TCP one, describes it as Redis
/// does (`addr=path:0 laddr=path:0 flags=U`), and removes the file when it shuts down.
#[cfg(unix)]
#[test]
fn a_unix_socket_serves_clients_as_redis_does() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("kv-unixsocket-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let info_over = |who: &str, start: &dyn Fn(&[&str]) -> Server| {
        let socket = dir.join(format!("{who}.sock"));
        std::fs::write(&socket, "left behind by a server that died").unwrap();
        let server = start(&[
            "--unixsocket",
            socket.to_str().unwrap(),
            "--unixsocketperm",
            "700",
        ]);
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{who}");
        let url = format!("redis+unix://{}", socket.display());
        let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
        let _: () = con.set("k", "over the socket").unwrap();
        let value: String = con.get("k").unwrap();
        assert_eq!(value, "over the socket");
        let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
        let ends = client_info_ends(&info.replace(socket.to_str().unwrap(), "PATH"));
        let config: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("unixsocketperm")
            .query(&mut con)
            .unwrap();
        (server, socket, ends, config)
    };
    let (mut kv, kv_socket, kv_ends, kv_config) =
        info_over("kv", &|extra: &[&str]| Server::kv(extra));
    let (_redis, _, redis_ends, redis_config) =
        info_over("redis", &|extra: &[&str]| Server::redis(extra));
    assert_eq!(kv_ends, ["addr=PATH:0", "laddr=PATH:0", "flags=U"]);
    assert_eq!(kv_ends, redis_ends);
    assert_eq!(kv_config, redis_config);
    let mut raw = kv.raw();
    raw.write_all(&resp(&[b"SHUTDOWN", b"NOSAVE"])).unwrap();
    kv.wait_exit(Duration::from_secs(10))
        .expect("kv-server did not stop on SHUTDOWN");
    assert!(
        !kv_socket.exists(),
        "the socket file is removed at shutdown"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `port 0` listens on no TCP port: with a `unixsocket` the server serves there alone;
/// without one it refuses to start, with Redis's message.
#[cfg(unix)]
#[test]
fn port_0_serves_the_unix_socket_alone() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kv-server"))
        .args(["--port", "0", "--save", ""])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Configured to not listen anywhere, exiting."),
        "{stderr}"
    );
    let dir = std::env::temp_dir().join(format!("kv-port0-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("kv.sock");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kv-server"))
        .args(["--port", "0", "--save", "", "--unixsocket"])
        .arg(&socket)
        .arg("--dir")
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = redis::Client::open(format!("redis+unix://{}", socket.display())).unwrap();
    let mut con = None;
    let served = eventually(|| {
        con = client.get_connection().ok();
        con.is_some()
    });
    if !served {
        let _ = child.kill();
        panic!("kv-server never answered on {}", socket.display());
    }
    let mut con = con.unwrap();
    assert_eq!(support::config_get(&mut con, "port"), "0");
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").exec(&mut con);
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server whose log nobody reads any more (stdout and stderr both a pipe whose reader has
/// gone) keeps serving and still stops on SIGTERM: a failed log write is dropped. (It used to
/// kill the task that logged, which for SIGTERM left the server running forever.)
#[test]
fn a_closed_log_pipe_neither_stops_serving_nor_blocks_shutdown() {
    use std::process::{Command, Stdio};
    let port = support::free_port();
    let mut child = kv_command(None, port)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut con = loop {
        if let Ok(con) = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
        {
            break con;
        }
        assert!(std::time::Instant::now() < deadline, "never answered");
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(child.stdout.take());
    drop(child.stderr.take());
    // CONFIG SET loglevel debug makes every protocol error a log line.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("loglevel")
        .arg("debug")
        .query(&mut con)
        .unwrap();
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let reply = exchange(&mut raw, b"*1\r\n$x\r\n", 1);
    assert!(reply.starts_with(b"-ERR Protocol error"), "{reply:?}");
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("kv-server did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(exit.success(), "{exit}");
}

#[test]
fn concurrent_increments_are_atomic() {
    let server = Server::kv(&[]);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let mut con = server.client();
            std::thread::spawn(move || {
                for _ in 0..500 {
                    let _: i64 = con.incr("shared", 1).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut con = server.client();
    assert_eq!(con.get::<_, i64>("shared").unwrap(), 4000);
}

#[test]
fn multi_key_writes_are_never_seen_half_done() {
    let server = Server::kv(&[]);
    // Keys chosen to land in different shards in all likelihood.
    let keys: Vec<String> = (0..8).map(|i| format!("k{i}:{}", i * 7919)).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let mut con = server.client();
            let keys = keys.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let value = format!("{w}-{i}");
                    let mut cmd = redis::cmd("MSET");
                    for k in &keys {
                        cmd.arg(k).arg(&value);
                    }
                    let _: () = cmd.query(&mut con).unwrap();
                    i += 1;
                }
            })
        })
        .collect();
    let mut reader = server.client();
    for _ in 0..2000 {
        let values: Vec<Option<String>> = reader.mget(&keys).unwrap();
        let first = &values[0];
        assert!(
            values.iter().all(|v| v == first),
            "torn MSET seen: {values:?}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
}

#[test]
fn dbsize_never_counts_half_a_command() {
    // DBSIZE takes no lock: it reads a count that each command publishes whole. Writers make
    // and delete keys eight at a time (MSET, DEL, a transaction of eight SETs, FLUSHDB) in
    // database 0, and swap databases 1 (8 keys) and 2 (16 keys); every count a reader sees
    // must be a multiple of eight in database 0, and 8 or 16 in database 1.
    let server = Server::kv(&[]);
    let keys: Vec<String> = (0..8).map(|i| format!("k{i}:{}", i * 7919)).collect();
    let mut setup = server.client();
    for (db, count) in [(1, 8), (2, 16)] {
        let _: () = redis::cmd("SELECT").arg(db).query(&mut setup).unwrap();
        for i in 0..count {
            let _: () = setup.set(format!("key:{i}"), i).unwrap();
        }
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers: Vec<_> = (0..2)
        .map(|w| {
            let mut con = server.client();
            let keys: Vec<String> = keys.iter().map(|k| format!("{k}:{w}")).collect();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut round = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let mut mset = redis::cmd("MSET");
                    for k in &keys {
                        mset.arg(k).arg(round);
                    }
                    let _: () = mset.query(&mut con).unwrap();
                    let _: i64 = con.del(&keys).unwrap();
                    let mut transaction = redis::pipe();
                    transaction.atomic();
                    for k in &keys {
                        transaction.set(k, round).ignore();
                    }
                    let _: () = transaction.query(&mut con).unwrap();
                    if w == 0 && round % 16 == 0 {
                        let _: () = redis::cmd("FLUSHDB").query(&mut con).unwrap();
                    } else {
                        let _: i64 = con.del(&keys).unwrap();
                    }
                    round += 1;
                }
            })
        })
        .collect();
    let mut swapper = server.client();
    let swapping = stop.clone();
    writers.push(std::thread::spawn(move || {
        while !swapping.load(std::sync::atomic::Ordering::Relaxed) {
            let _: () = redis::cmd("SWAPDB")
                .arg(1)
                .arg(2)
                .query(&mut swapper)
                .unwrap();
        }
    }));
    let mut reader = server.client();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..3000 {
        let _: () = redis::cmd("SELECT").arg(0).query(&mut reader).unwrap();
        let size: i64 = redis::cmd("DBSIZE").query(&mut reader).unwrap();
        assert_eq!(size % 8, 0, "DBSIZE {size}: part of a command counted");
        seen.insert(size);
        let _: () = redis::cmd("SELECT").arg(1).query(&mut reader).unwrap();
        let size: i64 = redis::cmd("DBSIZE").query(&mut reader).unwrap();
        assert!(
            size == 8 || size == 16,
            "DBSIZE {size}: part of a SWAPDB counted"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(
        seen.len() > 1,
        "the writers never ran during the reads: {seen:?}"
    );
}

#[test]
fn collection_moves_are_never_seen_half_done() {
    // Members move between two sets (SMOVE) while another client rebuilds a sorted set from
    // itself with doubled scores (ZUNIONSTORE z 1 z WEIGHTS 2); readers look at both in one
    // command each: a member is in exactly one set at every instant, and the sorted set's
    // scores are always all equal (a half-rebuilt set would mix old and new ones).
    let server = Server::kv(&[]);
    let mut setup = server.client();
    let members: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let _: () = setup.sadd("left", &members).unwrap();
    let _: () = redis::cmd("ZADD")
        .arg("z")
        .arg(&["1", "a", "1", "b", "1", "c", "1", "d"])
        .query(&mut setup)
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let mut con = server.client();
            let members = members.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = w;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let member = &members[i % members.len()];
                    let (from, to) = if i % 2 == 0 {
                        ("left", "right")
                    } else {
                        ("right", "left")
                    };
                    let _: i64 = redis::cmd("SMOVE")
                        .arg(from)
                        .arg(to)
                        .arg(member)
                        .query(&mut con)
                        .unwrap();
                    let _: i64 = redis::cmd("ZUNIONSTORE")
                        .arg(&["z", "1", "z", "WEIGHTS", "2"])
                        .query(&mut con)
                        .unwrap();
                    i += 1;
                }
            })
        })
        .collect();
    let mut reader = server.client();
    for _ in 0..1000 {
        let union: Vec<String> = reader.sunion(&["left", "right"]).unwrap();
        assert_eq!(union.len(), members.len(), "a member vanished mid-SMOVE");
        let both: Vec<String> = reader.sinter(&["left", "right"]).unwrap();
        assert!(both.is_empty(), "a member in both sets: {both:?}");
        let scored: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(&["z", "0", "-1", "WITHSCORES"])
            .query(&mut reader)
            .unwrap();
        assert_eq!(scored.len(), 4);
        assert!(
            scored.iter().all(|(_, score)| *score == scored[0].1),
            "a sorted set seen half rebuilt: {scored:?}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
}

#[test]
fn resp3_replies_for_resp3_clients() {
    let server = Server::kv(&[]);
    let mut stream = server.raw();
    let hello = exchange(&mut stream, &resp(&[b"HELLO", b"3"]), 100);
    assert!(hello.starts_with(b"%7\r\n"));
    std::thread::sleep(Duration::from_millis(50));
    let _ = support::read_at_least(&mut stream, 0);
    let reply = exchange(&mut stream, &resp(&[b"CONFIG", b"GET", b"port"]), 10);
    assert!(
        reply.starts_with(b"%1\r\n$4\r\nport\r\n"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    let _ = Value::Nil;
}

/// Sorted sets over TCP: the `redis` crate's view, Redis 7.2's ZRANK/ZREVRANK WITHSCORE (which
/// the 7.0 reference server of the compat test does not have) in both protocols, and the
/// encoding thresholds as live configuration, from the command line and from CONFIG SET.
#[test]
fn sorted_sets_withscore_and_encoding_settings() {
    let server = Server::kv(&["--zset-max-listpack-value", "3"]);
    let mut con = server.client();
    let added: i64 = con
        .zadd_multiple("z", &[(1, "one"), (2, "two"), (3, "three")])
        .unwrap();
    assert_eq!(added, 3);
    let range: Vec<(String, f64)> = con.zrange_withscores("z", 0, -1).unwrap();
    assert_eq!(
        range,
        [
            ("one".into(), 1.0),
            ("two".into(), 2.0),
            ("three".into(), 3.0)
        ]
    );
    // redis.io's ZRANK example: `ZRANK myzset "three" WITHSCORE` is rank 2, score "3".
    let ranked: (i64, String) = redis::cmd("ZRANK")
        .arg("z")
        .arg("three")
        .arg("WITHSCORE")
        .query(&mut con)
        .unwrap();
    assert_eq!(ranked, (2, "3".into()));
    let ranked: (i64, String) = redis::cmd("ZREVRANK")
        .arg("z")
        .arg("three")
        .arg("withscore")
        .query(&mut con)
        .unwrap();
    assert_eq!(ranked, (0, "3".into()));
    let missing: Value = redis::cmd("ZRANK")
        .arg("z")
        .arg("four")
        .arg("WITHSCORE")
        .query(&mut con)
        .unwrap();
    assert_eq!(missing, Value::Nil);
    let mut raw = server.raw();
    raw.write_all(&resp(&[b"HELLO", b"3"])).unwrap();
    // The map of 7 fields is 26 lines.
    let hello = support::read_lines(&mut raw, 26);
    assert!(hello.starts_with("%7\r\n"), "{hello}");
    let reply = exchange(&mut raw, &resp(&[b"ZRANK", b"z", b"two", b"WITHSCORE"]), 12);
    assert_eq!(reply, b"*2\r\n:1\r\n,2\r\n");
    let reply = exchange(
        &mut raw,
        &resp(&[b"ZREVRANK", b"z", b"nope", b"WITHSCORE"]),
        3,
    );
    assert_eq!(reply, b"_\r\n");
    // `--zset-max-listpack-value 3`: "one" and "two" fit, "three" did not.
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("z")
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding, "skiplist");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("zset-max-ziplist-value")
        .arg("64")
        .arg("zset-max-listpack-entries")
        .arg("2")
        .query(&mut con)
        .unwrap();
    let _: i64 = con
        .zadd_multiple("small", &[(1, "three"), (2, "four")])
        .unwrap();
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("small")
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding, "listpack");
    let _: i64 = con.zadd("small", "five", 3).unwrap();
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("small")
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding, "skiplist", "CONFIG SET reached the engine");
}

#[test]
fn config_set_port_and_bind_move_the_listener_as_redis_does() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let connect = |port: u16| {
        redis::Client::open(format!("redis://127.0.0.1:{port}/")).and_then(|c| c.get_connection())
    };
    let set = |con: &mut redis::Connection, name: &str, value: &str| {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query::<()>(con)
            .map_err(|e| e.to_string())
    };
    let original = server.port.to_string();
    assert_eq!(set(&mut con, "port", &original), Ok(()));
    // A port someone else listens on: refused, and the server stays where it was.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let refused = set(&mut con, "port", &taken_port).unwrap_err();
    // With other parameters in the same call: all of them go back, as in Redis.
    let refused_too = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("10000001")
        .arg("port")
        .arg(&taken_port)
        .arg("client-query-buffer-limit")
        .arg("10m")
        .query::<()>(&mut con)
        .unwrap_err()
        .to_string();
    assert!(refused_too.contains("argument 'port'"), "{refused_too}");
    assert_eq!(support::config_get(&mut con, "maxmemory"), "0");
    assert!(
        refused.contains("CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs."),
        "{refused}"
    );
    assert_eq!(support::config_get(&mut con, "port"), original);
    let mut again = connect(server.port).unwrap();
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut again).unwrap(),
        "PONG"
    );
    // A free port: the server moves there; connected clients stay.
    let moved = support::free_port();
    assert_eq!(set(&mut con, "port", &moved.to_string()), Ok(()));
    let mut there = connect(moved).unwrap();
    let info: String = redis::cmd("INFO").arg("server").query(&mut there).unwrap();
    assert!(info.contains(&format!("tcp_port:{moved}\r\n")), "{info}");
    assert!(connect(server.port).is_err());
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).unwrap(),
        "PONG"
    );
    // Addresses that cannot all be bound: refused, still listening.
    let refused = set(&mut con, "bind", "127.0.0.1 127.0.0.1").unwrap_err();
    assert!(
        refused.contains("CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses."),
        "{refused}"
    );
    assert!(connect(moved).is_ok());
    // No address at all: nobody new gets in, those connected stay, as in Redis.
    assert_eq!(set(&mut con, "bind", ""), Ok(()));
    assert!(connect(moved).is_err());
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).unwrap(),
        "PONG"
    );
    assert_eq!(set(&mut con, "bind", "127.0.0.1"), Ok(()));
    assert!(connect(moved).is_ok());
    drop(taken);
}

/// Every call of a whole `command key cursor COUNT 10` iteration (the key omitted for SCAN):
/// the number of items each call returned, and every item (members only, for HSCAN and
/// ZSCAN), sorted.
fn scan_through(
    con: &mut redis::Connection,
    command: &str,
    key: &str,
) -> (Vec<usize>, Vec<String>) {
    let (mut cursor, mut sizes, mut items) = ("0".to_string(), Vec::new(), Vec::new());
    loop {
        let mut cmd = redis::cmd(command);
        if command != "SCAN" {
            cmd.arg(key);
        }
        let (next, batch): (String, Vec<String>) =
            cmd.arg(&cursor).arg("COUNT").arg(10).query(con).unwrap();
        let pairs = command == "HSCAN" || command == "ZSCAN";
        sizes.push(if pairs { batch.len() / 2 } else { batch.len() });
        items.extend(batch.into_iter().step_by(if pairs { 2 } else { 1 }));
        if next == "0" {
            items.sort();
            return (sizes, items);
        }
        cursor = next;
    }
}

#[test]
fn scans_of_large_collections_take_count_items_a_call() {
    // The same items as Redis's iteration, each once, about COUNT a call (Redis's calls may
    // take a few more, whole buckets).
    let (kv, redis) = (Server::kv(&[]), Server::redis(&[]));
    let mut found = Vec::new();
    for server in [&kv, &redis] {
        let mut con = server.client();
        let members: Vec<String> = (0..5_000).map(|i| format!("m{i}")).collect();
        for chunk in members.chunks(500) {
            let _: () = redis::cmd("SADD")
                .arg("s")
                .arg(chunk)
                .query(&mut con)
                .unwrap();
            let mut hset = redis::cmd("HSET");
            let mut zadd = redis::cmd("ZADD");
            hset.arg("h");
            zadd.arg("z");
            for (i, member) in chunk.iter().enumerate() {
                hset.arg(member).arg("v");
                zadd.arg(i).arg(member);
            }
            let _: () = hset.query(&mut con).unwrap();
            let _: () = zadd.query(&mut con).unwrap();
            for member in chunk {
                let _: () = con.set(format!("key:{member}"), 1).unwrap();
            }
        }
        let mut scans = Vec::new();
        for (command, key) in [("SCAN", ""), ("HSCAN", "h"), ("SSCAN", "s"), ("ZSCAN", "z")] {
            scans.push(scan_through(&mut con, command, key));
        }
        found.push(scans);
    }
    for ((kv_sizes, kv_items), (_, redis_items)) in found[0].iter().zip(&found[1]) {
        assert_eq!(kv_items, redis_items);
        assert!(kv_sizes.iter().all(|&n| n <= 10), "{kv_sizes:?}");
        assert!(kv_sizes.len() >= 490, "{} calls", kv_sizes.len());
    }
}

#[test]
fn a_client_is_gone_once_its_quit_is_answered() {
    // Redis frees a quitting client before it runs any other client's command, so a client
    // list asked for after reading QUIT's +OK never shows it.
    let server = Server::kv(&[]);
    let mut other = server.client();
    for round in 0..300 {
        let mut quitting = server.raw();
        let port = quitting.local_addr().unwrap().port();
        support::exchange(&mut quitting, b"QUIT\r\n", 5);
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut other).unwrap();
        assert!(
            !list.contains(&format!("addr=127.0.0.1:{port} ")),
            "round {round}: still listed after QUIT: {list}"
        );
    }
}
