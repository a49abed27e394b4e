//! Replies printed exactly as redis-cli 7.0 prints them, in each of its output modes.
//!
//! Every formatter builds bytes, not text: a raw reply may hold any bytes, and redis-cli writes
//! them as they are. Where redis-cli formats a field with C's `%s` (errors, doubles, status
//! lines on a terminal) the text stops at its first NUL byte, as it does there.
//!
//! - [`tty`] — the human-readable form (`1) "a"`), redis-cli's default on a terminal.
//! - [`raw`] — values as they are, one per line, the default when stdout is not a terminal.
//! - [`csv`] — `--csv`.
//! - [`json`] — `--json` and `--quoted-json`.
//! - [`escape`] — the quoting the others share (`sdscatrepr`, JSON string escapes).
//!
//! Raw, CSV and JSON print a reply flat, on one line but for what its strings hold, and walk it
//! alike: [`flat`] does the walk, each mode says through [`Flat`] how it prints the parts.

pub mod csv;
pub mod escape;
pub mod json;
pub mod raw;
pub mod tty;

use std::fmt;

use crate::reply::Reply;

/// redis-cli's output modes (`OUTPUT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Human-readable, as on a terminal (`--no-raw`).
    Standard,
    /// Values as they are (`--raw`).
    Raw,
    /// Comma-separated values (`--csv`).
    Csv,
    /// JSON with Unicode strings (`--json`).
    Json,
    /// JSON with ASCII-safe quoted strings (`--quoted-json`).
    QuotedJson,
}

/// A reply type redis-cli 7.0 cannot print (hiredis's big number), which ends its run with
/// "Unknown reply type: 13" and exit status 1. kv-cli does the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownReplyType(pub u8);

impl fmt::Display for UnknownReplyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Unknown reply type: {}", self.0)
    }
}

impl std::error::Error for UnknownReplyType {}

/// What a formatter returns: the bytes to write, or the type it cannot print.
pub type Formatted = Result<Vec<u8>, UnknownReplyType>;

/// How replies are printed: the mode and the raw mode's two delimiters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formatter {
    /// The output mode.
    pub mode: OutputMode,
    /// Between the elements of an aggregate in raw mode (`-d`, `\n` by default).
    pub bulk_delimiter: Vec<u8>,
    /// After each reply in raw mode (`-D`, `\n` by default).
    pub reply_delimiter: Vec<u8>,
}

impl Formatter {
    /// A formatter for `mode` with the default delimiters.
    pub fn new(mode: OutputMode) -> Formatter {
        Formatter {
            mode,
            bulk_delimiter: b"\n".to_vec(),
            reply_delimiter: b"\n".to_vec(),
        }
    }

    /// One reply as redis-cli's `cliFormatReply` prints it. `as_raw` is set for the commands
    /// whose replies are text meant to be read as it is (INFO, CLIENT LIST, ...): those print
    /// raw, without the reply delimiter, whatever the mode.
    pub fn reply(&self, reply: &Reply, as_raw: bool) -> Formatted {
        if as_raw {
            return raw::raw(reply, &self.bulk_delimiter);
        }
        let mut out = match self.mode {
            OutputMode::Standard => return tty::tty(reply),
            OutputMode::Raw => {
                let mut out = raw::raw(reply, &self.bulk_delimiter)?;
                out.extend_from_slice(&self.reply_delimiter);
                return Ok(out);
            }
            OutputMode::Csv => csv::csv(reply)?,
            OutputMode::Json => json::json(reply, false)?,
            OutputMode::QuotedJson => json::json(reply, true)?,
        };
        out.push(b'\n');
        Ok(out)
    }

    /// A push message the server sent on its own (`--show-pushes`), as redis-cli's
    /// `cliPushHandler` prints it: invalidations get a line of their own on a terminal.
    pub fn push(&self, reply: &Reply) -> Formatted {
        if self.mode == OutputMode::Standard {
            if let Some(keys) = invalidated_keys(reply) {
                return Ok(tty::invalidate(keys));
            }
        }
        self.reply(reply, false)
    }
}

