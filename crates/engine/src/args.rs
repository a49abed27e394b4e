//! A cursor over a command's arguments with typed, Redis-exact parsing.

use bytes::Bytes;

use crate::CommandError;

/// The arguments after the command name, consumed front to back.
///
/// Each `next_*` parses with the rules and error of the Redis function of the same role
/// (`getLongLongFromObject`, `getDoubleFromObject`, ...), so every command reports a bad
/// number the same way.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    args: &'a [Bytes],
    pos: usize,
}

impl<'a> Args<'a> {
    /// A cursor over `args` (the command name excluded).
    pub fn new(args: &'a [Bytes]) -> Args<'a> {
        Args { args, pos: 0 }
    }

    /// How many arguments are left.
    pub fn remaining(&self) -> usize {
        self.args.len() - self.pos
    }

    /// True when every argument has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The arguments not consumed yet.
    pub fn rest(&self) -> &'a [Bytes] {
        &self.args[self.pos..]
    }

    /// The next argument without consuming it.
    pub fn peek(&self) -> Option<&'a [u8]> {
        self.args.get(self.pos).map(|b| &b[..])
    }

    /// The next argument; a syntax error if there is none.
    pub fn next_bytes(&mut self) -> Result<&'a [u8], CommandError> {
        let arg = self.args.get(self.pos).ok_or(CommandError::Syntax)?;
        self.pos += 1;
        Ok(arg)
    }

    /// The next argument as an i64, parsed as Redis's `string2ll`.
    pub fn next_i64(&mut self) -> Result<i64, CommandError> {
        parse_i64(self.next_bytes()?)
    }

    /// The next argument as a finite or infinite double, parsed as Redis's `string2d`.
    pub fn next_f64(&mut self) -> Result<f64, CommandError> {
        parse_f64(self.next_bytes()?)
    }

    /// Consumes the next argument if it equals `keyword`, ignoring ASCII case.
    pub fn eat(&mut self, keyword: &str) -> bool {
        match self.peek() {
            Some(arg) if arg.eq_ignore_ascii_case(keyword.as_bytes()) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// A syntax error unless every argument has been consumed.
    pub fn finish(&self) -> Result<(), CommandError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(CommandError::Syntax)
        }
    }
}

/// An integer argument: Redis's `string2ll` rules, `ERR value is not an integer...` otherwise.
pub fn parse_i64(arg: &[u8]) -> Result<i64, CommandError> {
    kv_resp::parse_i64(arg).ok_or(CommandError::NotInteger)
}

/// A float argument as Redis's `string2d` accepts it: what C's `strtod` reads in full, with no
/// leading space, not NaN, and neither overflowing nor underflowing to zero. `inf`, `-inf`,
/// `+inf`, `infinity` and hex floats (`0x10`) are accepted, as `strtod` reads them.
pub fn parse_f64(arg: &[u8]) -> Result<f64, CommandError> {
    parse_f64_opt(arg).ok_or(CommandError::NotFloat)
}

/// [`parse_f64`] without the error, for callers with their own message.
pub fn parse_f64_opt(arg: &[u8]) -> Option<f64> {
    if arg.first().is_none_or(|&b| is_c_space(b)) {
        return None;
    }
    let read = strtod(arg);
    if read.len != arg.len() || read.out_of_range || read.value.is_nan() {
        return None;
    }
    Some(read.value)
}

/// What C's `strtod` reads from the start of a string (glibc, "C" locale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strtod {
    /// The value read; 0 when nothing was.
    pub value: f64,
    /// How many bytes were read; 0 when no number starts the string (`endptr == nptr`).
    pub len: usize,
    /// Whether `strtod` would report `ERANGE` with a result of ±HUGE_VAL or zero: a finite
    /// number too large for a double, or a non-zero one too small for one. `string2d` refuses
    /// exactly these; a result that underflows to a subnormal is kept.
    pub out_of_range: bool,
}

