//! Eviction over TCP (`maxmemory`): every policy keeps INFO's `used_memory` under the limit
//! while clients write far more than it allows, on one connection and on several at once; the
//! volatile policies leave keys without a TTL alone; `noeviction` (and a volatile policy with
//! nothing left to evict) refuses the commands that may grow memory, inside MULTI and at EXEC
//! too, with replies identical to Redis's; LRU and LFU keep the keys in use (volatile-lru too,
//! whatever the spread of the TTLs), volatile-ttl the keys furthest from expiring; OBJECT FREQ
//! and IDLETIME answer per policy as Redis does; an eviction publishes its `evicted` event and
//! fails the transactions watching the key; INFO reports the settings and counters as Redis
//! does.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use redis::Value;
use support::{config_set, exchange, read_at_least, resp, Server};

/// Redis's reply to a command refused for memory.
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// How far over `maxmemory` INFO's `used_memory` may read: kv counts each thread's
/// allocations in batches of up to 16 KB, and a command's own buffers come after its eviction.
fn slack(max: u64) -> u64 {
    max / 20
}

/// The field `name` of INFO's `section`.
fn info_field(con: &mut redis::Connection, section: &str, name: &str) -> String {
    let text: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    let prefix = format!("{name}:");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("INFO {section} has no {name}"))
        .to_string()
}

/// The numeric field `name` of INFO's `section`.
fn info_u64(con: &mut redis::Connection, section: &str, name: &str) -> u64 {
    info_field(con, section, name).parse().unwrap()
}

fn used_memory(con: &mut redis::Connection) -> u64 {
    info_u64(con, "memory", "used_memory")
}

fn evicted_keys(con: &mut redis::Connection) -> u64 {
    info_u64(con, "stats", "evicted_keys")
}

fn dbsize(con: &mut redis::Connection) -> u64 {
    redis::cmd("DBSIZE").query(con).unwrap()
}

/// An error reply as the server sent it: its code, a space, its message.
fn error_line(err: &redis::RedisError) -> String {
    format!("{} {}", err.code().unwrap(), err.detail().unwrap())
}

/// Writes `{prefix}{i}` for each `i` of `range`, with `value_len`-byte values and, if given,
/// a TTL of `ex` seconds, 500 to a pipeline; every reply must be OK.
fn fill(
    con: &mut redis::Connection,
    prefix: &str,
    range: std::ops::Range<usize>,
    value_len: usize,
    ex: Option<u64>,
) {
    let value = "v".repeat(value_len);
    let keys: Vec<usize> = range.collect();
    for batch in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for i in batch {
            let cmd = pipe.cmd("SET").arg(format!("{prefix}{i}")).arg(&value);
            if let Some(ex) = ex {
                cmd.arg("EX").arg(ex);
            }
        }
        let replies: Vec<Value> = pipe.query(con).unwrap();
        assert!(
            replies.iter().all(|r| *r == Value::Okay),
            "a write was refused: {:?}",
            replies.iter().find(|r| **r != Value::Okay)
        );
    }
}

/// Which of `{prefix}{i}` for each `i` of `range` exist (EXISTS does not count as an access).
fn existing(
    con: &mut redis::Connection,
    prefix: &str,
    range: std::ops::Range<usize>,
) -> Vec<usize> {
    let keys: Vec<usize> = range.collect();
    let mut found = Vec::new();
    for batch in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for i in batch {
            pipe.cmd("EXISTS").arg(format!("{prefix}{i}"));
        }
        let replies: Vec<i64> = pipe.query(con).unwrap();
        found.extend(
            batch
                .iter()
                .zip(replies)
                .filter(|(_, n)| *n == 1)
                .map(|(i, _)| *i),
        );
    }
    found
}

/// Reads each of `{prefix}{i}` for each `i` of `range` `times` times.
fn read_keys(
    con: &mut redis::Connection,
    prefix: &str,
    range: std::ops::Range<usize>,
    times: usize,
) {
    let keys: Vec<usize> = range.collect();
    for _ in 0..times {
        for batch in keys.chunks(100) {
            let mut pipe = redis::pipe();
            for i in batch {
                pipe.cmd("GET").arg(format!("{prefix}{i}")).ignore();
            }
            let _: () = pipe.query(con).unwrap();
        }
    }
}