/// The keys of a RESP3 `invalidate` push (`>2 invalidate [keys]`), if `reply` is one.
fn invalidated_keys(reply: &Reply) -> Option<&[Reply]> {
    match reply {
        Reply::Push(items) => match items.as_slice() {
            [Reply::String(kind), Reply::Array(keys)] if c_str(kind).starts_with(b"invalidate") => {
                Some(keys)
            }
            _ => None,
        },
        _ => None,
    }
}

/// How one of the flat modes (raw, CSV, JSON) prints each part of a reply. What the three print
/// alike [`walk`] does itself: integers in decimal, doubles as the server sent them (to a NUL),
/// an aggregate's elements one after another with [`separator`](Flat::separator) between them,
/// a map's pairs likewise, and a big number refused.
trait Flat {
    /// What a null prints.
    const NIL: &'static [u8];
    /// What true prints.
    const TRUE: &'static [u8];
    /// What false prints.
    const FALSE: &'static [u8];
    /// Between a map's key and its value.
    const PAIR_SEPARATOR: &'static [u8];
    /// Before and after an array, set or push.
    const ARRAY: [&'static [u8]; 2] = [b"", b""];
    /// Before and after a map.
    const MAP: [&'static [u8]; 2] = [b"", b""];

    /// Between an aggregate's elements, and between a map's pairs.
    fn separator(&self) -> &[u8];
    /// Appends an error reply's text.
    fn error(&self, out: &mut Vec<u8>, text: &[u8]);
    /// Appends a status, bulk or verbatim string.
    fn string(&self, out: &mut Vec<u8>, text: &[u8]);
    /// Appends a map's key; by default as any other reply.
    fn key(&self, out: &mut Vec<u8>, key: &Reply) -> Result<(), UnknownReplyType> {
        walk(self, key, out)
    }
}

/// `reply` printed flat as `style` says.
fn flat<F: Flat + ?Sized>(style: &F, reply: &Reply) -> Formatted {
    let mut out = Vec::new();
    walk(style, reply, &mut out)?;
    Ok(out)
}

/// Appends `reply` printed flat as `style` says.
fn walk<F: Flat + ?Sized>(
    style: &F,
    reply: &Reply,
    out: &mut Vec<u8>,
) -> Result<(), UnknownReplyType> {
    match reply {
        Reply::Error(text) => style.error(out, text),
        Reply::Status(text) | Reply::String(text) | Reply::Verbatim { text, .. } => {
            style.string(out, text)
        }
        Reply::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Double(text) => out.extend_from_slice(c_str(text)),
        Reply::Nil => out.extend_from_slice(F::NIL),
        Reply::Bool(true) => out.extend_from_slice(F::TRUE),
        Reply::Bool(false) => out.extend_from_slice(F::FALSE),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            let [open, close] = F::ARRAY;
            out.extend_from_slice(open);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(style.separator());
                }
                walk(style, item, out)?;
            }
            out.extend_from_slice(close);
        }
        Reply::Map(pairs) => {
            let [open, close] = F::MAP;
            out.extend_from_slice(open);
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(style.separator());
                }
                style.key(out, key)?;
                out.extend_from_slice(F::PAIR_SEPARATOR);
                walk(style, value, out)?;
            }
            out.extend_from_slice(close);
        }
        Reply::BigNumber(_) => return Err(UnknownReplyType(reply.type_number())),
    }
    Ok(())
}

/// Replies the formatters' tests print in every mode.
#[cfg(test)]
mod samples {
    use crate::reply::Reply;

    /// A bulk string holding `text`.
    pub fn s(text: &str) -> Reply {
        Reply::String(text.as_bytes().to_vec())
    }

    /// DEBUG PROTOCOL verbatim under RESP3.
    pub fn verbatim() -> Reply {
        Reply::Verbatim {
            format: *b"txt",
            text: b"This is a verbatim\nstring".to_vec(),
        }
    }

    /// DEBUG PROTOCOL map under RESP3.
    pub fn protocol_map() -> Reply {
        Reply::Map(vec![
            (Reply::Integer(0), Reply::Bool(false)),
            (Reply::Integer(1), Reply::Bool(true)),
        ])
    }

    /// A push message, as redis-cli's tests send one.
    pub fn push() -> Reply {
        Reply::Push(vec![s("server-cpu-usage"), Reply::Integer(42)])
    }

