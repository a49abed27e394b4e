//! Decoding client requests as a server receives them: multibulk or inline.

use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};
use nom::number::streaming::u8 as type_byte;

use crate::decode::checked_len;
use crate::inline::split_inline;
use crate::parse::{fail, integer_line, payload, settle, Outcome, PResult};
use crate::{Limits, ProtocolError};

/// Most argument slots reserved ahead of their arrival, whatever a client declares.
const MAX_PREALLOCATED_ARGS: u64 = 1024;

/// Incremental decoder of client requests, each an argument vector.
///
/// A request is either a multibulk array of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\na\r\n`)
/// or an inline line (`GET a\r\n`), told apart by the first byte as Redis does. Empty
/// requests (`*0`, `*-1`, blank lines) are skipped. Arguments of multibulk requests are
/// zero-copy slices of the read buffer.
///
/// The decoder is resumable: a request arriving over many reads is scanned once. Between a call
/// that returned `Ok(None)` and the next, only append to the buffer.
#[derive(Debug)]
pub struct RequestDecoder {
    limits: Limits,
    /// Arguments still expected by the multibulk request in progress (0: none in progress).
    remaining: u64,
    /// Ranges of the arguments parsed so far.
    args: Vec<Range<usize>>,
    /// How many bytes of the buffer the request in progress has consumed so far.
    parsed: usize,
}

impl RequestDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> RequestDecoder {
        RequestDecoder {
            limits,
            remaining: 0,
            args: Vec::new(),
            parsed: 0,
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Changes the limits, e.g. after `CONFIG SET proto-max-bulk-len`.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Takes one complete, non-empty request off the front of `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed, and the error to report when the bytes
    /// can never form a valid request; the text of a [`ProtocolError`] is what Redis sends
    /// before it closes such a connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut args = Vec::new();
        Ok(self.decode_into(buf, &mut args)?.then_some(args))
    }

    /// [`RequestDecoder::decode`] into a vector the caller keeps: `args` is cleared, then
    /// holds the request's arguments when this returns `Ok(true)`. A server decoding many
    /// small requests saves an allocation per request this way.
    pub fn decode_into(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
    ) -> Result<bool, ProtocolError> {
        args.clear();
        let result = self.decode_inner(buf, args);
        if result.is_err() {
            self.remaining = 0;
            self.args.clear();
            self.parsed = 0;
        }
        result
    }

    fn decode_inner(
        &mut self,
        buf: &mut BytesMut,
        out: &mut Vec<Bytes>,
    ) -> Result<bool, ProtocolError> {
        loop {
            if self.remaining == 0 {
                match buf.first() {
                    None => return Ok(false),
                    Some(b'*') => {}
                    Some(_) => match self.inline(buf)? {
                        Some(args) if args.is_empty() => continue,
                        Some(args) => {
                            *out = args;
                            return Ok(true);
                        }
                        None => return Ok(false),
                    },
                }
                let header = integer_line(
                    &buf[1..],
                    self.limits.max_inline_len,
                    ProtocolError::TooBigMultibulkCount,
                    ProtocolError::InvalidMultibulkLength,
                );
                let (rest, count) = match settle(header)? {
                    Outcome::Done(done) => done,
                    Outcome::NeedMore => return Ok(false),
                };
                let consumed = buf.len() - rest.len();
                if count <= 0 {
                    // Redis skips empty and null multibulks silently.
                    buf.advance(consumed);
                    continue;
                }
                let count = count as u64;
                if count > self.limits.max_array_len {
                    return Err(ProtocolError::InvalidMultibulkLength);
                }
                self.remaining = count;
                self.parsed = consumed;
                self.args.reserve(count.min(MAX_PREALLOCATED_ARGS) as usize);
            }
            while self.remaining > 0 {
                let input = &buf[self.parsed..];
                let (rest, arg) = match settle(bulk_arg(input, &self.limits))? {
                    Outcome::Done(done) => done,
                    Outcome::NeedMore => return Ok(false),
                };
                let start = self.parsed + (arg.as_ptr() as usize - input.as_ptr() as usize);
                self.args.push(start..start + arg.len());
                self.parsed = buf.len() - rest.len();
                self.remaining -= 1;
            }
            // Each argument is split off the buffer itself: one reference count taken per
            // argument, where freezing the request and slicing it took one more per request
            // and per argument.
            out.reserve(self.args.len());
            let mut consumed = 0;
            for range in self.args.drain(..) {
                buf.advance(range.start - consumed);
                out.push(buf.split_to(range.len()).freeze());
                consumed = range.end;
            }
            buf.advance(self.parsed - consumed);
            self.parsed = 0;
            return Ok(true);
        }
    }

    /// An inline request: the line up to `\n` (a `\r` before it is dropped).
    fn inline(&self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let Some(newline) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            return Ok(None);
        };
        let line = buf[..newline]
            .strip_suffix(b"\r")
            .unwrap_or(&buf[..newline]);
        let args = split_inline(line)?;
        buf.advance(newline + 1);
        Ok(Some(args))
    }
}

impl Default for RequestDecoder {
    fn default() -> Self {
        RequestDecoder::new(Limits::DEFAULT)
    }
}

/// One `$len\r\npayload\r\n` argument of a multibulk request.
fn bulk_arg<'a>(input: &'a [u8], limits: &Limits) -> PResult<'a, &'a [u8]> {
    let (i, marker) = type_byte(input)?;
    if marker != b'$' {
        return fail(ProtocolError::ExpectedBulk(marker));
    }
    let (i, len) = integer_line(
        i,
        limits.max_inline_len,
        ProtocolError::TooBigBulkCount,
        ProtocolError::InvalidBulkLength,
    )?;
    match checked_len(len, limits.max_bulk_len) {
        Some(len) => payload(i, len),
        None => fail(ProtocolError::InvalidBulkLength),
    }
}
