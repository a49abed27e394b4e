//! # kv-server
//!
//! The server: wires the protocol codec (`kv-resp`) and the engine (`kv-engine`) to TCP
//! connections, and owns what is about connections and the process rather than data:
//! configuration, authentication, client bookkeeping, INFO, shutdown.
//!
//! **Architecture invariant:** the server holds no data-structure logic. Every command that
//! touches keys runs in the engine; the server only decides whether a command may run (auth,
//! arity via the engine's table) and runs the connection-level ones itself.
//!
//! - [`config`]: the parameter table, config file and `CONFIG`.
//! - [`server`]: shared state, the listener, background jobs, shutdown.
//! - [`connection`]: one client's read-execute-write loop.
//! - [`clients`]: the registry of connected clients and `CLIENT`.
//! - [`admin`]: the other commands the server runs (HELLO, AUTH, INFO, TIME, ...).
#![deny(missing_docs)]

pub mod admin;
pub mod clients;
pub mod config;
pub mod connection;
pub mod info;
pub mod server;

pub use config::Config;
pub use server::{run, Shared};
