//! The human-readable form redis-cli prints on a terminal (`cliFormatReplyTTY`).
//!
//! Aggregates are numbered, nested ones indented under their number; a map's entries are
//! `N# key => value`, a set's `N~ value`; a multi-line map value starts on its own line.

use super::escape::repr;
use super::{c_str, Formatted, UnknownReplyType};
use crate::reply::Reply;

/// `reply` as redis-cli prints it on a terminal, ending with a newline.
pub fn tty(reply: &Reply) -> Formatted {
    let mut out = Vec::new();
    format(reply, b"", &mut out)?;
    Ok(out)
}

/// `-> invalidate: 'key1', 'key2'`: how redis-cli shows a client-side caching invalidation.
pub fn invalidate(keys: &[Reply]) -> Vec<u8> {
    let mut out = b"-> invalidate: ".to_vec();
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.push(b'\'');
        if let Reply::String(key) = key {
            out.extend_from_slice(c_str(key));
        }
        out.push(b'\'');
    }
    out.push(b'\n');
    out
}

/// Appends `reply`, ending with a newline; `prefix` indents every line after the first.
fn format(reply: &Reply, prefix: &[u8], out: &mut Vec<u8>) -> Result<(), UnknownReplyType> {
    match reply {
        Reply::Error(text) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(c_str(text));
        }
        Reply::Status(text) => out.extend_from_slice(c_str(text)),
        Reply::Integer(n) => out.extend_from_slice(format!("(integer) {n}").as_bytes()),
        Reply::Double(text) => {
            out.extend_from_slice(b"(double) ");
            out.extend_from_slice(c_str(text));
        }
        Reply::String(bytes) => repr(out, bytes),
        Reply::Verbatim { text, .. } => out.extend_from_slice(text),
        Reply::Nil => out.extend_from_slice(b"(nil)"),
        Reply::Bool(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            if items.is_empty() {
                out.extend_from_slice(match reply {
                    Reply::Set(_) => b"(empty set)",
                    Reply::Push(_) => b"(empty push)",
                    _ => b"(empty array)",
                });
            } else {
                // Push messages are numbered like arrays (redis-cli keeps `)` for them).
                let separator = if matches!(reply, Reply::Set(_)) {
                    b'~'
                } else {
                    b')'
                };
                let nested = nested_prefix(prefix, items.len());
                for (i, item) in items.iter().enumerate() {
                    number(out, prefix, i, items.len(), separator);
                    format(item, &nested, out)?;
                }
                return Ok(());
            }
        }
        Reply::Map(pairs) => {
            if pairs.is_empty() {
                out.extend_from_slice(b"(empty hash)");
            } else {
                let nested = nested_prefix(prefix, pairs.len());
                for (i, (key, value)) in pairs.iter().enumerate() {
                    number(out, prefix, i, pairs.len(), b'#');
                    format(key, &nested, out)?;
                    // The key's newline gives way to the arrow.
                    out.pop();
                    out.extend_from_slice(b" => ");
                    if is_multiline(value) {
                        out.push(b'\n');
                        out.extend_from_slice(&nested);
                    }
                    format(value, &nested, out)?;
                }
                return Ok(());
            }
        }
        Reply::BigNumber(_) => return Err(UnknownReplyType(reply.type_number())),
    }
    out.push(b'\n');
    Ok(())
}

/// The prefix of an aggregate's nested lines: the parent's, plus room for the widest number
/// and its separator and space.
fn nested_prefix(prefix: &[u8], count: usize) -> Vec<u8> {
    let width = count.to_string().len();
    let mut nested = prefix.to_vec();
    nested.resize(prefix.len() + width + 2, b' ');
    nested
}

/// Writes element `i`'s number, right-aligned to the widest; the first element's line already
/// carries its parent's number, so only the others get the prefix.
fn number(out: &mut Vec<u8>, prefix: &[u8], i: usize, count: usize, separator: u8) {
    if i > 0 {
        out.extend_from_slice(prefix);
    }
    let width = count.to_string().len();
    out.extend_from_slice(format!("{:>width$}", i + 1).as_bytes());
    out.push(separator);
    out.push(b' ');
}

