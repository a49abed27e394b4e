//! MEMORY USAGE, STATS, DOCTOR and PURGE against a real kv-server, and INFO memory's fields
//! against Redis's. The replies' errors and shapes are compared with Redis in
//! `compat/memory.txt`; here the numbers are checked against what the server really frees.

#![allow(clippy::unwrap_used)]

mod support;

use redis::Value;
use support::Server;

/// INFO memory's `used_memory`: the counting allocator's total.
fn used_memory(con: &mut redis::Connection) -> i64 {
    let text: String = redis::cmd("INFO").arg("memory").query(con).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .expect("used_memory")
        .parse()
        .unwrap()
}

/// `MEMORY USAGE key [SAMPLES samples]`.
fn usage(con: &mut redis::Connection, key: &str, samples: Option<u32>) -> i64 {
    let mut cmd = redis::cmd("MEMORY");
    cmd.arg("USAGE").arg(key);
    if let Some(n) = samples {
        cmd.arg("SAMPLES").arg(n);
    }
    cmd.query(con).unwrap()
}

/// Sends `commands` (each a list of arguments) in one pipeline.
fn pipeline(con: &mut redis::Connection, commands: impl Iterator<Item = Vec<String>>) {
    let mut pipe = redis::pipe();
    for args in commands {
        let mut cmd = redis::cmd(&args[0]);
        for arg in &args[1..] {
            cmd.arg(arg);
        }
        pipe.add_command(cmd).ignore();
    }
    pipe.query::<()>(con).unwrap();
}

/// The `i`-th command that builds a value.
type Command = dyn Fn(usize) -> Vec<String>;

/// Builds each type of value (each form of a set) large enough that the allocator's count of
/// what deleting it frees is precise, then checks MEMORY USAGE, exact (`SAMPLES 0`) and
/// sampled (the default 5), against that count.
#[test]
fn usage_matches_what_deleting_the_key_frees() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let n = 20_000;
    let builds: Vec<(&str, Box<Command>)> = vec![
        ("string", Box::new(|_| vec![])),
        (
            // Elements of 100 bytes: a list of short ones is a few hundred KB, where the
            // allocator count's slack (up to 16 KiB per thread on each reading, and the
            // connection may move between threads from one command to the next) passes 5%.
            "list",
            Box::new(|i| {
                ["RPUSH", "list", &format!("element-{i:092}")]
                    .map(String::from)
                    .to_vec()
            }),
        ),
        (
            "hash",
            Box::new(|i| {
                let value = format!("{i:0>60}");
                ["HSET", "hash", &format!("field:{i}"), &value]
                    .map(String::from)
                    .to_vec()
            }),
        ),
        (
            "set",
            Box::new(|i| {
                ["SADD", "set", &format!("member-with-a-long-name:{i}")]
                    .map(String::from)
                    .to_vec()
            }),
        ),
        (
            // Ten 8-byte members a command: big enough to measure.
            "intset",
            Box::new(|i| {
                let mut args = vec!["SADD".to_string(), "intset".to_string()];
                args.extend((0..10).map(|j| ((i * 10 + j) as i64 * 1_000_000_000_000).to_string()));
                args
            }),
        ),
        (
            "zset",
            Box::new(|i| {
                ["ZADD", "zset", &i.to_string(), &format!("member:{i}")]
                    .map(String::from)
                    .to_vec()
            }),
        ),
    ];
    // The intset is built past `set-max-intset-entries` only if allowed to stay one.
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("set-max-intset-entries")
        .arg(n * 10)
        .query::<()>(&mut con)
        .unwrap();
    for (key, build) in &builds {
        if *key == "string" {
            let value = "x".repeat(2_000_000);
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .query::<()>(&mut con)
                .unwrap();
        } else {
            for start in (0..n).step_by(1000) {
                pipeline(&mut con, (start..start + 1000).map(build));
            }
        }
        let exact = usage(&mut con, key, Some(0));
        let sampled = usage(&mut con, key, None);
        let before = used_memory(&mut con);
        let deleted: i64 = redis::cmd("DEL").arg(key).query(&mut con).unwrap();
        assert_eq!(deleted, 1);
        let freed = before - used_memory(&mut con);
        // All elements measured: what the structures hold, to within the allocator count's
        // slack (each thread reports in steps of 16 KiB). Sampled: an estimate.
        for (what, estimate, within) in [
            ("SAMPLES 0", exact, 0.05),
            ("default samples", sampled, 0.25),
        ] {
            let ratio = estimate as f64 / freed as f64;
            assert!(
                (1.0 - within..=1.0 + within).contains(&ratio),
                "{key}: MEMORY USAGE ({what}) {estimate} bytes, DEL freed {freed} ({ratio:.2})"
            );
        }
    }
}

