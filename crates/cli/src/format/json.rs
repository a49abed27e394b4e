//! `--json` and `--quoted-json` (`cliFormatReplyJson`).
//!
//! Arrays, sets and pushes are JSON arrays, maps JSON objects, nulls `null`, booleans
//! `true`/`false`, errors `error:"text"` (not valid JSON; redis-cli prints them so). A map key
//! that is not a string is printed and then quoted as it is, without escaping.

use super::escape::{json_string, quoted_json_string};
use super::{c_str, Formatted, UnknownReplyType};
use crate::reply::Reply;

/// `reply` as JSON, without the final newline; `quoted` selects `--quoted-json`'s strings.
pub fn json(reply: &Reply, quoted: bool) -> Formatted {
    let mut out = Vec::new();
    format(reply, quoted, &mut out)?;
    Ok(out)
}

/// Appends a JSON string in the chosen flavour.
fn string(out: &mut Vec<u8>, bytes: &[u8], quoted: bool) {
    if quoted {
        quoted_json_string(out, bytes);
    } else {
        json_string(out, bytes);
    }
}

/// Appends `reply` as JSON.
fn format(reply: &Reply, quoted: bool, out: &mut Vec<u8>) -> Result<(), UnknownReplyType> {
    match reply {
        Reply::Error(text) => {
            out.extend_from_slice(b"error:");
            string(out, c_str(text), quoted);
        }
        Reply::Status(text) | Reply::String(text) | Reply::Verbatim { text, .. } => {
            string(out, text, quoted)
        }
        Reply::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Double(text) => out.extend_from_slice(c_str(text)),
        Reply::Nil => out.extend_from_slice(b"null"),
        Reply::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                format(item, quoted, out)?;
            }
            out.push(b']');
        }
        Reply::Map(pairs) => {
            out.push(b'{');
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match key {
                    Reply::Error(_)
                    | Reply::Status(_)
                    | Reply::String(_)
                    | Reply::Verbatim { .. } => format(key, quoted, out)?,
                    _ => {
                        let mut text = Vec::new();
                        format(key, quoted, &mut text)?;
                        if text.first() == Some(&b'"') {
                            out.extend_from_slice(&text);
                        } else {
                            out.push(b'"');
                            out.extend_from_slice(&text);
                            out.push(b'"');
                        }
                    }
                }
                out.push(b':');
                format(value, quoted, out)?;
            }
            out.push(b'}');
        }
        Reply::BigNumber(_) => return Err(UnknownReplyType(reply.type_number())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Reply {
        Reply::String(text.as_bytes().to_vec())
    }

    fn show(reply: &Reply) -> String {
        String::from_utf8(json(reply, false).unwrap()).unwrap()
    }

    fn show_quoted(reply: &Reply) -> String {
        String::from_utf8(json(reply, true).unwrap()).unwrap()
    }

    // Expected texts: redis-cli 7.0.15 --json / --quoted-json, without the final newline.

    #[test]
    fn scalars() {
        assert_eq!(show(&Reply::Status(b"OK".to_vec())), "\"OK\"");
        assert_eq!(
            show(&Reply::Error(b"ERR unknown command 'NOPE'".to_vec())),
            "error:\"ERR unknown command 'NOPE'\""
        );
        assert_eq!(show(&Reply::Integer(12345)), "12345");
        assert_eq!(show(&s("Hello World")), "\"Hello World\"");
        assert_eq!(show(&Reply::Nil), "null");
        assert_eq!(show(&Reply::Double(b"3.141".to_vec())), "3.141");
        assert_eq!(show(&Reply::Bool(true)), "true");
        assert_eq!(show(&Reply::Bool(false)), "false");
        let verbatim = Reply::Verbatim {
            format: *b"txt",
            text: b"This is a verbatim\nstring".to_vec(),
        };
        assert_eq!(show(&verbatim), "\"This is a verbatim\\nstring\"");
        assert_eq!(show_quoted(&verbatim), "\"This is a verbatim\\\\nstring\"");
    }

    #[test]
    fn aggregates() {
        assert_eq!(show(&Reply::Array(vec![])), "[]");
        assert_eq!(
            show(&Reply::Set(vec![Reply::Integer(0), Reply::Integer(1)])),
            "[0,1]"
        );
        assert_eq!(
            show(&Reply::Push(vec![
                s("server-cpu-usage"),
                Reply::Integer(42)
            ])),
            "[\"server-cpu-usage\",42]"
        );
        // EVAL "return {1,{2,{}},'x',{err='bad'}}" 0
        assert_eq!(
            show(&Reply::Array(vec![
                Reply::Integer(1),
                Reply::Array(vec![Reply::Integer(2), Reply::Array(vec![])]),
                s("x"),
                Reply::Error(b"bad".to_vec()),
            ])),
            "[1,[2,[]],\"x\",error:\"bad\"]"
        );
        // HELLO 3's map.
        assert_eq!(
            show(&Reply::Map(vec![
                (s("server"), s("redis")),
                (s("proto"), Reply::Integer(3)),
                (s("modules"), Reply::Array(vec![])),
            ])),
            "{\"server\":\"redis\",\"proto\":3,\"modules\":[]}"
        );
        assert_eq!(show(&Reply::Map(vec![])), "{}");
    }

    #[test]
    fn map_keys_that_are_not_strings_are_quoted() {
        // DEBUG PROTOCOL map under RESP3.
        assert_eq!(
            show(&Reply::Map(vec![
                (Reply::Integer(0), Reply::Bool(false)),
                (Reply::Integer(1), Reply::Bool(true)),
            ])),
            "{\"0\":false,\"1\":true}"
        );
        assert_eq!(
            show(&Reply::Map(vec![(Reply::Nil, Reply::Integer(1))])),
            "{\"null\":1}"
        );
        assert_eq!(
            show(&Reply::Map(vec![(
                Reply::Array(vec![s("a")]),
                Reply::Integer(1)
            )])),
            "{\"[\"a\"]\":1}"
        );
    }
}