/// Whether `reply` takes more than one line (`cliIsMultilineValueTTY`).
fn is_multiline(reply: &Reply) -> bool {
    match reply {
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => match items.as_slice() {
            [] => false,
            [only] => is_multiline(only),
            _ => true,
        },
        Reply::Map(pairs) => match pairs.as_slice() {
            [] => false,
            [(_, value)] => is_multiline(value),
            _ => true,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::format::samples::{nested, protocol_map, push, s, verbatim};

    fn int(n: i64) -> Reply {
        Reply::Integer(n)
    }

    fn show(reply: &Reply) -> String {
        String::from_utf8(tty(reply).unwrap()).unwrap()
    }

    // Every expected text below is what redis-cli 7.0.15 printed with --no-raw, mostly for
    // `DEBUG PROTOCOL <type>` and Lua replies under RESP3.

    #[test]
    fn scalars() {
        assert_eq!(show(&Reply::Status(b"OK".to_vec())), "OK\n");
        assert_eq!(
            show(&Reply::Error(b"ERR unknown command 'NOPE'".to_vec())),
            "(error) ERR unknown command 'NOPE'\n"
        );
        assert_eq!(show(&int(12345)), "(integer) 12345\n");
        assert_eq!(show(&s("Hello World")), "\"Hello World\"\n");
        assert_eq!(show(&Reply::Nil), "(nil)\n");
        assert_eq!(show(&Reply::Double(b"3.141".to_vec())), "(double) 3.141\n");
        assert_eq!(show(&Reply::Bool(true)), "(true)\n");
        assert_eq!(show(&Reply::Bool(false)), "(false)\n");
        assert_eq!(show(&verbatim()), "This is a verbatim\nstring\n");
    }

    #[test]
    fn aggregates() {
        assert_eq!(
            show(&Reply::Array(vec![int(0), int(1), int(2)])),
            "1) (integer) 0\n2) (integer) 1\n3) (integer) 2\n"
        );
        assert_eq!(
            show(&Reply::Set(vec![int(0), int(1), int(2)])),
            "1~ (integer) 0\n2~ (integer) 1\n3~ (integer) 2\n"
        );
        assert_eq!(
            show(&protocol_map()),
            "1# (integer) 0 => (false)\n2# (integer) 1 => (true)\n"
        );
        assert_eq!(show(&push()), "1) \"server-cpu-usage\"\n2) (integer) 42\n");
        assert_eq!(show(&Reply::Array(vec![])), "(empty array)\n");
        assert_eq!(show(&Reply::Set(vec![])), "(empty set)\n");
        assert_eq!(show(&Reply::Map(vec![])), "(empty hash)\n");
        assert_eq!(show(&Reply::Push(vec![])), "(empty push)\n");
    }

    #[test]
    fn nested_arrays_and_errors() {
        // EVAL "return {1,{2,{}},'x',{err='bad'}}" 0
        let reply = nested();
        assert_eq!(
            show(&reply),
            "1) (integer) 1\n2) 1) (integer) 2\n   2) (empty array)\n3) \"x\"\n4) (error) bad\n"
        );
    }

    #[test]
    fn numbers_align_to_the_widest() {
        // EVAL "return {1,2,3,4,5,6,7,8,9,10,{1,2}}" 0
        let mut items: Vec<Reply> = (1..=10).map(int).collect();
        items.push(Reply::Array(vec![int(1), int(2)]));
        let expected = " 1) (integer) 1\n 2) (integer) 2\n 3) (integer) 3\n 4) (integer) 4\n \
             5) (integer) 5\n 6) (integer) 6\n 7) (integer) 7\n 8) (integer) 8\n \
             9) (integer) 9\n10) (integer) 10\n11) 1) (integer) 1\n    2) (integer) 2\n";
        assert_eq!(show(&Reply::Array(items)), expected);
    }

    #[test]
    fn map_values_that_take_lines() {
        // EVAL "redis.setresp(3); return {map={a={1,2},b={3},c={},d={map={x=1}},
        //   e={map={x=1,y=2}}, f={{1,2}}, g={{1}} }}" 0
        let map = |pairs: Vec<(&str, Reply)>| {
            Reply::Map(pairs.into_iter().map(|(k, v)| (s(k), v)).collect())
        };
        let reply = map(vec![
            ("a", Reply::Array(vec![int(1), int(2)])),
            ("c", Reply::Array(vec![])),
            ("b", Reply::Array(vec![int(3)])),
            ("e", map(vec![("y", int(2)), ("x", int(1))])),
            ("d", map(vec![("x", int(1))])),
            ("g", Reply::Array(vec![Reply::Array(vec![int(1)])])),
            ("f", Reply::Array(vec![Reply::Array(vec![int(1), int(2)])])),
        ]);
        let expected = "1# \"a\" => \n   1) (integer) 1\n   2) (integer) 2\n\
            2# \"c\" => (empty array)\n\
            3# \"b\" => 1) (integer) 3\n\
            4# \"e\" => \n   1# \"y\" => (integer) 2\n   2# \"x\" => (integer) 1\n\
            5# \"d\" => 1# \"x\" => (integer) 1\n\
            6# \"g\" => 1) 1) (integer) 1\n\
            7# \"f\" => \n   1) 1) (integer) 1\n      2) (integer) 2\n";
        assert_eq!(show(&reply), expected);
    }

    #[test]
    fn maps_and_sets_inside_arrays() {
        // EVAL "redis.setresp(3); return {1,{map={a=1}},{},{set={z=1}}}" 0
        let reply = Reply::Array(vec![
            int(1),
            Reply::Map(vec![(s("a"), int(1))]),
            Reply::Array(vec![]),
            Reply::Set(vec![s("z")]),
        ]);
        assert_eq!(
            show(&reply),
            "1) (integer) 1\n2) 1# \"a\" => (integer) 1\n3) (empty array)\n4) 1~ \"z\"\n"
        );
    }

    #[test]
    fn c_strings_stop_at_nul() {
        assert_eq!(show(&Reply::Error(b"ERR a\0b".to_vec())), "(error) ERR a\n");
        assert_eq!(show(&s("a\0b")), "\"a\\x00b\"\n");
    }

    #[test]
    fn invalidations() {
        assert_eq!(invalidate(&[s("a")]), b"-> invalidate: 'a'\n");
        assert_eq!(invalidate(&[]), b"-> invalidate: \n");
    }
}
