//! C's `strtod` as glibc implements it in the C locale, for the replies that depend on exactly
//! what it accepts: Redis 7.0 reads SORT's weights with a bare `strtod` call, not with the
//! stricter `string2d` that [`crate::args::parse_f64`] follows.
//!
//! What it reads, after optional white space and one optional sign, ignoring case: a decimal
//! number (digits with an optional point, then an optional exponent `e`), a hexadecimal one
//! (`0x`, hex digits with an optional point, then an optional binary exponent `p`),
//! `inf`/`infinity`, or `nan`/`nan(chars)`. The value is correctly rounded, as glibc's is.
//! Besides the value it reports the two facts callers check: how far it read (C's `endptr`)
//! and whether it set `errno` to `ERANGE`, which glibc does on overflow and on an inexact
//! result that is tiny (below the smallest normal double, judged after rounding, as x86-64
//! glibc judges it).

use std::cmp::Ordering;

/// What [`strtod`] made of a string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strtod {
    /// The value: NaN for the `nan` forms, an infinity for `inf` and on overflow, 0 when
    /// nothing was read.
    pub value: f64,
    /// How many bytes were read; 0 when no number was found (white space is then not counted
    /// either, as C's `endptr` is left at the start).
    pub len: usize,
    /// Whether glibc would set `errno` to `ERANGE`.
    pub range_error: bool,
}

/// Reads a number from the start of `s` as glibc's `strtod` does in the C locale. A NUL byte
/// ends the number like any other byte that cannot continue it.
pub fn strtod(s: &[u8]) -> Strtod {
    let nothing = Strtod {
        value: 0.0,
        len: 0,
        range_error: false,
    };
    let mut at = s.iter().take_while(|&&b| is_c_space(b)).count();
    let negative = match s.get(at) {
        Some(b'-') => {
            at += 1;
            true
        }
        Some(b'+') => {
            at += 1;
            false
        }
        _ => false,
    };
    let sign = |value: f64| if negative { -value } else { value };
    let rest = &s[at..];
    if starts_with_ignore_case(rest, b"inf") {
        let len = if starts_with_ignore_case(rest, b"infinity") {
            8
        } else {
            3
        };
        return Strtod {
            value: sign(f64::INFINITY),
            len: at + len,
            range_error: false,
        };
    }
    if starts_with_ignore_case(rest, b"nan") {
        return Strtod {
            value: f64::NAN,
            len: at + nan_len(rest),
            range_error: false,
        };
    }
    let hex = rest.len() > 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x';
    let parsed = if hex {
        // `0x` without a hex digit after it is the number 0 followed by an `x`.
        hexadecimal(&rest[2..]).map(|(value, len, range_error)| (value, len + 2, range_error))
    } else {
        None
    };
    match parsed.or_else(|| decimal(rest)) {
        Some((value, len, range_error)) => Strtod {
            value: sign(value),
            len: at + len,
            range_error,
        },
        None => nothing,
    }
}

