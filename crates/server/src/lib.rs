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
//! - [`info`]: INFO's sections.
//! - [`cmdstats`] and [`metrics`]: per-command and per-error counters, instantaneous rates.
//! - [`slowlog`], [`latency`], [`monitor`], [`debug`]: SLOWLOG, LATENCY, MONITOR, DEBUG.
//! - [`pause`]: CLIENT PAUSE and UNPAUSE; [`redact`]: secrets hidden from MONITOR and SLOWLOG.
//! - [`multi`]: MULTI, EXEC and DISCARD (WATCH is the engine's).
//! - [`tracking`]: client-side caching (CLIENT TRACKING and its invalidations).
//! - [`pubsub`] and [`mailbox`]: pub/sub, and the per-client queue of messages.
#![deny(missing_docs)]

pub mod admin;
pub mod aof;
pub mod clients;
pub mod cmdstats;
pub mod config;
pub mod connection;
pub mod daemon;
pub mod debug;
pub mod failover;
pub mod info;
pub mod latency;
pub mod mailbox;
pub mod memory;
pub mod metrics;
pub mod monitor;
pub mod multi;
pub mod pause;
pub mod persistence;
pub mod pubsub;
pub mod redact;
pub mod replication;
pub mod server;
pub mod slowlog;
pub mod sparkline;
pub mod tracking;

pub use config::Config;
pub use server::{run, Shared};
