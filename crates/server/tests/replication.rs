//! Replication between kv-server processes on loopback: full and partial synchronisation,
//! the stream (transactions, databases, expiry), chained replicas, promotion, WAIT, and the
//! replica's read-only rule. Replicas are compared with their master by DEBUG DIGEST.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Value;
use support::{Proxy, Server, SAVE_LIMIT};

/// A kv-server with DEBUG allowed (for DIGEST and SET-ACTIVE-EXPIRE).
fn kv() -> Server {
    Server::kv(&["--enable-debug-command", "yes"])
}

fn info_field(con: &mut redis::Connection, section: &str, name: &str) -> Option<String> {
    let text: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    let prefix = format!("{name}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(str::to_string)
}

fn digest(con: &mut redis::Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(con).unwrap()
}

/// Polls `done` until it holds, for up to 20 s.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `replica` is linked to its master and has applied all of `master`'s stream.
fn wait_synced(master: &mut redis::Connection, replica: &mut redis::Connection) {
    wait_until("the replica to catch up", || {
        let up = info_field(replica, "replication", "master_link_status").as_deref() == Some("up");
        let ours = info_field(master, "replication", "master_repl_offset");
        up && ours.is_some() && ours == info_field(replica, "replication", "slave_repl_offset")
    });
}

fn replicaof(con: &mut redis::Connection, port: u16) {
    let ok: String = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(port)
        .query(con)
        .unwrap();
    assert_eq!(ok, "OK");
}

/// A master started with `master_args`, and a replica following it through a proxy (to cut,
/// stall or refuse the link), synced.
fn synced_through_proxy(master_args: &[&str]) -> (Server, Server, Proxy) {
    let master = Server::kv(master_args);
    let replica = kv();
    let proxy = Proxy::start(master.port);
    replicaof(&mut replica.client(), proxy.port);
    wait_synced(&mut master.client(), &mut replica.client());
    (master, replica, proxy)
}

fn cmd(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command
        .query(con)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Fills `con`'s server with some of every type, in two databases, some keys with TTLs.
fn fill(con: &mut redis::Connection, tag: &str) {
    for i in 0..200 {
        cmd(con, &["SET", &format!("{tag}:s:{i}"), &format!("v{i}")]);
    }
    cmd(con, &["RPUSH", &format!("{tag}:list"), "a", "b", "c"]);
    cmd(con, &["HSET", &format!("{tag}:hash"), "f", "1", "g", "2"]);
    cmd(con, &["SADD", &format!("{tag}:set"), "x", "y"]);
    cmd(
        con,
        &["ZADD", &format!("{tag}:zset"), "1", "one", "2.5", "two"],
    );
    cmd(con, &["SET", &format!("{tag}:ttl"), "v", "EX", "1000"]);
    cmd(con, &["SELECT", "5"]);
    cmd(con, &["SET", &format!("{tag}:in5"), "five"]);
    cmd(con, &["SELECT", "0"]);
}

#[test]
fn full_sync_then_the_stream_keep_the_replica_equal() {
    let master = kv();
    let replica = kv();
    let (mut m, mut r) = (master.client(), replica.client());
    fill(&mut m, "before");
    replicaof(&mut r, master.port);
    wait_synced(&mut m, &mut r);
    assert_eq!(digest(&mut r), digest(&mut m));
    let ttl: i64 = redis::cmd("TTL").arg("before:ttl").query(&mut r).unwrap();
    assert!((990..=1000).contains(&ttl), "{ttl}");

    // The stream: plain writes, a transaction, other databases, expiry, deletions.
    fill(&mut m, "after");
    redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("counter")
        .cmd("LPUSH")
        .arg("after:list")
        .arg("z")
        .cmd("SPOP")
        .arg("after:set")
        .query::<Value>(&mut m)
        .unwrap();
    cmd(&mut m, &["EXPIRE", "before:s:1", "500"]);
    cmd(&mut m, &["DEL", "before:s:2"]);
    cmd(&mut m, &["INCRBYFLOAT", "float", "1.5"]);
    wait_synced(&mut m, &mut r);
    assert_eq!(digest(&mut r), digest(&mut m));

    // A replica refuses writes from its clients, and says who it follows.
    let refused = redis::cmd("SET").arg("k").arg("v").query::<()>(&mut r);
    let error = refused.unwrap_err();
    assert_eq!(error.code(), Some("READONLY"), "{error}");
    let role = cmd(&mut r, &["ROLE"]);
    let Value::Array(items) = role else {
        panic!("{role:?}")
    };
    assert_eq!(items[0], Value::BulkString(b"slave".to_vec()));
    assert_eq!(items[2], Value::Int(i64::from(master.port)));
    assert_eq!(items[3], Value::BulkString(b"connected".to_vec()));
    let role = cmd(&mut m, &["ROLE"]);
    let Value::Array(items) = role else {
        panic!("{role:?}")
    };
    assert_eq!(items[0], Value::BulkString(b"master".to_vec()));
    assert_eq!(
        info_field(&mut m, "replication", "connected_slaves").as_deref(),
        Some("1")
    );
    assert_eq!(
        info_field(&mut m, "stats", "sync_full").as_deref(),
        Some("1")
    );

    // Promoted, it takes writes; its history's secondary ID is the old master's.
    let old_id = info_field(&mut m, "replication", "master_replid").unwrap();
    assert_eq!(cmd(&mut r, &["REPLICAOF", "NO", "ONE"]), Value::Okay);
    cmd(&mut r, &["SET", "k", "v"]);
    assert_eq!(
        info_field(&mut r, "replication", "role").as_deref(),
        Some("master")
    );
    assert_eq!(
        info_field(&mut r, "replication", "master_replid2"),
        Some(old_id)
    );
}

#[test]
fn a_cut_link_resumes_partially() {
    let master = kv();
    let replica = kv();
    let proxy = Proxy::start(master.port);
    let (mut m, mut r) = (master.client(), replica.client());
    fill(&mut m, "one");
    replicaof(&mut r, proxy.port);
    wait_synced(&mut m, &mut r);
    for round in 0..3 {
        proxy.cut();
        // Writes while the link is down reach the replica through the backlog.
        for i in 0..50 {
            cmd(&mut m, &["SET", &format!("round{round}:{i}"), "x"]);
        }
        wait_synced(&mut m, &mut r);
        assert_eq!(digest(&mut r), digest(&mut m));
    }
    assert_eq!(
        info_field(&mut m, "stats", "sync_full").as_deref(),
        Some("1")
    );
    let partial: u64 = info_field(&mut m, "stats", "sync_partial_ok")
        .unwrap()
        .parse()
        .unwrap();
    assert!(partial >= 3, "{partial} partial syncs");
}

#[test]
fn a_replica_too_far_behind_resyncs_fully() {
    let (master, replica, proxy) = synced_through_proxy(&[
        "--enable-debug-command",
        "yes",
        "--repl-backlog-size",
        "16kb",
    ]);
    let (mut m, mut r) = (master.client(), replica.client());
    proxy.refuse(true);
    proxy.cut();
    // Far more than the backlog holds.
    for i in 0..500 {
        cmd(&mut m, &["SET", &format!("k{i}"), &"v".repeat(100)]);
    }
    proxy.refuse(false);
    wait_synced(&mut m, &mut r);
    assert_eq!(digest(&mut r), digest(&mut m));
    assert_eq!(
        info_field(&mut m, "stats", "sync_full").as_deref(),
        Some("2")
    );
}

#[test]
fn a_full_sync_under_writes_past_the_backlog_completes_once() {
    // The stream written while the snapshot is sent is far larger than the backlog: the link
    // keeps it (as a Redis replica's output buffer does) instead of finding it gone after the
    // snapshot and syncing fully again, forever while the writes go on.
    let master = Server::kv(&[
        "--enable-debug-command",
        "yes",
        "--repl-backlog-size",
        "16kb",
    ]);
    let replica = kv();
    let (mut m, mut r) = (master.client(), replica.client());
    cmd(&mut m, &["DEBUG", "POPULATE", "300000"]);
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let writing = Arc::clone(&writing);
        let mut w = master.client();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while writing.load(Ordering::SeqCst) {
                let _: () = redis::cmd("SET")
                    .arg(format!("w{}", n % 5000))
                    .arg("x".repeat(200))
                    .query(&mut w)
                    .unwrap();
                n += 1;
            }
            n
        })
    };
    replicaof(&mut r, master.port);
    wait_until("the replica's link is up", || {
        info_field(&mut r, "replication", "master_link_status").as_deref() == Some("up")
    });
    // Still up a while later, under the same writes: it follows the stream.
    std::thread::sleep(Duration::from_millis(300));
    writing.store(false, Ordering::SeqCst);
    let writes = writer.join().unwrap();
    wait_synced(&mut m, &mut r);
    assert_eq!(digest(&mut r), digest(&mut m));
    assert_eq!(
        info_field(&mut m, "stats", "sync_full").as_deref(),
        Some("1"),
        "{writes} writes during the sync"
    );
}