/// Sets `maxmemory` to `max` and waits until the eviction it starts has brought
/// `used_memory` within it (an eviction pass stops after its time limit, and the commands
/// and the cron that come next go on with it, as in Redis). INFO reads memory after its own
/// eviction pass, with its reply allocated: a few bytes over is within.
fn limit_and_settle(con: &mut redis::Connection, max: u64) {
    config_set(con, "maxmemory", max);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let used = used_memory(con);
        if used <= max + 32 * 1024 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "used_memory {used} still over maxmemory {max}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Under `policy`, with `maxmemory` 3 MB above what an empty server uses, writes three
/// times that much with 100-byte values (with a TTL for the volatile policies): memory stays
/// within the limit, and keys were evicted to keep it there, but not all of them.
fn memory_stays_under_the_limit(policy: &str) {
    const KEYS: usize = 45_000;
    let server = Server::kv(&[]);
    let mut con = server.client();
    let max = used_memory(&mut con) + 3_000_000;
    config_set(&mut con, "maxmemory-policy", policy);
    config_set(&mut con, "maxmemory", max);
    let ex = policy.starts_with("volatile").then_some(10_000);
    fill(&mut con, "key:", 0..KEYS, 100, ex);
    let used = used_memory(&mut con);
    assert!(
        used <= max + slack(max),
        "{policy}: used_memory {used} over maxmemory {max}"
    );
    // No more eviction while counting.
    config_set(&mut con, "maxmemory", 0);
    let evicted = evicted_keys(&mut con);
    let left = dbsize(&mut con);
    assert!(evicted > 0, "{policy}: nothing evicted");
    assert!(
        left < KEYS as u64 && left > KEYS as u64 / 10,
        "{policy}: {left} of {KEYS} keys left"
    );
    assert_eq!(left + evicted, KEYS as u64, "{policy}: keys lost otherwise");
}

/// allkeys-lru keeps memory within `maxmemory` by evicting.
#[test]
fn allkeys_lru_keeps_memory_under_the_limit() {
    memory_stays_under_the_limit("allkeys-lru");
}

/// allkeys-lfu keeps memory within `maxmemory` by evicting.
#[test]
fn allkeys_lfu_keeps_memory_under_the_limit() {
    memory_stays_under_the_limit("allkeys-lfu");
}

/// allkeys-random keeps memory within `maxmemory` by evicting.
#[test]
fn allkeys_random_keeps_memory_under_the_limit() {
    memory_stays_under_the_limit("allkeys-random");
}

/// volatile-lru keeps memory within `maxmemory` by evicting keys with a TTL.
#[test]
fn volatile_lru_keeps_memory_under_the_limit() {
    memory_stays_under_the_limit("volatile-lru");
}

/// volatile-lfu keeps memory within `maxmemory` by evicting keys with a TTL.
#[test]
fn volatile_lfu_keeps_memory_under_the_limit() {
    memory_stays_under_the_limit("volatile-lfu");
}

/// volatile-random keeps memory within `maxmemory` by evicting keys with a TTL.
#[test]
fn volatile_random_keeps_memory_under_the_limit() {
    memory_stays_under_the_limit("volatile-random");
}

/// volatile-ttl keeps memory within `maxmemory` by evicting keys with a TTL.
#[test]
fn volatile_ttl_keeps_memory_under_the_limit() {
    memory_stays_under_the_limit("volatile-ttl");
}

/// Each volatile policy evicts only keys with a TTL: keys without one all survive a flood of
/// keys with one; once only they are left and memory is still over, writes are refused with
/// Redis's OOM error while reads and deletes still work.
#[test]
fn volatile_policies_never_evict_keys_without_a_ttl() {
    const KEPT: usize = 300;
    const FLOOD: usize = 15_000;
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let server = Server::kv(&[]);
        let mut con = server.client();
        config_set(&mut con, "maxmemory-policy", policy);
        fill(&mut con, "keep:", 0..KEPT, 100, None);
        let max = used_memory(&mut con) + 1_000_000;
        config_set(&mut con, "maxmemory", max);
        fill(&mut con, "ttl:", 0..FLOOD, 100, Some(10_000));
        assert!(evicted_keys(&mut con) > 0, "{policy}: nothing evicted");
        assert_eq!(
            existing(&mut con, "keep:", 0..KEPT).len(),
            KEPT,
            "{policy}: a key without a TTL was evicted"
        );

        // Every key with a TTL goes (in passes, each cut short by its time limit); those
        // without stay, and memory is still over.
        config_set(&mut con, "maxmemory", 1);
        let deadline = Instant::now() + Duration::from_secs(5);
        while dbsize(&mut con) > KEPT as u64 {
            assert!(Instant::now() < deadline, "{policy}: keys with a TTL left");
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(dbsize(&mut con), KEPT as u64, "{policy}");
        assert_eq!(
            evicted_keys(&mut con),
            FLOOD as u64,
            "{policy}: every key with a TTL is evicted"
        );
        let err = redis::cmd("SET")
            .arg("new")
            .arg("v")
            .query::<()>(&mut con)
            .unwrap_err();
        assert_eq!(error_line(&err), OOM, "{policy}");
        let err = redis::cmd("SET")
            .arg("ttl:new")
            .arg("v")
            .arg("EX")
            .arg(100)
            .query::<()>(&mut con)
            .unwrap_err();
        assert_eq!(error_line(&err), OOM, "{policy}");
        let value: String = redis::cmd("GET").arg("keep:0").query(&mut con).unwrap();
        assert_eq!(value.len(), 100, "{policy}");
        let deleted: i64 = redis::cmd("DEL").arg("keep:0").query(&mut con).unwrap();
        assert_eq!(deleted, 1, "{policy}");
        assert_eq!(dbsize(&mut con), KEPT as u64 - 1, "{policy}");
    }
}

/// One step of a conversation: the command, and the reply expected, byte for byte.
type Step<'a> = (&'a [&'a [u8]], &'a str);

/// Sends each command of `steps` on its own, on the connection to `server` its number names
/// (they are opened in advance); the replies, as sent.
fn raw_replies(server: &Server, steps: &[(usize, Step<'_>)]) -> Vec<String> {
    let connections = steps.iter().map(|(n, _)| n + 1).max().unwrap_or(0);
    let mut streams: Vec<_> = (0..connections).map(|_| server.raw()).collect();
    steps
        .iter()
        .map(|(n, (command, expected))| {
            let reply = exchange(&mut streams[*n], &resp(command), expected.len());
            String::from_utf8_lossy(&reply).into_owned()
        })
        .collect()
}

/// Runs `steps` (each on the connection its number names) on kv and on Redis: both send
/// exactly the expected replies.
fn same_as_redis_on(steps: &[(usize, Step<'_>)]) {
    let kv = raw_replies(&Server::kv(&[]), steps);
    let redis = raw_replies(&Server::redis(&[]), steps);
    for (i, (n, (command, expected))) in steps.iter().enumerate() {
        let command: Vec<_> = command.iter().map(|a| String::from_utf8_lossy(a)).collect();
        let step = format!("{command:?} on connection {n} (step {i})");
        assert_eq!(redis[i], *expected, "Redis's reply to {step}");
        assert_eq!(kv[i], *expected, "kv's reply to {step}");
    }
}

/// Runs `steps` on one connection to kv and one to Redis: both send exactly the expected
/// replies.
fn same_as_redis(steps: &[Step<'_>]) {
    let on_one: Vec<_> = steps.iter().map(|&step| (0, step)).collect();
    same_as_redis_on(&on_one);
}

/// Under `noeviction` with memory over the limit, kv answers as Redis does, byte for byte:
/// a write is refused with OOM while reads and deletes run; inside MULTI every command is
/// refused (a read too) and EXEC then aborts the transaction, while DISCARD and an EXEC with
/// nothing that may grow memory still run.
#[test]
fn noeviction_refuses_writes_as_redis_does() {
    let oom = format!("-{OOM}\r\n");
    let execabort = "-EXECABORT Transaction discarded because of previous errors.\r\n";
    let steps: &[Step<'_>] = &[
        (
            &[b"CONFIG", b"SET", b"maxmemory-policy", b"noeviction"],
            "+OK\r\n",
        ),
        (&[b"SET", b"x", b"1"], "+OK\r\n"),
        (&[b"SET", b"y", b"2"], "+OK\r\n"),
        (&[b"CONFIG", b"SET", b"maxmemory", b"1"], "+OK\r\n"),
        (&[b"SET", b"z", b"1"], &oom),
        (&[b"APPEND", b"x", b"more"], &oom),
        (&[b"GET", b"x"], "$1\r\n1\r\n"),
        (&[b"DEL", b"x"], ":1\r\n"),
        (&[b"EXISTS", b"x"], ":0\r\n"),
        (&[b"MULTI"], "+OK\r\n"),
        (&[b"SET", b"x", b"y"], &oom),
        (&[b"EXEC"], execabort),
        (&[b"MULTI"], "+OK\r\n"),
        (&[b"GET", b"y"], &oom),
        (&[b"DISCARD"], "+OK\r\n"),
        (&[b"MULTI"], "+OK\r\n"),
        (&[b"PING"], &oom),
        (&[b"EXEC"], execabort),
        (&[b"MULTI"], "+OK\r\n"),
        (&[b"EXEC"], "*0\r\n"),
        (&[b"DBSIZE"], ":1\r\n"),
        (&[b"CONFIG", b"SET", b"maxmemory", b"0"], "+OK\r\n"),
        (&[b"SET", b"z", b"1"], "+OK\r\n"),
    ];
    same_as_redis(steps);
}

/// A transaction queued while there was room is refused at EXEC, and discarded, if memory
/// went over meanwhile and it queued a command that may grow memory; one that only reads
/// still runs. kv answers as Redis does, byte for byte.
#[test]
fn exec_is_refused_when_memory_went_over_after_queuing() {
    let execabort = format!("-EXECABORT Transaction discarded because of: {OOM}\r\n");
    let (client, admin) = (0, 1);
    let over: Step<'_> = (&[b"CONFIG", b"SET", b"maxmemory", b"1"], "+OK\r\n");
    let room: Step<'_> = (&[b"CONFIG", b"SET", b"maxmemory", b"0"], "+OK\r\n");
    let steps: &[(usize, Step<'_>)] = &[
        (client, (&[b"SET", b"x", b"1"], "+OK\r\n")),
        (client, (&[b"MULTI"], "+OK\r\n")),
        (client, (&[b"SET", b"x", b"2"], "+QUEUED\r\n")),
        (client, (&[b"GET", b"x"], "+QUEUED\r\n")),
        (admin, over),
        (client, (&[b"EXEC"], &execabort)),
        (client, (&[b"GET", b"x"], "$1\r\n1\r\n")),
        (client, (&[b"EXEC"], "-ERR EXEC without MULTI\r\n")),
        (admin, room),
        (client, (&[b"MULTI"], "+OK\r\n")),
        (client, (&[b"GET", b"x"], "+QUEUED\r\n")),
        (client, (&[b"PING"], "+QUEUED\r\n")),
        (admin, over),
        (client, (&[b"EXEC"], "*2\r\n$1\r\n1\r\n+PONG\r\n")),
        (admin, room),
    ];
    same_as_redis_on(steps);
}

/// OBJECT FREQ and OBJECT IDLETIME answer per policy exactly as Redis does: FREQ is refused
/// unless an LFU policy is selected, IDLETIME while one is; a new key's count is 5
/// (`LFU_INIT_VAL`), and with `lfu-log-factor 0` every read adds one.
#[test]
fn object_freq_and_idletime_follow_the_policy_as_in_redis() {
    let not_lfu = "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
        Please note that when switching between policies at runtime LRU and LFU data will \
        take some time to adjust.\r\n";
    let lfu = "-ERR An LFU maxmemory policy is selected, idle time not tracked. \
        Please note that when switching between policies at runtime LRU and LFU data will \
        take some time to adjust.\r\n";
    let get: &[&[u8]] = &[b"GET", b"f"];
    let mut steps: Vec<Step<'_>> = vec![
        (
            &[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lru"],
            "+OK\r\n",
        ),
        (&[b"SET", b"k", b"v"], "+OK\r\n"),
        (&[b"OBJECT", b"FREQ", b"k"], not_lfu),
        (&[b"OBJECT", b"IDLETIME", b"k"], ":0\r\n"),
        (&[b"OBJECT", b"FREQ", b"missing"], "$-1\r\n"),
        (
            &[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lfu"],
            "+OK\r\n",
        ),
        (&[b"CONFIG", b"SET", b"lfu-log-factor", b"0"], "+OK\r\n"),
        // No decay: a minute's turn between two reads must not take a step off.
        (&[b"CONFIG", b"SET", b"lfu-decay-time", b"0"], "+OK\r\n"),
        (&[b"SET", b"f", b"v"], "+OK\r\n"),
        (&[b"OBJECT", b"FREQ", b"f"], ":5\r\n"),
        (&[b"OBJECT", b"IDLETIME", b"f"], lfu),
        (&[b"OBJECT", b"IDLETIME", b"missing"], "$-1\r\n"),
    ];
    steps.extend((0..100).map(|_| (get, "$1\r\nv\r\n")));
    steps.push((&[b"OBJECT", b"FREQ", b"f"], ":105\r\n"));
    steps.push((
        &[b"CONFIG", b"SET", b"maxmemory-policy", b"volatile-lfu"],
        "+OK\r\n",
    ));
    steps.push((&[b"OBJECT", b"FREQ", b"f"], ":105\r\n"));
    steps.push((&[b"OBJECT", b"IDLETIME", b"f"], lfu));
    steps.push((
        &[b"CONFIG", b"SET", b"maxmemory-policy", b"volatile-lru"],
        "+OK\r\n",
    ));
    steps.push((&[b"OBJECT", b"FREQ", b"f"], not_lfu));
    same_as_redis(&steps);
}

/// Sets `maxmemory` `bytes` below what is in use, waits for the eviction that follows, and
/// lifts the limit again so that nothing more is evicted while the survivors are counted.
fn squeeze(con: &mut redis::Connection, bytes: u64) {
    let used = used_memory(con);
    limit_and_settle(con, used - bytes);
    config_set(con, "maxmemory", 0);
}

/// Checks that of `KEYS` keys, `hot` and `cold` of which survived a squeeze of a third of
/// their memory, about a third were evicted, nearly all of them cold.
fn assert_hot_keys_survive(con: &mut redis::Connection, keys: usize, hot: usize, cold: usize) {
    let evicted = evicted_keys(con) as usize;
    assert_eq!(hot + cold + evicted, keys);
    assert!(
        evicted >= keys / 5 && evicted < keys / 2,
        "{evicted} evicted (hot left {hot}, cold left {cold})"
    );
    assert!(
        hot * 100 >= keys / 2 * 95 && hot > cold,
        "hot keys left: {hot} of {}, cold keys left: {cold}",
        keys / 2
    );
}

/// allkeys-lru with `maxmemory-samples 10`: when a third of the keys must go, the half read
/// after the others went idle all but entirely survives, the idle half pays.
#[test]
fn lru_evicts_idle_keys_first() {
    const KEYS: usize = 2000;
    let server = Server::kv(&[]);
    let mut con = server.client();
    config_set(&mut con, "maxmemory-policy", "allkeys-lru");
    config_set(&mut con, "maxmemory-samples", 10);
    let before = used_memory(&mut con);
    fill(&mut con, "old:", 0..KEYS, 1000, None);
    let bytes = used_memory(&mut con) - before;
    // The LRU clock ticks in seconds: let every key grow idle, then read the hot half.
    thread::sleep(Duration::from_millis(2200));
    read_keys(&mut con, "old:", 0..KEYS / 2, 1);
    squeeze(&mut con, bytes / 3);
    let hot = existing(&mut con, "old:", 0..KEYS / 2).len();
    let cold = existing(&mut con, "old:", KEYS / 2..KEYS).len();
    assert_hot_keys_survive(&mut con, KEYS, hot, cold);
}

/// volatile-lru with the default 5 samples, over keys whose TTLs lie far apart: the keys idle
/// for seconds go first, not those just written. (The idle keys expire within 100 s, the new
/// ones in a day: a sample started from a random expiry *time*, rather than a random key,
/// landed nearly always in the gap between the two and sampled only new keys, which were
/// then evicted while thousands of idle ones stayed; Redis evicts the idle ones.)
#[test]
fn volatile_lru_evicts_idle_keys_first_whatever_their_ttl() {
    const KEYS: usize = 16_000;
    let server = Server::kv(&[]);
    let mut con = server.client();
    config_set(&mut con, "maxmemory-policy", "volatile-lru");
    let before = used_memory(&mut con);
    fill(&mut con, "idle:", 0..KEYS / 2, 100, Some(100));
    thread::sleep(Duration::from_millis(2200));
    fill(&mut con, "new:", 0..KEYS / 2, 100, Some(86_400));
    let bytes = used_memory(&mut con) - before;
    squeeze(&mut con, bytes / 3);
    let hot = existing(&mut con, "new:", 0..KEYS / 2).len();
    let cold = existing(&mut con, "idle:", 0..KEYS / 2).len();
    assert_hot_keys_survive(&mut con, KEYS, hot, cold);
}

/// volatile-ttl: when a third of the keys must go, those closest to expiring go first.
#[test]
fn volatile_ttl_evicts_the_keys_closest_to_expiring_first() {
    const KEYS: usize = 16_000;
    let server = Server::kv(&[]);
    let mut con = server.client();
    config_set(&mut con, "maxmemory-policy", "volatile-ttl");
    let before = used_memory(&mut con);
    // Interleaved, so that the write order says nothing.
    let value = "v".repeat(100);
    for batch in (0..KEYS / 2).collect::<Vec<_>>().chunks(250) {
        let mut pipe = redis::pipe();
        for i in batch {
            pipe.cmd("SET")
                .arg(format!("soon:{i}"))
                .arg(&value)
                .arg("EX")
                .arg(1000 + i);
            pipe.cmd("SET")
                .arg(format!("late:{i}"))
                .arg(&value)
                .arg("EX")
                .arg(100_000 + i);
        }
        let _: () = pipe.query(&mut con).unwrap();
    }
    let bytes = used_memory(&mut con) - before;
    squeeze(&mut con, bytes / 3);
    let hot = existing(&mut con, "late:", 0..KEYS / 2).len();
    let cold = existing(&mut con, "soon:", 0..KEYS / 2).len();
    assert_hot_keys_survive(&mut con, KEYS, hot, cold);
}

/// allkeys-lfu: when a third of the keys must go, the half read several times all but
/// entirely survives, the half never read pays.
#[test]
fn lfu_evicts_rarely_used_keys_first() {
    const KEYS: usize = 2000;
    let server = Server::kv(&[]);
    let mut con = server.client();
    config_set(&mut con, "maxmemory-policy", "allkeys-lfu");
    config_set(&mut con, "lfu-log-factor", 0);
    config_set(&mut con, "lfu-decay-time", 0);
    let before = used_memory(&mut con);
    fill(&mut con, "old:", 0..KEYS, 1000, None);
    let bytes = used_memory(&mut con) - before;
    // Counts: 5 for the cold half, 10 for the hot half.
    read_keys(&mut con, "old:", KEYS / 2..KEYS, 5);
    let freq: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg(format!("old:{}", KEYS - 1))
        .query(&mut con)
        .unwrap();
    assert_eq!(freq, 10);
    squeeze(&mut con, bytes / 3);
    let hot = existing(&mut con, "old:", KEYS / 2..KEYS).len();
    let cold = existing(&mut con, "old:", 0..KEYS / 2).len();
    assert_hot_keys_survive(&mut con, KEYS, hot, cold);
}

/// On `server`: with `maxmemory 1`, every key is evicted; a pattern subscriber to the
/// `evicted` event gets one message per key, the watched key's among them; the transaction
/// watching it fails; `evicted_keys` counts them all.
fn eviction_notifies_and_fails_watch(server: &Server) {
    let keys = ["a", "b", "c"];
    let mut admin = server.client();
    for key in keys {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg("v")
            .query(&mut admin)
            .unwrap();
    }
    config_set(&mut admin, "notify-keyspace-events", "Ee");
    let mut subscriber = server.raw();
    let pattern = "__keyevent@*__:evicted";
    let confirmation = format!("*3\r\n$10\r\npsubscribe\r\n$22\r\n{pattern}\r\n:1\r\n");
    let got = exchange(
        &mut subscriber,
        &resp(&[b"PSUBSCRIBE", pattern.as_bytes()]),
        confirmation.len(),
    );
    assert_eq!(String::from_utf8_lossy(&got), confirmation);
    let mut watcher = server.client();
    let _: () = redis::cmd("WATCH").arg("a").query(&mut watcher).unwrap();

    config_set(&mut admin, "maxmemory-policy", "allkeys-random");
    config_set(&mut admin, "maxmemory", 1);
    let message = |key: &str| {
        format!(
            "*4\r\n$8\r\npmessage\r\n$22\r\n{pattern}\r\n$22\r\n__keyevent@0__:evicted\r\n\
             $1\r\n{key}\r\n"
        )
    };
    let expected_len = keys.len() * message("a").len();
    let stream = read_at_least(&mut subscriber, expected_len);
    let text = String::from_utf8_lossy(&stream);
    assert_eq!(text.len(), expected_len, "{text:?}");
    let mut evicted = BTreeSet::new();
    for one in text.split_inclusive("\r\n").collect::<Vec<_>>().chunks(9) {
        let key = one[8].trim_end();
        assert_eq!(one.concat(), message(key));
        evicted.insert(key.to_string());
    }
    assert_eq!(evicted, keys.iter().map(|k| k.to_string()).collect());
    assert_eq!(dbsize(&mut admin), 0);
    assert_eq!(evicted_keys(&mut admin), keys.len() as u64);

    // Room again, so that the transaction is refused for its watch and not for memory.
    config_set(&mut admin, "maxmemory", 0);
    let mut pipe = redis::pipe();
    pipe.atomic().cmd("SET").arg("a").arg("new");
    let reply: Value = pipe.query(&mut watcher).unwrap();
    assert_eq!(reply, Value::Nil, "the watched key's eviction fails EXEC");
    let a: Option<String> = redis::cmd("GET").arg("a").query(&mut admin).unwrap();
    assert_eq!(a, None);
}

/// An eviction publishes `evicted` for the key and fails the transaction watching it, as in
/// Redis (the same steps are run against both).
#[test]
fn eviction_publishes_its_event_and_fails_watch() {
    eviction_notifies_and_fails_watch(&Server::kv(&[]));
    eviction_notifies_and_fails_watch(&Server::redis(&[]));
}

/// Four clients write at once, together far past `maxmemory`, under allkeys-lru: none is
/// refused (eviction makes room), the server keeps answering, and memory stays within the
/// limit.
#[test]
fn concurrent_writers_all_succeed_under_the_limit() {
    const WRITERS: usize = 4;
    const EACH: usize = 5000;
    let server = Server::kv(&[]);
    let mut con = server.client();
    let max = used_memory(&mut con) + 2_000_000;
    config_set(&mut con, "maxmemory-policy", "allkeys-lru");
    config_set(&mut con, "maxmemory", max);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut con = server.client();
            thread::spawn(move || fill(&mut con, &format!("w{w}:"), 0..EACH, 200, None))
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let used = used_memory(&mut con);
    assert!(
        used <= max + slack(max),
        "used_memory {used} over maxmemory {max}"
    );
    config_set(&mut con, "maxmemory", 0);
    // Every key is there or was evicted, once eviction has stopped: the background eviction
    // (the cron's, for memory still over) may be finishing a pass begun under the old limit,
    // so a count read between the two reads below would not add up yet.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (evicted, left) = loop {
        let evicted = evicted_keys(&mut con);
        let left = dbsize(&mut con);
        if left + evicted == (WRITERS * EACH) as u64 || Instant::now() > deadline {
            break (evicted, left);
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert!(evicted > 0);
    assert_eq!(left + evicted, (WRITERS * EACH) as u64);
}

/// On `server`: INFO's memory fields and eviction counters after each step, as `name:value`
/// lines.
fn info_after_settings(server: &Server) -> Vec<String> {
    let mut con = server.client();
    let mut lines = Vec::new();
    let mut note = |con: &mut redis::Connection| {
        for name in ["maxmemory", "maxmemory_human", "maxmemory_policy"] {
            lines.push(format!("{name}:{}", info_field(con, "memory", name)));
        }
        let evicted = evicted_keys(con);
        lines.push(format!("evicted_keys:{evicted}"));
    };
    note(&mut con);
    config_set(&mut con, "maxmemory", "100mb");
    config_set(&mut con, "maxmemory-policy", "allkeys-lfu");
    note(&mut con);
    config_set(&mut con, "maxmemory", 1_500_000);
    config_set(&mut con, "maxmemory-policy", "volatile-ttl");
    note(&mut con);
    config_set(&mut con, "maxmemory", "3gb");
    config_set(&mut con, "maxmemory-policy", "allkeys-random");
    fill(&mut con, "k", 0..10, 10, None);
    note(&mut con);
    config_set(&mut con, "maxmemory", 1);
    note(&mut con);
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    note(&mut con);
    lines
}

/// INFO reports `maxmemory`, `maxmemory_human` and `maxmemory_policy` as CONFIG SET them and
/// `evicted_keys` until CONFIG RESETSTAT zeroes it, line for line as Redis does.
#[test]
fn info_reports_the_settings_and_counters_as_redis_does() {
    let kv = info_after_settings(&Server::kv(&[]));
    let redis = info_after_settings(&Server::redis(&[]));
    assert_eq!(kv, redis);
    assert!(
        kv.contains(&"maxmemory_human:100.00M".to_string()),
        "{kv:?}"
    );
    assert!(kv.contains(&"evicted_keys:10".to_string()), "{kv:?}");
    assert_eq!(kv.last().unwrap(), "evicted_keys:0");
}

/// On `server`: `current_eviction_exceeded_time` grows while memory stays over the limit
/// with nothing to evict; once memory is within the limit again, it reads 0 and the spell is
/// counted in `total_eviction_exceeded_time`.
fn eviction_exceeded_time_is_reported(server: &Server) {
    let mut con = server.client();
    let stat = |con: &mut redis::Connection, name: &str| info_u64(con, "stats", name);
    assert_eq!(stat(&mut con, "total_eviction_exceeded_time"), 0);
    assert_eq!(stat(&mut con, "current_eviction_exceeded_time"), 0);
    config_set(&mut con, "maxmemory", 1);
    thread::sleep(Duration::from_millis(300));
    let current = stat(&mut con, "current_eviction_exceeded_time");
    assert!(current >= 250, "current_eviction_exceeded_time {current}");
    config_set(&mut con, "maxmemory", "1gb");
    assert_eq!(stat(&mut con, "current_eviction_exceeded_time"), 0);
    let total = stat(&mut con, "total_eviction_exceeded_time");
    assert!(total >= current, "total_eviction_exceeded_time {total}");
}

/// INFO reports the time spent over `maxmemory` as Redis does (the same steps are run
/// against both).
#[test]
fn time_over_the_limit_is_reported() {
    eviction_exceeded_time_is_reported(&Server::kv(&[]));
    eviction_exceeded_time_is_reported(&Server::redis(&[]));
}
