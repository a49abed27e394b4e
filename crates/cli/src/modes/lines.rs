//! Commands read line by line from standard input, as redis-cli's REPL reads them when no
//! command is given: `printf 'SET a 1\nGET a\n' | kv-cli`.
//!
//! Each line is split with the inline-command quoting (`SET "a b" 'c'`). A first word that is
//! a number repeats the rest (`3 INCR n`). `quit` and `exit` end the run; `connect host port`
//! moves to another server; `clear` clears the screen; `:set hints` and the other `:`
//! preferences and `restart` are answered as redis-cli answers them. A dropped connection is
//! reported and reconnected at the next line. A command that took half a second or more is
//! followed by its time, `(0.52s)`, in the human-readable output mode.
//!
//! On a terminal each line is prompted for (`127.0.0.1:6379> `), without line editing: the
//! interactive line editor (history, hints, completion) is a mode still to come. `help` is not
//! answered locally yet: it goes to the server like any command.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::cnum::{atoi, strtol};
use crate::format::{c_str, OutputMode};
use crate::session::Session;

/// Reads and runs commands until the end of `input` or `quit`; returns the exit status.
/// With `prompt`, each line is asked for with the session's prompt.
pub fn run<W: Write>(
    session: &mut Session<W>,
    input: &mut impl BufRead,
    prompt: bool,
) -> Result<u8> {
    loop {
        if prompt {
            let text = session.prompt();
            session.out().write_all(text.as_bytes())?;
            session.out().flush()?;
        }
        let mut line = Vec::new();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(0);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        // The line is a C string to redis-cli: it ends at a NUL byte.
        let line = c_str(&line);
        if line.is_empty() {
            continue;
        }
        let Ok(args) = kv_resp::split_inline(line) else {
            session.out().write_all(b"Invalid argument(s)\n")?;
            session.out().flush()?;
            continue;
        };
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        match run_line(session, &args)? {
            Step::Next => {}
            Step::Quit => return Ok(0),
        }
    }
}

/// Whether to go on reading.
enum Step {
    Next,
    Quit,
}

/// Runs one split line.
fn run_line<W: Write>(session: &mut Session<W>, args: &[Vec<u8>]) -> Result<Step> {
    let Some(first) = args.first() else {
        return Ok(Step::Next);
    };
    let first = c_str(first);
    // A leading number repeats the command: the whole word must be read by strtol.
    let number = strtol(first);
    let (repeat, command) = if args.len() > 1 && number.end == first.len() {
        if number.overflow || number.value <= 0 {
            session
                .out()
                .write_all(b"Invalid redis-cli repeat command option value.\n")?;
            return Ok(Step::Next);
        }
        (number.value, &args[1..])
    } else {
        (1, args)
    };

    let is = |name: &str| first.eq_ignore_ascii_case(name.as_bytes());
    if is("quit") || is("exit") {
        return Ok(Step::Quit);
    }
    if first.first() == Some(&b':') {
        let message = preference(args);
        session.out().write_all(message.as_bytes())?;
    } else if is("restart") {
        session
            .out()
            .write_all(b"Use 'restart' only in Lua debugging mode.\n")?;
        session.out().flush()?;
    } else if args.len() == 3 && is("connect") {
        let host = String::from_utf8_lossy(c_str(&args[1])).into_owned();
        session.set_address(host, atoi(c_str(&args[2])));
        session.connect(true, false)?;
    } else if args.len() == 1 && is("clear") {
        session.out().write_all(b"\x1b[H\x1b[2J")?;
        session.out().flush()?;
    } else {
        let start = Instant::now();
        session.issue(command, repeat)?;
        let elapsed = start.elapsed();
        if elapsed >= Duration::from_millis(500) && session.output_mode() == OutputMode::Standard {
            let line = format!("({:.2}s)\n", elapsed.as_secs_f64());
            session.out().write_all(line.as_bytes())?;
        }
    }
    session.out().flush()?;
    Ok(Step::Next)
}

/// redis-cli's answer to a `:` line (`cliSetPreferences`): `:set hints` and `:set nohints` are
/// taken silently (kv-cli has no hints to show yet), anything else is named as unknown.
fn preference(args: &[Vec<u8>]) -> String {
    let word = |i: usize| String::from_utf8_lossy(c_str(&args[i])).into_owned();
    if args.len() >= 2 && c_str(&args[0]).eq_ignore_ascii_case(b":set") {
        let value = c_str(&args[1]);
        if value.eq_ignore_ascii_case(b"hints") || value.eq_ignore_ascii_case(b"nohints") {
            String::new()
        } else {
            format!("unknown redis-cli preference '{}'\n", word(1))
        }
    } else {
        format!("unknown redis-cli internal command '{}'\n", word(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Formatter;
    use crate::options::Options;

    fn args(line: &[&str]) -> Vec<Vec<u8>> {
        line.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    /// A session that is never connected: good for the lines that need no server.
    fn offline() -> Session<Vec<u8>> {
        let options = Options {
            // Nothing listens on port 0.
            port: 0,
            ..Options::default()
        };
        Session::new(
            options,
            Formatter::new(OutputMode::Raw),
            false,
            true,
            Vec::new(),
        )
    }

    fn output(input: &str) -> (u8, String) {
        let mut session = offline();
        let status = run(&mut session, &mut input.as_bytes(), false).unwrap();
        (status, String::from_utf8(session.out().clone()).unwrap())
    }

    #[test]
    fn local_lines_as_redis_cli_answers_them() {
        assert_eq!(
            output("\n   \n\"unbalanced\n:set hints\n:set colors\n:foo\nrestart\nclear\n"),
            (
                0,
                "Invalid argument(s)\n\
                 unknown redis-cli preference 'colors'\n\
                 unknown redis-cli internal command ':foo'\n\
                 Use 'restart' only in Lua debugging mode.\n\
                 \x1b[H\x1b[2J"
                    .into()
            )
        );
    }

    #[test]
    fn bad_repeat_counts() {
        let (_, out) = output("0 PING\n-1 PING\n99999999999999999999 PING\n\"\" PING\n");
        assert_eq!(
            out,
            "Invalid redis-cli repeat command option value.\n".repeat(4)
        );
    }

    #[test]
    fn quit_and_exit_end_the_run() {
        for line in ["quit\n:foo\n", "EXIT\n:foo\n", "Quit now\n:foo\n"] {
            assert_eq!(output(line), (0, String::new()), "{line:?}");
        }
    }

    #[test]
    fn preferences() {
        assert_eq!(preference(&args(&[":set", "nohints"])), "");
        assert_eq!(
            preference(&args(&[":set"])),
            "unknown redis-cli internal command ':set'\n"
        );
    }
}