#[test]
fn a_replica_past_its_output_buffer_limit_is_cut_and_resyncs() {
    let (master, replica, proxy) = synced_through_proxy(&[
        "--enable-debug-command",
        "yes",
        // Large enough to hold everything: only the output limit cuts the link.
        "--repl-backlog-size",
        "64mb",
    ]);
    let (mut m, mut r) = (master.client(), replica.client());
    cmd(
        &mut m,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "replica 64kb 0 0",
        ],
    );
    assert_eq!(
        cmd(&mut m, &["CONFIG", "GET", "client-output-buffer-limit"]),
        Value::Array(vec![
            Value::BulkString(b"client-output-buffer-limit".to_vec()),
            Value::BulkString(b"normal 0 0 0 slave 65536 0 0 pubsub 33554432 8388608 60".to_vec()),
        ])
    );
    // The replica stops reading: what the master cannot send piles up, past what the
    // transport holds (the link's queue of 16 messages, HTTP/2 and TCP buffers: a few MiB),
    // up to the limit.
    proxy.stall(true);
    for batch in 0..100 {
        let mut pipe = redis::pipe();
        for i in 0..100 {
            pipe.cmd("SET")
                .arg(format!("k{i}"))
                .arg(format!("{batch}").repeat(1000))
                .ignore();
        }
        let _: () = pipe.query(&mut m).unwrap();
    }
    wait_until("the master cut the stalled replica", || {
        info_field(&mut m, "replication", "connected_slaves").as_deref() == Some("0")
    });
    proxy.stall(false);
    wait_synced(&mut m, &mut r);
    assert_eq!(digest(&mut r), digest(&mut m));
    // The backlog still held its offset: it continued partially.
    assert_eq!(
        info_field(&mut m, "stats", "sync_full").as_deref(),
        Some("1")
    );
    assert_eq!(
        info_field(&mut m, "stats", "sync_partial_ok").as_deref(),
        Some("1")
    );
}

