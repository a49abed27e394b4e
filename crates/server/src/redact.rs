//! Hiding secrets from MONITOR and the slow log: Redis replaces the passwords (and user names)
//! of AUTH and HELLO, and the values CONFIG SET gives its sensitive parameters, with
//! `(redacted)` while the command runs, so both see the redacted form.

use std::borrow::Cow;

use kv_engine::CommandSpec;

/// What a redacted argument becomes.
const REDACTED: &[u8] = b"(redacted)";

/// The arguments of a command that ran, as MONITOR and the slow log may show them.
pub fn shown_args<'a>(
    spec: &CommandSpec,
    skip: usize,
    args: &'a [&'a [u8]],
) -> Cow<'a, [&'a [u8]]> {
    let positions = match (skip, spec.name) {
        (1, "auth") => auth_secrets(args.len()),
        (1, "hello") => hello_secrets(args),
        (2, "set") if args[0].eq_ignore_ascii_case(b"config") => config_secrets(args),
        _ => Vec::new(),
    };
    if positions.is_empty() {
        return Cow::Borrowed(args);
    }
    let mut shown = args.to_vec();
    for position in positions {
        if let Some(arg) = shown.get_mut(position) {
            *arg = REDACTED;
        }
    }
    Cow::Owned(shown)
}

/// `AUTH [username] password`: both are hidden; with more arguments AUTH fails before it
/// hides anything (Redis shows them as sent).
fn auth_secrets(argc: usize) -> Vec<usize> {
    match argc {
        2 => vec![1],
        3 => vec![1, 2],
        _ => Vec::new(),
    }
}

/// `CONFIG SET parameter value [parameter value ...]`: the values of the sensitive
/// parameters (`masterauth`, `requirepass`), as Redis hides them.
fn config_secrets(args: &[&[u8]]) -> Vec<usize> {
    (2..args.len().saturating_sub(1))
        .step_by(2)
        .filter(|&at| {
            let name = args[at];
            name.eq_ignore_ascii_case(b"masterauth") || name.eq_ignore_ascii_case(b"requirepass")
        })
        .map(|at| at + 1)
        .collect()
}

/// `HELLO [protover [AUTH username password] [SETNAME name]]`: the words after AUTH are
/// hidden as Redis meets them while parsing, so parsing that stops early hides less.
fn hello_secrets(args: &[&[u8]]) -> Vec<usize> {
    let mut hidden = Vec::new();
    if args.len() < 2 {
        return hidden;
    }
    match kv_resp::parse_i64(args[1]) {
        Some(2 | 3) => {}
        _ => return hidden,
    }
    let mut j = 2;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if args[j].eq_ignore_ascii_case(b"auth") && more >= 2 {
            hidden.extend([j + 1, j + 2]);
            j += 3;
        } else if args[j].eq_ignore_ascii_case(b"setname") && more >= 1 {
            j += 2;
        } else {
            break;
        }
    }
    hidden
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(line: &str) -> Vec<String> {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let (spec, skip) = kv_engine::Engine::new(1, 2).lookup(&args).unwrap();
        shown_args(spec, skip, &args)
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    #[test]
    fn secrets_are_hidden_as_redis_hides_them() {
        assert_eq!(shown("AUTH pw"), ["AUTH", "(redacted)"]);
        assert_eq!(
            shown("CONFIG SET maxmemory 1 MASTERAUTH s requirepass p"),
            [
                "CONFIG",
                "SET",
                "maxmemory",
                "1",
                "MASTERAUTH",
                "(redacted)",
                "requirepass",
                "(redacted)"
            ]
        );
        assert_eq!(
            shown("config get requirepass"),
            ["config", "get", "requirepass"]
        );
        assert_eq!(shown("auth u pw"), ["auth", "(redacted)", "(redacted)"]);
        assert_eq!(shown("AUTH a b c"), ["AUTH", "a", "b", "c"]);
        assert_eq!(
            shown("HELLO 3 AUTH u p SETNAME n"),
            [
                "HELLO",
                "3",
                "AUTH",
                "(redacted)",
                "(redacted)",
                "SETNAME",
                "n"
            ]
        );
        assert_eq!(
            shown("HELLO 3 SETNAME n AUTH u p"),
            [
                "HELLO",
                "3",
                "SETNAME",
                "n",
                "AUTH",
                "(redacted)",
                "(redacted)"
            ]
        );
        assert_eq!(shown("HELLO 4 AUTH u p"), ["HELLO", "4", "AUTH", "u", "p"]);
        assert_eq!(
            shown("HELLO 2 BOGUS AUTH u p"),
            ["HELLO", "2", "BOGUS", "AUTH", "u", "p"]
        );
        assert_eq!(shown("GET k"), ["GET", "k"]);
    }
}