/// C's isspace in the "C" locale (which, unlike `u8::is_ascii_whitespace`, includes `\v`).
pub fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Reads a number from the start of `text` exactly as glibc's `strtod` does: leading spaces, a
/// sign, then `inf`/`infinity`, `nan`/`nan(chars)`, a hex float (`0x1.8p3`) or a decimal one,
/// correctly rounded. A NUL byte ends the text, as it would a C string.
pub fn strtod(text: &[u8]) -> Strtod {
    let nothing = Strtod {
        value: 0.0,
        len: 0,
        out_of_range: false,
    };
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
    let mut i = text.iter().take_while(|&&b| is_c_space(b)).count();
    let sign_at = i;
    let negative = match text.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let signed = |v: f64| if negative { -v } else { v };
    let rest = &text[i..];
    let starts =
        |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts(b"inf") {
        let n = if starts(b"infinity") { 8 } else { 3 };
        return Strtod {
            value: signed(f64::INFINITY),
            len: i + n,
            out_of_range: false,
        };
    }
    if starts(b"nan") {
        let mut n = 3;
        if rest.get(3) == Some(&b'(') {
            let chars = rest[4..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            if rest.get(4 + chars) == Some(&b')') {
                n = 4 + chars + 1;
            }
        }
        return Strtod {
            value: f64::NAN,
            len: i + n,
            out_of_range: false,
        };
    }
    let hex_digit = |at: usize| rest.get(at).is_some_and(u8::is_ascii_hexdigit);
    let is_hex = rest.len() > 2
        && rest[0] == b'0'
        && (rest[1] | 0x20) == b'x'
        && (hex_digit(2) || (rest[2] == b'.' && hex_digit(3)));
    if is_hex {
        let (value, len) = hex_float(&rest[2..]);
        let value = signed(value);
        return Strtod {
            value,
            len: i + 2 + len,
            out_of_range: value.is_infinite() || value == 0.0 && !hex_zero(&rest[2..2 + len]),
        };
    }
    let digits = |from: usize| {
        rest[from.min(rest.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let int_digits = digits(0);
    let mut end = int_digits;
    let mut frac_digits = 0;
    if rest.get(end) == Some(&b'.') {
        frac_digits = digits(end + 1);
        end += 1 + frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return nothing;
    }
    let mantissa_end = end;
    if rest.get(end).is_some_and(|&b| b | 0x20 == b'e') {
        let mut at = end + 1;
        if matches!(rest.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let exponent_digits = digits(at);
        if exponent_digits > 0 {
            end = at + exponent_digits;
        }
    }
    // The digits are ASCII, so the slice is valid UTF-8; Rust's parser rounds correctly, as
    // glibc does, for every string of this shape.
    let value = std::str::from_utf8(&text[sign_at..i + end])
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(0.0);
    let nonzero = rest[..mantissa_end]
        .iter()
        .any(|b| (b'1'..=b'9').contains(b));
    Strtod {
        value,
        len: i + end,
        out_of_range: value.is_infinite() || (value == 0.0 && nonzero),
    }
}

/// Whether the hex float text (after `0x`) has only zero digits.
fn hex_zero(text: &[u8]) -> bool {
    let mantissa_end = text
        .iter()
        .position(|&b| b | 0x20 == b'p')
        .unwrap_or(text.len());
    text[..mantissa_end].iter().all(|&b| b == b'0' || b == b'.')
}

/// Reads the part of a hex float after `0x`: hex digits, an optional fraction, an optional
/// binary exponent (`p-3`). Returns the value (positive) and how many bytes were read.
fn hex_float(text: &[u8]) -> (f64, usize) {
    let value_of = |b: u8| char::from(b).to_digit(16).map(u64::from);
    // The first 15 significant hex digits (60 bits) are kept; later ones only matter for
    // rounding, through `sticky`.
    let mut mantissa: u64 = 0;
    let mut sticky = false;
    let mut exponent: i64 = 0;
    let mut at = 0;
    let mut push = |digit: u64, fraction: bool, mantissa: &mut u64, exponent: &mut i64| {
        if *mantissa >> 56 == 0 {
            *mantissa = *mantissa * 16 + digit;
            if fraction {
                *exponent -= 4;
            }
        } else {
            sticky |= digit != 0;
            if !fraction {
                *exponent += 4;
            }
        }
    };
    while let Some(d) = text.get(at).copied().and_then(value_of) {
        push(d, false, &mut mantissa, &mut exponent);
        at += 1;
    }
    if text.get(at) == Some(&b'.') {
        at += 1;
        while let Some(d) = text.get(at).copied().and_then(value_of) {
            push(d, true, &mut mantissa, &mut exponent);
            at += 1;
        }
    }
    if text.get(at).is_some_and(|&b| b | 0x20 == b'p') {
        let mut p = at + 1;
        let negative = match text.get(p) {
            Some(b'-') => {
                p += 1;
                true
            }
            Some(b'+') => {
                p += 1;
                false
            }
            _ => false,
        };
        let digits = text[p..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 {
            // Saturate far beyond any double's range.
            let e = text[p..p + digits]
                .iter()
                .fold(0i64, |e, &b| (e * 10 + i64::from(b - b'0')).min(1 << 20));
            exponent += if negative { -e } else { e };
            at = p + digits;
        }
    }
    (compose(mantissa, sticky, exponent), at)
}

/// `mantissa × 2^exponent`, with `sticky` standing for non-zero bits below the mantissa,
/// rounded to the nearest double (ties to even), as strtod rounds.
fn compose(mantissa: u64, sticky: bool, exponent: i64) -> f64 {
    if mantissa == 0 {
        return 0.0;
    }
    // Widen so that the sticky bit sits below every mantissa bit.
    let wide = (u128::from(mantissa) << 64) | u128::from(sticky);
    let bits = i64::from(128 - wide.leading_zeros());
    // The value lies in [2^top, 2^(top+1)).
    let top = exponent - 64 + bits - 1;
    if top > 1023 {
        return f64::INFINITY;
    }
    // Significant bits the result keeps: 53, fewer for a subnormal.
    let keep = if top >= -1022 { 53 } else { 53 - (-1022 - top) };
    if keep < 0 {
        return 0.0;
    }
    let shift = (bits - keep) as u32;
    let mut kept = wide >> shift;
    let rest = wide & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if rest > half || (rest == half && kept & 1 == 1) {
        kept += 1;
    }
    // kept × 2^scale, exact: kept has at most 54 bits and the scale is at least -1074.
    let scale = top - keep + 1;
    let power = if scale >= -1022 {
        f64::from_bits(((scale + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (scale + 1074))
    };
    (kept as f64) * power
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_follow_string2d() {
        assert_eq!(parse_f64(b"1.5"), Ok(1.5));
        assert_eq!(parse_f64(b"-1e3"), Ok(-1000.0));
        assert_eq!(parse_f64(b"inf"), Ok(f64::INFINITY));
        assert_eq!(parse_f64(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Ok(f64::INFINITY));
        assert_eq!(parse_f64(b".5"), Ok(0.5));
        for bad in [&b""[..], b" 1", b"1 ", b"nan", b"abc", b"1.5x"] {
            assert_eq!(parse_f64(bad), Err(CommandError::NotFloat), "{bad:?}");
        }
    }

    /// Cases checked against Redis 7.0's ZADD (string2d) and glibc's strtod.
    #[test]
    fn string2d_cases() {
        let ok: &[(&[u8], f64)] = &[
            (b"0x10", 16.0),
            (b"0X1P3", 8.0),
            (b"0x1.8p1", 3.0),
            (b"0x.8", 0.5),
            (b"0x1p-1074", 5e-324),
            (b"5e-324", 5e-324),
            (b"1e-310", 1e-310),
            (b"0e-400", 0.0),
            (b"infinity", f64::INFINITY),
            (b"-Infinity", f64::NEG_INFINITY),
            (b"INF", f64::INFINITY),
            (b"1.", 1.0),
            (b"+.5", 0.5),
            (b"1e308", 1e308),
            (b"0x1.fffffffffffffp1023", f64::MAX),
        ];
        for (text, want) in ok {
            assert_eq!(
                parse_f64_opt(text),
                Some(*want),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        for bad in [
            &b"1e400"[..],
            b"1e-400",
            b"-1e400",
            b"1e",
            b"1_0",
            b"\x0b1",
            b"1\x00",
            b"0x",
            b"0x1p",
            b"nan(1)",
            b"0x1p-1080",
            b"0x1p1024",
            b"0x1.fffffffffffff8p1023",
            b"-",
            b".",
            b"+",
        ] {
            assert_eq!(
                parse_f64_opt(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn strtod_reads_prefixes() {
        let read = |t: &[u8]| {
            let r = strtod(t);
            (r.value, r.len)
        };
        assert_eq!(read(b""), (0.0, 0));
        assert_eq!(read(b"  "), (0.0, 0));
        assert_eq!(read(b" 1"), (1.0, 2));
        assert_eq!(read(b"1 "), (1.0, 1));
        assert_eq!(read(b"1e"), (1.0, 1));
        assert_eq!(read(b"1e+"), (1.0, 1));
        assert_eq!(read(b"1e+2x"), (100.0, 4));
        assert_eq!(read(b"0x"), (0.0, 1));
        assert_eq!(read(b"0xg"), (0.0, 1));
        assert_eq!(read(b"0x1p"), (1.0, 3));
        assert_eq!(read(b"1\x00zz"), (1.0, 1));
        assert_eq!(read(b"infinit"), (f64::INFINITY, 3));
        assert_eq!(read(b"-inf"), (f64::NEG_INFINITY, 4));
        let nan = strtod(b"nan(abc_1)x");
        assert!(nan.value.is_nan());
        assert_eq!(nan.len, 10);
        assert_eq!(strtod(b"nan(").len, 3);
        assert!(strtod(b"1e400").out_of_range);
        assert!(strtod(b"1e-400").out_of_range);
        assert!(!strtod(b"1e-310").out_of_range);
        // Rounding of long hex mantissas: ties go to even, anything past the tie rounds up.
        assert_eq!(strtod(b"0x1.00000000000008p0").value, 1.0);
        assert_eq!(
            strtod(b"0x1.000000000000080000001p0").value,
            1.0 + f64::EPSILON
        );
        assert_eq!(
            strtod(b"0x1.00000000000018p0").value,
            1.0 + 2.0 * f64::EPSILON
        );
        // Subnormal rounding: half the smallest subnormal rounds to even (zero), more up.
        assert_eq!(strtod(b"0x1p-1075").value, 0.0);
        assert_eq!(strtod(b"0x1.1p-1075").value, 5e-324);
    }

    #[test]
    fn cursor_consumes_in_order() {
        let args = [Bytes::from("EX"), Bytes::from("10"), Bytes::from("nx")];
        let mut cursor = Args::new(&args);
        assert!(cursor.eat("ex"));
        assert_eq!(cursor.next_i64(), Ok(10));
        assert!(!cursor.eat("xx"));
        assert!(cursor.eat("NX"));
        assert_eq!(cursor.finish(), Ok(()));
        assert_eq!(cursor.next_bytes(), Err(CommandError::Syntax));
    }
}
