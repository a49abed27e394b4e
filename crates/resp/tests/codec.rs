//! The `tokio_util::codec` adapters (feature `codec`).
#![cfg(feature = "codec")]

use bytes::BytesMut;
use kv_resp::codec::{CodecError, RequestCodec, RespCodec};
use kv_resp::{Frame, Limits, Protocol, ProtocolError};
use tokio_util::codec::{Decoder, Encoder};

#[test]
fn request_codec_decodes_requests_and_encodes_replies_per_protocol() {
    let mut codec = RequestCodec::default();
    let mut input = BytesMut::from(&b"*1\r\n$5\r\nHELLO\r\n*1\r\n$4\r\nPI"[..]);
    let request = codec.decode(&mut input).unwrap().unwrap();
    assert_eq!(request, [&b"HELLO"[..]]);
    assert!(codec.decode(&mut input).unwrap().is_none());

    let reply = Frame::Map(vec![(Frame::bulk("proto"), Frame::Integer(3))]);
    let mut out = BytesMut::new();
    codec.encode(&reply, &mut out).unwrap();
    assert_eq!(&out[..], b"*2\r\n$5\r\nproto\r\n:3\r\n");
    codec.protocol = Protocol::Resp3;
    out.clear();
    codec.encode(reply, &mut out).unwrap();
    assert_eq!(&out[..], b"%1\r\n$5\r\nproto\r\n:3\r\n");
}

#[test]
fn resp_codec_round_trips_and_reports_protocol_errors() {
    let mut codec = RespCodec::new(Limits::default(), Protocol::Resp3);
    let mut wire = BytesMut::new();
    codec.encode(Frame::Boolean(true), &mut wire).unwrap();
    assert_eq!(codec.decode(&mut wire).unwrap(), Some(Frame::Boolean(true)));
    let mut bad = BytesMut::from(&b"?\r\n"[..]);
    match codec.decode(&mut bad) {
        Err(CodecError::Protocol(ProtocolError::InvalidFrameType(b'?'))) => {}
        other => panic!("unexpected {other:?}"),
    }
}
