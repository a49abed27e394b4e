//! `--json` and `--quoted-json` (`cliFormatReplyJson`).
//!
//! Arrays, sets and pushes are JSON arrays, maps JSON objects, nulls `null`, booleans
//! `true`/`false`, errors `error:"text"` (not valid JSON; redis-cli prints them so). A map key
//! that is not a string is printed and then quoted as it is, without escaping.

use super::escape::{json_string, quoted_json_string};
use super::{c_str, flat, walk, Flat, Formatted, UnknownReplyType};
use crate::reply::Reply;

/// `reply` as JSON, without the final newline; `quoted` selects `--quoted-json`'s strings.
pub fn json(reply: &Reply, quoted: bool) -> Formatted {
    flat(&Json { quoted }, reply)
}

/// JSON's parts, with `--quoted-json`'s strings when `quoted`.
#[derive(Debug)]
struct Json {
    quoted: bool,
}

impl Flat for Json {
    const NIL: &'static [u8] = b"null";
    const TRUE: &'static [u8] = b"true";
    const FALSE: &'static [u8] = b"false";
    const PAIR_SEPARATOR: &'static [u8] = b":";
    const ARRAY: [&'static [u8]; 2] = [b"[", b"]"];
    const MAP: [&'static [u8]; 2] = [b"{", b"}"];

    fn error(&self, out: &mut Vec<u8>, text: &[u8]) {
        out.extend_from_slice(b"error:");
        self.string(out, c_str(text));
    }

    fn string(&self, out: &mut Vec<u8>, text: &[u8]) {
        if self.quoted {
            quoted_json_string(out, text);
        } else {
            json_string(out, text);
        }
    }

    fn separator(&self) -> &[u8] {
        b","
    }

    /// A key that is not a string is printed, then quoted unless it already starts with one.
    fn key(&self, out: &mut Vec<u8>, key: &Reply) -> Result<(), UnknownReplyType> {
        match key {
            Reply::Error(_) | Reply::Status(_) | Reply::String(_) | Reply::Verbatim { .. } => {
                walk(self, key, out)
            }
            _ => {
                let text = flat(self, key)?;
                if text.first() == Some(&b'"') {
                    out.extend_from_slice(&text);
                } else {
                    out.push(b'"');
                    out.extend_from_slice(&text);
                    out.push(b'"');
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::format::samples::{nested, protocol_map, push, s, verbatim};

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
        let verbatim = verbatim();
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
        assert_eq!(show(&push()), "[\"server-cpu-usage\",42]");
        // EVAL "return {1,{2,{}},'x',{err='bad'}}" 0
        assert_eq!(show(&nested()), "[1,[2,[]],\"x\",error:\"bad\"]");
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
        assert_eq!(show(&protocol_map()), "{\"0\":false,\"1\":true}");
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
