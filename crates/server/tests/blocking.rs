//! Blocking commands across clients: a wait ended by another client's write, first come first
//! served, timeouts, CLIENT UNBLOCK, disconnects, and many clients at once. The answers a
//! blocking command gives without waiting are checked against Redis in compat/blocking.txt.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use redis::{Commands, Value};
use support::{read_at_least, resp, Server};

/// INFO's `blocked_clients`.
fn blocked_clients(con: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("clients").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Waits (at most 10 s) until exactly `n` clients are blocked.
fn wait_blocked(con: &mut redis::Connection, n: u64) {
    let start = Instant::now();
    while blocked_clients(con) != n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never saw {n} blocked clients"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `command` on a new connection in a thread; the handle yields its reply.
fn spawn(server: &Server, command: redis::Cmd) -> thread::JoinHandle<redis::RedisResult<Value>> {
    let mut con = server.client();
    thread::spawn(move || command.query::<Value>(&mut con))
}

fn cmd(args: &[&str]) -> redis::Cmd {
    let mut cmd = redis::Cmd::new();
    for arg in args {
        cmd.arg(*arg);
    }
    cmd
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn a_push_serves_the_blocked_client_on_any_of_its_keys() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let waiting = spawn(&server, cmd(&["BLPOP", "k1", "k2", "0"]));
    wait_blocked(&mut con, 1);
    let _: i64 = con.rpush("k2", &["x", "y"]).unwrap();
    assert_eq!(
        waiting.join().unwrap().unwrap(),
        Value::Array(vec![bulk("k2"), bulk("x")])
    );
    assert_eq!(con.lrange::<_, Vec<String>>("k2", 0, -1).unwrap(), ["y"]);
    assert_eq!(blocked_clients(&mut con), 0);
}

#[test]
fn clients_blocked_on_a_key_are_served_first_come_first_served() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let mut waiting = Vec::new();
    for n in 1..=3 {
        waiting.push(spawn(&server, cmd(&["BRPOP", "queue", "0"])));
        wait_blocked(&mut con, n);
    }
    // One push of three elements: BRPOP takes from the tail, so c, b, a in arrival order.
    let _: i64 = con.lpush("queue", &["a", "b", "c"]).unwrap();
    let got: Vec<Value> = waiting
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    let expected: Vec<Value> = ["a", "b", "c"]
        .iter()
        .map(|e| Value::Array(vec![bulk("queue"), bulk(e)]))
        .collect();
    assert_eq!(got, expected);
    assert!(!con.exists::<_, bool>("queue").unwrap());
}

/// Four clients blocked on two lists, then a transaction that fills both: what each client
/// gets, and the fourth's reply after one more push.
fn serve_after_a_transaction(server: &Server) -> Vec<Value> {
    let mut con = server.client();
    let mut waiting = Vec::new();
    for (n, (end, count)) in [
        ("LEFT", "1"),
        ("RIGHT", "10"),
        ("LEFT", "10"),
        ("RIGHT", "1"),
    ]
    .into_iter()
    .enumerate()
    {
        let args = ["BLMPOP", "0", "2", "first", "second", end, "COUNT", count];
        waiting.push(spawn(server, cmd(&args)));
        wait_blocked(&mut con, n as u64 + 1);
    }
    let _: Value = redis::pipe()
        .atomic()
        .cmd("LPUSH")
        .arg("first")
        .arg(&["a", "b", "c", "d", "e"])
        .cmd("LPUSH")
        .arg("second")
        .arg(&["1", "2", "3", "4", "5"])
        .query(&mut con)
        .unwrap();
    wait_blocked(&mut con, 1);
    let _: i64 = con.lpush("second", &["1", "2", "3"]).unwrap();
    waiting
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect()
}

#[test]
fn keys_a_transaction_fills_serve_their_clients_in_the_order_it_wrote_them() {
    let kv = serve_after_a_transaction(&Server::kv(&[]));
    let redis = serve_after_a_transaction(&Server::redis(&[]));
    assert_eq!(kv, redis);
    // As Redis: the first list serves the first two clients, then the second list the third.
    let list = |key: &str, items: &[&str]| {
        Value::Array(vec![
            bulk(key),
            Value::Array(items.iter().map(|i| bulk(i)).collect()),
        ])
    };
    assert_eq!(kv[0], list("first", &["e"]));
    assert_eq!(kv[1], list("first", &["a", "b", "c", "d"]));
    assert_eq!(kv[2], list("second", &["5", "4", "3", "2", "1"]));
    assert_eq!(kv[3], list("second", &["1"]));
}

#[test]
fn blmpop_and_blmove_are_served_with_their_own_reply_shapes() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let mpop = spawn(
        &server,
        cmd(&["BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2"]),
    );
    wait_blocked(&mut con, 1);
    let _: i64 = con.rpush("b", &["1", "2", "3"]).unwrap();
    assert_eq!(
        mpop.join().unwrap().unwrap(),
        Value::Array(vec![bulk("b"), Value::Array(vec![bulk("3"), bulk("2")])])
    );
    // A move into a list another client waits on serves that client too.
    let mover = spawn(
        &server,
        cmd(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]),
    );
    wait_blocked(&mut con, 1);
    let popper = spawn(&server, cmd(&["BLPOP", "dst", "0"]));
    wait_blocked(&mut con, 2);
    let _: i64 = con.rpush("src", "moved").unwrap();
    assert_eq!(mover.join().unwrap().unwrap(), bulk("moved"));
    assert_eq!(
        popper.join().unwrap().unwrap(),
        Value::Array(vec![bulk("dst"), bulk("moved")])
    );
    assert!(!con.exists::<_, bool>("src").unwrap());
    assert!(!con.exists::<_, bool>("dst").unwrap());
    // BRPOPLPUSH into a key of another type: the waiter gets WRONGTYPE, the element stays.
    let _: () = con.set("str", "v").unwrap();
    let wrong = spawn(&server, cmd(&["BRPOPLPUSH", "src", "str", "0"]));
    wait_blocked(&mut con, 1);
    let _: i64 = con.rpush("src", "e").unwrap();
    let err = wrong.join().unwrap().unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"));
    assert_eq!(con.lrange::<_, Vec<String>>("src", 0, -1).unwrap(), ["e"]);
}