    /// EVAL "return {1,{2,{}},'x',{err='bad'}}" 0
    pub fn nested() -> Reply {
        Reply::Array(vec![
            Reply::Integer(1),
            Reply::Array(vec![Reply::Integer(2), Reply::Array(vec![])]),
            s("x"),
            Reply::Error(b"bad".to_vec()),
        ])
    }
}

/// The bytes C's `%s` would print: up to the first NUL.
pub fn c_str(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::samples::s;
    use super::*;

    fn text(out: Formatted) -> String {
        String::from_utf8(out.unwrap()).unwrap()
    }

    #[test]
    fn each_mode_ends_a_reply_as_redis_cli() {
        let reply = Reply::Array(vec![s("a"), Reply::Integer(1)]);
        let f = |mode| Formatter::new(mode);
        assert_eq!(
            text(f(OutputMode::Standard).reply(&reply, false)),
            "1) \"a\"\n2) (integer) 1\n"
        );
        assert_eq!(text(f(OutputMode::Raw).reply(&reply, false)), "a\n1\n");
        assert_eq!(text(f(OutputMode::Csv).reply(&reply, false)), "\"a\",1\n");
        assert_eq!(
            text(f(OutputMode::Json).reply(&reply, false)),
            "[\"a\",1]\n"
        );
        assert_eq!(
            text(f(OutputMode::QuotedJson).reply(&reply, false)),
            "[\"a\",1]\n"
        );
    }

    #[test]
    fn delimiters_apply_to_raw_only() {
        let reply = Reply::Array(vec![s("a"), s("b")]);
        let mut raw = Formatter::new(OutputMode::Raw);
        raw.bulk_delimiter = b",".to_vec();
        raw.reply_delimiter = b"|".to_vec();
        assert_eq!(text(raw.reply(&reply, false)), "a,b|");
        let mut tty = Formatter::new(OutputMode::Standard);
        tty.bulk_delimiter = b",".to_vec();
        assert_eq!(text(tty.reply(&reply, false)), "1) \"a\"\n2) \"b\"\n");
    }

    #[test]
    fn raw_commands_print_raw_in_every_mode() {
        let info = s("# Server\r\nredis_version:7.0.15\r\n");
        for mode in [
            OutputMode::Standard,
            OutputMode::Raw,
            OutputMode::Csv,
            OutputMode::Json,
        ] {
            assert_eq!(
                text(Formatter::new(mode).reply(&info, true)),
                "# Server\r\nredis_version:7.0.15\r\n"
            );
        }
    }

    #[test]
    fn pushes() {
        // Captured from redis-cli 7.0 with CLIENT TRACKING on.
        let invalidate = Reply::Push(vec![s("invalidate"), Reply::Array(vec![s("a"), s("b")])]);
        assert_eq!(
            text(Formatter::new(OutputMode::Standard).push(&invalidate)),
            "-> invalidate: 'a', 'b'\n"
        );
        assert_eq!(
            text(Formatter::new(OutputMode::Raw).push(&invalidate)),
            "invalidate\na\nb\n"
        );
        assert_eq!(
            text(Formatter::new(OutputMode::Json).push(&invalidate)),
            "[\"invalidate\",[\"a\",\"b\"]]\n"
        );
        // Any other push is an ordinary reply.
        let message = Reply::Push(vec![s("message"), s("ch"), s("hi")]);
        assert_eq!(
            text(Formatter::new(OutputMode::Standard).push(&message)),
            "1) \"message\"\n2) \"ch\"\n3) \"hi\"\n"
        );
    }

    #[test]
    fn big_numbers_are_an_unknown_type_in_every_mode() {
        let reply = Reply::Array(vec![Reply::Integer(1), Reply::BigNumber(b"123".to_vec())]);
        for mode in [
            OutputMode::Standard,
            OutputMode::Raw,
            OutputMode::Csv,
            OutputMode::Json,
            OutputMode::QuotedJson,
        ] {
            let err = Formatter::new(mode).reply(&reply, false).unwrap_err();
            assert_eq!(err.to_string(), "Unknown reply type: 13");
        }
    }
}
