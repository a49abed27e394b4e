//! The quoting redis-cli's formatters share.

pub use kv_resp::repr;

/// Appends `bytes` as a JSON string, as redis-cli's `escapeJsonString` does: `\\`, `\"`,
/// `\n`, `\f`, `\r`, `\t`, `\b`, other control bytes as `\u00HH`, every other byte (UTF-8
/// included) as it is.
pub fn json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x00..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

/// Appends `bytes` as `--quoted-json` does: [`repr`] (Redis's `sdscatrepr`, from kv-resp),
/// with every backslash doubled so that the escapes survive a JSON parser as text. (A `"` inside becomes `\\"`, which ends the JSON
/// string early: redis-cli 7.0 does the same.)
pub fn quoted_json_string(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut quoted = Vec::with_capacity(bytes.len() + 2);
    repr(&mut quoted, bytes);
    for b in quoted {
        if b == b'\\' {
            out.extend_from_slice(b"\\\\");
        } else {
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value holding every kind of byte the escapes treat apart, as set with redis-cli
    /// (`SET bin "$(printf 'a\x01b\x7f\xc3\xa9"\\\t\r\n\f\a\b')"`).
    const TRICKY: &[u8] = b"a\x01b\x7f\xc3\xa9\"\\\t\r\n\x0c\x07\x08";

    fn apply(f: fn(&mut Vec<u8>, &[u8]), bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out, bytes);
        out
    }

    #[test]
    fn repr_as_redis_cli_prints_it() {
        // redis-cli --no-raw GET bin
        assert_eq!(
            apply(repr, TRICKY),
            br#""a\x01b\x7f\xc3\xa9\"\\\t\r\n\x0c\a\b""#
        );
        assert_eq!(apply(repr, b""), b"\"\"");
        assert_eq!(apply(repr, b"\0"), b"\"\\x00\"");
    }

    #[test]
    fn json_as_redis_cli_prints_it() {
        // redis-cli --json GET bin
        assert_eq!(
            apply(json_string, TRICKY),
            b"\"a\\u0001b\x7f\xc3\xa9\\\"\\\\\\t\\r\\n\\f\\u0007\\b\""
        );
        assert_eq!(apply(json_string, b"\0"), b"\"\\u0000\"");
    }

    #[test]
    fn quoted_json_as_redis_cli_prints_it() {
        // redis-cli --quoted-json GET bin
        assert_eq!(
            apply(quoted_json_string, TRICKY),
            br#""a\\x01b\\x7f\\xc3\\xa9\\"\\\\\\t\\r\\n\\x0c\\a\\b""#
        );
    }
}
