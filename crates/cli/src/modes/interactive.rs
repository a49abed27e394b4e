//! The interactive mode, when no command is given and standard input is a terminal: redis-cli
//! 7.0's REPL (`repl()`), with line editing, history, hints and completion.
//!
//! At start the command table is fetched from the server (built in when it is away), the
//! history file and the preferences file are read. Then each line is prompted for with the
//! session's prompt (`127.0.0.1:6379> `, `[2]` after `SELECT 2`, `(TX)` inside `MULTI`,
//! `not connected> ` while the server is away) and handled as redis-cli handles it:
//!
//! 1. Split with redis-cli's quoting; an open quote is answered `Invalid argument(s)`.
//! 2. A first word that is a number repeats the rest (`3 INCR n`); zero, a negative number or
//!    one out of range is refused.
//! 3. The line goes into the history unless it carries a password (`AUTH`, `HELLO ... AUTH`,
//!    ...). Blank lines and refused repeat counts never do; lines with an open quote do.
//! 4. `quit` and `exit` end the run (exit status 0, as do Ctrl-C and Ctrl-D at the prompt);
//!    `:set hints`/`:set nohints` set preferences; `connect host port` moves to another
//!    server; `clear` clears the screen; `restart` is refused outside Lua debugging; `help`
//!    and `?` are answered from the command table; anything else goes to the server.
//! 5. A dropped connection is reported (`Error: Server closed the connection`) and the prompt
//!    says `not connected> `; the next command reconnects first (`Could not connect to Redis
//!    at ...` while it cannot).
//! 6. A command that took half a second or more is followed by its time, `(0.52s)`, in the
//!    human-readable output mode.

use std::io::Write;
use std::time::Instant;

use anyhow::Result;
use rustyline::error::ReadlineError;

use crate::format::{c_str, OutputMode};
use crate::interactive::docs::{self, Source};
use crate::interactive::editor::{self, LineEditor, LineHelper};
use crate::interactive::help;
use crate::interactive::history::{self, History};
use crate::interactive::parse::{self, Repeat};
use crate::interactive::prefs::{self, Preferences};
use crate::session::Session;

/// Reads and runs lines until `quit`, Ctrl-C or Ctrl-D; returns the exit status. The session
/// has tried to connect already; `source` says where to fetch the command table.
pub fn run<W: Write>(session: &mut Session<W>, source: &Source) -> Result<u8> {
    let docs = docs::fetch(source);
    let mut history = History::load(history::path_from_env());
    let mut prefs = Preferences::default();
    if let Some(path) = prefs::path_from_env() {
        let message = prefs.load(&path);
        session.out().write_all(message.as_bytes())?;
    }
    let mut editor = editor::new(LineHelper {
        docs,
        prefs,
        columns: None,
        prompt_width: 0,
    })?;
    for line in history.lines() {
        editor.add_history_entry(line.as_str())?;
    }

    loop {
        session.out().flush()?;
        let prompt = session.prompt();
        let columns = editor.dimensions().map(|(columns, _)| usize::from(columns));
        if let Some(helper) = editor.helper_mut() {
            helper.columns = columns;
            helper.prompt_width = prompt.chars().count();
        }
        editor::discard_typeahead();
        let line = match editor.readline(prompt.as_str()) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => return Ok(0),
            // A window resize reported as an error: ask again.
            Err(ReadlineError::Signal(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        if line.is_empty() {
            continue;
        }
        match run_line(session, &mut editor, &mut history, &line)? {
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

/// Adds `line` to the editor's history and the history file. Like linenoise, a file that
/// cannot be written is no error: the line is still remembered for this session.
fn remember(editor: &mut LineEditor, history: &mut History, line: &str) -> Result<()> {
    let _ = history.add(line);
    editor.add_history_entry(line)?;
    Ok(())
}

/// Handles one typed line.
fn run_line<W: Write>(
    session: &mut Session<W>,
    editor: &mut LineEditor,
    history: &mut History,
    line: &str,
) -> Result<Step> {
    let Some(args) = parse::split(line) else {
        session.out().write_all(b"Invalid argument(s)\n")?;
        session.out().flush()?;
        remember(editor, history, line)?;
        return Ok(Step::Next);
    };
    if args.is_empty() {
        return Ok(Step::Next);
    }
    let (repeat, command) = match parse::repeat(&args) {
        Repeat::Invalid => {
            session
                .out()
                .write_all(b"Invalid redis-cli repeat command option value.\n")?;
            return Ok(Step::Next);
        }
        Repeat::Once => (1, &args[..]),
        Repeat::Times(n) => (n, &args[1..]),
    };
    if !history::is_sensitive(command) {
        remember(editor, history, line)?;
    }

    let first = c_str(&args[0]);
    let is = |name: &str| first.eq_ignore_ascii_case(name.as_bytes());
    if is("quit") || is("exit") {
        return Ok(Step::Quit);
    }
    if first.first() == Some(&b':') {
        let message = match editor.helper_mut() {
            Some(helper) => helper.prefs.apply(&args, false),
            None => String::new(),
        };
        session.out().write_all(message.as_bytes())?;
    } else if is("restart") {
        session
            .out()
            .write_all(b"Use 'restart' only in Lua debugging mode.\n")?;
    } else if args.len() == 3 && is("connect") {
        let host = String::from_utf8_lossy(c_str(&args[1])).into_owned();
        session.set_address(host, crate::cnum::atoi(c_str(&args[2])));
        session.connect(true, false)?;
    } else if args.len() == 1 && is("clear") {
        session.out().write_all(b"\x1b[H\x1b[2J")?;
    } else {
        let start = Instant::now();
        let name = c_str(&command[0]);
        if name.eq_ignore_ascii_case(b"help") || name == b"?" {
            let text = match editor.helper() {
                Some(helper) => help::help(
                    &helper.docs,
                    &command[1..],
                    &format!("kv-cli {}", env!("CARGO_PKG_VERSION")),
                ),
                None => Vec::new(),
            };
            session.out().write_all(&text)?;
        } else {
            session.issue(command, repeat)?;
        }
        let millis = start.elapsed().as_millis();
        if millis >= 500 && session.output_mode() == OutputMode::Standard {
            let line = format!("({:.2}s)\n", millis as f64 / 1000.0);
            session.out().write_all(line.as_bytes())?;
        }
    }
    session.out().flush()?;
    Ok(Step::Next)
}
