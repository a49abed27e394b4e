//! Fuzzes `FrameDecoder` (what a client reads).
//!
//! The first input byte chooses where the rest is split in two; the rest is fed to one decoder
//! whole and to another in those two pieces. Checked:
//!
//! - no panic;
//! - resumability: both decoders return the same frames, then the same error or the same
//!   unconsumed bytes;
//! - RESP3 round trip: every decoded frame, encoded in RESP3 and decoded again, gives back the
//!   frame, up to what RESP3 cannot tell apart (RESP2's two nulls are RESP3's one `_`; a CR or LF
//!   inside a simple string or error is written as a space). Streamed strings and aggregates
//!   already decode to plain frames, so they compare equal as they are;
//! - RESP2 downgrade: the same frame encoded in RESP2 decodes to what the downgrade table in
//!   `kv_resp::encode` says it should.

#![no_main]

use bytes::{Bytes, BytesMut};
use kv_resp::encode::{encode, format_double};
use kv_resp::{Frame, FrameDecoder, Limits, Protocol, ProtocolError};
use libfuzzer_sys::fuzz_target;

/// Everything a decoder made of a byte stream.
#[derive(Debug, PartialEq)]
struct Decoded {
    frames: Vec<Frame>,
    /// The error that stopped decoding, or the bytes left over waiting for more.
    end: Result<Vec<u8>, ProtocolError>,
}

/// Feeds `pieces` to one decoder, one after the other, taking every frame each one completes.
fn decode_all(pieces: &[&[u8]]) -> Decoded {
    let mut decoder = FrameDecoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    return Decoded {
                        frames,
                        end: Err(e),
                    }
                }
            }
        }
    }
    Decoded {
        frames,
        end: Ok(buf.to_vec()),
    }
}

/// Decodes `bytes`, which must hold exactly one frame.
fn decode_one(bytes: &BytesMut, what: &str, frame: &Frame) -> Frame {
    let mut buf = bytes.clone();
    let decoded = FrameDecoder::new(Limits::default()).decode(&mut buf);
    match decoded {
        Ok(Some(again)) if buf.is_empty() => again,
        other => panic!(
            "{what} encoding of {frame:?} does not decode back: {other:?}, {} bytes left, encoded {:?}",
            buf.len(),
            String::from_utf8_lossy(bytes)
        ),
    }
}

fn without_crlf(text: &Bytes) -> Bytes {
    text.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect::<Vec<u8>>()
        .into()
}

/// What `frame` becomes once written in RESP3 and read back.
fn as_resp3(frame: &Frame) -> Frame {
    match frame {
        Frame::Simple(s) => Frame::Simple(without_crlf(s)),
        Frame::Error(s) => Frame::Error(without_crlf(s)),
        Frame::NullBulk | Frame::NullArray | Frame::Null => Frame::Null,
        Frame::Array(items) => Frame::Array(items.iter().map(as_resp3).collect()),
        Frame::Set(items) => Frame::Set(items.iter().map(as_resp3).collect()),
        Frame::Push(items) => Frame::Push(items.iter().map(as_resp3).collect()),
        Frame::Map(pairs) => Frame::Map(pairs_as_resp3(pairs)),
        Frame::Attribute { attributes, data } => Frame::Attribute {
            attributes: pairs_as_resp3(attributes),
            data: Box::new(as_resp3(data)),
        },
        other => other.clone(),
    }
}

fn pairs_as_resp3(pairs: &[(Frame, Frame)]) -> Vec<(Frame, Frame)> {
    pairs
        .iter()
        .map(|(k, v)| (as_resp3(k), as_resp3(v)))
        .collect()
}

/// What `frame` becomes once written in RESP2 and read back (the table in `kv_resp::encode`).
fn as_resp2(frame: &Frame) -> Frame {
    match frame {
        Frame::Simple(s) => Frame::Simple(without_crlf(s)),
        Frame::Error(s) | Frame::BulkError(s) => Frame::Error(without_crlf(s)),
        Frame::Integer(n) => Frame::Integer(*n),
        Frame::Bulk(b) | Frame::BigNumber(b) | Frame::Verbatim { text: b, .. } => {
            Frame::Bulk(b.clone())
        }
        Frame::NullBulk | Frame::Null => Frame::NullBulk,
        Frame::NullArray => Frame::NullArray,
        Frame::Boolean(b) => Frame::Integer(i64::from(*b)),
        Frame::Double(d) => {
            let mut text = [0u8; 32];
            let len = format_double(*d, &mut text);
            Frame::Bulk(Bytes::copy_from_slice(&text[..len]))
        }
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            Frame::Array(items.iter().map(as_resp2).collect())
        }
        Frame::Map(pairs) => Frame::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [as_resp2(k), as_resp2(v)])
                .collect(),
        ),
        Frame::Attribute { data, .. } => as_resp2(data),
    }
}

fn round_trip(frame: &Frame) {
    let mut resp3 = BytesMut::new();
    encode(frame, Protocol::Resp3, &mut resp3);
    let again = decode_one(&resp3, "RESP3", frame);
    assert_eq!(again, as_resp3(frame), "RESP3 round trip of {frame:?}");
    // Encoding what was read back writes the same bytes.
    let mut twice = BytesMut::new();
    encode(&again, Protocol::Resp3, &mut twice);
    assert_eq!(twice, resp3, "RESP3 re-encoding of {frame:?}");

    let mut resp2 = BytesMut::new();
    encode(frame, Protocol::Resp2, &mut resp2);
    let downgraded = decode_one(&resp2, "RESP2", frame);
    assert_eq!(downgraded, as_resp2(frame), "RESP2 downgrade of {frame:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let split = usize::from(first).min(input.len());
    let whole = decode_all(&[input]);
    let pieces = decode_all(&[&input[..split], &input[split..]]);
    assert_eq!(whole, pieces, "split at {split}");
    for frame in &whole.frames {
        round_trip(frame);
    }
});
