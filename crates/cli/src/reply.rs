//! Replies as redis-cli sees them: hiredis's reply model, and a reader that parses RESP2 and
//! RESP3 into it with hiredis's rules and error texts.
//!
//! kv-cli reads replies with this reader rather than kv-resp's `FrameDecoder` because redis-cli
//! prints some values exactly as the server sent them, which a decoded [`kv_resp::Frame`] no
//! longer knows: a double is printed from its text (`3.14` and `3.1400000000000001` are the
//! same `f64`), and a protocol error or an attribute (`|`, which hiredis does not support) must
//! end the run with hiredis's message.

use std::io::{self, BufRead, Read};

/// One reply, typed as hiredis types it (`REDIS_REPLY_*`).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`: a status line.
    Status(Vec<u8>),
    /// `-ERR ...` or a RESP3 bulk error `!`: the error text.
    Error(Vec<u8>),
    /// `:42`.
    Integer(i64),
    /// `$5 hello`: a bulk string.
    String(Vec<u8>),
    /// `$-1`, `*-1` or RESP3's `_`.
    Nil,
    /// `,3.14`: a double, kept as the text the server sent.
    Double(Vec<u8>),
    /// `#t` / `#f`.
    Bool(bool),
    /// `=15 txt:...`: verbatim text without its three-letter format and colon.
    Verbatim {
        /// The format, such as `txt` or `mkd`.
        format: [u8; 3],
        /// The text after the colon.
        text: Vec<u8>,
    },
    /// `(1234...`: a big number, as its digits.
    BigNumber(Vec<u8>),
    /// `*N`: an array.
    Array(Vec<Reply>),
    /// `%N`: key-value pairs in the order sent.
    Map(Vec<(Reply, Reply)>),
    /// `~N`: a set.
    Set(Vec<Reply>),
    /// `>N`: out-of-band data (pub/sub messages, invalidations).
    Push(Vec<Reply>),
}

impl Reply {
    /// hiredis's type number (`REDIS_REPLY_STRING` is 1, ...), which redis-cli prints in
    /// "Unknown reply type: N".
    pub fn type_number(&self) -> u8 {
        match self {
            Reply::String(_) => 1,
            Reply::Array(_) => 2,
            Reply::Integer(_) => 3,
            Reply::Nil => 4,
            Reply::Status(_) => 5,
            Reply::Error(_) => 6,
            Reply::Double(_) => 7,
            Reply::Bool(_) => 8,
            Reply::Map(_) => 9,
            Reply::Set(_) => 10,
            Reply::Push(_) => 12,
            Reply::BigNumber(_) => 13,
            Reply::Verbatim { .. } => 14,
        }
    }
}

/// Why a reply could not be read, with the text hiredis puts in `context->errstr`.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection ("Server closed the connection").
    Eof,
    /// A socket error.
    Io(io::Error),
    /// The bytes are not valid RESP as hiredis reads it.
    Protocol(String),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ReadError::Eof
        } else {
            ReadError::Io(e)
        }
    }
}

/// How deep aggregates may nest before the reader gives up, so that a hostile server cannot
/// exhaust the stack (hiredis itself has no limit; no real reply comes close).
const MAX_DEPTH: usize = 1000;

/// hiredis's limit on a double's text: it copies it into a 326-byte buffer with a terminator.
const MAX_DOUBLE_LEN: usize = 325;

/// Reads one whole reply from `input`.
pub fn read_reply(input: &mut impl BufRead) -> Result<Reply, ReadError> {
    read_at(input, 0)
}

