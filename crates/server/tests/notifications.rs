//! Keyspace notifications over TCP under concurrent writers: every change is reported exactly
//! once, each key's events in the order its changes were made, while clients on several
//! threads write at once.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::thread;

use support::{exchange, read_at_least, resp, Server};

#[test]
fn every_change_is_reported_once_and_in_order_per_key() {
    const WRITERS: usize = 4;
    const EACH: usize = 300;
    let server = Server::kv(&[]);
    let mut con = server.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("K$g")
        .query(&mut con)
        .unwrap();
    let mut subscriber = server.raw();
    let pattern = b"__keyspace@0__:w*";
    let confirmation = b"*3\r\n$10\r\npsubscribe\r\n$17\r\n__keyspace@0__:w*\r\n:1\r\n";
    let got = exchange(
        &mut subscriber,
        &resp(&[b"PSUBSCRIBE", pattern]),
        confirmation.len(),
    );
    assert_eq!(got, confirmation);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut con = server.client();
            thread::spawn(move || {
                let key = format!("w{w}");
                for i in 0..EACH {
                    // Alternate two events, so that order is visible in the stream.
                    if i % 2 == 0 {
                        let _: i64 = redis::cmd("INCR").arg(&key).query(&mut con).unwrap();
                    } else {
                        let _: i64 = redis::cmd("EXPIRE")
                            .arg(&key)
                            .arg(1000)
                            .query(&mut con)
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    // Each message: *4 pmessage <pattern> __keyspace@0__:wN <event>.
    let one = |event: &str| {
        format!(
            "*4\r\n$8\r\npmessage\r\n$17\r\n__keyspace@0__:w*\r\n$17\r\n__keyspace@0__:w0\r\n${}\r\n{event}\r\n",
            event.len()
        )
        .len()
    };
    let expected_len = WRITERS * EACH / 2 * (one("incrby") + one("expire"));
    let stream = read_at_least(&mut subscriber, expected_len);
    let text = String::from_utf8_lossy(&stream);
    let mut per_key: HashMap<String, Vec<String>> = HashMap::new();
    let parts: Vec<&str> = text.split("\r\n").collect();
    let mut i = 0;
    while i + 8 < parts.len() {
        assert_eq!(parts[i], "*4", "unexpected framing at part {i}");
        per_key
            .entry(parts[i + 6].to_string())
            .or_default()
            .push(parts[i + 8].to_string());
        i += 9;
    }
    assert_eq!(per_key.len(), WRITERS);
    for (key, events) in per_key {
        assert_eq!(events.len(), EACH, "{key}: {} events", events.len());
        for (n, event) in events.iter().enumerate() {
            let expected = if n % 2 == 0 { "incrby" } else { "expire" };
            assert_eq!(event, expected, "{key}: event {n} out of order");
        }
    }
}