#[test]
fn a_key_of_another_type_leaves_the_client_blocked() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let waiting = spawn(&server, cmd(&["BLPOP", "k", "0"]));
    wait_blocked(&mut con, 1);
    let _: () = con.set("k", "string").unwrap();
    let _: () = con.del("k").unwrap();
    let _: () = con.hset("k", "f", "v").unwrap();
    let _: () = con.del("k").unwrap();
    assert_eq!(blocked_clients(&mut con), 1);
    let _: i64 = con.rpush("k", "finally").unwrap();
    assert_eq!(
        waiting.join().unwrap().unwrap(),
        Value::Array(vec![bulk("k"), bulk("finally")])
    );
}

/// SORT ... STORE creates a list like a push does, under either of its lock plans (its key and
/// destination, or the whole database when a BY pattern reads other keys).
#[test]
fn sort_store_serves_the_blocked_client() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let _: i64 = con.rpush("l", &["3", "1", "2"]).unwrap();
    for (store, expected) in [
        (&["SORT", "l", "STORE", "dst"][..], "1"),
        (&["SORT", "l", "BY", "w_*", "DESC", "STORE", "dst"], "3"),
    ] {
        let _: () = con.del("dst").unwrap();
        let waiting = spawn(&server, cmd(&["BLPOP", "dst", "0"]));
        wait_blocked(&mut con, 1);
        let stored: i64 = cmd(store).query(&mut con).unwrap();
        assert_eq!(stored, 3);
        assert_eq!(
            waiting.join().unwrap().unwrap(),
            Value::Array(vec![bulk("dst"), bulk(expected)])
        );
        assert_eq!(con.llen::<_, i64>("dst").unwrap(), 2);
    }
}

#[test]
fn timeouts_answer_nil_and_zero_waits_for_ever() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let start = Instant::now();
    let reply: Value = cmd(&["BLPOP", "none", "0.2"]).query(&mut con).unwrap();
    assert_eq!(reply, Value::Nil);
    assert!(start.elapsed() >= Duration::from_millis(150));
    let reply: Value = cmd(&["BLMOVE", "none", "d", "LEFT", "LEFT", "0.05"])
        .query(&mut con)
        .unwrap();
    assert_eq!(reply, Value::Nil);
    // Timeout 0 outlives a shorter one started after it.
    let forever = spawn(&server, cmd(&["BLPOP", "k", "0"]));
    wait_blocked(&mut con, 1);
    let _: Value = cmd(&["BLPOP", "other", "0.1"]).query(&mut con).unwrap();
    assert_eq!(blocked_clients(&mut con), 1);
    let _: i64 = con.rpush("k", "v").unwrap();
    assert!(forever.join().unwrap().is_ok());
    let info: String = redis::cmd("INFO").arg("clients").query(&mut con).unwrap();
    assert!(info.contains("clients_in_timeout_table:0"), "{info}");
}

