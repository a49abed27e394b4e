//! nom building blocks shared by the frame decoder and the request decoder.
//!
//! Every parser here is streaming: input that ends early yields `nom::Err::Incomplete`, never an
//! error, so a caller can retry once more bytes have arrived. Protocol violations are
//! `nom::Err::Failure` carrying the [`ProtocolError`] to report.

use nom::bytes::streaming::{tag, take, take_until};
use nom::error::{ErrorKind, ParseError};
use nom::IResult;

use crate::ProtocolError;

/// The error type threaded through the nom parsers.
#[derive(Debug)]
pub(crate) enum ParseFailure {
    /// A violation with the text to report.
    Protocol(ProtocolError),
    /// A combinator refused its input; the caller decides what that means in context.
    Nom,
}

impl<'a> ParseError<&'a [u8]> for ParseFailure {
    fn from_error_kind(_input: &'a [u8], _kind: ErrorKind) -> Self {
        ParseFailure::Nom
    }

    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// Result of a parser over a byte slice.
pub(crate) type PResult<'a, O> = IResult<&'a [u8], O, ParseFailure>;

/// Stops parsing with `error`, which the decoder reports as is.
pub(crate) fn fail<'a, O>(error: ProtocolError) -> PResult<'a, O> {
    Err(nom::Err::Failure(ParseFailure::Protocol(error)))
}

/// The outcome of a whole parse attempt, as the decoders report it.
pub(crate) enum Outcome<T> {
    Done(T),
    NeedMore,
}

/// Turns a parser result into "done", "need more bytes" or the protocol error to report.
pub(crate) fn settle<'a, O>(
    result: PResult<'a, O>,
) -> Result<Outcome<(&'a [u8], O)>, ProtocolError> {
    match result {
        Ok(done) => Ok(Outcome::Done(done)),
        Err(nom::Err::Incomplete(_)) => Ok(Outcome::NeedMore),
        Err(nom::Err::Failure(ParseFailure::Protocol(e)))
        | Err(nom::Err::Error(ParseFailure::Protocol(e))) => Err(e),
        // Every combinator error is mapped to a protocol error where it can occur; a stray one
        // can only be a missing line terminator.
        Err(nom::Err::Failure(ParseFailure::Nom)) | Err(nom::Err::Error(ParseFailure::Nom)) => {
            Err(ProtocolError::ExpectedCrlf)
        }
    }
}

/// One CRLF, or [`ProtocolError::ExpectedCrlf`].
pub(crate) fn crlf(input: &[u8]) -> PResult<'_, ()> {
    match tag::<_, _, ParseFailure>(&b"\r\n"[..])(input) {
        Ok((rest, _)) => Ok((rest, ())),
        Err(nom::Err::Error(_)) => fail(ProtocolError::ExpectedCrlf),
        Err(e) => Err(e),
    }
}

/// The bytes before the next CRLF, consuming the CRLF too.
///
/// While no CRLF has arrived, more than `max` buffered bytes fail with `too_long`: a peer may
/// not make us buffer an unbounded header.
pub(crate) fn line(input: &[u8], max: usize, too_long: ProtocolError) -> PResult<'_, &[u8]> {
    match take_until::<_, _, ParseFailure>(&b"\r\n"[..])(input) {
        Ok((rest, text)) => Ok((&rest[2..], text)),
        Err(nom::Err::Incomplete(needed)) => {
            if input.len() > max {
                fail(too_long)
            } else {
                Err(nom::Err::Incomplete(needed))
            }
        }
        Err(e) => Err(e),
    }
}

/// A length or integer header line, parsed with Redis's `string2ll` rules.
pub(crate) fn integer_line(
    input: &[u8],
    max_line: usize,
    too_long: ProtocolError,
    invalid: ProtocolError,
) -> PResult<'_, i64> {
    let (rest, text) = line(input, max_line, too_long)?;
    match parse_i64(text) {
        Some(n) => Ok((rest, n)),
        None => fail(invalid),
    }
}

/// `len` payload bytes followed by CRLF.
pub(crate) fn payload(input: &[u8], len: usize) -> PResult<'_, &[u8]> {
    let (rest, data) = take::<_, _, ParseFailure>(len)(input)?;
    let (rest, ()) = crlf(rest)?;
    Ok((rest, data))
}

/// Parses a decimal i64 exactly as Redis's `string2ll` does: an optional `-`, no `+`, no
/// leading zeros (except `0` itself), no spaces, no overflow.
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    match digits {
        [] => return None,
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    // Accumulate negatively so i64::MIN, whose magnitude has no positive i64, parses too.
    let mut value: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_sub(i64::from(b - b'0'))?;
    }
    if negative {
        Some(value)
    } else {
        value.checked_neg()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_i64_follows_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"42"), Some(42));
        assert_eq!(parse_i64(b"-42"), Some(-42));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn line_waits_for_crlf_then_enforces_its_limit() {
        assert!(matches!(
            line(b"abc\r", 10, ProtocolError::TooBigLine),
            Err(nom::Err::Incomplete(_))
        ));
        assert!(matches!(
            line(b"abcdefghijk", 10, ProtocolError::TooBigLine),
            Err(nom::Err::Failure(ParseFailure::Protocol(
                ProtocolError::TooBigLine
            )))
        ));
        let (rest, text) = line(b"ab\r\ncd", 10, ProtocolError::TooBigLine).unwrap();
        assert_eq!((rest, text), (&b"cd"[..], &b"ab"[..]));
    }
}
