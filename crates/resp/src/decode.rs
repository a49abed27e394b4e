//! Decoding any RESP2 or RESP3 frame, as a client reads replies.
//!
//! The decoder is resumable: it parses one token (a scalar, or the header of an aggregate) at a
//! time and keeps what it has parsed when the buffer runs out, so a large reply that arrives in
//! many reads is scanned once, not once per read. Parsed tokens are recorded as byte ranges
//! into the buffer; only when the whole frame has arrived is that prefix split off, frozen,
//! and sliced into the frame's [`Bytes`], so bulk strings are never copied.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use nom::number::streaming::u8 as type_byte;

use crate::parse::{crlf, fail, integer_line, line, payload, settle, Outcome, PResult};
use crate::{Frame, Limits, ProtocolError};

/// Incremental decoder of [`Frame`]s from a growing buffer.
///
/// Call [`FrameDecoder::decode`] whenever bytes have been appended to the buffer. Between a call
/// that returned `Ok(None)` and the next, only append to the buffer: the decoder remembers how
/// far into it it has parsed.
#[derive(Debug)]
pub struct FrameDecoder {
    limits: Limits,
    /// Tokens of the frame being decoded, in pre-order.
    nodes: Vec<Node>,
    /// Aggregates (and streamed strings) opened but not yet complete, innermost last.
    open: Vec<Open>,
    /// How many bytes of the buffer the recorded tokens cover.
    parsed: usize,
}

/// A parsed token, with payloads as ranges into the buffer.
#[derive(Debug, Clone)]
enum Node {
    Simple(Range<usize>),
    Error(Range<usize>),
    Integer(i64),
    Bulk(Range<usize>),
    NullBulk,
    NullArray,
    Null,
    Boolean(bool),
    Double(f64),
    BigNumber(Range<usize>),
    BulkError(Range<usize>),
    Verbatim([u8; 3], Range<usize>),
    /// An aggregate header with its number of direct children (pairs count twice).
    Aggregate(Kind, usize),
    /// A streamed string, followed by its chunks.
    StreamedBulk(usize),
    Chunk(Range<usize>),
}

/// The aggregate types, which differ only in how their children are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Array,
    Map,
    Set,
    Push,
    Attribute,
}

/// An aggregate still waiting for children.
#[derive(Debug)]
struct Open {
    /// Index of its header in `nodes`.
    node: usize,
    /// Children still expected; `None` for a streamed aggregate, which ends at `.`.
    remaining: Option<u64>,
    /// Children seen so far (bytes so far, for a streamed string).
    seen: u64,
    streamed_string: bool,
}