#[test]
fn client_unblock_ends_a_wait_as_a_timeout_or_an_error() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let mut blocked = server.client();
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut blocked).unwrap();
    let waiting = thread::spawn(move || {
        let first = cmd(&["BLPOP", "k", "0"]).query::<Value>(&mut blocked);
        let second = cmd(&["BLPOP", "k", "5"]).query::<Value>(&mut blocked);
        (first, second)
    });
    wait_blocked(&mut con, 1);
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap();
    assert!(line.contains(" flags=b "), "{line}");
    assert!(line.contains(" cmd=blpop "), "{line}");
    let done: i64 = cmd(&["CLIENT", "UNBLOCK", &id.to_string()])
        .query(&mut con)
        .unwrap();
    assert_eq!(done, 1);
    wait_blocked(&mut con, 1);
    let done: i64 = cmd(&["CLIENT", "UNBLOCK", &id.to_string(), "error"])
        .query(&mut con)
        .unwrap();
    assert_eq!(done, 1);
    let (first, second) = waiting.join().unwrap();
    assert_eq!(first.unwrap(), Value::Nil);
    let err = second.unwrap_err();
    assert_eq!(err.code(), Some("UNBLOCKED"));
    // Nobody is blocked now: nothing to unblock.
    let done: i64 = cmd(&["CLIENT", "UNBLOCK", &id.to_string()])
        .query(&mut con)
        .unwrap();
    assert_eq!(done, 0);
    let own: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    let done: i64 = cmd(&["CLIENT", "UNBLOCK", &own.to_string()])
        .query(&mut con)
        .unwrap();
    assert_eq!(done, 0);
}

#[test]
fn a_blocked_client_that_disconnects_leaves_nothing_behind() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let mut raw = server.raw();
    raw.write_all(&resp(&[b"BLPOP", b"k", b"0"])).unwrap();
    wait_blocked(&mut con, 1);
    drop(raw);
    wait_blocked(&mut con, 0);
    // The element stays for the next reader: no ghost took it.
    let _: i64 = con.rpush("k", "v").unwrap();
    assert_eq!(con.llen::<_, i64>("k").unwrap(), 1);
}

#[test]
fn commands_pipelined_behind_a_blocking_one_wait_for_it() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let mut raw = server.raw();
    let mut pipeline = resp(&[b"BLPOP", b"k", b"0"]);
    pipeline.extend(resp(&[b"LLEN", b"k"]));
    pipeline.extend(resp(&[b"PING"]));
    raw.write_all(&pipeline).unwrap();
    wait_blocked(&mut con, 1);
    let _: i64 = con.rpush("k", &["a", "b"]).unwrap();
    let expected = b"*2\r\n$1\r\nk\r\n$1\r\na\r\n:1\r\n+PONG\r\n";
    assert_eq!(read_at_least(&mut raw, expected.len()), expected);
}

#[test]
fn resp3_clients_get_resp3_replies_when_served() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let mut raw = server.raw();
    raw.write_all(&resp(&[b"HELLO", b"3"])).unwrap();
    read_at_least(&mut raw, 10);
    thread::sleep(Duration::from_millis(50));
    raw.write_all(&resp(&[b"BLPOP", b"k", b"0.05"])).unwrap();
    assert_eq!(read_at_least(&mut raw, 3), b"_\r\n");
    raw.write_all(&resp(&[b"BLMPOP", b"0", b"1", b"k", b"LEFT"]))
        .unwrap();
    wait_blocked(&mut con, 1);
    let _: i64 = con.rpush("k", "v").unwrap();
    let expected = b"*2\r\n$1\r\nk\r\n*1\r\n$1\r\nv\r\n";
    assert_eq!(read_at_least(&mut raw, expected.len()), expected);
}

#[test]
fn many_consumers_and_producers_deliver_every_element_exactly_once() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    const CONSUMERS: usize = 8;
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: usize = 500;
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let mut con = server.client();
            thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    // Two keys, so a consumer may be served from either.
                    let (_, element): (String, String) =
                        con.blpop(&["jobs:a", "jobs:b"], 0.0).unwrap();
                    if element == "stop" {
                        return got;
                    }
                    got.push(element);
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let mut con = server.client();
            thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    let key = if i % 2 == 0 { "jobs:a" } else { "jobs:b" };
                    let _: i64 = con.rpush(key, format!("{p}:{i}")).unwrap();
                }
            })
        })
        .collect();
    for producer in producers {
        producer.join().unwrap();
    }
    for _ in 0..CONSUMERS {
        let _: i64 = con.rpush("jobs:a", "stop").unwrap();
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for consumer in consumers {
        for element in consumer.join().unwrap() {
            total += 1;
            assert!(seen.insert(element.clone()), "{element} delivered twice");
        }
    }
    assert_eq!(total, PRODUCERS * PER_PRODUCER);
    assert_eq!(blocked_clients(&mut con), 0);
    assert!(!con.exists::<_, bool>("jobs:a").unwrap());
}

