//! Reply formatting exactly as redis-cli prints it.

use kv_resp::Frame;

/// redis-cli's `sdscatrepr`: a double-quoted string with C-style escapes.
pub fn quoted(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            b if b.is_ascii_graphic() || b == b' ' => out.push(char::from(b)),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// The human-readable form redis-cli shows on a terminal, without the final newline.
pub fn tty(frame: &Frame) -> String {
    let mut out = String::new();
    tty_into(frame, "", &mut out);
    if out.ends_with('\n') {
        out.pop();
    }
    out
}

fn tty_into(frame: &Frame, prefix: &str, out: &mut String) {
    match frame {
        Frame::Simple(s) => out.push_str(&String::from_utf8_lossy(s)),
        Frame::Error(e) | Frame::BulkError(e) => {
            out.push_str("(error) ");
            out.push_str(&String::from_utf8_lossy(e));
        }
        Frame::Integer(n) => out.push_str(&format!("(integer) {n}")),
        Frame::Double(d) => {
            let mut text = [0u8; 32];
            let len = kv_resp::encode::format_double(*d, &mut text);
            out.push_str(&format!(
                "(double) {}",
                String::from_utf8_lossy(&text[..len])
            ));
        }
        Frame::BigNumber(n) => {
            out.push_str(&format!("(big number) {}", String::from_utf8_lossy(n)))
        }
        Frame::Bulk(b) => out.push_str(&quoted(b)),
        Frame::Verbatim { text, .. } => out.push_str(&String::from_utf8_lossy(text)),
        Frame::Null | Frame::NullBulk | Frame::NullArray => out.push_str("(nil)"),
        Frame::Boolean(b) => out.push_str(if *b { "(true)" } else { "(false)" }),
        Frame::Attribute { data, .. } => return tty_into(data, prefix, out),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            let (empty, separator) = match frame {
                Frame::Set(_) => ("(empty set)", '~'),
                Frame::Push(_) => ("(empty push)", ')'),
                _ => ("(empty array)", ')'),
            };
            if items.is_empty() {
                out.push_str(empty);
            } else {
                let refs: Vec<(&Frame, Option<&Frame>)> = items.iter().map(|f| (f, None)).collect();
                aggregate(&refs, separator, prefix, out);
                return;
            }
        }
        Frame::Map(pairs) => {
            if pairs.is_empty() {
                out.push_str("(empty hash)");
            } else {
                let refs: Vec<(&Frame, Option<&Frame>)> =
                    pairs.iter().map(|(k, v)| (k, Some(v))).collect();
                aggregate(&refs, '#', prefix, out);
                return;
            }
        }
    }
    out.push('\n');
}

/// Numbered elements, nested ones indented under their number, as redis-cli lays them out.
fn aggregate(items: &[(&Frame, Option<&Frame>)], separator: char, prefix: &str, out: &mut String) {
    let width = items.len().to_string().len();
    let nested_prefix = format!("{prefix}{}", " ".repeat(width + 2));
    for (i, (item, value)) in items.iter().enumerate() {
        let lead = if i == 0 { "" } else { prefix };
        out.push_str(&format!("{lead}{:>width$}{separator} ", i + 1));
        tty_into(item, &nested_prefix, out);
        if let Some(value) = value {
            if out.ends_with('\n') {
                out.pop();
            }
            out.push_str(" => ");
            // A nested aggregate as a map value starts on its own line, already indented.
            let nested = match value {
                Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => !v.is_empty(),
                Frame::Map(v) => !v.is_empty(),
                _ => false,
            };
            if nested {
                out.push('\n');
                out.push_str(&nested_prefix);
            }
            tty_into(value, &nested_prefix, out);
        }
    }
}

/// The raw form redis-cli prints when its output is not a terminal, without the final newline.
pub fn raw(frame: &Frame) -> String {
    match frame {
        Frame::Simple(s) | Frame::Bulk(s) | Frame::BigNumber(s) => {
            String::from_utf8_lossy(s).into_owned()
        }
        // redis-cli ends a raw error with a newline of its own, so an empty line follows it.
        Frame::Error(s) | Frame::BulkError(s) => format!("{}\n", String::from_utf8_lossy(s)),
        Frame::Verbatim { text, .. } => String::from_utf8_lossy(text).into_owned(),
        Frame::Integer(n) => n.to_string(),
        Frame::Double(d) => {
            let mut text = [0u8; 32];
            let len = kv_resp::encode::format_double(*d, &mut text);
            String::from_utf8_lossy(&text[..len]).into_owned()
        }
        Frame::Null | Frame::NullBulk | Frame::NullArray => String::new(),
        Frame::Boolean(b) => if *b { "1" } else { "0" }.to_string(),
        Frame::Attribute { data, .. } => raw(data),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            items.iter().map(raw).collect::<Vec<_>>().join("\n")
        }
        Frame::Map(pairs) => pairs
            .iter()
            .flat_map(|(k, v)| [raw(k), raw(v)])
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tty_matches_redis_cli() {
        assert_eq!(tty(&Frame::Integer(3)), "(integer) 3");
        assert_eq!(tty(&Frame::NullBulk), "(nil)");
        assert_eq!(tty(&Frame::bulk("a\"b\n")), "\"a\\\"b\\n\"");
        assert_eq!(tty(&Frame::error("ERR x")), "(error) ERR x");
        assert_eq!(tty(&Frame::Array(vec![])), "(empty array)");
        let nested = Frame::Array(vec![
            Frame::bulk("a"),
            Frame::Array(vec![Frame::Integer(1), Frame::Integer(2)]),
        ]);
        assert_eq!(
            tty(&nested),
            "1) \"a\"\n2) 1) (integer) 1\n   2) (integer) 2"
        );
        let map = Frame::Map(vec![(Frame::bulk("k"), Frame::Integer(1))]);
        assert_eq!(tty(&map), "1# \"k\" => (integer) 1");
        let many = Frame::Array((0..10).map(Frame::Integer).collect());
        assert!(tty(&many).starts_with(" 1) (integer) 0\n 2) (integer) 1"));
    }

    #[test]
    fn raw_matches_redis_cli() {
        assert_eq!(raw(&Frame::NullBulk), "");
        assert_eq!(
            raw(&Frame::Array(vec![Frame::bulk("a"), Frame::Integer(2)])),
            "a\n2"
        );
    }
}
