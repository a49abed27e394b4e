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
/// that found no complete request and the next, only append to the buffer (after dropping
/// what [`RequestDecoder::decode_borrowed`] reported consumed, when decoding in place).
#[derive(Debug)]
pub struct RequestDecoder {
    limits: Limits,
    /// Arguments still expected by the multibulk request in progress (0: none in progress).
    remaining: u64,
    /// Ranges of the arguments parsed so far.
    args: Vec<Range<usize>>,
    /// How many bytes of the buffer the request in progress has consumed so far.
    parsed: usize,
    /// The arguments of the last inline request decoded.
    inline: Vec<Bytes>,
}

impl RequestDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> RequestDecoder {
        RequestDecoder {
            limits,
            remaining: 0,
            args: Vec::new(),
            parsed: 0,
            inline: Vec::new(),
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

    /// Forgets the request in progress, if any, so that the next call decodes from the start of
    /// a new request: for a decoder reused to read ahead over a buffer another decoder owns.
    pub fn reset(&mut self) {
        self.remaining = 0;
        self.args.clear();
        self.parsed = 0;
    }

    /// Gives back the memory a request of many arguments grew (the decoder keeps its argument
    /// list between requests, so that the usual ones allocate nothing), unless a request is
    /// in progress. For a server to call on a connection that has gone quiet.
    pub fn shrink(&mut self) {
        const KEEP: usize = 64;
        if self.remaining == 0 && self.args.capacity() > KEEP {
            self.args = Vec::with_capacity(KEEP);
        }
        if self.inline.capacity() > KEEP {
            self.inline = Vec::new();
        }
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
        match self.scan(buf)? {
            Scan::Incomplete { skipped } => {
                buf.advance(skipped);
                Ok(false)
            }
            Scan::Multibulk { start, end } => {
                // Each argument is split off the buffer itself: one reference count taken per
                // argument, where freezing the request and slicing it took one more per
                // request and per argument.
                buf.advance(start);
                args.reserve(self.args.len());
                let mut consumed = 0;
                for range in self.args.drain(..) {
                    buf.advance(range.start - consumed);
                    args.push(buf.split_to(range.len()).freeze());
                    consumed = range.end;
                }
                buf.advance(end - start - consumed);
                Ok(true)
            }
            Scan::Inline { end } => {
                buf.advance(end);
                std::mem::swap(args, &mut self.inline);
                Ok(true)
            }
        }
    }

    /// Decodes the next request of `buf` without taking anything from it: its arguments are
    /// pushed onto `args` as slices of `buf` (of the decoder's own copy for an inline request,
    /// whose quoting it undoes), so a server executing them in place takes no reference
    /// counts and makes no copies.
    ///
    /// [`Decoded::consumed`] says how many bytes of `buf` this call has finished with: the
    /// next call must be given the bytes after them (with whatever arrived since), and the
    /// caller may drop them once it is done with `args`.
    pub fn decode_borrowed<'b>(
        &'b mut self,
        buf: &'b [u8],
        args: &mut impl Extend<&'b [u8]>,
    ) -> Result<Decoded, ProtocolError> {
        match self.scan(buf)? {
            Scan::Incomplete { skipped } => Ok(Decoded {
                consumed: skipped,
                complete: false,
            }),
            Scan::Multibulk { start, end } => {
                let request = &buf[start..end];
                args.extend(self.args.drain(..).map(|range| &request[range]));
                Ok(Decoded {
                    consumed: end,
                    complete: true,
                })
            }
            Scan::Inline { end } => {
                args.extend(self.inline.iter().map(|arg| &arg[..]));
                Ok(Decoded {
                    consumed: end,
                    complete: true,
                })
            }
        }
    }

    /// Finds the next complete request of `buf`, leaving a multibulk request's argument
    /// ranges (relative to its start) in `self.args` and an inline request's arguments in
    /// `self.inline`. A multibulk request in progress is resumed where the last call left it:
    /// `buf` then starts with it.
    fn scan(&mut self, buf: &[u8]) -> Result<Scan, ProtocolError> {
        self.inline.clear();
        let result = self.scan_inner(buf);
        if result.is_err() {
            self.remaining = 0;
            self.args.clear();
            self.parsed = 0;
        }
        result
    }

    fn scan_inner(&mut self, buf: &[u8]) -> Result<Scan, ProtocolError> {
        // Where the request being scanned starts: past the empty requests skipped so far.
        let mut start = 0;
        loop {
            let request = &buf[start..];
            if self.remaining == 0 {
                self.args.clear();
                match request.first() {
                    None => return Ok(Scan::Incomplete { skipped: start }),
                    Some(b'*') => {}
                    Some(_) => match self.inline(request)? {
                        Some(line) if self.inline.is_empty() => {
                            start += line;
                            continue;
                        }
                        Some(line) => return Ok(Scan::Inline { end: start + line }),
                        None => return Ok(Scan::Incomplete { skipped: start }),
                    },
                }
                let header = integer_line(
                    &request[1..],
                    self.limits.max_inline_len,
                    ProtocolError::TooBigMultibulkCount,
                    ProtocolError::InvalidMultibulkLength,
                );
                let (rest, count) = match settle(header)? {
                    Outcome::Done(done) => done,
                    Outcome::NeedMore => return Ok(Scan::Incomplete { skipped: start }),
                };
                let consumed = request.len() - rest.len();
                if count <= 0 {
                    // Redis skips empty and null multibulks silently.
                    start += consumed;
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
                let input = &request[self.parsed..];
                let (rest, arg) = match settle(bulk_arg(input, &self.limits))? {
                    Outcome::Done(done) => done,
                    Outcome::NeedMore => return Ok(Scan::Incomplete { skipped: start }),
                };
                let at = self.parsed + (arg.as_ptr() as usize - input.as_ptr() as usize);
                self.args.push(at..at + arg.len());
                self.parsed = request.len() - rest.len();
                self.remaining -= 1;
            }
            let end = start + self.parsed;
            self.parsed = 0;
            return Ok(Scan::Multibulk { start, end });
        }
    }

    /// An inline request: the line up to `\n` (a `\r` before it is dropped), its arguments
    /// left in `self.inline`; the line's length with its `\n`, or `None` if it is not
    /// complete yet.
    fn inline(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let Some(newline) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            return Ok(None);
        };
        let line = buf[..newline]
            .strip_suffix(b"\r")
            .unwrap_or(&buf[..newline]);
        self.inline = split_inline(line)?;
        Ok(Some(newline + 1))
    }
}

/// What [`RequestDecoder::decode_borrowed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// How many bytes at the front of the buffer the decoder is done with: the request's, if
    /// it is complete, and any empty requests skipped before it.
    pub consumed: usize,
    /// Whether a complete request was found (its arguments pushed).
    pub complete: bool,
}

/// Where [`RequestDecoder::scan`] found the next request.
enum Scan {
    /// No complete request: the `skipped` bytes before the one in progress can go.
    Incomplete { skipped: usize },
    /// A multibulk request spans `start..end`.
    Multibulk { start: usize, end: usize },
    /// An inline request ends at `end`.
    Inline { end: usize },
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
