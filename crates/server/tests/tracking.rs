//! Client-side caching over TCP: the invalidation messages of every tracking mode, as pushes
//! on RESP3 connections and as `__redis__:invalidate` messages to a redirected RESP2
//! subscriber, one-shot per read, BCAST prefixes, NOLOOP, OPTIN, flushes, expiry, the table's
//! size limit and a redirect target that goes away.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{resp, Server};

/// A raw connection that keeps what it read past the reply it was waiting for (a push can
/// share a read with the reply before it).
struct Client {
    stream: TcpStream,
    buffered: Vec<u8>,
}

impl Client {
    fn new(stream: TcpStream) -> Client {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            stream,
            buffered: Vec::new(),
        }
    }

    /// Reads until `end` has arrived; returns everything up to and including it.
    fn until(&mut self, end: &[u8]) -> String {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(at) = self.buffered.windows(end.len()).position(|w| w == end) {
                let rest = self.buffered.split_off(at + end.len());
                let got = std::mem::replace(&mut self.buffered, rest);
                return String::from_utf8_lossy(&got).into_owned();
            }
            let n = self.stream.read(&mut chunk).unwrap();
            assert!(
                n > 0,
                "closed; got {}",
                String::from_utf8_lossy(&self.buffered)
            );
            self.buffered.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends `words` and reads up to and including its reply, `reply`: what arrived.
    fn call(&mut self, words: &[&str], reply: &str) -> String {
        let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        self.stream.write_all(&resp(&args)).unwrap();
        self.until(reply.as_bytes())
    }

    /// What arrived before the reply to a PING (pushes, messages).
    fn pending(&mut self) -> String {
        let all = self.call(&["PING"], "+PONG\r\n");
        all.trim_end_matches("+PONG\r\n").to_string()
    }
}

/// A client that has sent `HELLO 3` (its reply read and dropped).
fn resp3(server: &Server) -> Client {
    let mut client = Client::new(server.raw());
    client.call(&["HELLO", "3"], "modules\r\n*0\r\n");
    client
}

/// A RESP2 client.
fn resp2(server: &Server) -> Client {
    Client::new(server.raw())
}

/// The RESP3 invalidation push for `key`.
fn invalidate(key: &str) -> String {
    format!(
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n${}\r\n{key}\r\n",
        key.len()
    )
}

/// Runs one command on a fresh `redis` crate connection.
fn other(server: &Server, words: &[&str]) {
    let mut con = server.client();
    let mut cmd = redis::Cmd::new();
    for word in words {
        cmd.arg(*word);
    }
    let _: redis::Value = cmd.query(&mut con).unwrap();
}

#[test]
fn a_read_key_is_invalidated_once_when_it_changes() {
    let server = Server::kv(&[]);
    let mut tracker = resp3(&server);
    tracker.call(&["CLIENT", "TRACKING", "ON"], "+OK\r\n");
    tracker.call(&["GET", "a"], "_\r\n");
    tracker.call(&["MGET", "b", "c"], "*2\r\n_\r\n_\r\n");
    other(&server, &["SET", "a", "1"]);
    other(&server, &["MSET", "b", "1", "zzz", "2"]);
    assert_eq!(tracker.pending(), invalidate("a") + &invalidate("b"));
    // Once told, the client is forgotten for the key until it reads it again.
    other(&server, &["SET", "a", "2"]);
    assert_eq!(tracker.pending(), "");
    tracker.call(&["GET", "a"], "$1\r\n2\r\n");
    other(&server, &["DEL", "a"]);
    assert_eq!(tracker.pending(), invalidate("a"));
    // Its own writes too, after their reply (without NOLOOP).
    tracker.call(&["GET", "c"], "_\r\n");
    let own = tracker.call(&["SET", "c", "1"], "+OK\r\n");
    assert_eq!(own, "+OK\r\n");
    assert_eq!(tracker.pending(), invalidate("c"));
}

#[test]
fn a_resp2_client_gets_invalidations_through_a_redirect() {
    let server = Server::kv(&[]);
    let mut listener = resp2(&server);
    let id = listener.call(&["CLIENT", "ID"], "\r\n");
    let id = id.trim_start_matches(':').trim_end().to_string();
    listener.call(
        &["SUBSCRIBE", "__redis__:invalidate"],
        "__redis__:invalidate\r\n:1\r\n",
    );
    let mut tracker = resp2(&server);
    tracker.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id], "+OK\r\n");
    tracker.call(&["CLIENT", "GETREDIR"], &format!(":{id}\r\n"));
    tracker.call(&["GET", "k"], "$-1\r\n");
    other(&server, &["SET", "k", "v"]);
    let message = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n";
    assert_eq!(listener.until(message.as_bytes()), message);
    // A flush invalidates everything: a null.
    other(&server, &["FLUSHALL"]);
    let flushed = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n";
    assert_eq!(listener.until(flushed.as_bytes()), flushed);
}

