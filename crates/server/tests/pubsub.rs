//! Pub/sub over TCP: delivery to many subscribers in publish order, patterns, RESP3 pushes,
//! introspection, clean-up on disconnect, and a subscriber that stops reading.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{exchange, read_at_least, resp, Server};

/// The bytes of a RESP2 message, as a subscriber reads it.
fn message(channel: &str, payload: &str) -> Vec<u8> {
    format!(
        "*3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        channel.len(),
        payload.len()
    )
    .into_bytes()
}

/// The bytes of a RESP2 pattern message.
fn pmessage(pattern: &str, channel: &str, payload: &str) -> Vec<u8> {
    format!(
        "*4\r\n$8\r\npmessage\r\n${}\r\n{pattern}\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        pattern.len(),
        channel.len(),
        payload.len()
    )
    .into_bytes()
}

/// Publishes `payload` on `channel` with `command` (PUBLISH or SPUBLISH); how many received it.
fn publish(con: &mut redis::Connection, command: &str, channel: &str, payload: &str) -> i64 {
    redis::cmd(command)
        .arg(channel)
        .arg(payload)
        .query(con)
        .unwrap()
}

/// A raw connection subscribed to `channel` (or, with `pattern`, to that pattern).
fn subscriber(server: &Server, command: &[u8], name: &str) -> TcpStream {
    let mut stream = server.raw();
    let verb = String::from_utf8_lossy(command).to_lowercase();
    let expected = format!(
        "*3\r\n${}\r\n{verb}\r\n${}\r\n{name}\r\n:1\r\n",
        verb.len(),
        name.len()
    );
    let reply = exchange(
        &mut stream,
        &resp(&[command, name.as_bytes()]),
        expected.len(),
    );
    assert_eq!(String::from_utf8_lossy(&reply), expected);
    stream
}

#[test]
fn every_subscriber_gets_every_message_in_publish_order() {
    let server = Server::kv(&[]);
    let channels: Vec<TcpStream> = (0..20)
        .map(|_| subscriber(&server, b"SUBSCRIBE", "news"))
        .collect();
    let patterns: Vec<TcpStream> = (0..5)
        .map(|_| subscriber(&server, b"PSUBSCRIBE", "n*"))
        .collect();
    let mut publisher = server.client();
    let count = 500;
    for i in 0..count {
        let receivers: i64 = publish(&mut publisher, "PUBLISH", "news", &format!("m{i}"));
        assert_eq!(receivers, 25);
    }
    let unheard: i64 = publish(&mut publisher, "PUBLISH", "other", "x");
    assert_eq!(unheard, 0);
    let expected: Vec<u8> = (0..count)
        .flat_map(|i| message("news", &format!("m{i}")))
        .collect();
    for mut stream in channels {
        assert_eq!(read_at_least(&mut stream, expected.len()), expected);
    }
    let expected: Vec<u8> = (0..count)
        .flat_map(|i| pmessage("n*", "news", &format!("m{i}")))
        .collect();
    for mut stream in patterns {
        assert_eq!(read_at_least(&mut stream, expected.len()), expected);
    }
}

#[test]
fn concurrent_publishers_keep_their_own_order() {
    let server = Server::kv(&[]);
    let mut sub = subscriber(&server, b"SUBSCRIBE", "c");
    let publishers: Vec<_> = (0..4)
        .map(|p| {
            let mut con = server.client();
            std::thread::spawn(move || {
                for i in 0..300 {
                    let _: i64 = publish(&mut con, "PUBLISH", "c", &format!("{p}:{i}"));
                }
            })
        })
        .collect();
    for p in publishers {
        p.join().unwrap();
    }
    // 1200 messages of payloads 3 to 5 bytes; read them all, then check each publisher's order.
    let mut raw = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut payloads: Vec<String> = Vec::new();
    while payloads.len() < 1200 && Instant::now() < deadline {
        raw.extend(read_at_least(&mut sub, 1));
        let text = String::from_utf8_lossy(&raw).into_owned();
        payloads = text
            .split("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n")
            .filter(|m| !m.is_empty())
            .filter_map(|m| m.split("\r\n").nth(1).map(str::to_string))
            .collect();
    }
    assert_eq!(payloads.len(), 1200);
    for p in 0..4 {
        let mine: Vec<usize> = payloads
            .iter()
            .filter_map(|m| m.strip_prefix(&format!("{p}:")))
            .map(|i| i.parse().unwrap())
            .collect();
        assert_eq!(mine, (0..300).collect::<Vec<_>>(), "publisher {p}");
    }
}

