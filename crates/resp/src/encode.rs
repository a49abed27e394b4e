//! Encoding replies straight into a `BytesMut`, for the protocol a connection speaks.
//!
//! The `write_*` functions let a server stream a reply without building a [`Frame`] first;
//! [`encode`] writes a whole frame with the same functions. RESP3 types are brought down to
//! RESP2 exactly as Redis does it:
//!
//! | RESP3 | RESP2 |
//! |---|---|
//! | map | flat array of keys and values |
//! | set, push | array |
//! | boolean | integer 1 or 0 |
//! | double | bulk string (`%.17g`, `inf`, `-inf`, `nan`) |
//! | big number | bulk string |
//! | verbatim string | bulk string of the text alone |
//! | bulk error | simple error |
//! | null | `$-1`, or `*-1` for a [`Frame::NullArray`] |
//! | attribute | dropped: only the frame it describes is written |

use bytes::{BufMut, BytesMut};

use crate::Frame;

/// The protocol version a connection speaks, chosen by `HELLO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Protocol {
    /// RESP2, what every connection starts with.
    #[default]
    Resp2,
    /// RESP3.
    Resp3,
}

/// Writes `frame` to `dst` in `protocol`.
pub fn encode(frame: &Frame, protocol: Protocol, dst: &mut BytesMut) {
    match frame {
        Frame::Simple(s) => write_simple(dst, s),
        Frame::Error(s) => write_error(dst, s),
        Frame::Integer(n) => write_integer(dst, *n),
        Frame::Bulk(b) => write_bulk(dst, b),
        Frame::Array(items) => {
            write_array_len(dst, items.len());
            encode_all(items, protocol, dst);
        }
        Frame::NullBulk | Frame::Null => write_null_bulk(dst, protocol),
        Frame::NullArray => write_null_array(dst, protocol),
        Frame::Boolean(b) => write_boolean(dst, protocol, *b),
        Frame::Double(d) => write_double(dst, protocol, *d),
        Frame::BigNumber(digits) => write_big_number(dst, protocol, digits),
        Frame::BulkError(s) => write_bulk_error(dst, protocol, s),
        Frame::Verbatim { format, text } => write_verbatim(dst, protocol, *format, text),
        Frame::Map(pairs) => {
            write_map_len(dst, protocol, pairs.len());
            encode_pairs(pairs, protocol, dst);
        }
        Frame::Set(items) => {
            write_set_len(dst, protocol, items.len());
            encode_all(items, protocol, dst);
        }
        Frame::Push(items) => {
            write_push_len(dst, protocol, items.len());
            encode_all(items, protocol, dst);
        }
        Frame::Attribute { attributes, data } => {
            if protocol == Protocol::Resp3 {
                write_header(dst, b'|', attributes.len() as u64);
                encode_pairs(attributes, protocol, dst);
            }
            encode(data, protocol, dst);
        }
    }
}

fn encode_all(items: &[Frame], protocol: Protocol, dst: &mut BytesMut) {
    for item in items {
        encode(item, protocol, dst);
    }
}

fn encode_pairs(pairs: &[(Frame, Frame)], protocol: Protocol, dst: &mut BytesMut) {
    for (key, value) in pairs {
        encode(key, protocol, dst);
        encode(value, protocol, dst);
    }
}

/// `+text\r\n`. CR and LF inside `text` become spaces, as Redis does, so the frame stays valid.
pub fn write_simple(dst: &mut BytesMut, text: &[u8]) {
    write_line(dst, b'+', text);
}

/// `-text\r\n`, with CR and LF turned into spaces.
pub fn write_error(dst: &mut BytesMut, text: &[u8]) {
    write_line(dst, b'-', text);
}

fn write_line(dst: &mut BytesMut, marker: u8, text: &[u8]) {
    dst.reserve(text.len() + 3);
    dst.put_u8(marker);
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        dst.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        dst.extend_from_slice(text);
    }
    dst.extend_from_slice(b"\r\n");
}

/// `:n\r\n`.
pub fn write_integer(dst: &mut BytesMut, n: i64) {
    let mut digits = itoa::Buffer::new();
    write_line_raw(dst, b':', digits.format(n).as_bytes());
}

/// `$len\r\ndata\r\n`.
pub fn write_bulk(dst: &mut BytesMut, data: &[u8]) {
    write_sized(dst, b'$', data);
}

/// `*n\r\n`, the header of an array of `n` frames that the caller writes next.
pub fn write_array_len(dst: &mut BytesMut, n: usize) {
    write_header(dst, b'*', n as u64);
}