#[test]
fn bcast_tells_of_every_change_under_a_prefix_and_noloop_skips_own() {
    let server = Server::kv(&[]);
    let mut tracker = resp3(&server);
    tracker.call(
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "NOLOOP",
        ],
        "+OK\r\n",
    );
    other(&server, &["SET", "user:1", "a"]);
    other(&server, &["SET", "order:1", "a"]);
    other(&server, &["HSET", "user:2", "f", "v"]);
    assert_eq!(
        tracker.pending(),
        invalidate("user:1") + &invalidate("user:2")
    );
    tracker.call(&["SET", "user:3", "mine"], "+OK\r\n");
    assert_eq!(
        tracker.pending(),
        "",
        "NOLOOP: no message for its own change"
    );
    let info = tracker.call(
        &["CLIENT", "TRACKINGINFO"],
        "$8\r\nprefixes\r\n*1\r\n$5\r\nuser:\r\n",
    );
    assert!(info.contains("$5\r\nbcast\r\n$6\r\nnoloop\r\n"), "{info}");
}

#[test]
fn optin_remembers_only_after_caching_yes() {
    let server = Server::kv(&[]);
    let mut tracker = resp3(&server);
    tracker.call(&["CLIENT", "TRACKING", "ON", "OPTIN"], "+OK\r\n");
    tracker.call(&["GET", "skipped"], "_\r\n");
    tracker.call(&["CLIENT", "CACHING", "YES"], "+OK\r\n");
    tracker.call(&["GET", "cached"], "_\r\n");
    tracker.call(&["GET", "skipped-too"], "_\r\n");
    for key in ["skipped", "cached", "skipped-too"] {
        other(&server, &["SET", key, "1"]);
    }
    assert_eq!(tracker.pending(), invalidate("cached"));
}

#[test]
fn expiry_and_the_table_limit_invalidate_too() {
    let server = Server::kv(&[]);
    let mut tracker = resp3(&server);
    tracker.call(&["CLIENT", "TRACKING", "ON"], "+OK\r\n");
    other(&server, &["SET", "short", "v", "PX", "300"]);
    tracker.call(&["GET", "short"], "$1\r\nv\r\n");
    let push = invalidate("short");
    assert_eq!(
        tracker.until(push.as_bytes()),
        push,
        "the expired key was not invalidated"
    );
    other(&server, &["CONFIG", "SET", "tracking-table-max-keys", "2"]);
    tracker.call(
        &["MGET", "k1", "k2", "k3", "k4"],
        "*4\r\n_\r\n_\r\n_\r\n_\r\n",
    );
    let evicted = tracker.pending();
    assert_eq!(evicted.matches("invalidate").count(), 2, "{evicted}");
    let mut con = server.client();
    let info: redis::InfoDict = redis::cmd("INFO").arg("stats").query(&mut con).unwrap();
    assert_eq!(info.get::<i64>("tracking_total_keys"), Some(2));
    // A limit lowered with no read after it: the cron forgets the extra key, and says so.
    other(&server, &["CONFIG", "SET", "tracking-table-max-keys", "1"]);
    let push = tracker.until(b"\r\n*1\r\n");
    assert!(
        push.ends_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n"),
        "{push}"
    );
    let key = tracker.until(b"\r\nk");
    assert!(key.starts_with('$'), "{key}");
    let info: redis::InfoDict = redis::cmd("INFO").arg("stats").query(&mut con).unwrap();
    assert_eq!(info.get::<i64>("tracking_total_keys"), Some(1));
}

