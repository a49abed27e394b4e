//! # kv-replication
//!
//! Master-replica replication for kv over gRPC: full synchronisation from a point-in-time
//! snapshot, then the stream of write effects, with partial resynchronisation from a backlog.
//!
//! **Architecture invariant:** replication moves data between engines; it never parses client
//! commands off a socket and never depends on `kv-server` or `kv-cli`. It may depend on
//! `kv-engine`, `kv-persist` and `kv-resp`; `cargo xtask ci` checks this.
//!
//! This crate is filled in by the replication issue; today it only fixes its place in the
//! workspace.
#![deny(missing_docs)]