#[test]
fn chained_replicas_follow_and_continue_after_a_promotion() {
    let a = kv();
    let b = kv();
    let c = kv();
    let (mut ca, mut cb, mut cc) = (a.client(), b.client(), c.client());
    fill(&mut ca, "a");
    replicaof(&mut cb, a.port);
    wait_synced(&mut ca, &mut cb);
    replicaof(&mut cc, b.port);
    wait_synced(&mut cb, &mut cc);
    cmd(&mut ca, &["SET", "through", "b"]);
    wait_synced(&mut ca, &mut cb);
    wait_synced(&mut cb, &mut cc);
    assert_eq!(digest(&mut cc), digest(&mut ca));
    // The offsets are the master's, byte for byte.
    assert_eq!(
        info_field(&mut cc, "replication", "slave_repl_offset"),
        info_field(&mut ca, "replication", "master_repl_offset")
    );

    // B is promoted: C continues from B without a full sync (PSYNC2's secondary ID).
    let full_before = info_field(&mut cb, "stats", "sync_full");
    assert_eq!(cmd(&mut cb, &["REPLICAOF", "NO", "ONE"]), Value::Okay);
    cmd(&mut cb, &["SET", "after", "promotion"]);
    wait_synced(&mut cb, &mut cc);
    assert_eq!(digest(&mut cc), digest(&mut cb));
    assert_eq!(info_field(&mut cb, "stats", "sync_full"), full_before);
    assert!(
        info_field(&mut cb, "stats", "sync_partial_ok").unwrap() != "0",
        "C continued partially"
    );
}

#[test]
fn wait_counts_replicas_that_acknowledged() {
    let master = kv();
    let (r1, r2) = (kv(), kv());
    let mut m = master.client();
    for replica in [&r1, &r2] {
        let mut con = replica.client();
        replicaof(&mut con, master.port);
        wait_synced(&mut m, &mut con);
    }
    cmd(&mut m, &["SET", "k", "v"]);
    let acked: i64 = redis::cmd("WAIT").arg(2).arg(5000).query(&mut m).unwrap();
    assert_eq!(acked, 2);
    let started = Instant::now();
    let acked: i64 = redis::cmd("WAIT").arg(3).arg(300).query(&mut m).unwrap();
    assert_eq!(acked, 2);
    assert!(started.elapsed() >= Duration::from_millis(290));
    // A replica refuses WAIT, as Redis does.
    let error = redis::cmd("WAIT")
        .arg(1)
        .arg(0)
        .query::<i64>(&mut r1.client())
        .unwrap_err();
    assert!(error
        .to_string()
        .contains("WAIT cannot be used with replica instances"));
}

/// INFO counts the replication traffic on both ends: the snapshot and the stream the master
/// sent (`total_net_repl_output_bytes`) are what the replica received
/// (`total_net_repl_input_bytes`).
#[test]
fn info_counts_the_bytes_a_master_sends_and_its_replica_receives() {
    let (master, replica) = (kv(), kv());
    let (mut m, mut r) = (master.client(), replica.client());
    let count = |con: &mut redis::Connection, name: &str| -> u64 {
        info_field(con, "stats", name).unwrap().parse().unwrap()
    };
    cmd(&mut m, &["SET", "before", "the sync"]);
    replicaof(&mut r, master.port);
    wait_synced(&mut m, &mut r);
    let after_sync = count(&mut m, "total_net_repl_output_bytes");
    assert!(after_sync > 0, "the snapshot is counted");
    for i in 0..100 {
        cmd(&mut m, &["SET", &format!("key:{i}"), "value"]);
    }
    wait_synced(&mut m, &mut r);
    let sent = count(&mut m, "total_net_repl_output_bytes");
    assert!(
        sent > after_sync + 100 * 20,
        "the stream is counted: {sent}"
    );
    assert_eq!(count(&mut r, "total_net_repl_input_bytes"), sent);
    assert_eq!(count(&mut m, "total_net_repl_input_bytes"), 0);
}

