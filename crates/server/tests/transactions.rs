//! Transactions over TCP with the `redis` crate: MULTI/EXEC replies, EXEC's atomicity as
//! other clients on other threads see it, WATCH under contention and every way a watched key
//! can change, blocking commands inside MULTI, and the commands that read keys from inside
//! EXEC without deadlocking on its locks.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use redis::{Commands, Value};
use support::{exchange, resp, Server};

/// Runs `MULTI`, the commands of `pipe`, `EXEC` on `con`; the EXEC reply (`Nil` when a watch
/// failed).
fn exec(con: &mut redis::Connection, pipe: &redis::Pipeline) -> Value {
    let mut atomic = pipe.clone();
    atomic.atomic();
    atomic.query(con).unwrap()
}

#[test]
fn exec_runs_the_queue_and_reports_each_reply() {
    let server = Server::kv(&[]);
    let mut stream = server.raw();
    let requests: Vec<u8> = [
        &[&b"MULTI"[..]][..],
        &[b"SET", b"a", b"1"],
        &[b"INCR", b"a"],
        &[b"LPUSH", b"a", b"x"],
        &[b"GET", b"a"],
        &[b"EXEC"],
    ]
    .iter()
    .flat_map(|args| resp(args))
    .collect();
    // A runtime error is one element of the reply; the commands after it still ran.
    let expected = "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n\
        *4\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\n2\r\n";
    let reply = exchange(&mut stream, &requests, expected.len());
    assert_eq!(String::from_utf8_lossy(&reply), expected);
}

#[test]
fn a_refused_command_discards_the_transaction() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let _: () = redis::cmd("MULTI").query(&mut con).unwrap();
    let queued: String = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    assert_eq!(queued, "QUEUED");
    let err = redis::cmd("GET")
        .arg("k")
        .arg("extra")
        .query::<Value>(&mut con);
    assert!(err
        .unwrap_err()
        .to_string()
        .contains("wrong number of arguments"));
    let err = redis::cmd("EXEC").query::<Value>(&mut con).unwrap_err();
    assert_eq!(err.code(), Some("EXECABORT"));
    let k: Option<String> = con.get("k").unwrap();
    assert_eq!(k, None, "nothing of the discarded transaction ran");
}

/// Writers move units between two keys inside transactions while readers check, with MGET,
/// that the total never changes: no reader ever sees half a transaction.
#[test]
fn readers_never_see_half_a_transaction() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let _: () = con.set("{acct}a", 1_000_000).unwrap();
    let _: () = con.set("other-account-b", 0).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let mut con = server.client();
            thread::spawn(move || {
                let mut pipe = redis::pipe();
                pipe.cmd("DECRBY").arg("{acct}a").arg(3).ignore();
                pipe.cmd("INCRBY").arg("other-account-b").arg(3).ignore();
                for _ in 0..2000 {
                    exec(&mut con, &pipe);
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut con = server.client();
            let stop = stop.clone();
            thread::spawn(move || {
                let mut reads = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (a, b): (i64, i64) = redis::cmd("MGET")
                        .arg("{acct}a")
                        .arg("other-account-b")
                        .query(&mut con)
                        .unwrap();
                    assert_eq!(a + b, 1_000_000, "saw a transaction half done");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.join().unwrap() > 0);
    }
    let b: i64 = con.get("other-account-b").unwrap();
    assert_eq!(b, 4 * 2000 * 3);
}

/// The classic optimistic-locking loop (WATCH, GET, MULTI, SET, EXEC, retry on failure) from
/// many clients at once loses no increment.
#[test]
fn watch_makes_check_and_set_safe_under_contention() {
    let server = Server::kv(&[]);
    const CLIENTS: usize = 6;
    const EACH: usize = 200;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let mut con = server.client();
            thread::spawn(move || {
                let mut retries = 0;
                for _ in 0..EACH {
                    loop {
                        let _: () = redis::cmd("WATCH").arg("counter").query(&mut con).unwrap();
                        let value: Option<i64> = con.get("counter").unwrap();
                        let mut pipe = redis::pipe();
                        pipe.cmd("SET").arg("counter").arg(value.unwrap_or(0) + 1);
                        if exec(&mut con, &pipe) != Value::Nil {
                            break;
                        }
                        retries += 1;
                    }
                }
                retries
            })
        })
        .collect();
    let retries: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let mut con = server.client();
    let counter: usize = con.get("counter").unwrap();
    assert_eq!(
        counter,
        CLIENTS * EACH,
        "an increment was lost ({retries} retries)"
    );
}

