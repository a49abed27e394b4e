//! Property tests: any frame survives encode then decode, whatever the byte it is split at.

use bytes::{Bytes, BytesMut};
use kv_resp::{encode, Frame, FrameDecoder, Protocol, RequestDecoder};
use proptest::prelude::*;

fn bytes() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

/// Text a simple string or error may hold: no CR or LF.
fn line() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..16,
    )
    .prop_map(Bytes::from)
}

fn digits() -> impl Strategy<Value = Bytes> {
    "-?[0-9]{1,40}".prop_map(Bytes::from)
}

/// Every frame type, nested a few levels, in its RESP3 form.
fn frame() -> impl Strategy<Value = Frame> {
    let leaf = prop_oneof![
        line().prop_map(Frame::Simple),
        line().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        bytes().prop_map(Frame::Bulk),
        Just(Frame::Null),
        any::<bool>().prop_map(Frame::Boolean),
        prop_oneof![
            any::<f64>(),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::NAN),
            Just(-0.0)
        ]
        .prop_map(Frame::Double),
        digits().prop_map(Frame::BigNumber),
        bytes().prop_map(Frame::BulkError),
        (prop::array::uniform3(b'a'..=b'z'), bytes())
            .prop_map(|(format, text)| Frame::Verbatim { format, text }),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let pairs = prop::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Array),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Set),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Push),
            pairs.clone().prop_map(Frame::Map),
            (pairs, inner).prop_map(|(attributes, data)| Frame::Attribute {
                attributes,
                data: Box::new(data)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decode_of_encode_is_identity_at_every_split(frame in frame()) {
        let mut wire = BytesMut::new();
        encode::encode(&frame, Protocol::Resp3, &mut wire);
        // Two frames back to back, so a decoder that reads too far is caught too.
        let mut twice = wire.clone();
        twice.extend_from_slice(&wire);
        for cut in 0..=twice.len() {
            let mut decoder = FrameDecoder::default();
            let mut buf = BytesMut::from(&twice[..cut]);
            let mut got = Vec::new();
            while let Some(f) = decoder.decode(&mut buf).unwrap() {
                got.push(f);
            }
            buf.extend_from_slice(&twice[cut..]);
            while let Some(f) = decoder.decode(&mut buf).unwrap() {
                got.push(f);
            }
            prop_assert_eq!(got, vec![frame.clone(), frame.clone()], "split at {}", cut);
            prop_assert!(buf.is_empty());
        }
    }

    #[test]
    fn resp2_encoding_is_always_decodable(frame in frame()) {
        let mut wire = BytesMut::new();
        encode::encode(&frame, Protocol::Resp2, &mut wire);
        let decoded = FrameDecoder::default().decode(&mut wire).unwrap();
        prop_assert!(decoded.is_some());
        prop_assert!(wire.is_empty());
    }

    #[test]
    fn commands_round_trip_through_the_request_decoder(
        args in prop::collection::vec(bytes(), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut wire = BytesMut::new();
        encode::encode(&Frame::command(args.clone()), Protocol::Resp2, &mut wire);
        let cut = cut.index(wire.len() + 1);
        let mut decoder = RequestDecoder::default();
        let mut buf = BytesMut::from(&wire[..cut]);
        let first = decoder.decode(&mut buf).unwrap();
        prop_assert!(first.is_none() || cut == wire.len());
        buf.extend_from_slice(&wire[cut..]);
        let got = first.or_else(|| decoder.decode(&mut buf).unwrap());
        prop_assert_eq!(got, Some(args));
    }
}