/// A replica's old data, emptied at a full sync, is freed on the background thread with
/// `replica-lazy-flush yes` (INFO counts one object per key, as Redis counts an emptied
/// database), inline without it.
#[test]
fn replica_lazy_flush_frees_the_old_dataset_in_the_background() {
    let master = kv();
    let (lazy, inline) = (
        Server::kv(&["--replica-lazy-flush", "yes"]),
        Server::kv(&[]),
    );
    let mut m = master.client();
    cmd(&mut m, &["SET", "on-master", "v"]);
    for replica in [&lazy, &inline] {
        let mut r = replica.client();
        cmd(&mut r, &["MSET", "a", "1", "b", "2", "c", "3"]);
        replicaof(&mut r, master.port);
        wait_synced(&mut m, &mut r);
        assert_eq!(cmd(&mut r, &["DBSIZE"]), Value::Int(1));
    }
    let freed = |server: &Server| {
        let mut con = server.client();
        wait_until("the background frees", || {
            info_field(&mut con, "memory", "lazyfree_pending_objects").as_deref() == Some("0")
        });
        info_field(&mut con, "memory", "lazyfreed_objects")
    };
    assert_eq!(freed(&lazy).as_deref(), Some("3"));
    assert_eq!(freed(&inline).as_deref(), Some("0"));
}

#[test]
fn a_replica_hides_expired_keys_until_the_master_deletes_them() {
    let master = kv();
    let replica = kv();
    let (mut m, mut r) = (master.client(), replica.client());
    cmd(&mut m, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    cmd(&mut m, &["SET", "short", "v", "PX", "300"]);
    replicaof(&mut r, master.port);
    wait_synced(&mut m, &mut r);
    std::thread::sleep(Duration::from_millis(400));
    // Past its TTL: invisible on the replica, but still there until the master says so.
    assert_eq!(cmd(&mut r, &["GET", "short"]), Value::Nil);
    assert_eq!(cmd(&mut r, &["DBSIZE"]), Value::Int(1));
    // The master's read expires it and streams the DEL.
    assert_eq!(cmd(&mut m, &["GET", "short"]), Value::Nil);
    wait_synced(&mut m, &mut r);
    assert_eq!(cmd(&mut r, &["DBSIZE"]), Value::Int(0));
}

#[test]
fn a_replica_authenticates_with_masterauth() {
    let master = Server::kv(&["--enable-debug-command", "yes", "--requirepass", "secret"]);
    let good = Server::kv(&["--enable-debug-command", "yes", "--masterauth", "secret"]);
    let bad = Server::kv(&["--masterauth", "wrong"]);
    let mut m = redis::Client::open(format!("redis://:secret@127.0.0.1:{}/", master.port))
        .unwrap()
        .get_connection()
        .unwrap();
    cmd(&mut m, &["SET", "k", "v"]);
    let mut g = good.client();
    replicaof(&mut g, master.port);
    wait_synced(&mut m, &mut g);
    assert_eq!(cmd(&mut g, &["GET", "k"]), Value::BulkString(b"v".to_vec()));
    let mut b = bad.client();
    replicaof(&mut b, master.port);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        info_field(&mut b, "replication", "master_link_status").as_deref(),
        Some("down")
    );
    assert_eq!(cmd(&mut b, &["GET", "k"]), Value::Nil);
}

