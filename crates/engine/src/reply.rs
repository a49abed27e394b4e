//! The reply buffer commands write into.

use bytes::BytesMut;
use kv_resp::encode::{self, Protocol};
use kv_resp::Frame;

/// Replies written straight into a connection's output buffer, in the protocol the connection
/// speaks. Commands write as they go, so a reply is never built twice; a command that fails
/// after writing part of a reply is rolled back by the caller to the mark it took first.
#[derive(Debug, Default)]
pub struct Reply {
    /// The encoded bytes, ready for the socket.
    pub buf: BytesMut,
    /// The protocol replies are encoded in.
    pub protocol: Protocol,
}

impl Reply {
    /// An empty buffer for `protocol`.
    pub fn new(protocol: Protocol) -> Reply {
        Reply {
            buf: BytesMut::with_capacity(4096),
            protocol,
        }
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status line.
    pub fn simple(&mut self, text: &str) {
        encode::write_simple(&mut self.buf, text.as_bytes());
    }

    /// An error line (`ERR ...`, `WRONGTYPE ...`).
    pub fn error(&mut self, text: &str) {
        encode::write_error(&mut self.buf, text.as_bytes());
    }

    /// A command's error, with the client's own bytes echoed as sent.
    pub fn command_error(&mut self, error: &crate::CommandError) {
        encode::write_error(&mut self.buf, &error.to_bytes());
    }

    /// A HELP reply: one status line per line of text.
    pub fn help(&mut self, lines: &[&str]) {
        self.array(lines.len());
        for line in lines {
            self.simple(line);
        }
    }

    /// An integer.
    pub fn integer(&mut self, n: i64) {
        encode::write_integer(&mut self.buf, n);
    }

    /// A count, as an integer.
    pub fn count(&mut self, n: usize) {
        self.integer(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// A bulk string.
    pub fn bulk(&mut self, data: &[u8]) {
        encode::write_bulk(&mut self.buf, data);
    }

    /// A missing string: `$-1` or `_`.
    pub fn null(&mut self) {
        encode::write_null_bulk(&mut self.buf, self.protocol);
    }

    /// A missing array: `*-1` or `_`.
    pub fn null_array(&mut self) {
        encode::write_null_array(&mut self.buf, self.protocol);
    }

    /// The header of an array of `n` replies written next.
    pub fn array(&mut self, n: usize) {
        encode::write_array_len(&mut self.buf, n);
    }

    /// The header of a push of `n` replies written next (`>n`, or an array in RESP2): pub/sub
    /// messages and subscription confirmations.
    pub fn push(&mut self, n: usize) {
        encode::write_push_len(&mut self.buf, self.protocol, n);
    }

    /// The header of a map of `pairs` key-value pairs written next.
    pub fn map(&mut self, pairs: usize) {
        encode::write_map_len(&mut self.buf, self.protocol, pairs);
    }

    /// The header of a set of `n` members written next.
    pub fn set(&mut self, n: usize) {
        encode::write_set_len(&mut self.buf, self.protocol, n);
    }

    /// A double (`,d` or a bulk string).
    pub fn double(&mut self, d: f64) {
        encode::write_double(&mut self.buf, self.protocol, d);
    }

    /// A boolean (`#t`/`#f` or `:1`/`:0`).
    pub fn boolean(&mut self, b: bool) {
        encode::write_boolean(&mut self.buf, self.protocol, b);
    }

    /// Verbatim text (`=` in RESP3, a bulk string in RESP2).
    pub fn verbatim(&mut self, text: &[u8]) {
        encode::write_verbatim(&mut self.buf, self.protocol, *b"txt", text);
    }

    /// Any frame.
    pub fn frame(&mut self, frame: &Frame) {
        encode::encode(frame, self.protocol, &mut self.buf);
    }

    /// An array of bulk strings.
    pub fn bulks<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a [u8]>) {
        self.array(items.len());
        for item in items {
            self.bulk(item);
        }
    }

    /// Where the buffer ends now, to roll back to.
    pub fn mark(&self) -> usize {
        self.buf.len()
    }

    /// Drops everything written since `mark`.
    pub fn rollback(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }
}
