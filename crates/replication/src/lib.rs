//! # kv-replication
//!
//! Master-replica replication for kv over gRPC: full synchronisation from a point-in-time
//! snapshot, then the stream of write effects, with partial resynchronisation from a backlog.
//!
//! **Architecture invariant:** replication moves data between engines; it never parses client
//! commands off a socket and never depends on `kv-server` or `kv-cli`. It may depend on
//! `kv-engine`, `kv-persist` and `kv-resp`; `cargo xtask ci` checks this.
//!
//! What is here so far, the pieces the link is built from:
//! - [`proto`]: the protocol, generated from `proto/replication.proto` (compiled in Rust by
//!   protox at build time: no protoc to install). Its comments are the protocol's reference.
//! - [`backlog`]: the ring of the stream's latest bytes that partial resynchronisation reads.
//! - [`feed`]: the master's write stream, an effect sink writing into the backlog.
//! - [`id`]: replication IDs.
#![deny(missing_docs)]

pub mod backlog;
pub mod feed;
pub mod id;
pub mod master;
pub mod replica;

/// The protocol's messages and the `Replication` service (client and server), generated from
/// `proto/replication.proto`; see that file for what each message means.
#[allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
pub mod proto {
    tonic::include_proto!("kv.replication.v1");
}

/// The protocol version this build speaks, sent in `Hello` and `Welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::proto::{master_message::Kind, MasterMessage, Stream};
    use prost::Message;

    #[test]
    fn messages_round_trip_through_their_wire_form() {
        let sent = MasterMessage {
            kind: Some(Kind::Stream(Stream {
                offset: 1234,
                data: bytes::Bytes::from_static(b"*1\r\n$4\r\nPING\r\n"),
            })),
        };
        let bytes = sent.encode_to_vec();
        assert_eq!(MasterMessage::decode(bytes.as_slice()).unwrap(), sent);
    }
}