#[test]
fn min_replicas_to_write_refuses_writes_without_enough_good_replicas() {
    let master = kv();
    let replica = kv();
    let mut m = master.client();
    cmd(&mut m, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
    let error = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<()>(&mut m)
        .unwrap_err();
    assert_eq!(error.code(), Some("NOREPLICAS"), "{error}");
    // Reads still pass.
    assert_eq!(cmd(&mut m, &["GET", "k"]), Value::Nil);
    let mut r = replica.client();
    replicaof(&mut r, master.port);
    wait_until("a good replica", || {
        info_field(&mut m, "replication", "min_slaves_good_slaves").as_deref() == Some("1")
    });
    assert_eq!(cmd(&mut m, &["SET", "k", "v"]), Value::Okay);
    wait_synced(&mut m, &mut r);
    assert_eq!(cmd(&mut r, &["GET", "k"]), Value::BulkString(b"v".to_vec()));
}

/// A replica speaking another protocol version is refused with a clear error, and the master
/// keeps serving.
#[test]
fn a_protocol_version_mismatch_is_refused_clearly() {
    use kv_replication::proto::master_message::Kind;
    use kv_replication::proto::replica_message::Kind as Out;
    use kv_replication::proto::replication_client::ReplicationClient;
    use kv_replication::proto::{Hello, ReplicaMessage};

    let master = kv();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let refused = runtime.block_on(async {
        let channel =
            tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", master.port))
                .unwrap()
                .connect()
                .await
                .unwrap();
        let mut client = ReplicationClient::new(channel);
        let hello = ReplicaMessage {
            kind: Some(Out::Hello(Hello {
                protocol_version: kv_replication::PROTOCOL_VERSION + 1,
                offset: -1,
                ..Hello::default()
            })),
        };
        let outgoing = tokio_stream::iter(vec![hello]);
        let mut inbound = client.link(outgoing).await.unwrap().into_inner();
        inbound.message().await.unwrap().and_then(|m| m.kind)
    });
    match refused {
        Some(Kind::Refused(refused)) => assert!(
            refused
                .error
                .contains("replication protocol version mismatch"),
            "{}",
            refused.error
        ),
        other => panic!("expected Refused, got {other:?}"),
    }
    assert_eq!(
        cmd(&mut master.client(), &["PING"]),
        Value::SimpleString("PONG".into())
    );
}

/// Bytes that start like HTTP/2 but are not go to the gRPC server, which drops them; the
/// server keeps serving RESP and gRPC.
#[test]
fn a_bogus_http2_connection_is_dropped_and_the_server_stays_up() {
    use std::io::Write;
    let master = kv();
    let mut bogus = master.raw();
    bogus
        .write_all(b"PRI * garbage that is no HTTP/2 at all\r\n\r\n")
        .unwrap();
    bogus
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = support::read_to_close(&mut bogus);
    let mut m = master.client();
    assert_eq!(cmd(&mut m, &["PING"]), Value::SimpleString("PONG".into()));
    let replica = kv();
    let mut r = replica.client();
    replicaof(&mut r, master.port);
    cmd(&mut m, &["SET", "k", "v"]);
    wait_synced(&mut m, &mut r);
    assert_eq!(cmd(&mut r, &["GET", "k"]), Value::BulkString(b"v".to_vec()));
}

fn role(con: &mut redis::Connection) -> String {
    match cmd(con, &["ROLE"]) {
        Value::Array(items) => match &items[0] {
            Value::BulkString(name) => String::from_utf8_lossy(name).into_owned(),
            other => panic!("ROLE: {other:?}"),
        },
        other => panic!("ROLE: {other:?}"),
    }
}

#[test]
fn failover_hands_over_without_losing_acknowledged_writes() {
    let (a, b, c) = (kv(), kv(), kv());
    let (mut ca, mut cb, mut cc) = (a.client(), b.client(), c.client());
    fill(&mut ca, "a");
    replicaof(&mut cb, a.port);
    replicaof(&mut cc, a.port);
    wait_synced(&mut ca, &mut cb);
    wait_synced(&mut ca, &mut cc);

    // A writer counts on A until A refuses writes; every INCR answered is acknowledged.
    let mut writer = a.client();
    let counting = std::thread::spawn(move || {
        let mut last = 0i64;
        loop {
            match redis::cmd("INCR").arg("counter").query::<i64>(&mut writer) {
                Ok(n) => last = n,
                Err(e) => {
                    assert!(e.to_string().contains("read only replica"), "{e}");
                    return last;
                }
            }
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let b_full = info_field(&mut cb, "stats", "sync_full");
    assert_eq!(
        cmd(
            &mut ca,
            &["FAILOVER", "TO", "127.0.0.1", &b.port.to_string()]
        ),
        Value::Okay
    );
    let acknowledged = counting.join().unwrap();
    assert!(acknowledged > 0);
    wait_until("the failover to finish", || {
        info_field(&mut ca, "replication", "master_failover_state").as_deref()
            == Some("no-failover")
    });
    assert_eq!(role(&mut ca), "slave");
    assert_eq!(role(&mut cb), "master");
    let on_b: i64 = redis::cmd("GET").arg("counter").query(&mut cb).unwrap();
    assert_eq!(
        on_b, acknowledged,
        "every acknowledged INCR is on the new master"
    );
    // The old master continued from B's stream without a full sync.
    assert_eq!(info_field(&mut cb, "stats", "sync_full"), b_full);
    assert_ne!(
        info_field(&mut cb, "stats", "sync_partial_ok").as_deref(),
        Some("0")
    );
    // Writes on B reach A, and C (still following A) through it.
    cmd(&mut cb, &["SET", "after", "failover"]);
    wait_synced(&mut cb, &mut ca);
    wait_synced(&mut cb, &mut cc);
    assert_eq!(digest(&mut ca), digest(&mut cb));
    assert_eq!(digest(&mut cc), digest(&mut cb));
}

#[test]
fn failover_times_out_or_is_aborted_and_releases_writes() {
    let master = kv();
    let replica = kv();
    let proxy = Proxy::start(master.port);
    let (mut m, mut r) = (master.client(), replica.client());
    let err = |con: &mut redis::Connection, args: &[&str]| {
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query::<Value>(con).unwrap_err().to_string()
    };
    assert!(err(&mut m, &["FAILOVER"]).contains("FAILOVER requires connected replicas."));
    assert!(err(&mut m, &["FAILOVER", "ABORT"]).contains("No failover in progress."));
    replicaof(&mut r, proxy.port);
    wait_synced(&mut m, &mut r);
    assert!(err(&mut r, &["FAILOVER"]).contains("not valid when server is a replica"));
    assert!(err(&mut m, &["FAILOVER", "TO", "127.0.0.1", "1"]).contains("is not a replica"));

    // The replica stops hearing the master: it never catches up, and the failover gives up
    // after its timeout; the SET held meanwhile then runs.
    proxy.stall(true);
    // The proxy's threads notice the stall within their 50 ms read timeout.
    std::thread::sleep(Duration::from_millis(150));
    cmd(&mut m, &["SET", "during", "stall"]);
    assert_eq!(cmd(&mut m, &["FAILOVER", "TIMEOUT", "300"]), Value::Okay);
    assert_eq!(
        info_field(&mut m, "replication", "master_failover_state").as_deref(),
        Some("waiting-for-sync")
    );
    assert!(err(&mut m, &["FAILOVER"]).contains("FAILOVER already in progress."));
    let started = Instant::now();
    cmd(&mut m, &["SET", "held", "1"]);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "the SET was held"
    );
    assert_eq!(
        info_field(&mut m, "replication", "master_failover_state").as_deref(),
        Some("no-failover")
    );
    assert_eq!(role(&mut m), "master");

    // ABORT releases a held write at once.
    assert_eq!(cmd(&mut m, &["FAILOVER"]), Value::Okay);
    let mut aborter = master.client();
    let abort = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        cmd(&mut aborter, &["FAILOVER", "ABORT"])
    });
    cmd(&mut m, &["SET", "held", "2"]);
    assert_eq!(abort.join().unwrap(), Value::Okay);
    assert_eq!(role(&mut m), "master");
    proxy.stall(false);
    wait_synced(&mut m, &mut r);
    assert_eq!(digest(&mut r), digest(&mut m));
}

#[test]
fn replicas_asking_at_once_share_one_snapshot() {
    let master = kv();
    let mut m = master.client();
    // Enough data that the snapshot takes a while to make and send.
    cmd(&mut m, &["DEBUG", "POPULATE", "300000", "key", "100"]);
    let replicas: Vec<Server> = (0..3).map(|_| kv()).collect();
    let mut clients: Vec<_> = replicas.iter().map(Server::client).collect();
    for r in &mut clients {
        replicaof(r, master.port);
    }
    for r in &mut clients {
        wait_synced(&mut m, r);
        assert_eq!(digest(r), digest(&mut m));
    }
    assert_eq!(
        info_field(&mut m, "stats", "sync_full").as_deref(),
        Some("3")
    );
    let snapshots: u64 = info_field(&mut m, "stats", "sync_full_snapshots")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        snapshots < 3,
        "{snapshots} snapshots for 3 replicas asking at once"
    );
}

