//! `--csv`: one line per reply, values separated by commas (`cliFormatReplyCSV`).

use super::escape::repr;
use super::{c_str, Formatted, UnknownReplyType};
use crate::reply::Reply;

/// `reply` as a CSV line, without its final newline. Aggregates are flattened, a map's keys
/// and values alike.
pub fn csv(reply: &Reply) -> Formatted {
    let mut out = Vec::new();
    format(reply, &mut out)?;
    Ok(out)
}

/// Appends `reply` in CSV form.
fn format(reply: &Reply, out: &mut Vec<u8>) -> Result<(), UnknownReplyType> {
    match reply {
        Reply::Error(text) => {
            out.extend_from_slice(b"ERROR,");
            repr(out, c_str(text));
        }
        Reply::Status(text) | Reply::String(text) | Reply::Verbatim { text, .. } => repr(out, text),
        Reply::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Double(text) => out.extend_from_slice(c_str(text)),
        Reply::Nil => out.extend_from_slice(b"NULL"),
        Reply::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                format(item, out)?;
            }
        }
        Reply::Map(pairs) => {
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                format(key, out)?;
                out.push(b',');
                format(value, out)?;
            }
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
        String::from_utf8(csv(reply).unwrap()).unwrap()
    }

    // Expected texts: redis-cli 7.0.15 --csv, without the final newline.

    #[test]
    fn scalars() {
        assert_eq!(show(&Reply::Status(b"OK".to_vec())), "\"OK\"");
        assert_eq!(
            show(&Reply::Error(b"ERR unknown command 'NOPE'".to_vec())),
            "ERROR,\"ERR unknown command 'NOPE'\""
        );
        assert_eq!(show(&Reply::Integer(12345)), "12345");
        assert_eq!(show(&s("a\"b\n")), "\"a\\\"b\\n\"");
        assert_eq!(show(&Reply::Nil), "NULL");
        assert_eq!(show(&Reply::Double(b"3.141".to_vec())), "3.141");
        assert_eq!(show(&Reply::Bool(true)), "true");
        assert_eq!(show(&Reply::Bool(false)), "false");
        assert_eq!(
            show(&Reply::Verbatim {
                format: *b"txt",
                text: b"This is a verbatim\nstring".to_vec()
            }),
            "\"This is a verbatim\\nstring\""
        );
    }

    #[test]
    fn aggregates_flatten() {
        assert_eq!(show(&Reply::Array(vec![])), "");
        assert_eq!(
            show(&Reply::Set(vec![
                Reply::Integer(0),
                Reply::Integer(1),
                Reply::Integer(2)
            ])),
            "0,1,2"
        );
        assert_eq!(
            show(&Reply::Map(vec![
                (Reply::Integer(0), Reply::Bool(false)),
                (Reply::Integer(1), Reply::Bool(true)),
            ])),
            "0,false,1,true"
        );
        assert_eq!(
            show(&Reply::Push(vec![
                s("server-cpu-usage"),
                Reply::Integer(42)
            ])),
            "\"server-cpu-usage\",42"
        );
        // EVAL "return {1,{2,{}},'x',{err='bad'}}" 0
        assert_eq!(
            show(&Reply::Array(vec![
                Reply::Integer(1),
                Reply::Array(vec![Reply::Integer(2), Reply::Array(vec![])]),
                s("x"),
                Reply::Error(b"bad".to_vec()),
            ])),
            "1,2,,\"x\",ERROR,\"bad\""
        );
    }
}