/// Reads one reply nested `depth` aggregates deep.
fn read_at(input: &mut impl BufRead, depth: usize) -> Result<Reply, ReadError> {
    if depth > MAX_DEPTH {
        return Err(ReadError::Protocol(format!(
            "No support for nested multi bulk replies with depth > {MAX_DEPTH}"
        )));
    }
    // Only the aggregate loop recurses; the rest lives in functions of their own, so that
    // each level of nesting costs little stack.
    match header(&read_line(input)?)? {
        Header::Done(reply) => Ok(reply),
        Header::Bulk(kind, len) => read_bulk_reply(input, kind, len),
        Header::Aggregate(kind, count) => {
            // Grow as elements arrive: a declared count is not an allocation to trust.
            let capacity = usize::try_from(count).unwrap_or(0).min(1024);
            if kind == b'%' {
                let mut pairs = Vec::with_capacity(capacity);
                for _ in 0..count {
                    let key = read_at(input, depth + 1)?;
                    let value = read_at(input, depth + 1)?;
                    pairs.push((key, value));
                }
                Ok(Reply::Map(pairs))
            } else {
                let mut items = Vec::with_capacity(capacity);
                for _ in 0..count {
                    items.push(read_at(input, depth + 1)?);
                }
                Ok(match kind {
                    b'*' => Reply::Array(items),
                    b'~' => Reply::Set(items),
                    _ => Reply::Push(items),
                })
            }
        }
    }
}

/// What a reply's first line says.
enum Header {
    /// The whole reply.
    Done(Reply),
    /// A bulk of this type byte and length follows.
    Bulk(u8, u64),
    /// An aggregate of this type byte and count follows.
    Aggregate(u8, u64),
}

/// Reads a reply's first line.
#[inline(never)]
fn header(line: &[u8]) -> Result<Header, ReadError> {
    let Some((&kind, rest)) = line.split_first() else {
        // An empty line has no type byte: hiredis reads the CR as the type.
        return Err(protocol_type_error(b'\r'));
    };
    let done = |reply| Ok(Header::Done(reply));
    match kind {
        b'+' => done(Reply::Status(rest.to_vec())),
        b'-' => done(Reply::Error(rest.to_vec())),
        b':' => done(Reply::Integer(
            parse_integer(rest).ok_or_else(|| bad("Bad integer value"))?,
        )),
        b',' => done(Reply::Double(check_double(rest.to_vec())?)),
        b'#' => match rest {
            [b't' | b'T'] => done(Reply::Bool(true)),
            [b'f' | b'F'] => done(Reply::Bool(false)),
            _ => Err(bad("Bad bool value")),
        },
        b'_' if rest.is_empty() => done(Reply::Nil),
        b'_' => Err(bad("Bad nil value")),
        b'(' => {
            let digits = rest.strip_prefix(b"-").unwrap_or(rest);
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(bad("Bad bignum value"));
            }
            done(Reply::BigNumber(rest.to_vec()))
        }
        b'$' | b'!' | b'=' => {
            let len = parse_integer(rest).ok_or_else(|| bad("Bad bulk string length"))?;
            match len {
                -1 => done(Reply::Nil),
                len if len < -1 => Err(bad("Bulk string length out of range")),
                len => Ok(Header::Bulk(kind, len.unsigned_abs())),
            }
        }
        b'*' | b'%' | b'~' | b'>' => {
            let count = parse_integer(rest).ok_or_else(|| bad("Bad multi-bulk length"))?;
            let limit = if kind == b'%' {
                i64::from(u32::MAX) / 2
            } else {
                i64::from(u32::MAX)
            };
            match count {
                -1 => done(Reply::Nil),
                count if count < -1 || count > limit => Err(bad("Multi-bulk length out of range")),
                count => Ok(Header::Aggregate(kind, count.unsigned_abs())),
            }
        }
        other => Err(protocol_type_error(other)),
    }
}

/// Reads a bulk's body and makes the reply its type byte says.
#[inline(never)]
fn read_bulk_reply(input: &mut impl BufRead, kind: u8, len: u64) -> Result<Reply, ReadError> {
    let body = read_bulk(input, len)?;
    match kind {
        b'$' => Ok(Reply::String(body)),
        b'!' => Ok(Reply::Error(body)),
        _ => {
            if body.len() < 4 || body[3] != b':' {
                return Err(bad(
                    "Verbatim string 4 bytes of content type are missing or incorrectly encoded.",
                ));
            }
            Ok(Reply::Verbatim {
                format: [body[0], body[1], body[2]],
                text: body[4..].to_vec(),
            })
        }
    }
}

