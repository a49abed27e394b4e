//! `HELP` (or `?`), answered by kv-cli itself from the command table, byte for byte as
//! redis-cli 7.0's `cliOutputHelp` prints it.
//!
//! - `HELP` alone: how to use help and the preferences.
//! - `HELP word...`: every command entry whose first words are these (so `HELP CONFIG` lists
//!   `CONFIG` and each `CONFIG` subcommand), with its syntax, summary, since and group.
//! - `HELP @group`: every command of the group, without the group line.
//!
//! Each entry is a blank line then the name in bold and the syntax in grey, with CR LF line
//! ends; the answer ends with a blank line, which is all that is printed when nothing matches.

use super::docs::Docs;
use crate::format::c_str;

/// The answer to `HELP args...` (`args` without the word `help`). `program` is the name and
/// version shown by `HELP` alone (`kv-cli 0.1.0`).
pub fn help(docs: &Docs, args: &[Vec<u8>], program: &str) -> Vec<u8> {
    let Some(first) = args.first() else {
        return generic(program).into_bytes();
    };
    let group = c_str(first).strip_prefix(b"@");
    let mut out = String::new();
    for entry in docs.commands() {
        match group {
            None => {
                let matches = args.len() <= entry.words.len()
                    && args
                        .iter()
                        .zip(&entry.words)
                        .all(|(arg, word)| c_str(arg).eq_ignore_ascii_case(word.as_bytes()));
                if matches {
                    command(&mut out, entry, true);
                }
            }
            Some(group) => {
                let same = entry
                    .group
                    .as_ref()
                    .is_some_and(|g| g.as_bytes().eq_ignore_ascii_case(group));
                if same {
                    command(&mut out, entry, false);
                }
            }
        }
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// One command's help (`cliOutputCommandHelp`); C's `%s` of a missing summary is `(null)`.
fn command(out: &mut String, entry: &super::docs::Entry, with_group: bool) {
    out.push_str(&format!(
        "\r\n  \x1b[1m{}\x1b[0m \x1b[90m{}\x1b[0m\r\n",
        entry.full, entry.params
    ));
    out.push_str(&format!(
        "  \x1b[33msummary:\x1b[0m {}\r\n",
        entry.summary.as_deref().unwrap_or("(null)")
    ));
    if let Some(since) = &entry.since {
        out.push_str(&format!("  \x1b[33msince:\x1b[0m {since}\r\n"));
    }
    if with_group {
        out.push_str(&format!(
            "  \x1b[33mgroup:\x1b[0m {}\r\n",
            entry.group.as_deref().unwrap_or("(null)")
        ));
    }
}

/// `HELP` alone (`cliOutputGenericHelp`), with kv-cli's names.
fn generic(program: &str) -> String {
    format!(
        "{program}\n\
         To get help about Redis commands type:\n      \
         \"help @<group>\" to get a list of commands in <group>\n      \
         \"help <command>\" for help on <command>\n      \
         \"help <tab>\" to get a list of possible help topics\n      \
         \"quit\" to exit\n\
         \n\
         To set kv-cli preferences:\n      \
         \":set hints\" enable online hints\n      \
         \":set nohints\" disable online hints\n\
         Set your preferences in ~/.kvclirc\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interactive::docs::tests::redis_docs;

    fn help_text(line: &[&str]) -> String {
        let args: Vec<Vec<u8>> = line.iter().map(|a| a.as_bytes().to_vec()).collect();
        String::from_utf8(help(&redis_docs(), &args, "redis-cli 7.0.15")).unwrap()
    }

    /// `redis-cli -p PORT help ...` (7.0.15, against redis-server 7.0.15), its stdout.
    #[test]
    fn command_help_as_redis_cli_prints_it() {
        assert_eq!(
            help_text(&["set"]),
            "\r\n  \x1b[1mSET\x1b[0m \x1b[90mkey value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]\x1b[0m\r\n  \
             \x1b[33msummary:\x1b[0m Set the string value of a key\r\n  \
             \x1b[33msince:\x1b[0m 1.0.0\r\n  \
             \x1b[33mgroup:\x1b[0m string\r\n\
             \r\n"
        );
        assert_eq!(
            help_text(&["config", "get"]),
            "\r\n  \x1b[1mCONFIG GET\x1b[0m \x1b[90mparameter [parameter ...]\x1b[0m\r\n  \
             \x1b[33msummary:\x1b[0m Get the values of configuration parameters\r\n  \
             \x1b[33msince:\x1b[0m 2.0.0\r\n  \
             \x1b[33mgroup:\x1b[0m server\r\n\
             \r\n"
        );
        // Too many words, one quoted word, an unknown name: nothing but the blank line.
        for line in [
            &["config", "get", "x"][..],
            &["config get"],
            &["nosuch"],
            &["@nosuch"],
        ] {
            assert_eq!(help_text(line), "\r\n", "{line:?}");
        }
    }

    #[test]
    fn a_command_and_its_subcommands() {
        let text = help_text(&["CONFIG"]);
        let names: Vec<&str> = text
            .split("\x1b[1m")
            .skip(1)
            .filter_map(|s| s.split('\x1b').next())
            .collect();
        assert_eq!(
            names,
            [
                "CONFIG",
                "CONFIG GET",
                "CONFIG HELP",
                "CONFIG RESETSTAT",
                "CONFIG REWRITE",
                "CONFIG SET"
            ]
        );
        assert!(text.starts_with(
            "\r\n  \x1b[1mCONFIG\x1b[0m \x1b[90m\x1b[0m\r\n  \
             \x1b[33msummary:\x1b[0m A container for server configuration commands\r\n"
        ));
    }

    #[test]
    fn group_help_as_redis_cli_prints_it() {
        assert_eq!(
            help_text(&["@hyperloglog"]),
            "\r\n  \x1b[1mPFADD\x1b[0m \x1b[90mkey [element [element ...]]\x1b[0m\r\n  \
             \x1b[33msummary:\x1b[0m Adds the specified elements to the specified HyperLogLog.\r\n  \
             \x1b[33msince:\x1b[0m 2.8.9\r\n\
             \r\n  \x1b[1mPFCOUNT\x1b[0m \x1b[90mkey [key ...]\x1b[0m\r\n  \
             \x1b[33msummary:\x1b[0m Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).\r\n  \
             \x1b[33msince:\x1b[0m 2.8.9\r\n\
             \r\n  \x1b[1mPFSELFTEST\x1b[0m \x1b[90m\x1b[0m\r\n  \
             \x1b[33msummary:\x1b[0m An internal command for testing HyperLogLog values\r\n  \
             \x1b[33msince:\x1b[0m 2.8.9\r\n\
             \r\n"
        );
        assert_eq!(
            help_text(&["@HyperLogLog", "ignored"]),
            help_text(&["@hyperloglog"])
        );
    }

    #[test]
    fn generic_help_as_redis_cli_prints_it() {
        assert_eq!(
            help_text(&[]),
            "redis-cli 7.0.15\n\
             To get help about Redis commands type:\n\
             \x20     \"help @<group>\" to get a list of commands in <group>\n\
             \x20     \"help <command>\" for help on <command>\n\
             \x20     \"help <tab>\" to get a list of possible help topics\n\
             \x20     \"quit\" to exit\n\
             \n\
             To set kv-cli preferences:\n\
             \x20     \":set hints\" enable online hints\n\
             \x20     \":set nohints\" disable online hints\n\
             Set your preferences in ~/.kvclirc\n"
        );
    }
}