/// A map header for `pairs` key-value pairs that the caller writes next (RESP2: an array of
/// `2 * pairs`).
pub fn write_map_len(dst: &mut BytesMut, protocol: Protocol, pairs: usize) {
    match protocol {
        Protocol::Resp3 => write_header(dst, b'%', pairs as u64),
        Protocol::Resp2 => write_header(dst, b'*', 2 * pairs as u64),
    }
}

/// A set header for `n` members (RESP2: an array).
pub fn write_set_len(dst: &mut BytesMut, protocol: Protocol, n: usize) {
    let marker = if protocol == Protocol::Resp3 {
        b'~'
    } else {
        b'*'
    };
    write_header(dst, marker, n as u64);
}

/// A push header for `n` frames (RESP2: an array, as pub/sub messages have always been).
pub fn write_push_len(dst: &mut BytesMut, protocol: Protocol, n: usize) {
    let marker = if protocol == Protocol::Resp3 {
        b'>'
    } else {
        b'*'
    };
    write_header(dst, marker, n as u64);
}

/// The null a missing string is: RESP2 `$-1`, RESP3 `_`.
pub fn write_null_bulk(dst: &mut BytesMut, protocol: Protocol) {
    dst.extend_from_slice(match protocol {
        Protocol::Resp2 => b"$-1\r\n",
        Protocol::Resp3 => b"_\r\n",
    });
}

/// The null a missing array is: RESP2 `*-1`, RESP3 `_`.
pub fn write_null_array(dst: &mut BytesMut, protocol: Protocol) {
    dst.extend_from_slice(match protocol {
        Protocol::Resp2 => b"*-1\r\n",
        Protocol::Resp3 => b"_\r\n",
    });
}

/// RESP3 `#t`/`#f`; RESP2 `:1`/`:0`.
pub fn write_boolean(dst: &mut BytesMut, protocol: Protocol, b: bool) {
    dst.extend_from_slice(match (protocol, b) {
        (Protocol::Resp3, true) => b"#t\r\n",
        (Protocol::Resp3, false) => b"#f\r\n",
        (Protocol::Resp2, true) => b":1\r\n",
        (Protocol::Resp2, false) => b":0\r\n",
    });
}

/// RESP3 `,d`; RESP2 a bulk string. Formatted as C's `%.17g`, as Redis 7.0 does.
pub fn write_double(dst: &mut BytesMut, protocol: Protocol, d: f64) {
    let mut text = [0u8; 32];
    let len = format_double(d, &mut text);
    match protocol {
        Protocol::Resp3 => write_line_raw(dst, b',', &text[..len]),
        Protocol::Resp2 => write_bulk(dst, &text[..len]),
    }
}

/// RESP3 `(digits`; RESP2 a bulk string of the digits.
pub fn write_big_number(dst: &mut BytesMut, protocol: Protocol, digits: &[u8]) {
    match protocol {
        Protocol::Resp3 => write_line(dst, b'(', digits),
        Protocol::Resp2 => write_bulk(dst, digits),
    }
}

/// RESP3 `!len\r\ntext\r\n`; RESP2 a simple error (CR and LF become spaces).
pub fn write_bulk_error(dst: &mut BytesMut, protocol: Protocol, text: &[u8]) {
    match protocol {
        Protocol::Resp3 => write_sized(dst, b'!', text),
        Protocol::Resp2 => write_error(dst, text),
    }
}

/// RESP3 `=len\r\nfmt:text\r\n`; RESP2 a bulk string of the text.
pub fn write_verbatim(dst: &mut BytesMut, protocol: Protocol, format: [u8; 3], text: &[u8]) {
    match protocol {
        Protocol::Resp3 => {
            write_header(dst, b'=', text.len() as u64 + 4);
            dst.reserve(text.len() + 6);
            dst.extend_from_slice(&format);
            dst.put_u8(b':');
            dst.extend_from_slice(text);
            dst.extend_from_slice(b"\r\n");
        }
        Protocol::Resp2 => write_bulk(dst, text),
    }
}

/// `marker n\r\n`.
fn write_header(dst: &mut BytesMut, marker: u8, n: u64) {
    let mut digits = itoa::Buffer::new();
    write_line_raw(dst, marker, digits.format(n).as_bytes());
}

/// `marker len\r\ndata\r\n`.
fn write_sized(dst: &mut BytesMut, marker: u8, data: &[u8]) {
    let mut digits = itoa::Buffer::new();
    let len = digits.format(data.len()).as_bytes();
    dst.reserve(1 + len.len() + 2 + data.len() + 2);
    dst.put_u8(marker);
    dst.extend_from_slice(len);
    dst.extend_from_slice(b"\r\n");
    dst.extend_from_slice(data);
    dst.extend_from_slice(b"\r\n");
}

