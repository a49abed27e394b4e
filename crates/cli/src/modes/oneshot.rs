//! One command from the command line (redis-cli's `noninteractive`): `kv-cli SET a b`.
//!
//! With `--quoted-input` each argument is one quoted string to unquote; with `-x` standard
//! input becomes the last argument, with `-X tag` the argument equal to `tag`. The command is
//! run `-r` times (forever when negative), `-i` seconds apart. The exit status is 0 when every
//! run got a reply (an error reply counts, unless `-e`), 1 otherwise.

use std::io::{Read, Write};

use anyhow::Result;

use crate::session::Session;

/// How the one-shot command gets its arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arguments {
    /// The command and its arguments, as given.
    pub command: Vec<Vec<u8>>,
    /// `--quoted-input`.
    pub quoted: bool,
    /// `-x`.
    pub stdin_last: bool,
    /// `-X tag`.
    pub stdin_tag: Option<Vec<u8>>,
    /// `-r`.
    pub repeat: i64,
}

/// Runs the command; returns the exit status.
pub fn run<W: Write>(
    session: &mut Session<W>,
    arguments: &Arguments,
    stdin: &mut impl Read,
) -> Result<u8> {
    let mut args = if arguments.quoted {
        match unquote_all(&arguments.command) {
            Some(args) => args,
            None => {
                session.out().write_all(b"Invalid quoted string\n")?;
                return Ok(1);
            }
        }
    } else {
        arguments.command.clone()
    };
    if arguments.stdin_last {
        args.push(read_all(stdin)?);
    } else if let Some(tag) = &arguments.stdin_tag {
        match args.iter().position(|a| a == tag) {
            Some(at) => args[at] = read_all(stdin)?,
            None => {
                eprintln!("Using -X option but stdin tag not match.");
                return Ok(1);
            }
        }
    }
    Ok(if session.issue(&args, arguments.repeat)? {
        0
    } else {
        1
    })
}

/// All of standard input, as it is (redis-cli's `readArgFromStdin`).
fn read_all(stdin: &mut impl Read) -> Result<Vec<u8>> {
    let mut all = Vec::new();
    stdin.read_to_end(&mut all)?;
    Ok(all)
}

/// `--quoted-input`: each argument must split (with the inline-command quoting) into exactly
/// one argument; `None` if one does not.
fn unquote_all(args: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    args.iter()
        .map(|arg| match kv_resp::split_inline(arg) {
            Ok(mut parts) if parts.len() == 1 => parts.pop().map(|part| part.to_vec()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn quoted_input() {
        assert_eq!(
            unquote_all(&bytes(&["SET", r#""a\x00b""#, "'c d'"])),
            Some(vec![b"SET".to_vec(), b"a\0b".to_vec(), b"c d".to_vec()])
        );
        assert_eq!(unquote_all(&bytes(&["ECHO", "a b"])), None);
        assert_eq!(unquote_all(&bytes(&["ECHO", ""])), None);
        assert_eq!(unquote_all(&bytes(&["ECHO", "\"a"])), None);
    }
}