/// A key that exists gets a count that grows with its value; a missing one gets nil; a
/// volatile key costs its place in the expiry index too.
#[test]
fn usage_of_small_keys() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let nil: Value = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("missing")
        .query(&mut con)
        .unwrap();
    assert_eq!(nil, Value::Nil);
    redis::cmd("SET")
        .arg("a")
        .arg("x")
        .query::<()>(&mut con)
        .unwrap();
    redis::cmd("SET")
        .arg("b")
        .arg("y".repeat(1000))
        .query::<()>(&mut con)
        .unwrap();
    let small = usage(&mut con, "a", None);
    let large = usage(&mut con, "b", None);
    assert!(small > 0 && large >= small + 1000, "{small} {large}");
    redis::cmd("EXPIRE")
        .arg("a")
        .arg(100)
        .query::<()>(&mut con)
        .unwrap();
    assert!(usage(&mut con, "a", None) > small);
}

/// The keys of a MEMORY STATS reply, `db.N` entries aside.
fn stats_names(con: &mut redis::Connection) -> Vec<String> {
    let stats: Value = redis::cmd("MEMORY").arg("STATS").query(con).unwrap();
    let Value::Array(items) = stats else {
        panic!("MEMORY STATS: {stats:?}")
    };
    items
        .chunks(2)
        .map(|pair| match &pair[0] {
            Value::BulkString(name) => String::from_utf8_lossy(name).into_owned(),
            other => panic!("name {other:?}"),
        })
        .collect()
}

/// MEMORY STATS has Redis 7.0's fields in Redis's order, a `db.N` map for each database with
/// keys, and figures that add up: the overhead and the dataset make up what is in use.
#[test]
fn stats_has_redis_fields_and_adds_up() {
    let kv = Server::kv(&[]);
    let redis = Server::redis(&[]);
    let (mut kv_con, mut redis_con) = (kv.client(), redis.client());
    for con in [&mut kv_con, &mut redis_con] {
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query::<()>(con)
            .unwrap();
        redis::cmd("SELECT").arg(3).query::<()>(con).unwrap();
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query::<()>(con)
            .unwrap();
        redis::cmd("EXPIRE")
            .arg("k")
            .arg(100)
            .query::<()>(con)
            .unwrap();
    }
    let names = stats_names(&mut kv_con);
    assert_eq!(names, stats_names(&mut redis_con));
    assert!(names.contains(&"db.0".to_string()) && names.contains(&"db.3".to_string()));

    let stats: Value = redis::cmd("MEMORY")
        .arg("STATS")
        .query(&mut kv_con)
        .unwrap();
    let Value::Array(items) = stats else {
        unreachable!()
    };
    let int = |name: &str| -> i64 {
        let at = items
            .iter()
            .position(|v| matches!(v, Value::BulkString(b) if b == name.as_bytes()))
            .unwrap_or_else(|| panic!("{name}"));
        match &items[at + 1] {
            Value::Int(n) => *n,
            other => panic!("{name}: {other:?}"),
        }
    };
    assert_eq!(int("keys.count"), 2);
    assert!(int("startup.allocated") > 0);
    assert!(int("peak.allocated") >= int("total.allocated"));
    assert_eq!(
        int("overhead.total") + int("dataset.bytes"),
        int("total.allocated")
    );
    // Its own connection's buffers at least.
    assert!(int("clients.normal") >= 16 * 1024);
}

