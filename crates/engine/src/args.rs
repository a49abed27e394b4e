//! A cursor over a command's arguments with typed, Redis-exact parsing.

use crate::strtod::{is_c_space, strtod};
use crate::CommandError;

/// The arguments after the command name, consumed front to back.
///
/// Each `next_*` parses with the rules and error of the Redis function of the same role
/// (`getLongLongFromObject`, `getDoubleFromObject`, ...), so every command reports a bad
/// number the same way.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    args: &'a [&'a [u8]],
    pos: usize,
}

impl<'a> Args<'a> {
    /// A cursor over `args` (the command name excluded).
    pub fn new(args: &'a [&'a [u8]]) -> Args<'a> {
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
    pub fn rest(&self) -> &'a [&'a [u8]] {
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
    // string2d refuses an out-of-range result only when it is infinite or zero: a result
    // that underflows to a subnormal is kept.
    let refused_range = read.range_error && (read.value.is_infinite() || read.value == 0.0);
    if read.len != arg.len() || refused_range || read.value.is_nan() {
        return None;
    }
    Some(read.value)
}

/// A `numkeys` argument (LMPOP, ZMPOP, SINTERCARD, ...): a positive integer, else Redis's
/// `numkeys should be greater than 0`.
pub fn parse_numkeys(arg: &[u8]) -> Result<usize, CommandError> {
    match parse_i64(arg) {
        Ok(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(CommandError::msg("ERR numkeys should be greater than 0")),
    }
}

/// The arguments of LMPOP, BLMPOP, ZMPOP and BZMPOP from `numkeys` on: the keys, the end
/// (`LEFT`/`RIGHT` or `MIN`/`MAX`, read by `end`) and the `COUNT` (default 1), checked in
/// Redis's order. A numkeys reaching past the arguments is a syntax error.
pub(crate) fn parse_mpop<'a, E>(
    args: &mut Args<'a>,
    end: impl Fn(&[u8]) -> Result<E, CommandError>,
) -> Result<(&'a [&'a [u8]], E, usize), CommandError> {
    let numkeys = parse_numkeys(args.next_bytes()?)?;
    let rest = args.rest();
    let keys = rest.get(..numkeys).ok_or(CommandError::Syntax)?;
    let end = end(rest.get(numkeys).ok_or(CommandError::Syntax)?)?;
    let mut options = Args::new(&rest[numkeys + 1..]);
    let mut count = None;
    while let Some(option) = options.peek() {
        options.next_bytes()?;
        if count.is_none() && option.eq_ignore_ascii_case(b"count") && !options.is_empty() {
            count = Some(match options.next_i64() {
                Ok(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Err(CommandError::msg("ERR count should be greater than 0")),
            });
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok((keys, end, count.unwrap_or(1)))
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
    fn cursor_consumes_in_order() {
        let args: [&[u8]; 3] = [b"EX", b"10", b"nx"];
        let mut cursor = Args::new(&args);
        assert!(cursor.eat("ex"));
        assert_eq!(cursor.next_i64(), Ok(10));
        assert!(!cursor.eat("xx"));
        assert!(cursor.eat("NX"));
        assert_eq!(cursor.finish(), Ok(()));
        assert_eq!(cursor.next_bytes(), Err(CommandError::Syntax));
    }
}