#[test]
fn resp3_subscribers_get_pushes_and_keep_using_commands() {
    let server = Server::kv(&[]);
    let mut stream = server.raw();
    let hello = exchange(&mut stream, &resp(&[b"HELLO", b"3"]), 1);
    assert!(hello.starts_with(b"%7\r\n"));
    let _ = read_at_least(&mut stream, 0);
    let reply = exchange(&mut stream, &resp(&[b"SUBSCRIBE", b"a"]), 29);
    assert_eq!(reply, b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    // Not in subscriber mode over RESP3: any command runs.
    let reply = exchange(&mut stream, &resp(&[b"SET", b"k", b"v"]), 5);
    assert_eq!(reply, b"+OK\r\n");
    let mut publisher = server.client();
    let n: i64 = publish(&mut publisher, "PUBLISH", "a", "hi");
    assert_eq!(n, 1);
    let push = b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n";
    assert_eq!(read_at_least(&mut stream, push.len()), push);
}

#[test]
fn introspection_and_clean_up_on_disconnect() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let numsub = |con: &mut redis::Connection| -> Vec<redis::Value> {
        redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("x")
            .query(con)
            .unwrap()
    };
    {
        let _a = subscriber(&server, b"SUBSCRIBE", "x");
        let _b = subscriber(&server, b"PSUBSCRIBE", "x*");
        assert_eq!(
            numsub(&mut con),
            vec![
                redis::Value::BulkString(b"x".to_vec()),
                redis::Value::Int(1)
            ]
        );
        let numpat: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut con).unwrap();
        assert_eq!(numpat, 1);
        let channels: Vec<String> = redis::cmd("PUBSUB")
            .arg("CHANNELS")
            .arg("x*")
            .query(&mut con)
            .unwrap();
        assert_eq!(channels, ["x"]);
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
        assert!(list.contains("flags=P db=0 sub=1 psub=0"), "{list}");
        assert!(list.contains("flags=P db=0 sub=0 psub=1"), "{list}");
        let info: String = redis::cmd("INFO").arg("stats").query(&mut con).unwrap();
        assert!(info.contains("pubsub_channels:1\r\n"), "{info}");
        assert!(info.contains("pubsub_patterns:1\r\n"), "{info}");
    }
    // The subscribers hung up: nothing of them may stay behind.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let numpat: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut con).unwrap();
        if numsub(&mut con)[1] == redis::Value::Int(0) && numpat == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "subscriptions outlived their connections"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let n: i64 = publish(&mut con, "PUBLISH", "x", "y");
    assert_eq!(n, 0);
}

