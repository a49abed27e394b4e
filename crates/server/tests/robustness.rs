//! Hostile input must never take kv-server down: random bytes on the wire, and every command
//! kv knows called with random arguments. Each reply must be a well-formed frame, and the
//! server must still answer PING afterwards.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use bytes::BytesMut;
use kv_resp::{Frame, FrameDecoder};
use kv_testkit::Rng;
use support::{resp, Server};

/// Arguments chosen to hit edge cases: numbers at the limits, options, empty and binary bytes.
const ARGS: &[&[u8]] = &[
    b"k",
    b"k2",
    b"0",
    b"1",
    b"-1",
    b"2",
    b"10",
    b"-100",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"99999999999999999999",
    b"1.5",
    b"inf",
    b"-inf",
    b"nan",
    b"",
    b"\x00\xff",
    b"*",
    b"[a",
    b"\\",
    b"NX",
    b"XX",
    b"GT",
    b"LT",
    b"EX",
    b"PX",
    b"EXAT",
    b"KEEPTTL",
    b"GET",
    b"COUNT",
    b"MATCH",
    b"TYPE",
    b"LEFT",
    b"RIGHT",
    b"BEFORE",
    b"AFTER",
    b"WITHVALUES",
    b"LIMIT",
    b"DB",
    b"REPLACE",
    b"IDX",
    b"LEN",
    b"RANK",
    b"MAXLEN",
    b"ASYNC",
    b"string",
    b"list",
    b"hash",
    b"set",
];

/// Commands not sent: they stop the server, block the connection on purpose, or change
/// what the connection is (the test needs one reply per request).
const SKIPPED: &[&str] = &[
    "shutdown", "debug", "monitor", "client", "quit", "reset", "hello", "auth", "config",
    "flushall", "swapdb",
];

fn read_frame(
    stream: &mut std::net::TcpStream,
    decoder: &mut FrameDecoder,
    buf: &mut BytesMut,
) -> Option<Frame> {
    let mut chunk = [0u8; 65536];
    loop {
        match decoder.decode(buf) {
            Ok(Some(frame)) => return Some(frame),
            Ok(None) => {}
            Err(e) => panic!("malformed reply: {e}"),
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[test]
fn every_command_with_random_arguments() {
    let server = Server::kv(&[]);
    let mut con = server.client();
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut con).unwrap();
    // Blocking commands may wait for ever with random arguments; tests/blocking.rs has them.
    let blocking: Vec<String> = redis::cmd("COMMAND")
        .arg(&["LIST", "FILTERBY", "ACLCAT", "blocking"])
        .query(&mut con)
        .unwrap();
    assert!(blocking.contains(&"blpop".to_string()), "{blocking:?}");
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| !SKIPPED.contains(&n.as_str()) && !blocking.contains(n))
        .collect();
    assert!(names.len() > 80, "{names:?}");
    let mut rng = Rng(0x6b76_726f_6275_7374);
    let mut stream = server.raw();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut decoder, mut buf) = (FrameDecoder::default(), BytesMut::new());
    for round in 0..4000 {
        let name = &names[rng.below(names.len())];
        let mut args: Vec<&[u8]> = vec![name.as_bytes()];
        for _ in 0..rng.below(7) {
            args.push(ARGS[rng.below(ARGS.len())]);
        }
        stream.write_all(&resp(&args)).unwrap();
        let reply = read_frame(&mut stream, &mut decoder, &mut buf);
        assert!(reply.is_some(), "no reply to {args:?} (round {round})");
    }
    assert_eq!(
        redis::cmd("PING")
            .query::<String>(&mut server.client())
            .unwrap(),
        "PONG"
    );
}

#[test]
fn random_bytes_never_take_the_server_down() {
    let server = Server::kv(&[]);
    let mut rng = Rng(0x0067_6172_6261_6765);
    for _ in 0..200 {
        let mut stream = server.raw();
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let len = 1 + rng.below(512);
        // Mostly protocol-looking bytes, so the decoder goes deep before it fails.
        let alphabet = b"*$+-:_#,(!=%~>|.?\r\n0123456789abcxyz \"'\\";
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(8) == 0 {
                    rng.next() as u8
                } else {
                    alphabet[rng.below(alphabet.len())]
                }
            })
            .collect();
        let _ = stream.write_all(&bytes);
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    }
    assert_eq!(
        redis::cmd("PING")
            .query::<String>(&mut server.client())
            .unwrap(),
        "PONG"
    );
}
