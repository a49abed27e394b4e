//! `client-output-buffer-limit` over TCP: the hard and soft limits of pub/sub clients (a
//! subscriber that stops reading is disconnected, the publisher never waits), the normal class
//! (a reply past the hard limit closes the client instead of being sent), and CONFIG SET of one
//! class leaving the others; and `maxmemory-clients`, which closes the clients with the
//! largest buffers.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{exchange, resp, Server};

/// Sets `client-output-buffer-limit` to `value`.
fn set_limits(server: &Server, value: &str) {
    let mut con = server.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg(value)
        .query(&mut con)
        .unwrap();
}

/// A raw connection subscribed to `channel`, which then never reads.
fn stuck_subscriber(server: &Server, channel: &str) -> TcpStream {
    let mut stream = server.raw();
    let expected = format!(
        "*3\r\n$9\r\nsubscribe\r\n${}\r\n{channel}\r\n:1\r\n",
        channel.len()
    );
    exchange(
        &mut stream,
        &resp(&[b"SUBSCRIBE", channel.as_bytes()]),
        expected.len(),
    );
    stream
}

/// Whether the server closes `stream` within `within` (reading, and dropping, what it sent).
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + within;
    let mut chunk = vec![0u8; 1 << 20];
    while Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

/// How many clients CLIENT LIST shows as pub/sub clients.
fn pubsub_clients(server: &Server) -> usize {
    let mut con = server.client();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut con)
        .unwrap();
    list.lines().count()
}

/// Publishes `count` messages of `size` bytes on `channel`, pausing `pause` between them.
fn publish(server: &Server, channel: &str, count: usize, size: usize, pause: Duration) {
    let mut con = server.client();
    let payload = vec![b'x'; size];
    for _ in 0..count {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(&payload[..])
            .query(&mut con)
            .unwrap();
        std::thread::sleep(pause);
    }
}

#[test]
fn a_subscriber_past_the_hard_limit_is_disconnected() {
    let server = Server::kv(&[]);
    set_limits(&server, "pubsub 256kb 0 0");
    let mut stuck = stuck_subscriber(&server, "news");
    let started = Instant::now();
    // 32 MB: far past the limit and whatever the sockets buffer.
    publish(&server, "news", 512, 64 * 1024, Duration::ZERO);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the publisher waited"
    );
    assert!(closed_within(&mut stuck, Duration::from_secs(10)));
    assert_eq!(pubsub_clients(&server), 0);
}

#[test]
fn a_subscriber_over_the_soft_limit_for_too_long_is_disconnected() {
    let server = Server::kv(&[]);
    set_limits(&server, "pubsub 0 128kb 1");
    let mut stuck = stuck_subscriber(&server, "news");
    let mut reading = stuck_subscriber(&server, "news");
    let drain = std::thread::spawn(move || {
        let closed = closed_within(&mut reading, Duration::from_secs(12));
        (closed, reading)
    });
    // Enough to fill the stuck one's socket buffers, then more for over two seconds.
    publish(&server, "news", 300, 64 * 1024, Duration::from_millis(15));
    assert!(closed_within(&mut stuck, Duration::from_secs(10)));
    let (closed, _still_connected) = drain.join().unwrap();
    assert!(!closed, "a subscriber that reads was disconnected");
    assert_eq!(pubsub_clients(&server), 1);
}

#[test]
fn a_reply_past_the_normal_hard_limit_closes_the_client() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let big = vec![b'v'; 200 * 1024];
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big[..])
        .query(&mut con)
        .unwrap();
    set_limits(&server, "normal 100kb 0 0");
    let mut stream = server.raw();
    stream.write_all(&resp(&[b"GET", b"big"])).unwrap();
    let mut got = Vec::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.read_to_end(&mut got);
    assert!(
        got.is_empty(),
        "a reply past the hard limit was sent ({} bytes)",
        got.len()
    );
    // Small replies are unaffected.
    let mut con = server.client();
    let _: () = redis::cmd("SET")
        .arg("small")
        .arg("v")
        .query(&mut con)
        .unwrap();
    let small: String = redis::cmd("GET").arg("small").query(&mut con).unwrap();
    assert_eq!(small, "v");
}

#[test]
fn config_set_of_one_class_leaves_the_others() {
    let server = Server::kv(&[]);
    set_limits(&server, "pubsub 1mb 0 0");
    set_limits(&server, "REPLICA 1 2 3");
    let mut con = server.client();
    let value: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("client-output-buffer-limit")
        .query(&mut con)
        .unwrap();
    assert_eq!(value[1], "normal 0 0 0 slave 1 2 3 pubsub 1048576 0 0");
}