/// hiredis's error for a byte that starts no known type (attributes, `|`, among them).
fn protocol_type_error(byte: u8) -> ReadError {
    let shown = match byte {
        b'\\' | b'"' => format!("\"\\{}\"", char::from(byte)),
        b'\n' => "\"\\n\"".into(),
        b'\r' => "\"\\r\"".into(),
        b'\t' => "\"\\t\"".into(),
        0x07 => "\"\\a\"".into(),
        0x08 => "\"\\b\"".into(),
        b if b.is_ascii_graphic() || b == b' ' => format!("\"{}\"", char::from(b)),
        b => format!("\"\\x{b:02x}\""),
    };
    ReadError::Protocol(format!("Protocol error, got {shown} as reply type byte"))
}

/// A protocol error with hiredis's `text`.
fn bad(text: &str) -> ReadError {
    ReadError::Protocol(text.into())
}

/// A RESP integer as hiredis's `string2ll` takes it: an optional `-`, then digits, in range.
fn parse_integer(text: &[u8]) -> Option<i64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Checks a double's text as hiredis does (`inf`, `-inf`, `nan`, or a finite number), and
/// keeps the text.
fn check_double(text: Vec<u8>) -> Result<Vec<u8>, ReadError> {
    if text.len() > MAX_DOUBLE_LEN {
        return Err(bad("Double value is too large"));
    }
    let lower = text.to_ascii_lowercase();
    if matches!(lower.as_slice(), b"inf" | b"-inf" | b"nan" | b"-nan") {
        return Ok(text);
    }
    // hiredis wants `strtod` to take the whole text and give a finite value.
    let finite = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .is_some_and(f64::is_finite);
    if finite {
        Ok(text)
    } else {
        Err(bad("Bad double value"))
    }
}

/// Reads up to and including the next CRLF; returns the line without it.
fn read_line(input: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut line = Vec::new();
    loop {
        let n = input.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Err(ReadError::Eof);
        }
        if line.ends_with(b"\r\n") {
            line.truncate(line.len() - 2);
            return Ok(line);
        }
        // A bare LF is part of the line: hiredis looks for CR LF.
    }
}

