//! `kv-cli`: a command-line client for kv and any Redis-compatible server, which behaves as
//! redis-cli 7.0 does: same options, same messages, same output byte for byte, same exit
//! status.
//!
//! Today it runs one command from the command line (`kv-cli -p 6380 SET a b`, with `-r`,
//! `-i`, `-x`), or commands read from standard input, one per line, when none is given; on a
//! terminal, that is the interactive mode, with line editing, history, hints and completion.
//! redis-cli's special modes replace the command when asked for (`--pipe`, `--scan`,
//! `--bigkeys`, `--memkeys`, `--latency`, `--latency-history`, `--latency-dist`, `--stat`,
//! `--intrinsic-latency`); `kv-cli bench` is a load generator of kv-cli's own.
//!
//! Code map:
//! - [`options`] — the command line (`parseOptions`); [`uri`] — `-u redis://...`;
//!   [`cnum`] — C's number conversions the options are read with.
//! - [`connection`] — a TCP or Unix socket connection; [`reply`] — replies as hiredis reads
//!   them.
//! - [`session`] — the connection's state, the AUTH/SELECT/HELLO handshake and running a
//!   command as redis-cli does (repeat, interval, MONITOR, SUBSCRIBE, pushes, `-e`).
//! - [`format`] — replies printed in each output mode (terminal, raw, CSV, JSON).
//! - [`modes`] — one module per way of running (one-shot, lines from standard input,
//!   interactive).
//! - [`interactive`] — the interactive mode's pieces: quoting, the command table from
//!   `COMMAND DOCS`, hints, completion, `HELP`, history, preferences, the line editor.
//! - [`password`] — `--askpass`.
//! - [`bench`] — `kv-cli bench`, the load generator redis-cli lacks (redis-benchmark's main
//!   options, latency percentiles and histogram).
//!
//! The binary's edge is here: it resolves what depends on the terminal (raw output and no
//! pushes when stdout is not one, `FAKETTY` to pretend it is), the `REDISCLI_AUTH`
//! environment variable, and turns errors into redis-cli's exit statuses.

mod bench;
mod cnum;
mod connection;
mod format;
mod interactive;
mod modes;
mod options;
mod password;
mod reply;
mod session;
mod uri;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::os::unix::ffi::OsStringExt;
use std::process::ExitCode;

use anyhow::Result;

use crate::format::{Formatter, OutputMode};
use crate::modes::oneshot::Arguments;
use crate::modes::special::Special;
use crate::options::Action;
use crate::session::{Fatal, Session};

/// Runs kv-cli with the process's arguments, as bytes (a password need not be UTF-8).
fn main() -> ExitCode {
    let args: Vec<Vec<u8>> = std::env::args_os()
        .skip(1)
        .map(OsStringExt::into_vec)
        .collect();
    match run(&args) {
        Ok(status) => ExitCode::from(status),
        Err(e) => ExitCode::from(report(&e)),
    }
}

/// Prints why the run ended early and gives its exit status: redis-cli's message and 1, or
/// 141 without a word when stdout was closed under us (redis-cli dies of SIGPIPE there, which
/// a shell reports as 141).
fn report(e: &anyhow::Error) -> u8 {
    if let Some(Fatal(message)) = e.downcast_ref::<Fatal>() {
        if !message.is_empty() {
            let mut line = message.clone();
            line.push(b'\n');
            let _ = io::stderr().write_all(&line);
        }
        return 1;
    }
    if let Some(io_error) = e.downcast_ref::<io::Error>() {
        if io_error.kind() == io::ErrorKind::BrokenPipe {
            return 141;
        }
    }
    eprintln!("kv-cli: {e:#}");
    1
}

/// Reads the command line and runs what it asks for; returns the exit status.
fn run(args: &[Vec<u8>]) -> Result<u8> {
    let parsed = options::parse(args);
    for warning in &parsed.warnings {
        eprintln!("{warning}");
    }
    let (mut options, command) = match parsed.action {
        Err(e) => {
            eprintln!("{e}");
            return Ok(1);
        }
        Ok(Action::Help) => {
            print!("{}", options::usage());
            return Ok(0);
        }
        Ok(Action::Version) => {
            println!("kv-cli {}", env!("CARGO_PKG_VERSION"));
            return Ok(0);
        }
        Ok(Action::Run { options, command }) => (*options, command),
    };

    let stdout_is_terminal = io::stdout().is_terminal() || std::env::var_os("FAKETTY").is_some();
    let stdin_is_terminal = io::stdin().is_terminal();
    let mut stdin = io::stdin().lock();
    if options.password.is_none() {
        options.password = std::env::var_os("REDISCLI_AUTH").map(OsStringExt::into_vec);
    }
    if options.askpass {
        options.password = password::ask(&mut stdin, stdin_is_terminal)?;
    }

    let mode = options.output.unwrap_or(if stdout_is_terminal {
        OutputMode::Standard
    } else {
        OutputMode::Raw
    });
    // redis-cli's special modes (--scan, --pipe, ...) come before any command; `bench` is
    // kv-cli's own.
    let special = Special::from_options(&options, mode);
    if special.is_none() && command.first().is_some_and(|word| word == b"bench") {
        return bench::run(&options, &command[1..]);
    }
    let formatter = Formatter {
        bulk_delimiter: options.bulk_delimiter.clone(),
        reply_delimiter: options.reply_delimiter.clone(),
        ..Formatter::new(mode)
    };
    let show_pushes = options.show_pushes.unwrap_or(stdout_is_terminal);
    let from_stdin = command.is_empty();
    let arguments = Arguments {
        command,
        quoted: options.quoted_input,
        stdin_last: options.stdin_last_arg,
        stdin_tag: options.stdin_tag.clone(),
        repeat: options.repeat,
    };
    let docs_source = interactive::docs::Source::new(&options);
    // The session flushes after each reply; between those, output is buffered.
    let stdout = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut session = Session::new(options, formatter, show_pushes, from_stdin, stdout);
    if let Some(special) = special {
        return special.run(&mut session, &mut stdin);
    }

    if from_stdin && stdin_is_terminal {
        session.connect(false, false)?;
        modes::interactive::run(&mut session, &docs_source)
    } else if from_stdin {
        session.connect(false, false)?;
        modes::lines::run(&mut session, &mut stdin, stdin_is_terminal)
    } else {
        // A failure to connect is reported once, when the command is about to run.
        session.connect(false, true)?;
        modes::oneshot::run(&mut session, &arguments, &mut stdin)
    }
}
