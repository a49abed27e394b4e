//! What kv-cli does once connected, one module per redis-cli mode.
//!
//! - [`oneshot`] — a command from the command line, run `-r` times (`kv-cli SET a b`).
//! - [`lines`] — commands read from standard input, one per line, when no command is given.
//! - [`interactive`] — the same on a terminal, with line editing, history, hints, completion
//!   and `HELP` (redis-cli's REPL).
//!
//! - [`special`] — redis-cli's special modes, each selected by an option of its own: their
//!   options and which one runs. Each has its module: [`pipe`] (`--pipe`), [`scan`]
//!   (`--scan`), [`bigkeys`] (`--bigkeys`, `--memkeys`, with [`dict_order`] for the order of
//!   their summary), [`latency`] (`--latency`, `--latency-history`, `--latency-dist`,
//!   `--intrinsic-latency`), [`stat`] (`--stat`); [`call`] is how they talk to the server.
//!
//! Each mode drives a [`Session`](crate::session::Session) and returns the exit status.
//! `kv-cli bench`, the load generator, is not a redis-cli mode: see [`crate::bench`].

pub mod bigkeys;
pub mod call;
pub mod dict_order;
pub mod interactive;
pub mod latency;
pub mod lines;
pub mod oneshot;
pub mod pipe;
pub mod scan;
pub mod special;
pub mod stat;
