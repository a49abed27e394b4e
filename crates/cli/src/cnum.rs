//! C's number conversions (`strtol`, `atoi`, `atof`), which redis-cli applies to its option
//! values and to the repeat count before a command: they take the longest valid prefix and
//! never fail, so `-n abc` means database 0 and `-r 2x` repeats twice.

/// What `strtol(text, &end, 10)` gives on a 64-bit system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrToL {
    /// The value, saturated at `i64::MIN`/`i64::MAX` on overflow.
    pub value: i64,
    /// Where the conversion stopped (`end - text`); 0 when there were no digits at all.
    pub end: usize,
    /// `errno == ERANGE`: the digits overflowed.
    pub overflow: bool,
}

/// `strtol(text, &end, 10)`: white space, a sign, then as many decimal digits as there are.
pub fn strtol(text: &[u8]) -> StrToL {
    let mut i = 0;
    while i < text.len() && is_c_space(text[i]) {
        i += 1;
    }
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
    let digits_start = i;
    let mut value: i64 = 0;
    let mut overflow = false;
    while let Some(&c) = text.get(i).filter(|c| c.is_ascii_digit()) {
        let digit = i64::from(c - b'0');
        // Accumulate towards the sign so that i64::MIN is reachable.
        let next = value.checked_mul(10).and_then(|v| {
            if negative {
                v.checked_sub(digit)
            } else {
                v.checked_add(digit)
            }
        });
        match next {
            Some(v) if !overflow => value = v,
            _ => overflow = true,
        }
        i += 1;
    }
    if i == digits_start {
        return StrToL {
            value: 0,
            end: 0,
            overflow: false,
        };
    }
    if overflow {
        value = if negative { i64::MIN } else { i64::MAX };
    }
    StrToL {
        value,
        end: i,
        overflow,
    }
}

/// `atoi(text)`: glibc's `(int) strtol(text, NULL, 10)`, wrapping like the C cast.
pub fn atoi(text: &[u8]) -> i32 {
    strtol(text).value as i32
}

/// `strtoll(text, NULL, 10)`.
pub fn strtoll(text: &[u8]) -> i64 {
    strtol(text).value
}

/// `atof(text)`: the longest prefix that reads as a decimal number (`inf` and `nan` included),
/// 0.0 when there is none. C's hexadecimal floats are not read.
pub fn atof(text: &[u8]) -> f64 {
    let mut i = 0;
    while i < text.len() && is_c_space(text[i]) {
        i += 1;
    }
    let start = i;
    if matches!(text.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let rest = text[i..].to_ascii_lowercase();
    let negative = text.get(start) == Some(&b'-');
    if rest.starts_with(b"inf") {
        return if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    if rest.starts_with(b"nan") {
        return f64::NAN;
    }
    let mut end = i;
    let mut digits = 0;
    while text.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
        digits += 1;
    }
    if text.get(end) == Some(&b'.') {
        end += 1;
        while text.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return 0.0;
    }
    // An exponent counts only when digits follow it.
    if matches!(text.get(end), Some(b'e' | b'E')) {
        let mut j = end + 1;
        if matches!(text.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        if text.get(j).is_some_and(u8::is_ascii_digit) {
            while text.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            end = j;
        }
    }
    std::str::from_utf8(&text[start..end])
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.0)
}

/// C's `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_takes_the_longest_prefix() {
        assert_eq!(
            strtol(b"12abc"),
            StrToL {
                value: 12,
                end: 2,
                overflow: false
            }
        );
        assert_eq!(strtol(b"  -7").value, -7);
        assert_eq!(strtol(b"+7").value, 7);
        assert_eq!(strtol(b"abc").end, 0);
        assert_eq!(strtol(b"").end, 0);
        assert_eq!(strtol(b"-").end, 0);
        let big = strtol(b"99999999999999999999");
        assert_eq!((big.value, big.overflow), (i64::MAX, true));
        assert_eq!(strtol(b"-9223372036854775808").value, i64::MIN);
        assert!(!strtol(b"-9223372036854775808").overflow);
    }

    #[test]
    fn atoi_as_glibc() {
        assert_eq!(atoi(b"6380"), 6380);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b"3/4"), 3);
        // (int) LONG_MAX
        assert_eq!(atoi(b"99999999999999999999"), -1);
    }

    #[test]
    fn atof_prefixes() {
        assert_eq!(atof(b"0.1"), 0.1);
        assert_eq!(atof(b"2"), 2.0);
        assert_eq!(atof(b".5s"), 0.5);
        assert_eq!(atof(b"1e3x"), 1000.0);
        assert_eq!(atof(b"1e"), 1.0);
        assert_eq!(atof(b"-2.5"), -2.5);
        assert_eq!(atof(b"abc"), 0.0);
        assert_eq!(atof(b"inf"), f64::INFINITY);
    }
}
