//! A typed line read as redis-cli's REPL reads it: split into arguments with `sdssplitargs`
//! (the rules of [`kv_resp::split_inline`]), then a leading number taken as a repeat count.
//!
//! The quoting, as redis-cli applies it (each case is in the tests, with what redis-cli 7.0
//! sent for it):
//! - words are separated by white space; `"double quotes"` understand `\n \r \t \b \a \\ \"`
//!   and `\xHH`, and keep any other escaped character without its backslash (`"\q"` is `q`);
//!   an incomplete `\x` escape keeps the `x` (`"\x4"` is `x4`);
//! - `'single quotes'` understand only `\'`;
//! - text before a quote joins the quoted argument (`ab"c d"` is `abc d`), but a closing quote
//!   must be followed by white space or the end of the line;
//! - a quote that never closes makes the whole line invalid: redis-cli answers
//!   `Invalid argument(s)`.

use crate::cnum::strtol;
use crate::format::c_str;

/// The arguments of `line`, or `None` when its quotes are unbalanced.
pub fn split(line: &str) -> Option<Vec<Vec<u8>>> {
    kv_resp::split_inline(line.as_bytes())
        .ok()
        .map(|args| args.iter().map(|a| a.to_vec()).collect())
}

/// What the first word of a line says about how often to run the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// The first word is the command: run the line once.
    Once,
    /// `N COMMAND ...`: skip the first word and run the rest N times.
    Times(i64),
    /// A number that is zero, negative or out of range: redis-cli refuses the line with
    /// "Invalid redis-cli repeat command option value.".
    Invalid,
}

/// The repeat count of a split line, read as redis-cli reads it: the whole first word must be
/// read by `strtol`, and there must be a command after it (`3` alone is a command named `3`).
pub fn repeat(args: &[Vec<u8>]) -> Repeat {
    let Some(first) = args.first() else {
        return Repeat::Once;
    };
    let first = c_str(first);
    let number = strtol(first);
    if args.len() < 2 || number.end != first.len() {
        Repeat::Once
    } else if number.overflow || number.value <= 0 {
        Repeat::Invalid
    } else {
        Repeat::Times(number.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_text(line: &str) -> Option<Vec<String>> {
        split(line).map(|args| {
            args.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
    }

    fn words(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    /// Each line was typed to redis-cli 7.0.15 after `EVAL "return ARGV" 0`, and the arguments
    /// it sent came back in ARGV: these are those arguments.
    #[test]
    fn splits_as_redis_cli() {
        let cases: &[(&str, Option<Vec<String>>)] = &[
            ("plain", words(&["plain"])),
            (r#""a b""#, words(&["a b"])),
            ("'a b'", words(&["a b"])),
            (
                r#""tab\there" "nl\nx" "cr\rx" "bs\bx" "bell\ax" "back\\slash" "q\"q""#,
                words(&[
                    "tab\there",
                    "nl\nx",
                    "cr\rx",
                    "bs\x08x",
                    "bell\x07x",
                    "back\\slash",
                    "q\"q",
                ]),
            ),
            (r#""\x41\x7a\x00end""#, words(&["Az\0end"])),
            (r#""\x4" "\xZZ" "\x""#, words(&["x4", "xZZ", "x"])),
            (
                r"'it\'s' 'a\nb' 'a\\b'",
                words(&["it's", "a\\nb", "a\\\\b"]),
            ),
            (r#""other\qescape" "\'""#, words(&["otherqescape", "'"])),
            (r#"ab"c d""#, words(&["abc d"])),
            ("ab'c d'", words(&["abc d"])),
            (r#""a"b"#, None),
            ("'a'b", None),
            (r#""unbalanced"#, None),
            ("'unbalanced", None),
            (r#""a\""#, None),
            (r#""""#, words(&[""])),
            ("''", words(&[""])),
            ("\"a\"\t\"b\"", words(&["a", "b"])),
            ("  spaced   out  ", words(&["spaced", "out"])),
            (r#"a"b"c"#, None),
            (r#""é" \x41 \n"#, words(&["é", "\\x41", "\\n"])),
        ];
        for (line, expected) in cases {
            assert_eq!(&split_text(line), expected, "{line}");
        }
        assert_eq!(split_text("   "), Some(vec![]));
        assert_eq!(split(r#""\xff""#), Some(vec![vec![0xff]]));
    }

    fn args(line: &[&str]) -> Vec<Vec<u8>> {
        line.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn repeat_counts() {
        assert_eq!(repeat(&args(&["3", "PING"])), Repeat::Times(3));
        assert_eq!(repeat(&args(&["+2", "PING"])), Repeat::Times(2));
        assert_eq!(repeat(&args(&["PING"])), Repeat::Once);
        // A number alone is a command, and so is a word that is only partly a number.
        assert_eq!(repeat(&args(&["3"])), Repeat::Once);
        assert_eq!(repeat(&args(&["3x", "PING"])), Repeat::Once);
        for bad in ["0", "-1", "99999999999999999999", ""] {
            assert_eq!(repeat(&args(&[bad, "PING"])), Repeat::Invalid, "{bad}");
        }
        assert_eq!(repeat(&[]), Repeat::Once);
    }
}
