//! Splitting an inline request line into arguments with Redis's quoting rules, and quoting
//! an argument the way Redis shows one (which that splitting reads back).

use bytes::Bytes;

use crate::ProtocolError;

/// Appends `bytes` double-quoted as Redis's `sdscatrepr` quotes them (MONITOR's lines,
/// redis-cli's output): printable ASCII as is, `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`
/// escaped, any other byte as `\xhh`. [`split_inline`] reads the result back as `bytes`.
pub fn repr(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            b' '..=b'~' => out.push(b),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 15)],
                ]);
            }
        }
    }
    out.push(b'"');
}

/// Splits one inline request line into its arguments, as Redis's `sdssplitargs` does.
///
/// - Arguments are separated by runs of white space.
/// - `"double quotes"` understand `\n \r \t \b \a \\ \"`, `\xHH` hex escapes, and keep any
///   other escaped byte as is.
/// - `'single quotes'` understand only `\'`.
/// - A closing quote must be followed by white space or the end of the line; a quote that
///   never closes is an error.
/// - A NUL byte ends the line, as it ends the C string Redis splits.
///
/// Returns no arguments for an empty or blank line.
pub fn split_inline(line: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    let line = &line[..end];
    let mut args = Vec::new();
    let mut pos = 0;
    loop {
        while pos < line.len() && is_space(line[pos]) {
            pos += 1;
        }
        if pos == line.len() {
            return Ok(args);
        }
        let mut arg = Vec::new();
        pos = split_one(line, pos, &mut arg)?;
        args.push(Bytes::from(arg));
    }
}

/// Reads the argument starting at `pos` into `arg`; returns where the next one may start.
fn split_one(line: &[u8], mut pos: usize, arg: &mut Vec<u8>) -> Result<usize, ProtocolError> {
    #[derive(PartialEq)]
    enum Quote {
        None,
        Double,
        Single,
    }
    let at = |i: usize| line.get(i).copied();
    let mut quote = Quote::None;
    loop {
        let Some(c) = at(pos) else {
            return if quote == Quote::None {
                Ok(pos)
            } else {
                Err(ProtocolError::UnbalancedQuotes)
            };
        };
        match quote {
            Quote::Double => {
                let hex_escape = if c == b'\\' && at(pos + 1) == Some(b'x') {
                    hex(at(pos + 2)).zip(hex(at(pos + 3)))
                } else {
                    None
                };
                if let Some((hi, lo)) = hex_escape {
                    arg.push(hi * 16 + lo);
                    pos += 3;
                } else if c == b'\\' && pos + 1 < line.len() {
                    pos += 1;
                    arg.push(match line[pos] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    return closing_quote(line, pos);
                } else {
                    arg.push(c);
                }
            }
            Quote::Single => {
                if c == b'\\' && at(pos + 1) == Some(b'\'') {
                    pos += 1;
                    arg.push(b'\'');
                } else if c == b'\'' {
                    return closing_quote(line, pos);
                } else {
                    arg.push(c);
                }
            }
            Quote::None => match c {
                b' ' | b'\n' | b'\r' | b'\t' => return Ok(pos + 1),
                b'"' => quote = Quote::Double,
                b'\'' => quote = Quote::Single,
                _ => arg.push(c),
            },
        }
        pos += 1;
    }
}

/// After a closing quote at `pos`: the argument must end there.
fn closing_quote(line: &[u8], pos: usize) -> Result<usize, ProtocolError> {
    match line.get(pos + 1) {
        Some(&c) if !is_space(c) => Err(ProtocolError::UnbalancedQuotes),
        _ => Ok(pos + 1),
    }
}

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex(c: Option<u8>) -> Option<u8> {
    match c? {
        c @ b'0'..=b'9' => Some(c - b'0'),
        c @ b'a'..=b'f' => Some(c - b'a' + 10),
        c @ b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_quotes_like_sdscatrepr_and_splits_back() {
        let mut out = Vec::new();
        repr(&mut out, b"a b\n\"\\\x01\x80\xff\t\r\x07\x08~");
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#""a b\n\"\\\x01\x80\xff\t\r\a\b~""#
        );
        let every_byte: Vec<u8> = (1..=255).collect();
        let mut quoted = Vec::new();
        repr(&mut quoted, &every_byte);
        assert_eq!(split_inline(&quoted).unwrap(), [Bytes::from(every_byte)]);
    }

    fn split(line: &str) -> Result<Vec<String>, ProtocolError> {
        split_inline(line.as_bytes()).map(|args| {
            args.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
    }

    #[test]
    fn plain_words() {
        assert_eq!(split("SET a b").unwrap(), ["SET", "a", "b"]);
        assert_eq!(split("  PING \t ").unwrap(), ["PING"]);
        assert!(split("").unwrap().is_empty());
        assert!(split(" \t ").unwrap().is_empty());
    }

    #[test]
    fn double_quotes_and_escapes() {
        assert_eq!(split(r#"SET a "b c""#).unwrap(), ["SET", "a", "b c"]);
        assert_eq!(split(r#""a\nb\tc\\d\"e""#).unwrap(), ["a\nb\tc\\d\"e"]);
        assert_eq!(split(r#""\x41\x7a""#).unwrap(), ["Az"]);
        // An incomplete hex escape keeps the x.
        assert_eq!(split(r#""\x4""#).unwrap(), ["x4"]);
        assert_eq!(split(r#""""#).unwrap(), [""]);
        // Unquoted text directly before a quote joins the argument.
        assert_eq!(split(r#"ab"c d""#).unwrap(), ["abc d"]);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(split(r"'it\'s' 'a\nb'").unwrap(), ["it's", "a\\nb"]);
    }

    #[test]
    fn unbalanced_quotes() {
        for bad in [r#""abc"#, r#"'abc"#, r#""a"b"#, r"'a'b", r#"SET "a\""#] {
            assert_eq!(split(bad), Err(ProtocolError::UnbalancedQuotes), "{bad}");
        }
    }

    #[test]
    fn nul_ends_the_line() {
        assert_eq!(
            split_inline(b"GET a\0b c").unwrap(),
            [Bytes::from("GET"), Bytes::from("a")]
        );
    }
}