/// INFO memory lists Redis 7.0's fields in Redis's order.
#[test]
fn info_memory_has_redis_fields() {
    let kv = Server::kv(&[]);
    let redis = Server::redis(&[]);
    let names = |con: &mut redis::Connection| -> Vec<String> {
        let text: String = redis::cmd("INFO").arg("memory").query(con).unwrap();
        text.lines()
            .filter_map(|l| l.split_once(':').map(|(name, _)| name.to_string()))
            .collect()
    };
    assert_eq!(names(&mut kv.client()), names(&mut redis.client()));
}

/// FLUSHALL ASYNC hands the keys to a background thread; INFO counts them as lazily freed.
#[test]
fn flushall_async_counts_lazily_freed_keys() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    pipeline(
        &mut con,
        (0..500).map(|i| vec!["SET".into(), format!("k{i}"), "v".into()]),
    );
    redis::cmd("FLUSHALL")
        .arg("ASYNC")
        .query::<()>(&mut con)
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while memory_field(&mut con, "lazyfreed_objects") < 500 {
        assert!(std::time::Instant::now() < deadline, "never freed");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(memory_field(&mut con, "lazyfreed_objects"), 500);
    assert_eq!(memory_field(&mut con, "lazyfree_pending_objects"), 0);
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query::<()>(&mut con)
        .unwrap();
    assert_eq!(memory_field(&mut con, "lazyfreed_objects"), 0);
}

/// A number of INFO's memory section.
fn memory_field(con: &mut redis::Connection, name: &str) -> u64 {
    info_number(con, "memory", name)
}

