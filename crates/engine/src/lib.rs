//! # kv-engine
//!
//! The pure data-structure engine of kv: the keyspace of every database, the value types
//! (strings, hashes, lists, sets, sorted sets, streams, ...), expiry, and the execution of
//! commands against them.
//!
//! **Architecture invariant:** the engine knows nothing of sockets, tasks or tokio. It takes
//! already-parsed arguments and produces replies as [`kv_resp::Frame`]s, so it can be driven
//! by the server, by a test, by AOF replay or by a replica in exactly the same way. It may
//! depend on `kv-resp` and on no other kv crate; `cargo xtask ci` checks this.
//!
//! The engine is filled in by the keyspace issue; today this crate only fixes its place in the
//! workspace.
#![deny(missing_docs)]
