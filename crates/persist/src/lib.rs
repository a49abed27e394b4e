//! # kv-persist
//!
//! Persistence for kv: snapshot files written one key at a time, and the append-only file that
//! logs the effect of every write so a restart replays it deterministically.
//!
//! **Architecture invariant:** persistence reads and writes the engine's values through the
//! engine's public API and knows nothing of client connections, the server or replication. It
//! may depend on `kv-engine` and `kv-resp`, never on `kv-server` or `kv-replication`;
//! `cargo xtask ci` checks this.
//!
//! This crate is filled in by the persistence issue; today it only fixes its place in the
//! workspace.
#![deny(missing_docs)]
