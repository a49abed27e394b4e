//! Differential test against a real Redis: every reply type Redis can produce (through
//! `DEBUG PROTOCOL`) must decode, and re-encoding the decoded frame must give back Redis's
//! exact bytes, in RESP3 and, brought down, in RESP2.
//!
//! Needs Debian's `redis-server` on the PATH (`cargo xtask test` installs it).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::BytesMut;
use kv_resp::{encode, Frame, FrameDecoder, Protocol};
use kv_testkit::Server;

/// A connection that returns each reply with the exact bytes it arrived as.
struct Connection {
    stream: TcpStream,
    decoder: FrameDecoder,
    buf: BytesMut,
}

impl Connection {
    fn new(port: u16) -> Connection {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Connection {
            stream,
            decoder: FrameDecoder::default(),
            buf: BytesMut::new(),
        }
    }

    fn call(&mut self, args: &[&str]) -> (Frame, Vec<u8>) {
        let mut out = BytesMut::new();
        encode::encode(
            &Frame::command(args.iter().map(|a| a.to_string())),
            Protocol::Resp2,
            &mut out,
        );
        self.stream.write_all(&out).unwrap();
        self.read()
    }

    fn read(&mut self) -> (Frame, Vec<u8>) {
        loop {
            let before = self.buf.clone();
            if let Some(frame) = self.decoder.decode(&mut self.buf).unwrap() {
                let raw = before[..before.len() - self.buf.len()].to_vec();
                return (frame, raw);
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).unwrap();
            assert!(n > 0, "redis closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn encoded(frame: &Frame, protocol: Protocol) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode::encode(frame, protocol, &mut out);
    out.to_vec()
}

const TYPES: [&str; 13] = [
    "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
    "verbatim", "true", "false",
];

#[test]
fn every_redis_reply_type_decodes_and_reencodes_byte_for_byte() {
    let redis = Server::redis(&["--enable-debug-command", "yes"]);
    let mut resp3 = Connection::new(redis.port);
    let (hello, _) = resp3.call(&["HELLO", "3"]);
    assert!(matches!(hello, Frame::Map(_)), "{hello:?}");
    let mut resp2 = Connection::new(redis.port);

    for kind in TYPES {
        let (frame, raw3) = resp3.call(&["DEBUG", "PROTOCOL", kind]);
        assert!(!frame.is_error(), "{kind}: {frame:?}");
        assert_eq!(encoded(&frame, Protocol::Resp3), raw3, "RESP3 {kind}");
        if kind == "push" {
            // Redis refuses to send a push to a RESP2 client. The RESP3 push is followed by a
            // regular reply, which must decode as well.
            let (after, raw) = resp3.read();
            assert!(matches!(after, Frame::Bulk(_)), "{after:?}");
            assert_eq!(encoded(&after, Protocol::Resp3), raw);
            continue;
        }
        let (_, raw2) = resp2.call(&["DEBUG", "PROTOCOL", kind]);
        assert_eq!(
            encoded(&frame, Protocol::Resp2),
            raw2,
            "RESP2 {kind}: kv {:?} vs redis {:?}",
            String::from_utf8_lossy(&encoded(&frame, Protocol::Resp2)),
            String::from_utf8_lossy(&raw2)
        );
    }
}

#[test]
fn redis_protocol_errors_match_the_codec_texts() {
    use kv_resp::ProtocolError::*;
    let redis = Server::redis(&["--enable-debug-command", "yes"]);
    let cases: [(&[u8], kv_resp::ProtocolError); 4] = [
        (b"*x\r\n", InvalidMultibulkLength),
        (b"*1\r\n$x\r\n", InvalidBulkLength),
        (b"*1\r\n:1\r\n", ExpectedBulk(b':')),
        (b"SET a \"b\r\n", UnbalancedQuotes),
    ];
    for (input, error) in cases {
        let mut stream = TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(input).unwrap();
        let mut reply = Vec::new();
        // Redis replies and closes the connection.
        let _ = stream.read_to_end(&mut reply);
        assert_eq!(String::from_utf8_lossy(&reply), format!("-ERR {error}\r\n"));
    }
}
