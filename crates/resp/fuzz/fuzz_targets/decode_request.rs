//! Fuzzes `RequestDecoder` (what a server reads: multibulk or inline requests).
//!
//! The first input byte chooses where the rest is split in two; the rest is fed to one decoder
//! whole and to another in those two pieces. Checked:
//!
//! - no panic;
//! - every request has at least one argument (empty requests are skipped, never returned);
//! - resumability: both decoders return the same requests, then the same error or the same
//!   unconsumed bytes;
//! - decoding in place (`decode_borrowed`, the bytes reported consumed dropped after each
//!   call, as the server does), whole and in the same two pieces, gives the same again;
//! - every request, written back as a multibulk, decodes to the same arguments.

#![no_main]

use bytes::{Buf, Bytes, BytesMut};
use kv_resp::encode::{write_array_len, write_bulk};
use kv_resp::{Limits, ProtocolError, RequestDecoder};
use libfuzzer_sys::fuzz_target;

/// Everything a decoder made of a byte stream.
#[derive(Debug, PartialEq)]
struct Decoded {
    requests: Vec<Vec<Bytes>>,
    /// The error that stopped decoding, or the bytes left over waiting for more.
    end: Result<Vec<u8>, ProtocolError>,
}

/// Feeds `pieces` to one decoder, one after the other, taking every request each one completes;
/// `in_place`: with `decode_borrowed`, dropping the bytes each call reports consumed after it,
/// as a server drops a batch's requests once they ran.
fn decode_all(pieces: &[&[u8]], in_place: bool) -> Decoded {
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match next_request(&mut decoder, &mut buf, in_place) {
                Ok(Some(args)) => {
                    assert!(!args.is_empty(), "a request with no arguments");
                    requests.push(args);
                }
                Ok(None) => break,
                Err(e) => {
                    return Decoded {
                        requests,
                        end: Err(e),
                    }
                }
            }
        }
    }
    Decoded {
        requests,
        end: Ok(buf.to_vec()),
    }
}

/// The next complete request of `buf`, taken off its front.
fn next_request(
    decoder: &mut RequestDecoder,
    buf: &mut BytesMut,
    in_place: bool,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    if !in_place {
        return decoder.decode(buf);
    }
    let mut args: Vec<&[u8]> = Vec::new();
    let decoded = decoder.decode_borrowed(buf, &mut args)?;
    let request: Vec<Bytes> = args.iter().map(|arg| Bytes::copy_from_slice(arg)).collect();
    buf.advance(decoded.consumed);
    if !decoded.complete {
        assert!(request.is_empty(), "arguments of an incomplete request");
        return Ok(None);
    }
    Ok(Some(request))
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let split = usize::from(first).min(input.len());
    let whole = decode_all(&[input], false);
    let pieces = decode_all(&[&input[..split], &input[split..]], false);
    assert_eq!(whole, pieces, "split at {split}");
    assert_eq!(decode_all(&[input], true), whole, "in place");
    let pieces = decode_all(&[&input[..split], &input[split..]], true);
    assert_eq!(pieces, whole, "in place, split at {split}");

    for args in &whole.requests {
        let mut buf = BytesMut::new();
        write_array_len(&mut buf, args.len());
        for arg in args {
            write_bulk(&mut buf, arg);
        }
        let again = RequestDecoder::new(Limits::default()).decode(&mut buf);
        assert_eq!(again, Ok(Some(args.clone())), "multibulk round trip");
        assert!(
            buf.is_empty(),
            "multibulk round trip left {} bytes",
            buf.len()
        );
    }
});
