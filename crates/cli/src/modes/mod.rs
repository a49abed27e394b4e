//! What kv-cli does once connected, one module per redis-cli mode.
//!
//! - [`oneshot`] — a command from the command line, run `-r` times (`kv-cli SET a b`).
//! - [`lines`] — commands read from standard input, one per line, when no command is given.
//! - [`interactive`] — the same on a terminal, with line editing, history, hints, completion
//!   and `HELP` (redis-cli's REPL).
//!
//! Each mode drives a [`Session`](crate::session::Session) and returns the exit status.
//! Modes still to come (`--pipe`, `--scan`, `--bigkeys`, `--stat`, `--latency`,
//! `kv-cli bench`) belong here beside them, each selected in
//! `main.rs` from an option of its own.

pub mod interactive;
pub mod lines;
pub mod oneshot;