/// A line whose text is known to hold no CR or LF.
fn write_line_raw(dst: &mut BytesMut, marker: u8, text: &[u8]) {
    dst.reserve(text.len() + 3);
    dst.put_u8(marker);
    dst.extend_from_slice(text);
    dst.extend_from_slice(b"\r\n");
}

/// Formats `d` into `out` as C's `printf("%.17g")` does (Redis 7.0's reply format for doubles),
/// with `inf`, `-inf` and `nan` spelled as Redis spells them. Returns the length written.
///
/// `%.17g` keeps 17 significant digits, enough to read back the same double, then drops
/// trailing zeros; it switches to exponent form below 1e-4 and from 1e17 on.
pub fn format_double(d: f64, out: &mut [u8; 32]) -> usize {
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        out[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    if d.is_nan() {
        put(b"nan");
    } else if d.is_infinite() {
        put(if d > 0.0 { b"inf" } else { b"-inf" });
    } else {
        // `{:.16e}` gives exactly 17 significant digits, correctly rounded, e.g. "-1.2500000000000000e-7".
        let mut scientific = [0u8; 32];
        let mut cursor = std::io::Cursor::new(&mut scientific[..]);
        // 32 bytes always hold "-d.dddddddddddddddde-308"; a failure would only truncate.
        let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{d:.16e}"));
        let written = cursor.position() as usize;
        let text = &scientific[..written];
        let (negative, text) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let e_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
        let exponent: i32 = std::str::from_utf8(&text[e_at + 1..])
            .ok()
            .and_then(|e| e.parse().ok())
            .unwrap_or(0);
        let mut digits = [0u8; 17];
        let mut count = 0;
        for &b in text[..e_at].iter().filter(|b| b.is_ascii_digit()) {
            if count < digits.len() {
                digits[count] = b;
                count += 1;
            }
        }
        // Significant digits without trailing zeros (at least one digit).
        let mut significant = count;
        while significant > 1 && digits[significant - 1] == b'0' {
            significant -= 1;
        }
        let digits = &digits[..significant];
        if negative {
            put(b"-");
        }
        if !(-4..17).contains(&exponent) {
            put(&digits[..1]);
            if digits.len() > 1 {
                put(b".");
                put(&digits[1..]);
            }
            put(if exponent < 0 { b"e-" } else { b"e+" });
            let magnitude = exponent.unsigned_abs();
            if magnitude < 10 {
                put(b"0");
            }
            let mut buffer = itoa::Buffer::new();
            put(buffer.format(magnitude).as_bytes());
        } else if exponent >= 0 {
            let whole = (exponent as usize + 1).min(digits.len());
            put(&digits[..whole]);
            for _ in whole..=exponent as usize {
                put(b"0");
            }
            if digits.len() > whole {
                put(b".");
                put(&digits[whole..]);
            }
        } else {
            put(b"0.");
            for _ in 1..exponent.unsigned_abs() {
                put(b"0");
            }
            put(digits);
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g17(d: f64) -> String {
        let mut out = [0u8; 32];
        let len = format_double(d, &mut out);
        String::from_utf8_lossy(&out[..len]).into_owned()
    }

    #[test]
    fn doubles_format_like_printf_g17() {
        // Expected values are what glibc's printf("%.17g") prints.
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (1.1, "1.1000000000000001"),
            (0.1, "0.10000000000000001"),
            (100.0, "100"),
            (123456789.0, "123456789"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1.5e17, "1.5e+17"),
            (1e300, "1.0000000000000001e+300"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (0.00001, "1.0000000000000001e-05"),
            (3.0e-5, "3.0000000000000001e-05"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (12345.678, "12345.678"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (99999999999999999.0, "1e+17"),
            (-1e-300, "-1e-300"),
            (0.5e-4, "5.0000000000000002e-05"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for &(d, expected) in cases {
            assert_eq!(g17(d), expected, "{d:e}");
        }
    }

    #[test]
    fn resp2_downgrades() {
        let mut out = BytesMut::new();
        let frame = Frame::Map(vec![(Frame::simple("a"), Frame::Boolean(true))]);
        encode(&frame, Protocol::Resp2, &mut out);
        assert_eq!(&out[..], b"*2\r\n+a\r\n:1\r\n");
    }

    #[test]
    fn simple_strings_never_break_the_frame() {
        let mut out = BytesMut::new();
        write_error(&mut out, b"ERR bad\r\nthing");
        assert_eq!(&out[..], b"-ERR bad  thing\r\n");
    }
}