#[test]
fn a_resumed_stream_keeps_the_database_it_had_selected() {
    let master = kv();
    let replica = kv();
    let proxy = Proxy::start(master.port);
    let (mut m, mut r) = (master.client(), replica.client());
    replicaof(&mut r, proxy.port);
    cmd(&mut m, &["SELECT", "5"]);
    cmd(&mut m, &["SET", "before", "cut"]);
    wait_synced(&mut m, &mut r);
    proxy.cut();
    // The stream goes on in database 5 with no SELECT of its own.
    cmd(&mut m, &["SET", "after", "cut"]);
    wait_synced(&mut m, &mut r);
    assert_eq!(digest(&mut r), digest(&mut m));
    cmd(&mut r, &["SELECT", "5"]);
    assert_eq!(
        cmd(&mut r, &["GET", "after"]),
        Value::BulkString(b"cut".to_vec())
    );
}

#[test]
fn a_replica_of_a_replica_starts_in_the_database_the_stream_selected() {
    let (a, b, c) = (kv(), kv(), kv());
    let (mut ca, mut cb, mut cc) = (a.client(), b.client(), c.client());
    replicaof(&mut cb, a.port);
    wait_synced(&mut ca, &mut cb);
    // After B's full sync, so A's stream selects database 5 here, once.
    cmd(&mut ca, &["SELECT", "5"]);
    cmd(&mut ca, &["SET", "x", "1"]);
    wait_synced(&mut ca, &mut cb);
    // C's snapshot comes from B, whose stream is A's bytes: the next SET selects nothing.
    replicaof(&mut cc, b.port);
    wait_synced(&mut cb, &mut cc);
    cmd(&mut ca, &["SET", "y", "2"]);
    wait_synced(&mut ca, &mut cb);
    wait_synced(&mut cb, &mut cc);
    assert_eq!(digest(&mut cc), digest(&mut ca));
}