/// The number INFO `section` shows for `name`.
fn info_number(con: &mut redis::Connection, section: &str, name: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    let prefix = format!("{name}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// `lazyfreed_objects` once nothing is pending (INFO memory).
fn lazyfreed_when_settled(con: &mut redis::Connection) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while memory_field(con, "lazyfree_pending_objects") > 0 {
        assert!(std::time::Instant::now() < deadline, "never freed");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    memory_field(con, "lazyfreed_objects")
}

/// UNLINK frees a value on the background thread when freeing it takes more than 64 steps (a
/// large hash, set or sorted set, a long list), DEL only with `lazyfree-lazy-user-del yes`,
/// and FLUSHALL without ASYNC with `lazyfree-lazy-user-flush yes`: INFO's `lazyfreed_objects`
/// moves as Redis's does.
#[test]
fn unlink_frees_large_values_lazily_as_redis_does() {
    let steps: Vec<(&str, Vec<Vec<String>>)> = {
        let fill = |command: &str, key: &str, n: usize, member: &dyn Fn(usize) -> Vec<String>| {
            (0..n)
                .map(|i| {
                    let mut args = vec![command.to_string(), key.to_string()];
                    args.extend(member(i));
                    args
                })
                .collect::<Vec<_>>()
        };
        let cmd = |words: &str| vec![words.split(' ').map(String::from).collect::<Vec<_>>()];
        let big_value = "v".repeat(100);
        vec![
            ("big hash, UNLINK", {
                let mut c = fill("HSET", "h", 1000, &|i| vec![format!("f{i}"), "v".into()]);
                c.extend(cmd("UNLINK h"));
                c
            }),
            ("small hash, UNLINK", {
                let mut c = fill("HSET", "h", 10, &|i| vec![format!("f{i}"), "v".into()]);
                c.extend(cmd("UNLINK h"));
                c
            }),
            (
                "string, UNLINK",
                cmd("SET s v").into_iter().chain(cmd("UNLINK s")).collect(),
            ),
            ("big set, DEL", {
                let mut c = fill("SADD", "s", 1000, &|i| vec![format!("m{i}")]);
                c.extend(cmd("DEL s"));
                c
            }),
            ("big zset, DEL with lazyfree-lazy-user-del yes", {
                let mut c = cmd("CONFIG SET lazyfree-lazy-user-del yes");
                c.extend(fill("ZADD", "z", 1000, &|i| {
                    vec![i.to_string(), format!("m{i}")]
                }));
                c.extend(cmd("DEL z"));
                c.extend(cmd("CONFIG SET lazyfree-lazy-user-del no"));
                c
            }),
            ("long list, UNLINK", {
                let mut c = fill("RPUSH", "l", 100_000, &|_| vec![big_value.clone()]);
                c.extend(cmd("UNLINK l"));
                c
            }),
            ("intset, UNLINK", {
                let mut c = fill("SADD", "i", 100, &|i| vec![i.to_string()]);
                c.extend(cmd("UNLINK i"));
                c
            }),
            ("FLUSHALL with lazyfree-lazy-user-flush yes", {
                let mut c = cmd("CONFIG SET lazyfree-lazy-user-flush yes");
                c.extend(fill("SET", "k", 1, &|_| vec!["v".into()]));
                c.extend(cmd("SET k2 v"));
                c.extend(cmd("FLUSHALL"));
                c.extend(cmd("CONFIG SET lazyfree-lazy-user-flush no"));
                c
            }),
            ("FLUSHALL", {
                let mut c = cmd("SET k v");
                c.extend(cmd("FLUSHALL"));
                c
            }),
            ("SET over a big hash", {
                let mut c = fill("HSET", "h", 1000, &|i| vec![format!("f{i}"), "v".into()]);
                c.extend(cmd("SET h v"));
                c
            }),
            ("SET over a big hash with lazyfree-lazy-server-del yes", {
                let mut c = cmd("CONFIG SET lazyfree-lazy-server-del yes");
                c.extend(fill("HSET", "h2", 1000, &|i| {
                    vec![format!("f{i}"), "v".into()]
                }));
                c.extend(cmd("SET h2 v"));
                c.extend(cmd("CONFIG SET lazyfree-lazy-server-del no"));
                c
            }),
            (
                "RENAME onto and emptying SUNIONSTORE into big sets, server-del yes",
                {
                    let mut c = cmd("CONFIG SET lazyfree-lazy-server-del yes");
                    c.extend(fill("SADD", "a", 1000, &|i| vec![format!("m{i}")]));
                    c.extend(cmd("RENAME h a"));
                    c.extend(fill("SADD", "b", 1000, &|i| vec![format!("m{i}")]));
                    c.extend(cmd("SUNIONSTORE b nokey"));
                    c.extend(cmd("CONFIG SET lazyfree-lazy-server-del no"));
                    c
                },
            ),
            ("EXPIRE 0 of a big zset with lazyfree-lazy-expire yes", {
                let mut c = cmd("CONFIG SET lazyfree-lazy-expire yes");
                c.extend(fill("ZADD", "z", 1000, &|i| {
                    vec![i.to_string(), format!("m{i}")]
                }));
                c.extend(cmd("EXPIRE z 0"));
                c.extend(cmd("CONFIG SET lazyfree-lazy-expire no"));
                c
            }),
            ("eviction of a big set with lazyfree-lazy-eviction yes", {
                let mut c = cmd("CONFIG SET lazyfree-lazy-eviction yes");
                c.extend(cmd("CONFIG SET maxmemory-policy allkeys-random"));
                c.extend(fill("SADD", "e", 1000, &|i| vec![format!("m{i}")]));
                c.extend(cmd("CONFIG SET maxmemory 1"));
                c.extend(cmd("GET nokey"));
                c.extend(cmd("CONFIG SET maxmemory 0"));
                c.extend(cmd("CONFIG SET maxmemory-policy noeviction"));
                c.extend(cmd("CONFIG SET lazyfree-lazy-eviction no"));
                c
            }),
        ]
    };
    let run = |server: &Server| -> Vec<(String, u64)> {
        let mut con = server.client();
        steps
            .iter()
            .map(|(name, commands)| {
                pipeline(&mut con, commands.iter().cloned());
                (name.to_string(), lazyfreed_when_settled(&mut con))
            })
            .collect()
    };
    let kv = run(&Server::kv(&[]));
    let redis = run(&Server::redis(&[]));
    assert_eq!(kv, redis);
    // Not all zero: the steps that free in the background are told apart.
    assert_eq!(kv.last().map(|(_, n)| *n), Some(10));
}

/// MEMORY DOCTOR reads a loaded instance's figures: with several MB of data and no
/// fragmentation it finds nothing; MEMORY PURGE answers OK and leaves the data alone.
#[test]
fn doctor_and_purge_on_a_loaded_instance() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    for start in (0..60_000).step_by(2000) {
        pipeline(
            &mut con,
            (start..start + 2000).map(|i| vec!["SET".into(), format!("key:{i}"), "v".repeat(100)]),
        );
    }
    let report: String = redis::cmd("MEMORY").arg("DOCTOR").query(&mut con).unwrap();
    assert!(
        report.starts_with("Hi Sam, I can't find any memory issue")
            || report.starts_with("Sam, I detected a few issues"),
        "{report}"
    );
    assert!(!report.contains("empty"), "{report}");
    let ok: String = redis::cmd("MEMORY").arg("PURGE").query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 60_000);
}

