//! `--csv`: one line per reply, values separated by commas (`cliFormatReplyCSV`).

use super::escape::repr;
use super::{c_str, flat, Flat, Formatted};
use crate::reply::Reply;

/// `reply` as a CSV line, without its final newline. Aggregates are flattened, a map's keys
/// and values alike.
pub fn csv(reply: &Reply) -> Formatted {
    flat(&Csv, reply)
}

/// CSV's parts: strings quoted as `sdscatrepr` quotes them, errors after `ERROR,`, commas
/// between everything.
#[derive(Debug)]
struct Csv;

impl Flat for Csv {
    const NIL: &'static [u8] = b"NULL";
    const TRUE: &'static [u8] = b"true";
    const FALSE: &'static [u8] = b"false";
    const PAIR_SEPARATOR: &'static [u8] = b",";

    fn error(&self, out: &mut Vec<u8>, text: &[u8]) {
        out.extend_from_slice(b"ERROR,");
        repr(out, c_str(text));
    }

    fn string(&self, out: &mut Vec<u8>, text: &[u8]) {
        repr(out, text);
    }

    fn separator(&self) -> &[u8] {
        b","
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::format::samples::{nested, protocol_map, push, s, verbatim};

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
        assert_eq!(show(&verbatim()), "\"This is a verbatim\\nstring\"");
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
        assert_eq!(show(&protocol_map()), "0,false,1,true");
        assert_eq!(show(&push()), "\"server-cpu-usage\",42");
        // EVAL "return {1,{2,{}},'x',{err='bad'}}" 0
        assert_eq!(show(&nested()), "1,2,,\"x\",ERROR,\"bad\"");
    }
}
