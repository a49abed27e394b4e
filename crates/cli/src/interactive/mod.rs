//! The pieces of kv-cli's interactive mode, each as redis-cli 7.0 has it; the loop that puts
//! them together is [`crate::modes::interactive`].
//!
//! - [`parse`] — a typed line split into arguments (`sdssplitargs`), and the leading repeat
//!   count (`3 PING`).
//! - [`docs`] — the command table behind help, hints and completion: built from the server's
//!   `COMMAND DOCS` at start, or kv's own table built into the binary when the server is away.
//! - [`hints`] — the grey text after the cursor with the arguments still to type.
//! - [`completion`] — Tab: command names, subcommands, and `help` topics.
//! - [`help`] — `HELP`, `HELP <command>`, `HELP @<group>`.
//! - [`history`] — the history file (`~/.kvcli_history`, `KVCLI_HISTFILE`) and the commands
//!   never written to it (passwords).
//! - [`prefs`] — `:set hints` / `:set nohints` and the preferences file (`~/.kvclirc`).
//! - [`editor`] — the line editor's helper (rustyline), which asks the modules above.
//!
//! **Architecture invariant:** nothing here writes to the terminal or talks to the session;
//! each module computes text from its inputs, so each is unit-tested without a terminal. Only
//! [`docs::fetch`] opens a connection of its own.

pub mod completion;
pub mod docs;
pub mod editor;
pub mod help;
pub mod hints;
pub mod history;
pub mod parse;
pub mod prefs;

/// C's `isspace` in the C locale, which redis-cli uses to see whether a line ends in white
/// space.
pub fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}