/// A client that sent a large value and read it back keeps those buffers only while it is
/// busy: idle for 2 s, it gives the space back (INFO `reply_buffer_shrinks`; `used_memory`
/// drops by both buffers), as Redis's client cron shrinks idle clients' buffers, and it still
/// works afterwards.
#[test]
fn an_idle_client_gives_back_the_buffers_a_large_value_grew() {
    let server = Server::kv(&[]);
    let (mut busy, mut watcher) = (server.client(), server.client());
    let value = "v".repeat(4 << 20);
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&value)
        .query(&mut busy)
        .unwrap();
    let read: String = redis::cmd("GET").arg("big").query(&mut busy).unwrap();
    assert_eq!(read.len(), value.len());
    let stat = |con: &mut redis::Connection, name: &str| info_number(con, "everything", name);
    assert!(stat(&mut watcher, "client_recent_max_input_buffer") >= 4 << 20);
    // Beyond the first 16 KB, as Redis counts what waits past its fixed reply buffer.
    assert!(stat(&mut watcher, "client_recent_max_output_buffer") >= (4 << 20) - (16 << 10));
    let before = memory_field(&mut watcher, "used_memory");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stat(&mut watcher, "reply_buffer_shrinks") == 0 {
        assert!(std::time::Instant::now() < deadline, "never shrunk");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let after = memory_field(&mut watcher, "used_memory");
    assert!(
        before > after + (7 << 20),
        "both 4 MB buffers given back: {before} -> {after}"
    );
    assert!(stat(&mut watcher, "reply_buffer_expands") >= 1);
    let read: String = redis::cmd("GET").arg("big").query(&mut busy).unwrap();
    assert_eq!(read, value);
}

#[test]
fn tables_emptied_by_deletions_give_their_memory_back() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let base = used_memory(&mut con);
    let keys = 200_000;
    pipeline(
        &mut con,
        (0..keys).map(|i| vec!["SET".into(), format!("key:{i}"), "v".into()]),
    );
    let loaded = used_memory(&mut con);
    pipeline(
        &mut con,
        (10..keys).map(|i| vec!["DEL".into(), format!("key:{i}")]),
    );
    // The tables' room for 200,000 keys (about 2.3 MB) goes too, as Redis's dicts shrink,
    // once the cron has been through every shard.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let now = used_memory(&mut con);
        if now < base + (512 << 10) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "used_memory {base} empty, {loaded} loaded, still {now} after deleting"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let left: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(left, 10);
    let value: String = redis::cmd("GET").arg("key:3").query(&mut con).unwrap();
    assert_eq!(value, "v");
}

/// A client that sent a request of 100,000 arguments and then keeps sending small ones gets
/// the buffers that request grew given back too (query buffer, the decoder's argument list),
/// as Redis's client cron shrinks a busy client's buffer whose recent peak is small; and
/// UNLINK's background freeing brings `used_memory` back near where it started (Redis's
/// lazyfree.tcl "UNLINK can reclaim memory in background").
#[test]
fn a_busy_client_gives_back_what_one_large_request_grew() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let base = used_memory(&mut con);
    let mut sadd = redis::cmd("SADD");
    sadd.arg("myset");
    for i in 0..100_000 {
        sadd.arg(i);
    }
    let _: i64 = sadd.query(&mut con).unwrap();
    let peak = used_memory(&mut con);
    assert!(peak > base + 1_000_000, "{base} -> {peak}");
    let _: i64 = redis::cmd("UNLINK").arg("myset").query(&mut con).unwrap();
    // Polled every 100 ms: never idle for 2 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = used_memory(&mut con);
        if now < base * 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "used_memory {base} at start, {peak} at the peak, still {now}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
