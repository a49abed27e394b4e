//! `--askpass`: the password read from standard input, as redis-cli's `askPassword` reads it.
//!
//! On a terminal the prompt "Please input password: " goes to stdout and the typed characters
//! are shown as `*`. Otherwise one line is read, without a prompt, from the same buffered
//! standard input the commands come from afterwards. No input at all (end of file, or Ctrl-D
//! on an empty line) means no password.

use std::io::{self, BufRead};

use anyhow::Result;

/// The prompt redis-cli shows.
pub const PROMPT: &str = "Please input password: ";

/// Reads the password from `stdin`, a terminal when `stdin_is_terminal`.
pub fn ask(stdin: &mut impl BufRead, stdin_is_terminal: bool) -> Result<Option<Vec<u8>>> {
    if stdin_is_terminal {
        return from_terminal();
    }
    let mut line = Vec::new();
    if stdin.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok(Some(line))
}

/// Masked input from the terminal.
fn from_terminal() -> Result<Option<Vec<u8>>> {
    let config = rpassword::ConfigBuilder::new()
        .password_feedback_mask('*')
        .output_writer(io::stdout())
        .build();
    match rpassword::prompt_password_with_config(PROMPT, config) {
        Ok(password) => Ok(Some(password.into_bytes())),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_from_a_pipe() {
        let mut input = &b"secret\nPING\n"[..];
        assert_eq!(ask(&mut input, false).unwrap(), Some(b"secret".to_vec()));
        // The rest is left for the commands.
        assert_eq!(input, b"PING\n");
        assert_eq!(
            ask(&mut &b"last"[..], false).unwrap(),
            Some(b"last".to_vec())
        );
        assert_eq!(ask(&mut &b"\n"[..], false).unwrap(), Some(Vec::new()));
        assert_eq!(ask(&mut &b""[..], false).unwrap(), None);
    }
}