/// Reads a bulk body of `len` bytes and the CRLF after it.
fn read_bulk(input: &mut impl BufRead, len: u64) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    input.by_ref().take(len).read_to_end(&mut body)?;
    if (body.len() as u64) < len {
        return Err(ReadError::Eof);
    }
    let mut crlf = [0u8; 2];
    input.read_exact(&mut crlf)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Reply, ReadError> {
        read_reply(&mut &bytes[..])
    }

    fn protocol_error(bytes: &[u8]) -> String {
        match read(bytes) {
            Err(ReadError::Protocol(text)) => text,
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }

    #[test]
    fn resp2_types() {
        assert_eq!(read(b"+OK\r\n").unwrap(), Reply::Status(b"OK".to_vec()));
        assert_eq!(
            read(b"-ERR x\r\n").unwrap(),
            Reply::Error(b"ERR x".to_vec())
        );
        assert_eq!(read(b":-42\r\n").unwrap(), Reply::Integer(-42));
        assert_eq!(
            read(b"$5\r\na\r\nbc\r\n").unwrap(),
            Reply::String(b"a\r\nbc".to_vec())
        );
        assert_eq!(read(b"$-1\r\n").unwrap(), Reply::Nil);
        assert_eq!(read(b"*-1\r\n").unwrap(), Reply::Nil);
        assert_eq!(
            read(b"*2\r\n:1\r\n*0\r\n").unwrap(),
            Reply::Array(vec![Reply::Integer(1), Reply::Array(vec![])])
        );
    }

    #[test]
    fn resp3_types() {
        assert_eq!(read(b"_\r\n").unwrap(), Reply::Nil);
        assert_eq!(read(b"#t\r\n").unwrap(), Reply::Bool(true));
        assert_eq!(read(b"#f\r\n").unwrap(), Reply::Bool(false));
        // The double's text is kept as sent.
        assert_eq!(read(b",3.14\r\n").unwrap(), Reply::Double(b"3.14".to_vec()));
        assert_eq!(read(b",-inf\r\n").unwrap(), Reply::Double(b"-inf".to_vec()));
        assert_eq!(
            read(b"(-123\r\n").unwrap(),
            Reply::BigNumber(b"-123".to_vec())
        );
        assert_eq!(
            read(b"!3\r\nERR\r\n").unwrap(),
            Reply::Error(b"ERR".to_vec())
        );
        assert_eq!(
            read(b"=7\r\ntxt:a\nb\r\n").unwrap(),
            Reply::Verbatim {
                format: *b"txt",
                text: b"a\nb".to_vec()
            }
        );
        assert_eq!(
            read(b"%1\r\n+k\r\n:1\r\n").unwrap(),
            Reply::Map(vec![(Reply::Status(b"k".to_vec()), Reply::Integer(1))])
        );
        assert_eq!(
            read(b"~1\r\n:1\r\n").unwrap(),
            Reply::Set(vec![Reply::Integer(1)])
        );
        assert_eq!(
            read(b">1\r\n:1\r\n").unwrap(),
            Reply::Push(vec![Reply::Integer(1)])
        );
    }

    #[test]
    fn hiredis_protocol_errors() {
        // Attributes are not supported by the hiredis redis-cli 7.0 uses.
        assert_eq!(
            protocol_error(b"|1\r\n+a\r\n+b\r\n+c\r\n"),
            "Protocol error, got \"|\" as reply type byte"
        );
        assert_eq!(
            protocol_error(b"\x01\r\n"),
            "Protocol error, got \"\\x01\" as reply type byte"
        );
        assert_eq!(protocol_error(b":1x\r\n"), "Bad integer value");
        assert_eq!(protocol_error(b",abc\r\n"), "Bad double value");
        assert_eq!(protocol_error(b"#x\r\n"), "Bad bool value");
        assert_eq!(protocol_error(b"_x\r\n"), "Bad nil value");
        assert_eq!(protocol_error(b"(12a\r\n"), "Bad bignum value");
        assert_eq!(protocol_error(b"$x\r\n"), "Bad bulk string length");
        assert_eq!(
            protocol_error(b"$-2\r\n"),
            "Bulk string length out of range"
        );
        assert_eq!(protocol_error(b"*-2\r\n"), "Multi-bulk length out of range");
        assert_eq!(
            protocol_error(b"=3\r\ntxt\r\n"),
            "Verbatim string 4 bytes of content type are missing or incorrectly encoded."
        );
    }

    #[test]
    fn cut_short_is_eof() {
        for bytes in [&b""[..], b"+OK", b"$5\r\nab", b"*2\r\n:1\r\n"] {
            assert!(matches!(read(bytes), Err(ReadError::Eof)), "{bytes:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let mut bytes = b"*1\r\n".repeat(MAX_DEPTH + 5);
        bytes.extend_from_slice(b":1\r\n");
        assert!(matches!(read(&bytes), Err(ReadError::Protocol(_))));
        let mut ok = b"*1\r\n".repeat(100);
        ok.extend_from_slice(b":1\r\n");
        assert!(read(&ok).is_ok());
    }

    #[test]
    fn huge_declared_lengths_allocate_nothing_up_front() {
        assert!(matches!(
            read(b"*4294967295\r\n:1\r\n"),
            Err(ReadError::Eof)
        ));
        assert!(matches!(read(b"$999999999999\r\nab"), Err(ReadError::Eof)));
    }
}