#[test]
fn a_restarted_replica_continues_from_its_snapshot() {
    let dir = std::env::temp_dir().join(format!("kv-repl-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let master = kv();
    let mut m = master.client();
    fill(&mut m, "a");
    let master_address = format!("127.0.0.1 {}", master.port);
    let replica_args = [
        "--enable-debug-command",
        "yes",
        "--dir",
        dir.to_str().unwrap(),
        "--replicaof",
        &master_address,
    ];
    {
        let replica = Server::kv(&replica_args);
        let mut r = replica.client();
        cmd(&mut m, &["SELECT", "3"]);
        cmd(&mut m, &["INCR", "counter"]);
        wait_synced(&mut m, &mut r);
        assert_eq!(cmd(&mut r, &["SAVE"]), Value::Okay);
    }
    // Written while the replica is down, in the database the stream had selected.
    for _ in 0..10 {
        cmd(&mut m, &["INCR", "counter"]);
    }
    let replica = Server::kv(&replica_args);
    let mut r = replica.client();
    wait_synced(&mut m, &mut r);
    assert_eq!(digest(&mut r), digest(&mut m));
    assert_eq!(
        info_field(&mut m, "stats", "sync_full").as_deref(),
        Some("1"),
        "the restarted replica continued without a full sync"
    );
    assert_eq!(
        info_field(&mut m, "stats", "sync_partial_ok").as_deref(),
        Some("1")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The arguments of a replica that logs to `dir` (`appendonly yes`), with `extra`.
fn logging_replica_args<'a>(dir: &'a std::path::Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--enable-debug-command",
        "yes",
        "--dir",
        dir.to_str().unwrap(),
        "--appendonly",
        "yes",
    ];
    args.extend_from_slice(extra);
    args
}

/// A fresh directory for a test's replica.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts a replica with `args` (which follow `master`), waits until it has all of the
/// master's stream and checks that its data is the master's.
fn replica_synced(master: &mut redis::Connection, args: &[&str]) -> Server {
    let replica = Server::kv(args);
    let mut r = replica.client();
    wait_synced(master, &mut r);
    assert_eq!(digest(&mut r), digest(master));
    replica
}

/// The master's full and partial synchronisations so far.
fn syncs(master: &mut redis::Connection) -> (String, String) {
    let field = |master: &mut redis::Connection, name| {
        info_field(master, "stats", name).unwrap_or_default()
    };
    (field(master, "sync_full"), field(master, "sync_partial_ok"))
}

fn wait_loaded(con: &mut redis::Connection) {
    wait_until("the data to load", || {
        info_field(con, "persistence", "loading").as_deref() == Some("0")
    });
}

#[test]
fn a_replica_with_appendonly_logs_what_it_applied_and_continues_after_a_restart() {
    let dir = scratch_dir("repl-aof");
    let master = kv();
    let mut m = master.client();
    // Enough data that starting the replica's log again from it takes a while: a write of
    // the new stream logged on top of the old dataset meanwhile would show after a restart.
    cmd(&mut m, &["DEBUG", "POPULATE", "100000", "bulk"]);
    fill(&mut m, "a");
    let alone = logging_replica_args(&dir, &[]);
    {
        let replica = Server::kv(&alone);
        let mut r = replica.client();
        wait_loaded(&mut r);
        // Data of its own, which the sync replaces.
        cmd(&mut r, &["SET", "old", "1"]);
        cmd(&mut r, &["SET", "bulk:7", "old"]);
        replicaof(&mut r, master.port);
        wait_synced(&mut m, &mut r);
        cmd(&mut m, &["SELECT", "2"]);
        cmd(&mut m, &["INCRBYFLOAT", "f", "1.5"]);
        cmd(&mut m, &["SELECT", "0"]);
        wait_synced(&mut m, &mut r);
        // Killed (dropped) as soon as it has applied the stream; it had the master's data.
    }
    let applied = digest(&mut m);
    // Restarted alone: its log holds exactly what it had applied.
    {
        let replica = Server::kv(&alone);
        let mut r = replica.client();
        wait_loaded(&mut r);
        assert_eq!(digest(&mut r), applied);
    }
    // Restarted as a replica: the log says where in the stream it stands, so it continues
    // from there; also after a rewrite of its log.
    let port = master.port.to_string();
    let following = logging_replica_args(&dir, &["--replicaof", "127.0.0.1", &port]);
    for round in 0..2 {
        cmd(&mut m, &["SET", "while-down", &round.to_string()]);
        let replica = replica_synced(&mut m, &following);
        let mut r = replica.client();
        assert_eq!(syncs(&mut m), ("1".into(), (round + 1).to_string()));
        if round == 0 {
            // Then nothing after the rewrite: its base names the position.
            cmd(&mut m, &["INCR", "before-rewrite"]);
            wait_synced(&mut m, &mut r);
            cmd(&mut r, &["BGREWRITEAOF"]);
            let deadline = Instant::now() + SAVE_LIMIT;
            loop {
                let info: String = redis::cmd("INFO").arg("persistence").query(&mut r).unwrap();
                if info.contains("aof_rewrites:1\r\n")
                    && info.contains("aof_rewrite_in_progress:0\r\n")
                {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the rewrite never ended:\n{info}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_replica_whose_log_ends_with_a_write_of_its_own_resyncs_in_full_after_a_restart() {
    let dir = scratch_dir("repl-aof-own");
    let master = kv();
    let mut m = master.client();
    fill(&mut m, "a");
    let port = master.port.to_string();
    let args = logging_replica_args(
        &dir,
        &[
            "--replicaof",
            "127.0.0.1",
            &port,
            "--replica-read-only",
            "no",
        ],
    );
    {
        let replica = Server::kv(&args);
        let mut r = replica.client();
        wait_synced(&mut m, &mut r);
        cmd(&mut m, &["SET", "from-master", "1"]);
        wait_synced(&mut m, &mut r);
        // Its log no longer says that its data is the master's stream up to some offset.
        cmd(&mut r, &["SET", "own", "1"]);
    }
    let _replica = replica_synced(&mut m, &args);
    assert_eq!(syncs(&mut m), ("2".into(), "0".into()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_replica_whose_log_has_a_malformed_stream_mark_starts_and_resyncs_in_full() {
    let master = kv();
    let mut m = master.client();
    fill(&mut m, "a");
    let port = master.port.to_string();
    // The master's real history and offset: only the malformed part can stop a continuation.
    let id = info_field(&mut m, "replication", "master_replid").unwrap();
    let offset = info_field(&mut m, "replication", "master_repl_offset").unwrap();
    let bulk = |arg: &str| format!("${}\r\n{arg}\r\n", arg.len());
    let mark = |args: &[&str]| {
        let items: String = args.iter().map(|a| bulk(a)).collect();
        format!("*{}\r\n{}{items}", args.len() + 1, bulk("KV-STREAM-AT"))
    };
    for mark in [
        // Too few arguments, an offset that is no number, a database that is no number.
        mark(&[&id, &offset]),
        mark(&[&id, "xx", "0"]),
        mark(&[&id, &offset, "-1"]),
    ] {
        let dir = scratch_dir("repl-aof-bad-mark");
        let log = dir.join("appendonlydir");
        std::fs::create_dir_all(&log).unwrap();
        std::fs::write(
            log.join("appendonly.aof.manifest"),
            "file appendonly.aof.1.incr.aof seq 1 type i\n",
        )
        .unwrap();
        let body = format!("*3\r\n$3\r\nSET\r\n$3\r\nown\r\n$1\r\n1\r\n{mark}");
        std::fs::write(log.join("appendonly.aof.1.incr.aof"), body).unwrap();
        let full_before = syncs(&mut m).0;
        let args = logging_replica_args(&dir, &["--replicaof", "127.0.0.1", &port]);
        let _replica = replica_synced(&mut m, &args);
        let full_after = syncs(&mut m).0;
        assert_eq!(
            full_after.parse::<u64>().unwrap(),
            full_before.parse::<u64>().unwrap() + 1,
            "{mark:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_master_alone_past_repl_backlog_ttl_frees_its_backlog() {
    let master = Server::kv(&["--repl-backlog-ttl", "1"]);
    let replica = kv();
    let (mut m, mut r) = (master.client(), replica.client());
    replicaof(&mut r, master.port);
    cmd(&mut m, &["SET", "a", "1"]);
    wait_synced(&mut m, &mut r);
    let id = info_field(&mut m, "replication", "master_replid");
    assert_eq!(cmd(&mut r, &["REPLICAOF", "NO", "ONE"]), Value::Okay);
    wait_until("the backlog to be freed", || {
        info_field(&mut m, "replication", "repl_backlog_active").as_deref() == Some("0")
    });
    // No replica can continue the old history without its bytes: a new one begins.
    assert_ne!(info_field(&mut m, "replication", "master_replid"), id);
}