/// C's `isspace` in the C locale (which, unlike `u8::is_ascii_whitespace`, includes `\v`).
pub fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Whether `s` starts with `prefix`, ignoring ASCII case.
fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Length of `nan` or `nan(chars)` at the start of `s` (which starts with `nan`): the
/// parenthesised part counts only when it is closed and holds letters, digits and `_` only.
fn nan_len(s: &[u8]) -> usize {
    if s.get(3) != Some(&b'(') {
        return 3;
    }
    let inside = s[4..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    if s.get(4 + inside) == Some(&b')') {
        4 + inside + 1
    } else {
        3
    }
}

/// The count of ASCII digits at the start of `s`.
fn digits(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// An exponent's digits, saturated far beyond any exponent that changes the result.
fn exponent_value(s: &[u8]) -> i64 {
    s.iter().fold(0i64, |n, d| {
        n.saturating_mul(10)
            .saturating_add(i64::from(d - b'0'))
            .min(1 << 40)
    })
}

/// An exponent part (`e12`, `p-3`) at the start of `s`, whose first byte is the marker: its
/// length and value, if digits follow the marker and its sign (otherwise it is not part of
/// the number).
fn exponent(s: &[u8]) -> Option<(usize, i64)> {
    let (negative, sign_len) = match s.get(1) {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let start = 1 + sign_len;
    let count = digits(&s[start.min(s.len())..]);
    if count == 0 {
        return None;
    }
    let value = exponent_value(&s[start..start + count]);
    Some((start + count, if negative { -value } else { value }))
}

/// Significant digits kept of a long decimal mantissa for the range check: more than the
/// ~770 any number the check compares against needs, so the rest only counts as "non-zero".
const KEPT_DIGITS: usize = 800;

/// A decimal number at the start of `s` (after the sign): its magnitude, length and range
/// error, or `None` if `s` does not start with one.
fn decimal(s: &[u8]) -> Option<(f64, usize, bool)> {
    let int_len = digits(s);
    let mut len = int_len;
    let mut frac_len = 0;
    if s.get(len) == Some(&b'.') {
        frac_len = digits(&s[len + 1..]);
        // A point is part of the number only next to a digit.
        if int_len + frac_len > 0 {
            len += 1 + frac_len;
        }
    }
    if int_len + frac_len == 0 {
        return None;
    }
    let mut exp = 0;
    if matches!(s.get(len), Some(b'e' | b'E')) {
        if let Some((exp_len, value)) = exponent(&s[len..]) {
            len += exp_len;
            exp = value;
        }
    }
    // The span is ASCII digits, a point and an exponent: text Rust's correctly rounding
    // parser reads the same way.
    let value: f64 = std::str::from_utf8(&s[..len]).ok()?.parse().ok()?;
    let range_error = if value.is_infinite() {
        true
    } else if value <= f64::MIN_POSITIVE {
        let mantissa = s[..int_len].iter().chain(
            s.get(int_len + 1..int_len + 1 + frac_len)
                .unwrap_or_default(),
        );
        let exp = exp - frac_len as i64;
        Decimal::new(mantissa, exp).is_some_and(|d| d.underflows(value))
    } else {
        false
    };
    Some((value, len, range_error))
}

/// A hexadecimal number at the start of `s` (after `0x`): its magnitude, length and range
/// error, or `None` if no hex digit follows.
fn hexadecimal(s: &[u8]) -> Option<(f64, usize, bool)> {
    // The value is `mantissa * 2^exp`, plus something below the mantissa's last bit when
    // `sticky`; 16 hex digits fill the mantissa.
    let (mut mantissa, mut exp, mut sticky, mut kept) = (0u64, 0i64, false, 0);
    let mut len = 0;
    let mut seen_digit = false;
    let mut after_point = false;
    while let Some(&b) = s.get(len) {
        if b == b'.' && !after_point {
            after_point = true;
            len += 1;
            continue;
        }
        let Some(digit) = char::from(b).to_digit(16) else {
            break;
        };
        seen_digit = true;
        len += 1;
        if mantissa == 0 && digit == 0 {
            exp -= if after_point { 4 } else { 0 };
        } else if kept < 16 {
            mantissa = (mantissa << 4) | u64::from(digit);
            kept += 1;
            exp -= if after_point { 4 } else { 0 };
        } else {
            sticky |= digit != 0;
            exp += if after_point { 0 } else { 4 };
        }
    }
    if !seen_digit {
        return None;
    }
    // A trailing point was read only if a digit came before it, which `seen_digit` ensures.
    if matches!(s.get(len), Some(b'p' | b'P')) {
        if let Some((exp_len, value)) = exponent(&s[len..]) {
            len += exp_len;
            exp = exp.saturating_add(value);
        }
    }
    let (value, range_error) = round_binary(mantissa, exp, sticky);
    Some((value, len, range_error))
}

/// `mantissa * 2^exp` (plus a little more when `sticky`) rounded to the nearest double, ties
/// to even, and whether glibc reports a range error for it.
fn round_binary(mantissa: u64, exp: i64, sticky: bool) -> (f64, bool) {
    if mantissa == 0 {
        return (0.0, false);
    }
    let bits = i64::from(64 - mantissa.leading_zeros());
    // The exponent of the leading bit.
    let lead = exp + bits - 1;
    // Subnormal results keep fewer bits: their last bit weighs 2^-1074.
    let precision = if lead >= -1022 {
        53
    } else {
        53 - (-1022 - lead)
    };
    let (rounded, shift, inexact) = round_to(mantissa, bits, precision, sticky);
    let exp = exp + shift;
    if rounded == 0 {
        return (0.0, true);
    }
    let top = exp + i64::from(64 - rounded.leading_zeros()) - 1;
    if top > 1023 {
        return (f64::INFINITY, true);
    }
    // Tininess after rounding: would the value, rounded to 53 bits with an unbounded
    // exponent, lie below 2^-1022?
    let tiny = lead < -1022 && {
        let (at53, shift53, _) = round_to(mantissa, bits, 53, sticky);
        exp_of(at53, exp - shift + shift53) < -1022
    };
    (scale(rounded, exp), inexact && tiny)
}

/// The exponent of the leading bit of `m * 2^exp` (`m` not 0).
fn exp_of(m: u64, exp: i64) -> i64 {
    exp + i64::from(64 - m.leading_zeros()) - 1
}

/// `mantissa` (of `bits` significant bits) rounded to `precision` bits, ties to even, with
/// `sticky` standing for non-zero bits below it: the rounded mantissa, how many bits were
/// dropped, and whether anything was lost.
fn round_to(mantissa: u64, bits: i64, precision: i64, sticky: bool) -> (u64, i64, bool) {
    let drop = bits - precision;
    if drop <= 0 {
        return (mantissa, 0, sticky);
    }
    if drop > 64 {
        // Everything lies below half of the last kept bit.
        return (0, drop, true);
    }
    let wide = u128::from(mantissa);
    let kept = wide >> drop;
    let rest = wide & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    let up = rest > half || (rest == half && (sticky || kept & 1 == 1));
    // `kept` has at most 64 bits, and rounding up carries into at most one more only when
    // it had fewer than 64.
    let rounded = u64::try_from(kept + u128::from(up)).unwrap_or(u64::MAX);
    (rounded, drop, rest != 0 || sticky)
}

/// `m * 2^exp`, exact for the values [`round_binary`] produces (at most 53 bits, already
/// rounded to the precision the result has).
fn scale(m: u64, exp: i64) -> f64 {
    // At most 53 bits: exact.
    let mut value = m as f64;
    let mut exp = exp;
    // Steps of 2^±1000 stay within the normal range until the last, which is exact because
    // the mantissa was rounded for it.
    while exp > 1000 {
        value *= power_of_two(1000);
        exp -= 1000;
    }
    while exp < -1000 {
        value *= power_of_two(-1000);
        exp += 1000;
    }
    value * power_of_two(exp)
}

/// 2^`exp` for `exp` in the normal range.
fn power_of_two(exp: i64) -> f64 {
    let biased = (exp + 1023).clamp(1, 2046) as u64;
    f64::from_bits(biased << 52)
}

/// A decimal number's digits as an integer `digits * 10^exp`, for the exact comparisons of
/// the range check.
struct Decimal {
    /// Significant digits, at most [`KEPT_DIGITS`], as values 0-9, no leading zero.
    digits: Vec<u8>,
    /// Whether non-zero digits were cut off after them.
    sticky: bool,
    /// The power of ten of the last kept digit.
    exp: i64,
}

impl Decimal {
    /// The number `mantissa * 10^exp`, with `mantissa` given as ASCII digits; `None` if it is
    /// zero.
    fn new<'a>(mantissa: impl Iterator<Item = &'a u8>, exp: i64) -> Option<Decimal> {
        let all: Vec<u8> = mantissa.map(|d| d - b'0').skip_while(|&d| d == 0).collect();
        let mut kept: Vec<u8> = all.iter().copied().take(KEPT_DIGITS).collect();
        let sticky = all[kept.len()..].iter().any(|&d| d != 0);
        let cut = (all.len() - kept.len()) as i64;
        let trailing = kept.iter().rev().take_while(|&&d| d == 0).count();
        kept.truncate(kept.len() - trailing);
        if kept.is_empty() {
            return None;
        }
        Some(Decimal {
            digits: kept,
            sticky,
            exp: exp.saturating_add(cut).saturating_add(trailing as i64),
        })
    }

    /// Whether glibc reports a range error when it reads this number as `value` (a result at
    /// most the smallest normal double): the result is inexact and the number is tiny.
    fn underflows(&self, value: f64) -> bool {
        let bits = value.abs().to_bits();
        // At most 2^-1022, so the exponent field is 0 (subnormal) or 1 (2^-1022 itself).
        let units = (bits & ((1 << 52) - 1)) | ((bits >> 52) << 52);
        let exact = self.cmp_dyadic(units, 1074) == Ordering::Equal;
        // Tiny: below the midpoint between 2^-1022 and the 53-bit number just under it.
        let tiny = self.cmp_dyadic((1 << 54) - 1, 1076) == Ordering::Less;
        !exact && tiny
    }

    /// Compares this number with `n * 2^-k`.
    fn cmp_dyadic(&self, n: u64, k: u32) -> Ordering {
        if n == 0 {
            return Ordering::Greater;
        }
        let lead = self.exp + self.digits.len() as i64 - 1;
        // `n * 2^-k` lies between 2^-1076 and 2^64, so numbers of a very different size need
        // no arithmetic; the exact comparison below stays small.
        if lead < -400 {
            return Ordering::Less;
        }
        if lead > 30 {
            return Ordering::Greater;
        }
        let mut left = Big::from_digits(&self.digits);
        let mut right = Big::from(n);
        left.shl(k);
        if self.exp >= 0 {
            left.mul_pow10(self.exp as u32);
        } else {
            right.mul_pow10(self.exp.unsigned_abs() as u32);
        }
        match left.cmp(&right) {
            // Cut-off digits make the number larger than its kept digits.
            Ordering::Equal if self.sticky => Ordering::Greater,
            order => order,
        }
    }
}

/// A non-negative integer as little-endian 32-bit limbs, just enough arithmetic for
/// [`Decimal::cmp_dyadic`].
#[derive(Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl From<u64> for Big {
    fn from(n: u64) -> Big {
        let mut big = Big(vec![n as u32, (n >> 32) as u32]);
        big.trim();
        big
    }
}

impl Big {
    /// The integer whose decimal digits (values 0-9) are `digits`.
    fn from_digits(digits: &[u8]) -> Big {
        let mut big = Big(Vec::new());
        for chunk in digits.chunks(9) {
            let value = chunk.iter().fold(0u32, |n, &d| n * 10 + u32::from(d));
            big.mul_add(10u32.pow(chunk.len() as u32), value);
        }
        big
    }

    /// `self = self * factor + add`.
    fn mul_add(&mut self, factor: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    /// `self *= 10^exp`.
    fn mul_pow10(&mut self, mut exp: u32) {
        while exp > 0 {
            let step = exp.min(9);
            self.mul_add(10u32.pow(step), 0);
            exp -= step;
        }
    }

    /// `self <<= bits`.
    fn shl(&mut self, bits: u32) {
        let (limbs, bits) = ((bits / 32) as usize, bits % 32);
        if bits > 0 {
            let mut carry = 0;
            for limb in &mut self.0 {
                let next = *limb >> (32 - bits);
                *limb = (*limb << bits) | carry;
                carry = next;
            }
            if carry > 0 {
                self.0.push(carry);
            }
        }
        self.0.splice(0..0, std::iter::repeat_n(0, limbs));
        self.trim();
    }

    /// Drops high zero limbs, so that comparing lengths compares magnitudes.
    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }
}

impl PartialOrd for Big {
    fn partial_cmp(&self, other: &Big) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Big {
    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// Decimal numbers round exactly as Rust's own parser rounds them (both correctly
        /// rounded, as glibc's `strtod` is), across digits, points and exponents.
        #[test]
        fn decimals_round_correctly(
            int in "[0-9]{0,25}",
            frac in proptest::option::of("[0-9]{0,25}"),
            exp in proptest::option::of(-400i32..400),
        ) {
            let mut text = int.clone();
            if let Some(frac) = &frac {
                text.push('.');
                text.push_str(frac);
            }
            if let Some(exp) = exp {
                text.push_str(&format!("e{exp}"));
            }
            if let Ok(expected) = text.parse::<f64>() {
                let digits = int.len() + frac.as_ref().map_or(0, String::len);
                if digits > 0 {
                    let read = strtod(text.as_bytes());
                    proptest::prop_assert_eq!(read.len, text.len());
                    proptest::prop_assert_eq!(read.value.to_bits(), expected.to_bits(), "{}", text);
                }
            }
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
        assert!(strtod(b"1e400").range_error);
        assert!(strtod(b"1e-400").range_error);
        // Inexact and below the smallest normal: glibc reports ERANGE (string2d keeps it).
        assert!(strtod(b"1e-310").range_error);
        assert!(!strtod(b"0x1p-1074").range_error);
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

    use super::*;

    /// `(value, len, range_error)` for `s`.
    fn read(s: &str) -> (f64, usize, bool) {
        let r = strtod(s.as_bytes());
        (r.value, r.len, r.range_error)
    }

    #[test]
    fn decimal_forms() {
        assert_eq!(read("1.5"), (1.5, 3, false));
        assert_eq!(read("-1e3"), (-1000.0, 4, false));
        assert_eq!(read("+.5"), (0.5, 3, false));
        assert_eq!(read("5."), (5.0, 2, false));
        assert_eq!(read("00012"), (12.0, 5, false));
        assert_eq!(read("1.5E+2x"), (150.0, 6, false));
        // An exponent marker without digits is not part of the number.
        assert_eq!(read("1e"), (1.0, 1, false));
        assert_eq!(read("1e+"), (1.0, 1, false));
        assert_eq!(read("2.e-"), (2.0, 2, false));
        // Leading white space is skipped; trailing is where the number stops.
        assert_eq!(read(" \t\n\x0b\x0c\r5 "), (5.0, 7, false));
        // One NUL byte ends a number like any other byte.
        assert_eq!(strtod(b"7\0x").len, 1);
    }

    #[test]
    fn no_number_reads_nothing() {
        for s in [
            "",
            " ",
            "-",
            "+",
            ".",
            ".e1",
            "e5",
            "x",
            "+-1",
            " -",
            "1_0"[1..].as_ref(),
        ] {
            let (value, len, range) = read(s);
            assert_eq!((value, len, range), (0.0, 0, false), "{s:?}");
        }
    }

    #[test]
    fn infinities_and_nans() {
        assert_eq!(read("inf"), (f64::INFINITY, 3, false));
        assert_eq!(read("-INFINITY"), (f64::NEG_INFINITY, 9, false));
        assert_eq!(read("infinit"), (f64::INFINITY, 3, false));
        assert_eq!(read("+Inf5"), (f64::INFINITY, 4, false));
        for (s, len) in [
            ("nan", 3),
            ("-NaN", 4),
            ("nan(abc_1)", 10),
            ("nan(a b)", 3),
            ("nan(", 3),
        ] {
            let r = strtod(s.as_bytes());
            assert!(r.value.is_nan(), "{s}");
            assert_eq!(r.len, len, "{s}");
        }
    }

    #[test]
    fn hexadecimal_forms() {
        assert_eq!(read("0x10"), (16.0, 4, false));
        assert_eq!(read("0X1P3"), (8.0, 5, false));
        assert_eq!(read("0x1.8p1"), (3.0, 7, false));
        assert_eq!(read("-0x.8"), (-0.5, 5, false));
        assert_eq!(read("0xA.p-1"), (5.0, 7, false));
        // No hex digit: the number is the 0 before the `x`.
        assert_eq!(read("0x"), (0.0, 1, false));
        assert_eq!(read("0x.p1"), (0.0, 1, false));
        assert_eq!(read("0xg"), (0.0, 1, false));
        // A `p` without digits is not part of the number.
        assert_eq!(read("0x1P"), (1.0, 3, false));
        assert_eq!(read("0x0p-99999"), (0.0, 10, false));
        // Rounding of long mantissas: ties to even, with digits beyond 16 as sticky bits.
        assert_eq!(read("0x1.00000000000008p0").0, 1.0);
        assert_eq!(read("0x1.00000000000018p0").0, 1.0 + 2.0 * f64::EPSILON);
        assert_eq!(read("0x1.000000000000080001p0").0, 1.0 + f64::EPSILON);
        assert_eq!(read("0x1.fffffffffffff7p1023"), (f64::MAX, 23, false));
        assert_eq!(read("0x1.fffffffffffff8p1023"), (f64::INFINITY, 23, true));
    }

    #[test]
    fn range_errors_follow_glibc() {
        // Overflow.
        assert_eq!(read("1e400"), (f64::INFINITY, 5, true));
        assert!(read("-1e99999999999999999999999").2);
        assert!(!read("1e308").2);
        // Zero is exact, however it is written.
        assert_eq!(read("0e-999"), (0.0, 6, false));
        assert_eq!(read("0e99999999999999"), (0.0, 16, false));
        assert_eq!(read("0.000"), (0.0, 5, false));
        // Underflow to zero, and inexact subnormals.
        assert_eq!(read("1e-400"), (0.0, 6, true));
        assert!(read("-1e-99999999999999999999").2);
        assert!(read("1e-310").2);
        assert!(read("4.9406564584124654e-324").2);
        assert!(read("2.225073858507201e-308").2);
        assert!(read("0x1p-1075").2);
        assert!(read("0x1.8p-1074").2);
        // Exact subnormals and normal numbers are no error.
        assert_eq!(read("0x1p-1074"), (f64::from_bits(1), 9, false));
        assert!(!read("0x1p-1022").2);
        assert!(!read("2.2250738585072014e-308").2);
        // 2^-1074 written out exactly: 5^1074 * 10^-1074.
        let mut digits = vec![1u8];
        for _ in 0..1074 {
            let mut carry = 0;
            for d in &mut digits {
                let product = *d * 5 + carry;
                *d = product % 10;
                carry = product / 10;
            }
            if carry > 0 {
                digits.push(carry);
            }
        }
        let digits: String = digits.iter().rev().map(|d| char::from(b'0' + d)).collect();
        let exact = format!("{digits}e-1074");
        assert_eq!(read(&exact), (f64::from_bits(1), exact.len(), false));
        let inexact = format!("{digits}1e-1075");
        assert!(read(&inexact).2);
    }

    #[test]
    fn tininess_is_judged_after_rounding() {
        // Just under 2^-1022, close enough to round to it with 53 bits: not tiny.
        let (value, _, range) = read("0x1.fffffffffffffcp-1023");
        assert_eq!((value, range), (f64::MIN_POSITIVE, false));
        // Further under: rounds to 2^-1022 as a subnormal, but is tiny and inexact.
        let (value, _, range) = read("0x1.fffffffffffff4p-1023");
        assert_eq!((value, range), (f64::MIN_POSITIVE, true));
    }

    #[test]
    fn big_integers_compare_exactly() {
        let a = Big::from_digits(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]);
        assert_eq!(a, Big::from(123_456_789_012));
        let mut b = Big::from(1);
        b.shl(70);
        let mut c = Big::from(1 << 35);
        c.shl(35);
        assert_eq!(b, c);
        let mut d = Big::from(1024);
        d.mul_pow10(20);
        assert!(d > b && Big::from(u64::MAX) < d);
    }
}