#[test]
fn a_client_whose_redirect_target_left_is_told_once() {
    let server = Server::kv(&[]);
    let mut target = resp2(&server);
    let id = target.call(&["CLIENT", "ID"], "\r\n");
    let id = id.trim_start_matches(':').trim_end().to_string();
    let mut tracker = resp3(&server);
    tracker.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id], "+OK\r\n");
    tracker.call(&["GET", "k"], "_\r\n");
    tracker.call(&["GET", "j"], "_\r\n");
    drop(target);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut con = server.client();
    while Instant::now() < deadline {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
        if !list.contains(&format!("id={id} ")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    other(&server, &["SET", "k", "1"]);
    other(&server, &["SET", "j", "1"]);
    let broken = format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{id}\r\n");
    assert_eq!(tracker.pending(), broken);
    let info = tracker.call(&["CLIENT", "INFO"], "resp=3\n\r\n");
    assert!(info.contains("flags=tR "), "{info}");
}

/// What a RESP2 subscriber receives as the redirect target of BCAST clients while writes
/// change keys under their prefixes.
fn bcast_messages(server: &Server) -> String {
    let mut target = resp2(server);
    let id = target.call(&["CLIENT", "ID"], "\r\n");
    let id = id.trim_start_matches(':').trim_end();
    target.call(
        &["SUBSCRIBE", "__redis__:invalidate"],
        "__redis__:invalidate\r\n:1\r\n",
    );
    let mut prefixed = resp2(server);
    prefixed.call(
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", id, "PREFIX", "b", "PREFIX", "a",
        ],
        "+OK\r\n",
    );
    let mut everything = resp3(server);
    everything.call(
        &["CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", id],
        "+OK\r\n",
    );
    other(
        server,
        &["MSET", "b2", "1", "a1", "2", "c", "3", "b1", "4", "a1", "5"],
    );
    other(server, &["DEL", "a1", "zz"]);
    other(server, &["SET", "a9", "x"]);
    // Each write's messages are in before the PING's reply.
    target.stream.write_all(&resp(&[b"PING"])).unwrap();
    target.until(b"$0\r\n\r\n")
}

#[test]
fn bcast_sends_the_keys_one_write_changed_together_as_redis_does() {
    let kv = bcast_messages(&Server::kv(&[]));
    let redis = bcast_messages(&Server::redis(&[]));
    assert_eq!(kv, redis);
    // The MSET: one message per prefix, in byte order (the empty prefix, then a, then b),
    // its keys sorted and each once.
    let message = |keys: &[&str]| {
        let mut text = format!(
            "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*{}\r\n",
            keys.len()
        );
        for key in keys {
            text += &format!("${}\r\n{key}\r\n", key.len());
        }
        text
    };
    let mset = message(&["a1", "b1", "b2", "c"]) + &message(&["a1"]) + &message(&["b1", "b2"]);
    assert!(kv.starts_with(&mset), "{kv}");
}

/// INFO's tracking table counts after each step of a client that reads two keys with
/// tracking on, turns it off, then sees one key change and the rest flushed.
fn table_after_tracking_stops(server: &Server) -> Vec<(String, String)> {
    let mut con = server.client();
    let mut counts = Vec::new();
    let mut step = |con: &mut redis::Connection, args: &[&str]| {
        let _: redis::Value = redis::cmd(args[0]).arg(&args[1..]).query(con).unwrap();
        let stats: String = redis::cmd("INFO").arg("stats").query(con).unwrap();
        let field = |name: &str| {
            stats
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .unwrap_or_default()
                .to_string()
        };
        counts.push((
            args.join(" "),
            format!(
                "keys={} items={}",
                field("tracking_total_keys"),
                field("tracking_total_items")
            ),
        ));
    };
    step(&mut con, &["CLIENT", "TRACKING", "on"]);
    step(&mut con, &["GET", "key1"]);
    step(&mut con, &["GET", "key2"]);
    step(&mut con, &["CLIENT", "TRACKING", "off"]);
    step(&mut con, &["SET", "key1", "x"]);
    step(&mut con, &["FLUSHALL"]);
    step(&mut con, &["CLIENT", "TRACKING", "on"]);
    step(&mut con, &["GET", "key3"]);
    step(&mut con, &["CLIENT", "TRACKING", "off"]);
    step(&mut con, &["FLUSHDB"]);
    counts
}

#[test]
fn the_table_forgets_keys_of_clients_that_stopped_tracking() {
    // As Redis's: a key read while tracking stays remembered after tracking stops, until it
    // changes or a flush empties the table (Redis's tracking.tcl 'Tracking info is correct').
    let kv = table_after_tracking_stops(&Server::kv(&[]));
    let redis = table_after_tracking_stops(&Server::redis(&[]));
    assert_eq!(kv, redis);
    assert_eq!(kv[5].1, "keys=0 items=0", "{kv:?}");
}
