//! Hints: the grey text after what is typed that shows the arguments still to type, built as
//! redis-cli 7.0's `hintsCallback` builds it.
//!
//! - The line is split as a command line is; a line that does not split (an open quote) or is
//!   blank has no hint.
//! - The command entry whose name is the longest run of leading words matches (`CONFIG GET`
//!   beats `CONFIG`; case does not matter). No entry, no hint.
//! - From its syntax line, one word is dropped for each argument typed after the name, but
//!   dropping stops at the first `[`: once the syntax reaches the optional part, the whole of
//!   it stays (`SET k v NX` still hints `[NX|XX] [GET] ...`).
//! - Unless the line ends in white space, the hint starts with a space.
//!
//! redis-cli then cuts the hint at the edge of the terminal, or shows none when the line
//! already reaches it: [`fit`] does that.

use super::docs::Docs;
use super::is_c_space;
use super::parse::split;
use crate::format::c_str;

/// The hint for `line`, if any.
pub fn hint(docs: &Docs, line: &str) -> Option<String> {
    let args = split(line)?;
    if args.is_empty() {
        return None;
    }
    let mut best = None;
    let mut matched = 0;
    for entry in docs.commands() {
        let words = entry.words.len();
        if words > args.len() || words <= matched {
            continue;
        }
        let all_match = entry
            .words
            .iter()
            .zip(&args)
            .all(|(word, arg)| word.as_bytes().eq_ignore_ascii_case(c_str(arg)));
        if all_match {
            matched = words;
            best = Some(entry);
        }
    }
    let entry = best?;

    let mut hint = entry.params.as_str();
    let mut to_remove = args.len() - matched;
    while to_remove > 0 {
        let mut chars = hint.chars();
        match chars.next() {
            None | Some('[') => break,
            Some(c) => {
                if c == ' ' {
                    to_remove -= 1;
                }
                hint = chars.as_str();
            }
        }
    }

    let ends_in_space = line.as_bytes().last().is_some_and(|&c| is_c_space(c));
    Some(if ends_in_space {
        hint.to_string()
    } else {
        format!(" {hint}")
    })
}

/// The part of `hint` that fits on the terminal's line after a prompt and a line `used`
/// columns wide, as linenoise shows it: nothing when the line already fills it.
pub fn fit(hint: &str, used: usize, columns: usize) -> Option<&str> {
    if used >= columns {
        return None;
    }
    let room = columns - used;
    Some(match hint.char_indices().nth(room) {
        Some((cut, _)) => &hint[..cut],
        None => hint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interactive::docs::tests::redis_docs;

    /// What redis-cli 7.0.15, connected to redis-server 7.0.15, showed after each line, read
    /// off a 600-column terminal (tmux capture-pane). The captured screen drops trailing
    /// spaces, so a hint of a lone space shows as no hint there; here it is kept.
    #[test]
    fn hints_as_redis_cli_shows_them() {
        let set_rest = "[NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]";
        let cases: &[(&str, Option<String>)] = &[
            ("SET", Some(format!(" key value {set_rest}"))),
            ("SET ", Some(format!("key value {set_rest}"))),
            ("SET k", Some(format!(" value {set_rest}"))),
            ("SET k ", Some(format!("value {set_rest}"))),
            ("SET k v", Some(format!(" {set_rest}"))),
            ("SET k v NX", Some(format!(" {set_rest}"))),
            ("set k v nx ex 10", Some(format!(" {set_rest}"))),
            ("SET \"k\" v", Some(format!(" {set_rest}"))),
            ("SET 'k v' ", Some(format!("value {set_rest}"))),
            ("set k v  ", Some(set_rest.to_string())),
            ("SE", None),
            ("CONFIG", Some(" ".into())),
            ("CONFIG ", Some("".into())),
            ("CONFIG GET", Some(" parameter [parameter ...]".into())),
            ("config get ", Some("parameter [parameter ...]".into())),
            ("CONFIG GET a b", Some(" [parameter ...]".into())),
            ("GET \"a", None),
            ("ZADD k", Some(" [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]".into())),
            ("ZADD k 1 a", Some(" [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]".into())),
            ("MSET", Some(" key value [key value ...]".into())),
            ("MSET a", Some(" value [key value ...]".into())),
            ("MSET a b c", Some(" [key value ...]".into())),
            ("CLIENT LIST", Some(" [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]".into())),
            ("XADD s", Some(" [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]".into())),
            ("XREAD", Some(" [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]".into())),
            ("SORT k", Some(" [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA] [STORE destination]".into())),
            ("EVAL", Some(" script numkeys [key [key ...]] [arg [arg ...]]".into())),
            ("HELP", None),
            ("help set", None),
            ("LPOS k e", Some(" [RANK rank] [COUNT num-matches] [MAXLEN len]".into())),
            ("FOO bar", None),
            ("3 PING", None),
            ("CLIENT KILL ID 1", Some(" [ID client-id]|[TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB]|[USER username]|[ADDR ip:port]|[LADDR ip:port]|[SKIPME yes/no] [[ID client-id]|[TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB]|[USER username]|[ADDR ip:port]|[LADDR ip:port]|[SKIPME yes/no] ...]".into())),
            ("MIGRATE", Some(" host port key|\"\" destination-db timeout [COPY] [REPLACE] [[AUTH password]|[AUTH2 username password]] [KEYS key [key ...]]".into())),
            ("ACL", Some(" ".into())),
            ("acl cat", Some(" [categoryname]".into())),
            ("FUNCTION", Some(" ".into())),
            ("PFSELFTEST", Some(" ".into())),
            ("PING", Some(" [message]".into())),
            ("ping x y", Some(" [message]".into())),
            ("GET k", Some(" ".into())),
            ("GET k x", Some(" ".into())),
            ("HSET h", Some(" field value [field value ...]".into())),
            ("EXPIRE k", Some(" seconds [NX|XX|GT|LT]".into())),
            ("ZINTERSTORE d", Some(" numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]".into())),
            ("SCAN 0", Some(" [MATCH pattern] [COUNT count] [TYPE type]".into())),
            ("XGROUP CREATE", Some(" key groupname id|$ [MKSTREAM] [ENTRIESREAD entries_read]".into())),
            ("GETEX k", Some(" [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]".into())),
            ("SINTERCARD 2 a b", Some(" [key ...] [LIMIT limit]".into())),
            ("GEOSEARCH k", Some(" FROMMEMBER member|FROMLONLAT longitude latitude BYRADIUS radius M|KM|FT|MI|BYBOX width height M|KM|FT|MI [ASC|DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]".into())),
            ("", None),
            ("   ", None),
        ];
        let docs = redis_docs();
        for (line, expected) in cases {
            assert_eq!(&hint(&docs, line), expected, "{line:?}");
        }
    }

    #[test]
    fn hints_cut_at_the_terminal_edge() {
        assert_eq!(fit(" key value", 10, 80), Some(" key value"));
        assert_eq!(fit(" key value", 75, 80), Some(" key "));
        assert_eq!(fit(" key value", 79, 80), Some(" "));
        assert_eq!(fit(" key value", 80, 80), None);
        assert_eq!(fit(" clé", 0, 3), Some(" cl"));
    }
}
