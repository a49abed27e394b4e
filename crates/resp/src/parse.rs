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
    if let Some(done) = short_integer_line(input) {
        return Ok(done);
    }
    let (rest, text) = line(input, max_line, too_long)?;
    match parse_i64(text) {
        Some(n) => Ok((rest, n)),
        None => fail(invalid),
    }
}

/// The common case of [`integer_line`] in one pass: at most 18 digits (so no overflow is
/// possible), no leading zero, then CRLF. Anything else (incomplete input, errors, long or
/// unusual numbers) returns `None` and takes the general path, which has the same result.
pub(crate) fn short_integer_line(input: &[u8]) -> Option<(&[u8], i64)> {
    let (negative, digits) = match input.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, input),
    };
    let mut value: i64 = 0;
    let mut len = 0;
    while let Some(&b) = digits.get(len) {
        if !b.is_ascii_digit() || len == 18 {
            break;
        }
        value = value * 10 + i64::from(b - b'0');
        len += 1;
    }
    let leading_zero = len > 1 && digits[0] == b'0';
    let negative_zero = negative && len > 0 && digits[0] == b'0';
    if len == 0 || leading_zero || negative_zero || digits.get(len..len + 2) != Some(b"\r\n") {
        return None;
    }
    Some((&digits[len + 2..], if negative { -value } else { value }))
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
    fn integer_lines_agree_with_the_general_path() {
        let cases: &[&[u8]] = &[
            b"0\r\n",
            b"42\r\nrest",
            b"-7\r\n",
            b"01\r\n",
            b"-0\r\n",
            b"123456789012345678\r\n",
            b"1234567890123456789\r\n",
            b"9223372036854775807\r\n",
            b"-9223372036854775808\r\n",
            b"99999999999999999999\r\n",
            b"12",
            b"12\r",
            b"1x\r\n",
            b"\r\n",
            b"-\r\n",
            b"+1\r\n",
        ];
        for &case in cases {
            let general = line(case, 64, ProtocolError::TooBigLine)
                .map(|(rest, text)| (rest, parse_i64(text)));
            let fast = integer_line(
                case,
                64,
                ProtocolError::TooBigLine,
                ProtocolError::InvalidInteger,
            );
            match (general, fast) {
                (Ok((rest, Some(n))), Ok((fast_rest, m))) => {
                    assert_eq!((rest, n), (fast_rest, m), "{case:?}")
                }
                (Ok((_, None)), Err(nom::Err::Failure(_))) => {}
                (Err(nom::Err::Incomplete(_)), Err(nom::Err::Incomplete(_))) => {}
                (g, f) => panic!("{case:?}: general {g:?}, fast {f:?}"),
            }
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
