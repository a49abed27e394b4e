//! Values as they are, the form redis-cli prints when stdout is not a terminal
//! (`cliFormatReplyRaw`).

use super::{flat, Flat, Formatted};
use crate::reply::Reply;

/// `reply` in raw form, aggregates' elements separated by `delimiter` (`-d`); without the
/// delimiter that follows each reply (`-D`), which the caller adds.
pub fn raw(reply: &Reply, delimiter: &[u8]) -> Formatted {
    flat(&Raw { delimiter }, reply)
}

/// Raw form's parts: bytes as they are, `delimiter` between elements and pairs, a space
/// between a key and its value.
#[derive(Debug)]
struct Raw<'a> {
    delimiter: &'a [u8],
}

impl Flat for Raw<'_> {
    const NIL: &'static [u8] = b"";
    const TRUE: &'static [u8] = b"(true)";
    const FALSE: &'static [u8] = b"(false)";
    const PAIR_SEPARATOR: &'static [u8] = b" ";

    // redis-cli ends an error with a newline of its own.
    fn error(&self, out: &mut Vec<u8>, text: &[u8]) {
        out.extend_from_slice(text);
        out.push(b'\n');
    }

    fn string(&self, out: &mut Vec<u8>, text: &[u8]) {
        out.extend_from_slice(text);
    }

    fn separator(&self) -> &[u8] {
        self.delimiter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::format::samples::{nested, protocol_map, s, verbatim};

    fn show(reply: &Reply) -> String {
        String::from_utf8(raw(reply, b"\n").unwrap()).unwrap()
    }

    // Expected texts: redis-cli 7.0.15 --raw, without the final "\n" it adds per reply.

    #[test]
    fn scalars() {
        assert_eq!(show(&Reply::Status(b"OK".to_vec())), "OK");
        assert_eq!(
            show(&Reply::Error(b"ERR unknown command".to_vec())),
            "ERR unknown command\n"
        );
        assert_eq!(show(&Reply::Integer(-3)), "-3");
        assert_eq!(show(&s("Hello World")), "Hello World");
        assert_eq!(show(&Reply::Nil), "");
        assert_eq!(show(&Reply::Double(b"3.141".to_vec())), "3.141");
        assert_eq!(show(&Reply::Bool(true)), "(true)");
        assert_eq!(show(&Reply::Bool(false)), "(false)");
        assert_eq!(show(&verbatim()), "This is a verbatim\nstring");
        // Binary-safe: bytes are written as they are.
        assert_eq!(
            raw(&Reply::String(b"\xff\0\r\n".to_vec()), b"\n").unwrap(),
            b"\xff\0\r\n"
        );
    }

    #[test]
    fn aggregates() {
        assert_eq!(show(&Reply::Array(vec![s("a"), s("b"), s("c")])), "a\nb\nc");
        assert_eq!(show(&Reply::Set(vec![Reply::Integer(0)])), "0");
        assert_eq!(
            show(&Reply::Push(vec![s("invalidate"), s("a")])),
            "invalidate\na"
        );
        assert_eq!(show(&Reply::Array(vec![])), "");
        // DEBUG PROTOCOL map under RESP3: key, space, value.
        assert_eq!(show(&protocol_map()), "0 (false)\n1 (true)");
        // EVAL "return {1,{2,{}},'x',{err='bad'}}" 0
        assert_eq!(show(&nested()), "1\n2\n\nx\nbad\n");
    }

    #[test]
    fn delimiter() {
        let reply = Reply::Array(vec![s("a"), Reply::Array(vec![s("b"), s("c")])]);
        assert_eq!(raw(&reply, b",").unwrap(), b"a,b,c");
        assert_eq!(raw(&reply, b"").unwrap(), b"abc");
    }
}