#[test]
fn maxmemory_clients_evicts_the_largest_client_and_spares_no_evict_ones() {
    let server = Server::kv(&[]);
    let mut control = server.client();
    let _: () = redis::cmd("CLIENT")
        .arg("NO-EVICT")
        .arg("on")
        .query(&mut control)
        .unwrap();
    support::config_set(&mut control, "maxmemory-clients", "1mb");
    // A protected client with 1.5 MB of a request buffered, and a plain one sending more.
    let mut protected = server.raw();
    exchange(&mut protected, &resp(&[b"CLIENT", b"NO-EVICT", b"on"]), 5);
    let header = b"*3\r\n$3\r\nSET\r\n$1\r\np\r\n$2000000\r\n";
    protected.write_all(header).unwrap();
    protected.write_all(&vec![b'p'; 1_500_000]).unwrap();
    let mut plain = server.raw();
    plain
        .write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$3000000\r\n")
        .unwrap();
    let chunk = vec![b'q'; 50_000];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut closed = false;
    while Instant::now() < deadline {
        if plain.write_all(&chunk).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if !closed {
        // Everything was sent: the server must have closed it by now.
        plain
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut byte = [0u8; 1];
        closed = matches!(plain.read(&mut byte), Ok(0) | Err(_));
    }
    assert!(closed, "the plain client was not evicted");
    let info: String = redis::cmd("INFO").arg("stats").query(&mut control).unwrap();
    assert!(info.contains("evicted_clients:1\r\n"), "{info}");
    // The protected client finishes its request.
    protected.write_all(&vec![b'p'; 500_000]).unwrap();
    protected.write_all(b"\r\n").unwrap();
    let mut reply = [0u8; 5];
    protected.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+OK\r\n");
    let len: i64 = redis::cmd("STRLEN").arg("p").query(&mut control).unwrap();
    assert_eq!(len, 2_000_000);
    // A limit lowered under what an idle client uses: the cron evicts it. (The protected
    // client's buffers count too, so without a limit while the idle client fills its own.)
    support::config_set(&mut control, "maxmemory-clients", "0");
    let mut idle = server.raw();
    idle.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nr\r\n$900000\r\n")
        .unwrap();
    idle.write_all(&vec![b'r'; 600_000]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    support::config_set(&mut control, "maxmemory-clients", "128kb");
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut byte = [0u8; 1];
    assert!(matches!(idle.read(&mut byte), Ok(0) | Err(_)));
    let info: String = redis::cmd("INFO").arg("stats").query(&mut control).unwrap();
    assert!(info.contains("evicted_clients:2\r\n"), "{info}");
}

/// The output fields of the CLIENT LIST line of the client whose last command was `cmd`:
/// `(obl, oll, omem, events)`.
fn output_fields(server: &Server, cmd: &str) -> (u64, u64, u64, String) {
    let mut con = server.client();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" cmd={cmd} ")))
        .unwrap_or_else(|| panic!("no client ran {cmd}: {list}"))
        .to_string();
    let field = |name: &str| {
        line.split(' ')
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {line}"))
            .to_string()
    };
    let number = |name: &str| field(name).parse::<u64>().unwrap();
    (
        number("obl"),
        number("oll"),
        number("omem"),
        field("events"),
    )
}

#[test]
fn client_list_shows_the_output_a_slow_subscriber_has_not_taken() {
    // As Redis (checked against 7.0.15): a subscriber that stops reading while messages keep
    // coming shows reply chunks waiting (`oll`, `omem`) and waits to write (`events=rw`); once
    // it reads them all, nothing is pending.
    for (name, server) in [("kv", Server::kv(&[])), ("redis", Server::redis(&[]))] {
        let mut stuck = stuck_subscriber(&server, "news");
        assert_eq!(output_fields(&server, "subscribe"), (0, 0, 0, "r".into()));
        // 8 MB: past what the sockets buffer between the two ends.
        publish(&server, "news", 512, 16 * 1024, Duration::ZERO);
        let (_, oll, omem, events) = output_fields(&server, "subscribe");
        assert!(oll > 0 && omem > 0, "{name}: oll={oll} omem={omem}");
        assert_eq!(events, "rw", "{name}");
        // Take everything, then nothing is pending.
        stuck
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut chunk = vec![0u8; 1 << 20];
        while matches!(stuck.read(&mut chunk), Ok(n) if n > 0) {}
        assert_eq!(
            output_fields(&server, "subscribe"),
            (0, 0, 0, "r".into()),
            "{name}"
        );
    }
}

#[test]
fn client_list_shows_the_replies_a_client_has_not_read() {
    // A client that sends requests for large replies and does not read them: its replies
    // wait (`omem`, `events=rw`), as in Redis (7.0.15), until it reads them.
    for (name, server) in [("kv", Server::kv(&[])), ("redis", Server::redis(&[]))] {
        let mut con = server.client();
        let _: () = redis::cmd("SET")
            .arg("big")
            .arg(vec![b'v'; 1 << 20])
            .query(&mut con)
            .unwrap();
        let mut reader = server.raw();
        reader
            .write_all(&resp(&[b"GET", b"big"]).repeat(16))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let (mut omem, mut events) = (0, String::new());
        while Instant::now() < deadline && (omem == 0 || events != "rw") {
            std::thread::sleep(Duration::from_millis(50));
            (_, _, omem, events) = output_fields(&server, "get");
        }
        assert!(
            omem > 0 && events == "rw",
            "{name}: omem={omem} events={events}"
        );
        let mut reply = vec![0u8; 16 * ((1 << 20) + 11)];
        reader.read_exact(&mut reply).unwrap();
        assert_eq!(
            output_fields(&server, "get"),
            (0, 0, 0, "r".into()),
            "{name}"
        );
    }
}