/// WATCHes `key` on `con`, lets `change` run on another connection, then runs a transaction:
/// whether EXEC failed.
fn watch_fails_after(
    server: &Server,
    key: &str,
    change: impl FnOnce(&mut redis::Connection),
) -> bool {
    let mut con = server.client();
    let _: () = redis::cmd("WATCH").arg(key).query(&mut con).unwrap();
    change(&mut server.client());
    let mut pipe = redis::pipe();
    pipe.cmd("PING");
    exec(&mut con, &pipe) == Value::Nil
}

/// Runs a command written as space-separated words; an error reply is not a failure (a change
/// that is refused changes nothing, which is what some cases check).
fn run(con: &mut redis::Connection, line: &str) {
    let mut cmd = redis::Cmd::new();
    for word in line.split(' ') {
        cmd.arg(word);
    }
    let _ = cmd.query::<Value>(con);
}

/// For each `(set-up, watched key, change from another client)` of `cases`, on an emptied
/// server: whether the change fails a transaction watching the key must be `fails`.
fn check_watch_cases(server: &Server, cases: &[(&str, &str, &str)], fails: bool) {
    let mut con = server.client();
    for (setup, key, change) in cases {
        run(&mut con, "FLUSHALL");
        if !setup.is_empty() {
            run(&mut con, setup);
        }
        let failed = watch_fails_after(server, key, |other| run(other, change));
        assert_eq!(
            failed, fails,
            "WATCH {key}, then `{change}` after `{setup}`: EXEC failed: {failed}"
        );
    }
}

#[test]
fn every_kind_of_change_fails_a_watching_transaction() {
    let server = Server::kv(&[]);
    let changes: &[(&str, &str, &str)] = &[
        ("SET k v", "k", "SET k w"),
        ("", "k", "SET k v"),
        ("SET k v", "k", "DEL k"),
        ("RPUSH l a", "l", "LPOP l"),
        ("SADD s a", "s", "SREM s a"),
        ("HSET h f v", "h", "HDEL h f"),
        ("ZADD z 1 a", "z", "ZINCRBY z 1 a"),
        ("SET k v", "k", "EXPIRE k 100"),
        ("SET k v", "k", "RENAME k k2"),
        ("SET k v", "k2", "RENAME k k2"),
        ("SET k v", "k", "FLUSHDB"),
        ("SET k v", "k", "FLUSHALL"),
        ("SET k v", "k", "SWAPDB 0 1"),
        ("SET k v", "k", "MOVE k 3"),
        ("SET k v", "k", "SET k v"),
    ];
    check_watch_cases(&server, changes, true);
    // What does not change the key leaves the transaction alone.
    let no_changes: &[(&str, &str, &str)] = &[
        ("SET k v", "k", "SET k w NX"),
        ("SET k v", "k", "GET k"),
        ("SET k v", "k", "SET other v"),
        ("", "k", "DEL k"),
        ("", "k", "FLUSHALL"),
        ("SADD s a", "s", "SADD s a"),
        ("SET k v", "k", "SET k v XX GET NX"),
    ];
    check_watch_cases(&server, no_changes, false);
}

#[test]
fn a_watched_key_that_expires_fails_the_transaction() {
    let server = Server::kv(&["--enable-debug-command", "yes"]);
    let mut con = server.client();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("PX")
        .arg(50)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("WATCH").arg("k").query(&mut con).unwrap();
    thread::sleep(Duration::from_millis(120));
    let mut pipe = redis::pipe();
    pipe.cmd("PING");
    assert_eq!(exec(&mut con, &pipe), Value::Nil);

    // A key already expired when watched changes nothing by being reclaimed.
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("PX")
        .arg(1)
        .query(&mut con)
        .unwrap();
    thread::sleep(Duration::from_millis(20));
    let _: () = redis::cmd("WATCH").arg("k").query(&mut con).unwrap();
    let gone: Option<String> = server.client().get("k").unwrap();
    assert_eq!(gone, None);
    assert_ne!(exec(&mut con, &pipe), Value::Nil);
}

#[test]
fn blocking_commands_inside_multi_do_not_block() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let mut pipe = redis::pipe();
    pipe.cmd("BLPOP").arg("empty").arg(0);
    pipe.cmd("BZPOPMIN").arg("empty").arg(0);
    pipe.cmd("BLMOVE")
        .arg("empty")
        .arg("dst")
        .arg("LEFT")
        .arg("RIGHT")
        .arg(0);
    let reply = exec(&mut con, &pipe);
    assert_eq!(
        reply,
        Value::Array(vec![Value::Nil, Value::Nil, Value::Nil])
    );
}

