//! # kv-resp: the Redis serialization protocol, RESP2 and RESP3
//!
//! A codec for the protocol Redis and its clients speak, usable on its own by any project:
//! it depends on no other kv crate and, without the `codec` feature, on no async runtime.
//!
//! - [`Frame`]: one value of any RESP2 or RESP3 type.
//! - [`FrameDecoder`]: decodes frames (what a client reads), zero-copy, resumable.
//! - [`RequestDecoder`]: decodes requests as a server reads them, multibulk or inline.
//! - [`encode()`](encode::encode) and the `write_*` functions in [`encode`]: write frames for a
//!   [`Protocol`], bringing RESP3 types down to RESP2 the way Redis does.
//! - [`Limits`]: bounds checked before anything a peer declares is trusted.
//! - `codec` (feature `codec`): `tokio_util::codec` adapters.
//!
//! Decoding is streaming: a buffer that ends anywhere inside a frame yields `Ok(None)` ("need
//! more bytes"), never an error. Errors carry the exact text Redis replies with.
//!
//! ```
//! use bytes::BytesMut;
//! use kv_resp::{encode, Frame, Limits, Protocol, RequestDecoder};
//!
//! // A server reads a pipelined request, arriving in two pieces.
//! let mut decoder = RequestDecoder::new(Limits::default());
//! let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$3\r\nkey"[..]);
//! assert_eq!(decoder.decode(&mut buf)?, None);
//! buf.extend_from_slice(b"\r\n$5\r\nvalue\r\nPING\r\n");
//! let args = decoder.decode(&mut buf)?.expect("a whole request");
//! assert_eq!(args, [&b"SET"[..], b"key", b"value"]);
//! assert_eq!(decoder.decode(&mut buf)?.expect("an inline request"), [&b"PING"[..]]);
//!
//! // It answers a RESP2 client with a RESP3 map, which becomes a flat array.
//! let mut out = BytesMut::new();
//! let reply = Frame::Map(vec![(Frame::bulk("field"), Frame::Integer(1))]);
//! encode::encode(&reply, Protocol::Resp2, &mut out);
//! assert_eq!(&out[..], b"*2\r\n$5\r\nfield\r\n:1\r\n");
//! # Ok::<(), kv_resp::ProtocolError>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(feature = "codec")]
pub mod codec;
mod decode;
pub mod encode;
mod error;
mod frame;
mod inline;
mod limits;
mod parse;
mod request;

pub use decode::{decode_frame, FrameDecoder};
pub use encode::Protocol;
pub use error::ProtocolError;
pub use frame::Frame;
pub use inline::{repr, split_inline};
pub use limits::Limits;
pub use parse::parse_i64;
pub use request::{Decoded, RequestDecoder};