#[test]
fn shutdown_ends_blocked_clients() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let waiting = spawn(&server, cmd(&["BLPOP", "k", "0"]));
    wait_blocked(&mut con, 1);
    let _ = redis::cmd("SHUTDOWN")
        .arg("NOSAVE")
        .query::<Value>(&mut con);
    assert!(waiting.join().unwrap().is_err());
}

#[test]
fn sorted_set_pops_are_served_by_zadd() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let min = spawn(&server, cmd(&["BZPOPMIN", "z1", "z2", "0"]));
    wait_blocked(&mut con, 1);
    let max = spawn(&server, cmd(&["BZPOPMAX", "z2", "0"]));
    wait_blocked(&mut con, 2);
    let mpop = spawn(
        &server,
        cmd(&["BZMPOP", "0", "1", "z2", "MIN", "COUNT", "5"]),
    );
    wait_blocked(&mut con, 3);
    // A list on the key does not serve them: they wait for a sorted set.
    let _: i64 = con.rpush("z2", "not-a-zset").unwrap();
    let _: () = con.del("z2").unwrap();
    assert_eq!(blocked_clients(&mut con), 3);
    let _: i64 = redis::cmd("ZADD")
        .arg(&["z2", "1", "a", "2", "b", "3", "c", "4", "d"])
        .query(&mut con)
        .unwrap();
    assert_eq!(
        min.join().unwrap().unwrap(),
        Value::Array(vec![bulk("z2"), bulk("a"), bulk("1")])
    );
    assert_eq!(
        max.join().unwrap().unwrap(),
        Value::Array(vec![bulk("z2"), bulk("d"), bulk("4")])
    );
    assert_eq!(
        mpop.join().unwrap().unwrap(),
        Value::Array(vec![
            bulk("z2"),
            Value::Array(vec![
                Value::Array(vec![bulk("b"), bulk("2")]),
                Value::Array(vec![bulk("c"), bulk("3")]),
            ])
        ])
    );
    assert!(!con.exists::<_, bool>("z2").unwrap());
    let reply: Value = cmd(&["BZPOPMIN", "z2", "0.05"]).query(&mut con).unwrap();
    assert_eq!(reply, Value::Nil);
}

#[test]
fn zunionstore_into_a_watched_key_serves_its_waiter() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let waiting = spawn(&server, cmd(&["BZPOPMAX", "dest", "0"]));
    wait_blocked(&mut con, 1);
    let _: i64 = redis::cmd("ZADD")
        .arg(&["src", "5", "m"])
        .query(&mut con)
        .unwrap();
    let _: i64 = redis::cmd("ZUNIONSTORE")
        .arg(&["dest", "1", "src"])
        .query(&mut con)
        .unwrap();
    assert_eq!(
        waiting.join().unwrap().unwrap(),
        Value::Array(vec![bulk("dest"), bulk("m"), bulk("5")])
    );
}

/// A client blocked on a key that a transaction fills and gives a 1 ms TTL, while the rest of
/// the transaction (`slow`: DEBUG POPULATE or SLEEP, under the transaction's own locks) takes
/// longer than that: what it gets, and what a later push gives it.
fn served_after_a_slow_transaction(server: &Server, slow: &[&str]) -> (Value, bool, Value) {
    let mut con = server.client();
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg("0")
        .query(&mut con)
        .unwrap();
    let waiting = spawn(server, cmd(&["BRPOP", "k", "0"]));
    wait_blocked(&mut con, 1);
    let exec: Value = redis::pipe()
        .atomic()
        .cmd("RPUSH")
        .arg("k")
        .arg("hello")
        .cmd("PEXPIRE")
        .arg("k")
        .arg(1)
        .cmd("DEBUG")
        .arg(slow)
        .query(&mut con)
        .unwrap();
    // Served as of the end of the transaction, when the key's time has come: nobody.
    std::thread::sleep(Duration::from_millis(200));
    let still_blocked = blocked_clients(&mut con) == 1;
    let _: i64 = con.rpush("k", "later").unwrap();
    let got = waiting.join().unwrap().unwrap();
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg("1")
        .query(&mut con)
        .unwrap();
    (exec, still_blocked, got)
}

#[test]
fn clients_are_served_after_exec_as_of_its_end() {
    let debug = ["--enable-debug-command", "yes"];
    // A transaction made slow by DEBUG POPULATE, then by DEBUG SLEEP (Redis's list.tcl case).
    for slow in [["POPULATE", "50000"], ["SLEEP", "0.2"]] {
        let kv = served_after_a_slow_transaction(&Server::kv(&debug), &slow);
        let redis = served_after_a_slow_transaction(&Server::redis(&debug), &slow);
        assert_eq!(kv, redis, "{slow:?}");
        assert!(kv.1, "{slow:?}: served a key whose time had come");
        assert_eq!(kv.2, Value::Array(vec![bulk("k"), bulk("later")]));
    }
}