/// A client blocked on a list is served after the transaction that fills it, as in Redis:
/// the transaction's own commands see the element still there.
#[test]
fn blocked_clients_are_served_after_the_whole_transaction() {
    let server = Server::kv(&[]);
    let mut waiter = server.client();
    let blocked = thread::spawn(move || {
        let got: (String, String) = redis::cmd("BLPOP")
            .arg("q")
            .arg(5)
            .query(&mut waiter)
            .unwrap();
        got
    });
    let mut con = server.client();
    // Wait until the client is blocked.
    for _ in 0..200 {
        let info: redis::InfoDict = redis::cmd("INFO").arg("clients").query(&mut con).unwrap();
        if info.get::<i64>("blocked_clients") == Some(1) {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let mut pipe = redis::pipe();
    pipe.cmd("RPUSH").arg("q").arg("x");
    pipe.cmd("LLEN").arg("q");
    let reply = exec(&mut con, &pipe);
    assert_eq!(reply, Value::Array(vec![Value::Int(1), Value::Int(1)]));
    assert_eq!(blocked.join().unwrap(), ("q".to_string(), "x".to_string()));
    let len: i64 = con.llen("q").unwrap();
    assert_eq!(len, 0);
}

/// INFO and DEBUG OBJECT read the keyspace; inside EXEC they must use the transaction's locks
/// instead of waiting on them.
#[test]
fn key_reading_server_commands_run_inside_exec() {
    let server = Server::kv(&["--enable-debug-command", "yes"]);
    let mut con = server.client();
    let mut pipe = redis::pipe();
    pipe.cmd("SET").arg("k").arg("v");
    pipe.cmd("INFO").arg("keyspace");
    pipe.cmd("DEBUG").arg("OBJECT").arg("k");
    pipe.cmd("SELECT").arg(1);
    pipe.cmd("SET").arg("k").arg("v1");
    pipe.cmd("DBSIZE");
    let Value::Array(replies) = exec(&mut con, &pipe) else {
        panic!("EXEC did not answer an array");
    };
    let info: String = redis::from_redis_value(&replies[1]).unwrap();
    assert!(info.contains("db0:keys=1"), "{info}");
    let object: String = redis::from_redis_value(&replies[2]).unwrap();
    assert!(object.contains("encoding:embstr"), "{object}");
    assert_eq!(replies[5], Value::Int(1));
}

#[test]
fn restore_fails_a_watching_transaction() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let _: () = con.set("k", "v").unwrap();
    let payload: Vec<u8> = redis::cmd("DUMP").arg("k").query(&mut con).unwrap();
    let failed = watch_fails_after(&server, "k", |other| {
        let _: () = redis::cmd("RESTORE")
            .arg("k")
            .arg(0)
            .arg(&payload[..])
            .arg("REPLACE")
            .query(other)
            .unwrap();
    });
    assert!(failed, "WATCH did not see RESTORE");
}

/// The replies of a client that queues a transaction on a server that becomes a stale replica
/// (`replica-serve-stale-data no`, a master that cannot be reached) before its EXEC, and
/// after it is a master again (Redis's multi.tcl 'exec with read commands and stale replica
/// state change').
fn exec_on_a_replica_gone_stale(server: &Server) -> Vec<Value> {
    let mut con = server.client();
    let mut other = server.client();
    support::config_set(&mut con, "replica-serve-stale-data", "no");
    let _: () = con.set("xx", 1).unwrap();
    let mut replies = Vec::new();
    let mut run = |con: &mut redis::Connection, args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        cmd.arg(&args[1..]);
        replies.push(
            cmd.query::<Value>(con)
                .unwrap_or_else(|e| Value::SimpleString(format!("error: {e}"))),
        );
    };
    for queued in ["GET", "PING"] {
        run(&mut con, &["MULTI"]);
        run(
            &mut con,
            if queued == "GET" {
                &["GET", "xx"]
            } else {
                &["PING"]
            },
        );
        run(&mut other, &["REPLICAOF", "localhsot", "0"]);
        run(&mut con, &["EXEC"]);
        run(&mut other, &["REPLICAOF", "NO", "ONE"]);
    }
    // A transaction queued while stale runs once the server is a master again.
    run(&mut other, &["REPLICAOF", "localhsot", "0"]);
    run(&mut con, &["MULTI"]);
    run(&mut other, &["REPLICAOF", "NO", "ONE"]);
    run(&mut con, &["GET", "xx"]);
    run(&mut con, &["EXEC"]);
    replies
}

#[test]
fn exec_is_refused_on_a_replica_that_went_stale_after_queuing() {
    let kv = exec_on_a_replica_gone_stale(&Server::kv(&[]));
    let redis = exec_on_a_replica_gone_stale(&Server::redis(&[]));
    assert_eq!(kv, redis);
    assert!(
        matches!(&kv[3], Value::SimpleString(e) if e.contains("Transaction discarded") && e.contains("MASTERDOWN")),
        "{kv:?}"
    );
}
