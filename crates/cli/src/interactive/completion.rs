//! Tab completion as redis-cli 7.0's `completionCallback` offers it.
//!
//! The whole line is the prefix: every command entry whose name starts with it (case does not
//! matter) is a candidate, in the table's order, and a candidate replaces the whole line with
//! the name in capitals, so `config g` completes to `CONFIG GET` and `se` cycles through
//! `SELECT`, `SET`, `SETBIT`... After `help ` (any case, then any white space) the rest of the
//! line is completed against the command names and the `@group` names, and what precedes it is
//! kept: `help @str` offers `help @stream` and `help @string`. Tab then cycles through the
//! candidates and back to what was typed, as linenoise does.

use super::docs::{Docs, Kind};
use super::is_c_space;

/// The lines Tab offers for `line`, in order.
pub fn complete(docs: &Docs, line: &str) -> Vec<String> {
    let bytes = line.as_bytes();
    let help = bytes.len() >= 5 && bytes[..5].eq_ignore_ascii_case(b"help ");
    let start = if help {
        let spaces = bytes[5..].iter().take_while(|&&c| is_c_space(c)).count();
        5 + spaces
    } else {
        0
    };
    let (kept, prefix) = line.split_at(start);
    let prefix = prefix.as_bytes();
    docs.entries()
        .iter()
        .filter(|entry| help || entry.kind == Kind::Command)
        .filter(|entry| {
            let full = entry.full.as_bytes();
            full.len() >= prefix.len() && full[..prefix.len()].eq_ignore_ascii_case(prefix)
        })
        .map(|entry| format!("{kept}{}", entry.full))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interactive::docs::tests::redis_docs;

    /// What Tab showed in redis-cli 7.0.15 for each line, one press after another (the table
    /// here holds only the commands of the test data, so the lists are shorter than the real
    /// server's where noted).
    #[test]
    fn candidates_as_redis_cli_offers_them() {
        let docs = redis_docs();
        let complete = |line: &str| complete(&docs, line);
        assert_eq!(
            complete("se"),
            ["SELECT", "SET", "SETBIT", "SETEX", "SETNX", "SETRANGE"]
        );
        assert_eq!(complete("config g"), ["CONFIG GET"]);
        // `CONFIG` itself is not offered for `CONFIG `: it is shorter than the prefix.
        assert_eq!(
            complete("CONFIG ")[..3],
            ["CONFIG GET", "CONFIG HELP", "CONFIG RESETSTAT"]
        );
        assert_eq!(complete("lpu"), ["LPUSH", "LPUSHX"]);
        assert!(complete("zz").is_empty());
        assert!(complete("get k").is_empty());
        assert!(complete("3 pi").is_empty());
        assert!(complete(" pin").is_empty());
        // Help topics: groups too, and the typed prefix is kept as it was.
        assert_eq!(complete("help @str"), ["help @stream", "help @string"]);
        assert_eq!(
            complete("HELP @")[..2],
            ["HELP @bitmap", "HELP @connection"]
        );
        assert_eq!(
            complete("help  con")[..3],
            ["help  CONFIG", "help  CONFIG GET", "help  CONFIG HELP"]
        );
        // An empty line offers every command (groups only after `help `).
        let all = complete("");
        assert_eq!(all[0], "ACL");
        assert!(all.iter().all(|c| !c.starts_with('@')));
    }
}