/// What one call of the token parser found.
enum Token<'a> {
    Scalar(Scalar<'a>),
    /// An aggregate header: its kind and declared number of children (`None`: streamed).
    Open(Kind, Option<u64>),
    StreamedBulk,
    /// A streamed-string chunk; empty for the terminating `;0`.
    Chunk(&'a [u8]),
    /// `.`, the end of a streamed aggregate.
    End,
}

enum Scalar<'a> {
    Simple(&'a [u8]),
    Error(&'a [u8]),
    Integer(i64),
    Bulk(&'a [u8]),
    NullBulk,
    NullArray,
    Null,
    Boolean(bool),
    Double(f64),
    BigNumber(&'a [u8]),
    BulkError(&'a [u8]),
    Verbatim([u8; 3], &'a [u8]),
}

impl FrameDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> FrameDecoder {
        FrameDecoder {
            limits,
            nodes: Vec::new(),
            open: Vec::new(),
            parsed: 0,
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes one complete frame off the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a frame (append more bytes and call
    /// again), and an error when the bytes can never become a valid frame. After an error the
    /// decoder is reset, but the stream itself cannot be trusted any more.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        match self.parse(buf) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => {
                self.reset();
                return Err(e);
            }
        }
        let bytes = buf.split_to(self.parsed).freeze();
        let mut nodes = self.nodes.drain(..);
        let frame = build(&mut nodes, &bytes);
        drop(nodes);
        self.reset();
        Ok(frame)
    }

    fn reset(&mut self) {
        self.nodes.clear();
        self.open.clear();
        self.parsed = 0;
    }

    /// Parses tokens until a frame is complete (`true`) or the buffer runs out (`false`).
    fn parse(&mut self, buf: &[u8]) -> Result<bool, ProtocolError> {
        loop {
            let input = &buf[self.parsed..];
            let in_string = self.open.last().is_some_and(|o| o.streamed_string);
            let (rest, token) = match settle(token(input, &self.limits, in_string))? {
                Outcome::Done(done) => done,
                Outcome::NeedMore => return Ok(false),
            };
            let start = self.parsed;
            let at = |part: &[u8]| {
                let offset = start + (part.as_ptr() as usize - input.as_ptr() as usize);
                offset..offset + part.len()
            };
            self.parsed = buf.len() - rest.len();
            let complete = match token {
                Token::Scalar(scalar) => {
                    self.nodes.push(match scalar {
                        Scalar::Simple(s) => Node::Simple(at(s)),
                        Scalar::Error(s) => Node::Error(at(s)),
                        Scalar::Integer(n) => Node::Integer(n),
                        Scalar::Bulk(s) => Node::Bulk(at(s)),
                        Scalar::NullBulk => Node::NullBulk,
                        Scalar::NullArray => Node::NullArray,
                        Scalar::Null => Node::Null,
                        Scalar::Boolean(b) => Node::Boolean(b),
                        Scalar::Double(d) => Node::Double(d),
                        Scalar::BigNumber(s) => Node::BigNumber(at(s)),
                        Scalar::BulkError(s) => Node::BulkError(at(s)),
                        Scalar::Verbatim(format, s) => Node::Verbatim(format, at(s)),
                    });
                    self.child_done()?
                }
                Token::Open(kind, declared) => {
                    let children = match (kind, declared) {
                        (Kind::Map, Some(n)) => Some(n * 2),
                        (Kind::Attribute, Some(n)) => Some(n * 2 + 1),
                        (_, n) => n,
                    };
                    self.nodes.push(Node::Aggregate(kind, 0));
                    if children == Some(0) {
                        self.child_done()?
                    } else {
                        self.open_nested(children, false)?;
                        false
                    }
                }
                Token::StreamedBulk => {
                    self.nodes.push(Node::StreamedBulk(0));
                    self.open_nested(None, true)?;
                    false
                }
                Token::Chunk([]) => self.close_streamed()?,
                Token::Chunk(data) => {
                    // `in_string` guaranteed an open streamed string is on top.
                    if let Some(open) = self.open.last_mut() {
                        open.seen += data.len() as u64;
                        if open.seen > self.limits.max_bulk_len {
                            return Err(ProtocolError::InvalidBulkLength);
                        }
                    }
                    self.nodes.push(Node::Chunk(at(data)));
                    false
                }
                Token::End => self.close_streamed()?,
            };
            if complete {
                return Ok(true);
            }
        }
    }

    fn open_nested(
        &mut self,
        remaining: Option<u64>,
        streamed_string: bool,
    ) -> Result<(), ProtocolError> {
        if self.open.len() >= self.limits.max_depth {
            return Err(ProtocolError::TooDeep);
        }
        self.open.push(Open {
            node: self.nodes.len() - 1,
            remaining,
            seen: 0,
            streamed_string,
        });
        Ok(())
    }

    /// Ends the innermost streamed string or streamed aggregate (at `;0` or `.`).
    fn close_streamed(&mut self) -> Result<bool, ProtocolError> {
        match self.open.pop() {
            Some(open) if open.remaining.is_none() => {
                let count = if open.streamed_string {
                    self.nodes.len() - open.node - 1
                } else {
                    open.seen as usize
                };
                match &mut self.nodes[open.node] {
                    Node::Aggregate(Kind::Map, _) if count % 2 == 1 => {
                        return Err(ProtocolError::InvalidStream)
                    }
                    Node::Aggregate(_, n) | Node::StreamedBulk(n) => *n = count,
                    _ => return Err(ProtocolError::InvalidStream),
                }
                self.child_done()
            }
            _ => Err(ProtocolError::InvalidStream),
        }
    }

    /// Records that a complete value was added; closes every aggregate this completes.
    /// Returns true when the top-level frame is complete.
    fn child_done(&mut self) -> Result<bool, ProtocolError> {
        loop {
            let Some(open) = self.open.last_mut() else {
                return Ok(true);
            };
            open.seen += 1;
            match open.remaining {
                Some(total) if open.seen == total => {
                    let node = open.node;
                    let seen = open.seen as usize;
                    self.open.pop();
                    if let Node::Aggregate(_, n) = &mut self.nodes[node] {
                        *n = seen;
                    }
                }
                Some(_) => return Ok(false),
                None => {
                    if open.seen > self.limits.max_array_len.saturating_mul(2) {
                        return Err(ProtocolError::InvalidMultibulkLength);
                    }
                    return Ok(false);
                }
            }
        }
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(Limits::DEFAULT)
    }
}

/// Decodes one frame from the front of `buf` with a fresh decoder.
///
/// Convenient for one-off use; a connection should keep a [`FrameDecoder`] so that a frame
/// arriving in many reads is scanned only once.
pub fn decode_frame(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Frame>, ProtocolError> {
    FrameDecoder::new(*limits).decode(buf)
}

/// Parses one token at the start of `input`.
fn token<'a>(input: &'a [u8], limits: &Limits, in_string: bool) -> PResult<'a, Token<'a>> {
    let (i, marker) = type_byte(input)?;
    if in_string && marker != b';' {
        return fail(ProtocolError::InvalidStream);
    }
    let max_bulk = limits.max_bulk_len;
    let header = limits.max_inline_len;
    match marker {
        b'+' => line(i, max_bulk as usize, ProtocolError::TooBigLine)
            .map(|(r, s)| (r, Token::Scalar(Scalar::Simple(s)))),
        b'-' => line(i, max_bulk as usize, ProtocolError::TooBigLine)
            .map(|(r, s)| (r, Token::Scalar(Scalar::Error(s)))),
        b':' => integer_line(
            i,
            header,
            ProtocolError::TooBigLine,
            ProtocolError::InvalidInteger,
        )
        .map(|(r, n)| (r, Token::Scalar(Scalar::Integer(n)))),
        b'$' => {
            let (rest, length) = length_header(i, header, ProtocolError::TooBigBulkCount)?;
            let Some(length) = length else {
                return Ok((rest, Token::StreamedBulk));
            };
            match bulk_length(length, max_bulk) {
                Ok(None) => Ok((rest, Token::Scalar(Scalar::NullBulk))),
                Ok(Some(len)) => {
                    payload(rest, len).map(|(r, s)| (r, Token::Scalar(Scalar::Bulk(s))))
                }
                Err(e) => fail(e),
            }
        }
        b'!' | b'=' | b';' => {
            if marker == b';' && !in_string {
                return fail(ProtocolError::InvalidStream);
            }
            let (rest, len) = integer_line(
                i,
                header,
                ProtocolError::TooBigBulkCount,
                ProtocolError::InvalidBulkLength,
            )?;
            let Some(len) = checked_len(len, max_bulk) else {
                return fail(ProtocolError::InvalidBulkLength);
            };
            if marker == b';' {
                if len == 0 {
                    return Ok((rest, Token::Chunk(&[])));
                }
                return payload(rest, len).map(|(r, s)| (r, Token::Chunk(s)));
            }
            let (rest, data) = payload(rest, len)?;
            if marker == b'!' {
                return Ok((rest, Token::Scalar(Scalar::BulkError(data))));
            }
            match data {
                [a, b, c, b':', text @ ..] => {
                    let format = [*a, *b, *c];
                    // Re-slice from `data` so the text stays a view of the input.
                    let text = &data[4..4 + text.len()];
                    Ok((rest, Token::Scalar(Scalar::Verbatim(format, text))))
                }
                _ => fail(ProtocolError::InvalidVerbatim),
            }
        }
        b'*' | b'%' | b'~' | b'>' | b'|' => {
            let (rest, length) = length_header(i, header, ProtocolError::TooBigMultibulkCount)?;
            let kind = match marker {
                b'*' => Kind::Array,
                b'%' => Kind::Map,
                b'~' => Kind::Set,
                b'>' => Kind::Push,
                _ => Kind::Attribute,
            };
            let Some(length) = length else {
                return match kind {
                    Kind::Array | Kind::Map | Kind::Set => Ok((rest, Token::Open(kind, None))),
                    _ => fail(ProtocolError::InvalidMultibulkLength),
                };
            };
            match length {
                Some(-1) if kind == Kind::Array => Ok((rest, Token::Scalar(Scalar::NullArray))),
                Some(n) if n >= 0 && (n as u64) <= limits.max_array_len => {
                    Ok((rest, Token::Open(kind, Some(n as u64))))
                }
                _ => fail(ProtocolError::InvalidMultibulkLength),
            }
        }
        b'_' => crlf(i).map(|(r, ())| (r, Token::Scalar(Scalar::Null))),
        b'#' => {
            let (rest, text) = line(i, header, ProtocolError::TooBigLine)?;
            match text {
                b"t" => Ok((rest, Token::Scalar(Scalar::Boolean(true)))),
                b"f" => Ok((rest, Token::Scalar(Scalar::Boolean(false)))),
                _ => fail(ProtocolError::InvalidBoolean),
            }
        }
        b',' => {
            let (rest, text) = line(i, header, ProtocolError::TooBigLine)?;
            match parse_double(text) {
                Some(d) => Ok((rest, Token::Scalar(Scalar::Double(d)))),
                None => fail(ProtocolError::InvalidDouble),
            }
        }
        b'(' => {
            let (rest, text) = line(i, max_bulk as usize, ProtocolError::TooBigLine)?;
            let digits = text.strip_prefix(b"-").unwrap_or(text);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return fail(ProtocolError::InvalidBigNumber);
            }
            Ok((rest, Token::Scalar(Scalar::BigNumber(text))))
        }
        b'.' => crlf(i).map(|(r, ())| (r, Token::End)),
        other => fail(ProtocolError::InvalidFrameType(other)),
    }
}

/// A length header: `None` for `?` (a streamed frame), else the number, itself `None` when
/// the text is not an integer.
fn length_header(
    input: &[u8],
    max: usize,
    too_long: ProtocolError,
) -> PResult<'_, Option<Option<i64>>> {
    if let Some((rest, n)) = crate::parse::short_integer_line(input) {
        return Ok((rest, Some(Some(n))));
    }
    let (rest, text) = line(input, max, too_long)?;
    if text == b"?" {
        return Ok((rest, None));
    }
    Ok((rest, Some(crate::parse::parse_i64(text))))
}

/// A bulk length: `None` for RESP2's null (`-1`).
fn bulk_length(length: Option<i64>, max: u64) -> Result<Option<usize>, ProtocolError> {
    match length {
        Some(-1) => Ok(None),
        Some(n) => checked_len(n, max)
            .map(Some)
            .ok_or(ProtocolError::InvalidBulkLength),
        None => Err(ProtocolError::InvalidBulkLength),
    }
}

/// A declared length as `usize`, if it is within `0..=max`.
pub(crate) fn checked_len(n: i64, max: u64) -> Option<usize> {
    u64::try_from(n)
        .ok()
        .filter(|&n| n <= max)
        .and_then(|n| usize::try_from(n).ok())
}

/// A RESP3 double: a decimal or exponent number, `inf`, `-inf` or `nan`.
fn parse_double(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    // Rust also accepts "infinity" and a leading "+"; RESP3 peers send neither, and being
    // lenient here costs nothing.
    text.parse::<f64>().ok()
}

/// Builds the frame whose tokens start at the front of `nodes`, slicing payloads from `bytes`.
fn build(nodes: &mut impl Iterator<Item = Node>, bytes: &Bytes) -> Option<Frame> {
    let frame = match nodes.next()? {
        Node::Simple(r) => Frame::Simple(bytes.slice(r)),
        Node::Error(r) => Frame::Error(bytes.slice(r)),
        Node::Integer(n) => Frame::Integer(n),
        Node::Bulk(r) => Frame::Bulk(bytes.slice(r)),
        Node::NullBulk => Frame::NullBulk,
        Node::NullArray => Frame::NullArray,
        Node::Null => Frame::Null,
        Node::Boolean(b) => Frame::Boolean(b),
        Node::Double(d) => Frame::Double(d),
        Node::BigNumber(r) => Frame::BigNumber(bytes.slice(r)),
        Node::BulkError(r) => Frame::BulkError(bytes.slice(r)),
        Node::Verbatim(format, r) => Frame::Verbatim {
            format,
            text: bytes.slice(r),
        },
        Node::StreamedBulk(chunks) => {
            let mut joined = BytesMut::new();
            for _ in 0..chunks {
                if let Some(Node::Chunk(r)) = nodes.next() {
                    joined.extend_from_slice(&bytes[r]);
                }
            }
            Frame::Bulk(joined.freeze())
        }
        Node::Chunk(r) => Frame::Bulk(bytes.slice(r)),
        Node::Aggregate(kind, children) => match kind {
            Kind::Array => Frame::Array(build_list(nodes, bytes, children)?),
            Kind::Set => Frame::Set(build_list(nodes, bytes, children)?),
            Kind::Push => Frame::Push(build_list(nodes, bytes, children)?),
            Kind::Map => Frame::Map(build_pairs(nodes, bytes, children / 2)?),
            Kind::Attribute => {
                let attributes = build_pairs(nodes, bytes, children / 2)?;
                let data = Box::new(build(nodes, bytes)?);
                Frame::Attribute { attributes, data }
            }
        },
    };
    Some(frame)
}

fn build_list(
    nodes: &mut impl Iterator<Item = Node>,
    bytes: &Bytes,
    count: usize,
) -> Option<Vec<Frame>> {
    (0..count).map(|_| build(nodes, bytes)).collect()
}

fn build_pairs(
    nodes: &mut impl Iterator<Item = Node>,
    bytes: &Bytes,
    count: usize,
) -> Option<Vec<(Frame, Frame)>> {
    (0..count)
        .map(|_| Some((build(nodes, bytes)?, build(nodes, bytes)?)))
        .collect()
}