/// A subscriber that never reads is disconnected once 32 MB wait for it, the publisher is
/// never held up, and the server keeps serving.
#[test]
fn a_subscriber_that_stops_reading_is_dropped_not_waited_for() {
    let server = Server::kv(&[]);
    let mut stuck = subscriber(&server, b"SUBSCRIBE", "flood");
    let mut reader = subscriber(&server, b"SUBSCRIBE", "flood");
    let payload = vec![b'x'; 64 * 1024];
    let mut publisher = server.raw();
    let started = Instant::now();
    // 1000 × 64 KB = 64 MB: twice the bound. The reader drains as it goes.
    let drain = std::thread::spawn(move || {
        let expected = 1000 * (payload_len() + 30);
        let got = read_at_least(&mut reader, expected);
        got.len()
    });
    let mut request = Vec::new();
    for _ in 0..1000 {
        request.extend(resp(&[b"PUBLISH", b"flood", &payload]));
    }
    publisher.write_all(&request).unwrap();
    let replies = read_at_least(&mut publisher, 1000 * 4);
    assert!(
        replies.len() >= 4000,
        "the publisher got {} bytes",
        replies.len()
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the publisher was held up"
    );
    assert!(drain.join().unwrap() >= 1000 * payload_len());
    // The stuck subscriber's connection was closed by the server.
    stuck
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut closed = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let mut chunk = vec![0u8; 1 << 20];
        match std::io::Read::read(&mut stuck, &mut chunk) {
            Ok(0) | Err(_) => {
                closed = true;
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(closed, "the stuck subscriber is still connected");
    let mut con = server.client();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

/// The payload size of the flood test.
fn payload_len() -> usize {
    64 * 1024
}

#[test]
fn shard_channels_are_a_namespace_of_their_own() {
    let server = Server::kv(&[]);
    let mut shard = subscriber(&server, b"SSUBSCRIBE", "s");
    let mut plain = subscriber(&server, b"SUBSCRIBE", "s");
    let mut con = server.client();
    let n: i64 = publish(&mut con, "SPUBLISH", "s", "one");
    assert_eq!(n, 1);
    let n: i64 = publish(&mut con, "PUBLISH", "s", "two");
    assert_eq!(n, 1);
    let smessage = b"*3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$3\r\none\r\n";
    assert_eq!(read_at_least(&mut shard, smessage.len()), smessage);
    let expected = message("s", "two");
    assert_eq!(read_at_least(&mut plain, expected.len()), expected);
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(list.contains("flags=P db=0 sub=0 psub=0 ssub=1"), "{list}");
    let info: String = redis::cmd("INFO").arg("stats").query(&mut con).unwrap();
    assert!(info.contains("pubsubshard_channels:1\r\n"), "{info}");
}

#[test]
fn client_type_pubsub_lists_and_kills_subscribers_only() {
    let server = Server::kv(&[]);
    let mut sub = subscriber(&server, b"PSUBSCRIBE", "p*");
    let mut con = server.client();
    let pubsub: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut con)
        .unwrap();
    assert_eq!(pubsub.lines().count(), 1, "{pubsub}");
    assert!(pubsub.contains("psub=1"), "{pubsub}");
    let normal: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("normal")
        .query(&mut con)
        .unwrap();
    assert_eq!(normal.lines().count(), 1, "{normal}");
    assert!(normal.contains("cmd=client|list"), "{normal}");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut con)
        .unwrap();
    assert_eq!(killed, 1);
    assert!(
        read_at_least(&mut sub, 1).is_empty(),
        "the subscriber was not closed"
    );
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

/// Everything `stream` receives until it has been quiet for 300 ms.
fn drain(stream: &mut TcpStream) -> Vec<u8> {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        out.extend_from_slice(&chunk[..n]);
    }
    out
}

/// What a client with CLIENT REPLY OFF, then SKIP, receives around (un)subscribing.
fn replies_while_replies_are_off(server: &Server, protocol: &str) -> Vec<u8> {
    let mut stream = server.raw();
    stream
        .write_all(&resp(&[b"HELLO", protocol.as_bytes()]))
        .unwrap();
    drain(&mut stream);
    let commands: &[&[&[u8]]] = &[
        &[b"CLIENT", b"REPLY", b"OFF"],
        &[b"SUBSCRIBE", b"a", b"b"],
        &[b"PSUBSCRIBE", b"p*"],
        &[b"SSUBSCRIBE", b"s"],
        &[b"PING"],
        &[b"UNSUBSCRIBE", b"a"],
        &[b"PUNSUBSCRIBE"],
        &[b"SUNSUBSCRIBE"],
        &[b"UNSUBSCRIBE"],
        &[b"UNSUBSCRIBE"],
        &[b"SET", b"k", b"v"],
        &[b"CLIENT", b"REPLY", b"ON"],
        &[b"CLIENT", b"REPLY", b"SKIP"],
        &[b"SUBSCRIBE", b"x"],
        &[b"PING"],
    ];
    for command in commands {
        stream.write_all(&resp(command)).unwrap();
    }
    drain(&mut stream)
}

#[test]
fn subscription_confirmations_are_sent_while_replies_are_off_as_redis_does() {
    let (kv, redis) = (Server::kv(&[]), Server::redis(&[]));
    for protocol in ["2", "3"] {
        let got = replies_while_replies_are_off(&kv, protocol);
        let expected = replies_while_replies_are_off(&redis, protocol);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "RESP{protocol}"
        );
        assert!(
            got.starts_with(b"*3\r\n$9\r\nsubscribe\r\n")
                || got.starts_with(b">3\r\n$9\r\nsubscribe\r\n")
        );
    }
}
