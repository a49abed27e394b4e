//! Decoding and encoding every frame type, and every way a frame can be malformed.

use bytes::{Bytes, BytesMut};
use kv_resp::{decode_frame, encode, Frame, FrameDecoder, Limits, Protocol, ProtocolError};

fn decode_all(input: &[u8]) -> Result<Option<Frame>, ProtocolError> {
    let mut buf = BytesMut::from(input);
    let frame = decode_frame(&mut buf, &Limits::default())?;
    if frame.is_some() {
        assert!(buf.is_empty(), "left over: {:?}", buf);
    }
    Ok(frame)
}

fn decoded(input: &[u8]) -> Frame {
    decode_all(input).expect("valid").expect("complete")
}

fn encoded(frame: &Frame, protocol: Protocol) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode::encode(frame, protocol, &mut out);
    out.to_vec()
}

/// Every prefix of a valid frame is "need more", and every split into two reads decodes the
/// same frame through one resumable decoder.
fn assert_streams(input: &[u8], expected: &Frame) {
    for cut in 0..input.len() {
        assert_eq!(
            decode_all(&input[..cut]),
            Ok(None),
            "prefix {cut} of {input:?}"
        );
        let mut decoder = FrameDecoder::default();
        let mut buf = BytesMut::from(&input[..cut]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.extend_from_slice(&input[cut..]);
        assert_eq!(
            decoder.decode(&mut buf).as_ref(),
            Ok(&Some(expected.clone())),
            "split at {cut}"
        );
        assert!(buf.is_empty());
    }
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

#[test]
fn every_type_decodes_and_encodes_back_in_resp3() {
    let cases: Vec<(&[u8], Frame)> = vec![
        (b"+OK\r\n", Frame::Simple(b("OK"))),
        (b"+\r\n", Frame::Simple(b(""))),
        (b"-ERR oops\r\n", Frame::Error(b("ERR oops"))),
        (b":0\r\n", Frame::Integer(0)),
        (b":-9223372036854775808\r\n", Frame::Integer(i64::MIN)),
        (b":9223372036854775807\r\n", Frame::Integer(i64::MAX)),
        (b"$5\r\nhello\r\n", Frame::Bulk(b("hello"))),
        (b"$0\r\n\r\n", Frame::Bulk(b(""))),
        (b"$4\r\na\r\nb\r\n", Frame::Bulk(b("a\r\nb"))),
        (b"*0\r\n", Frame::Array(vec![])),
        (
            b"*2\r\n$1\r\na\r\n:1\r\n",
            Frame::Array(vec![Frame::Bulk(b("a")), Frame::Integer(1)]),
        ),
        (b"_\r\n", Frame::Null),
        (b"#t\r\n", Frame::Boolean(true)),
        (b"#f\r\n", Frame::Boolean(false)),
        (b",1.5\r\n", Frame::Double(1.5)),
        (b",inf\r\n", Frame::Double(f64::INFINITY)),
        (b",-inf\r\n", Frame::Double(f64::NEG_INFINITY)),
        (b",nan\r\n", Frame::Double(f64::NAN)),
        (
            b"(3492890328409238509324850943850943825024385\r\n",
            Frame::BigNumber(b("3492890328409238509324850943850943825024385")),
        ),
        (b"(-12\r\n", Frame::BigNumber(b("-12"))),
        (
            b"!21\r\nSYNTAX invalid syntax\r\n",
            Frame::BulkError(b("SYNTAX invalid syntax")),
        ),
        (
            b"=15\r\ntxt:Some string\r\n",
            Frame::Verbatim {
                format: *b"txt",
                text: b("Some string"),
            },
        ),
        (
            b"%2\r\n+a\r\n:1\r\n+b\r\n_\r\n",
            Frame::Map(vec![
                (Frame::Simple(b("a")), Frame::Integer(1)),
                (Frame::Simple(b("b")), Frame::Null),
            ]),
        ),
        (b"~1\r\n+x\r\n", Frame::Set(vec![Frame::Simple(b("x"))])),
        (
            b"|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n",
            Frame::Attribute {
                attributes: vec![(Frame::Simple(b("ttl")), Frame::Integer(3600))],
                data: Box::new(Frame::Bulk(b("v"))),
            },
        ),
        (
            b">2\r\n+message\r\n$2\r\nhi\r\n",
            Frame::Push(vec![Frame::Simple(b("message")), Frame::Bulk(b("hi"))]),
        ),
        (
            b"*2\r\n*1\r\n%0\r\n~0\r\n",
            Frame::Array(vec![
                Frame::Array(vec![Frame::Map(vec![])]),
                Frame::Set(vec![]),
            ]),
        ),
    ];
    for (wire, frame) in cases {
        assert_eq!(decoded(wire), frame, "{}", String::from_utf8_lossy(wire));
        assert_eq!(encoded(&frame, Protocol::Resp3), wire, "{frame:?}");
        assert_streams(wire, &frame);
    }
}

#[test]
fn resp2_nulls_decode_apart_and_become_resp3_null() {
    assert_eq!(decoded(b"$-1\r\n"), Frame::NullBulk);
    assert_eq!(decoded(b"*-1\r\n"), Frame::NullArray);
    assert_eq!(encoded(&Frame::NullBulk, Protocol::Resp2), b"$-1\r\n");
    assert_eq!(encoded(&Frame::NullArray, Protocol::Resp2), b"*-1\r\n");
    assert_eq!(encoded(&Frame::Null, Protocol::Resp2), b"$-1\r\n");
    for null in [Frame::NullBulk, Frame::NullArray, Frame::Null] {
        assert_eq!(encoded(&null, Protocol::Resp3), b"_\r\n");
    }
}

#[test]
fn resp3_types_go_down_to_resp2_as_redis_does() {
    let cases: Vec<(Frame, &[u8])> = vec![
        (
            Frame::Map(vec![(Frame::bulk("k"), Frame::Integer(1))]),
            b"*2\r\n$1\r\nk\r\n:1\r\n",
        ),
        (Frame::Set(vec![Frame::bulk("m")]), b"*1\r\n$1\r\nm\r\n"),
        (Frame::Boolean(true), b":1\r\n"),
        (Frame::Boolean(false), b":0\r\n"),
        (Frame::Double(1.5), b"$3\r\n1.5\r\n"),
        (Frame::Double(0.1), b"$19\r\n0.10000000000000001\r\n"),
        (Frame::Double(f64::INFINITY), b"$3\r\ninf\r\n"),
        (Frame::Double(f64::NEG_INFINITY), b"$4\r\n-inf\r\n"),
        (Frame::BigNumber(b("123")), b"$3\r\n123\r\n"),
        (Frame::BulkError(b("ERR a\nb")), b"-ERR a b\r\n"),
        (
            Frame::Verbatim {
                format: *b"txt",
                text: b("hi"),
            },
            b"$2\r\nhi\r\n",
        ),
        (
            Frame::Push(vec![Frame::bulk("message")]),
            b"*1\r\n$7\r\nmessage\r\n",
        ),
        (
            Frame::Attribute {
                attributes: vec![(Frame::simple("a"), Frame::Integer(1))],
                data: Box::new(Frame::Integer(2)),
            },
            b":2\r\n",
        ),
    ];
    for (frame, wire) in cases {
        assert_eq!(encoded(&frame, Protocol::Resp2), wire, "{frame:?}");
    }
}

#[test]
fn streamed_strings_and_aggregates_decode() {
    let cases: Vec<(&[u8], Frame)> = vec![
        (
            b"$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n",
            Frame::Bulk(b("Hello word")),
        ),
        (b"$?\r\n;0\r\n", Frame::Bulk(b(""))),
        (
            b"*?\r\n:1\r\n:2\r\n.\r\n",
            Frame::Array(vec![Frame::Integer(1), Frame::Integer(2)]),
        ),
        (b"*?\r\n.\r\n", Frame::Array(vec![])),
        (
            b"%?\r\n+a\r\n:1\r\n.\r\n",
            Frame::Map(vec![(Frame::simple("a"), Frame::Integer(1))]),
        ),
        (
            b"~?\r\n*?\r\n$?\r\n;1\r\nx\r\n;0\r\n.\r\n.\r\n",
            Frame::Set(vec![Frame::Array(vec![Frame::bulk("x")])]),
        ),
    ];
    for (wire, frame) in cases {
        assert_eq!(decoded(wire), frame);
        assert_streams(wire, &frame);
    }
}

#[test]
fn bulk_strings_are_slices_of_the_read_buffer() {
    let mut buf = BytesMut::from(&b"*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n"[..]);
    let start = buf.as_ptr() as usize;
    let end = start + buf.len();
    let Some(Frame::Array(items)) = decode_frame(&mut buf, &Limits::default()).unwrap() else {
        panic!("expected an array");
    };
    for item in items {
        let Frame::Bulk(bytes) = item else {
            panic!("expected a bulk")
        };
        let at = bytes.as_ptr() as usize;
        assert!(at >= start && at < end, "bulk was copied");
    }
}

#[test]
fn pipelined_frames_come_out_one_at_a_time() {
    let mut buf = BytesMut::from(&b"+a\r\n:1\r\n$1\r\nx\r\n+b"[..]);
    let mut decoder = FrameDecoder::default();
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Frame::simple("a"))));
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Frame::Integer(1))));
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Frame::bulk("x"))));
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    buf.extend_from_slice(b"\r\n");
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Frame::simple("b"))));
}

#[test]
fn malformed_frames_are_errors() {
    use ProtocolError::*;
    let cases: Vec<(&[u8], ProtocolError)> = vec![
        (b"?\r\n", InvalidFrameType(b'?')),
        (b":abc\r\n", InvalidInteger),
        (b":1.5\r\n", InvalidInteger),
        (b":99999999999999999999\r\n", InvalidInteger),
        (b"$abc\r\n", InvalidBulkLength),
        (b"$-2\r\n", InvalidBulkLength),
        (b"$3\r\nabcde\r\n", ExpectedCrlf),
        (b"*x\r\n", InvalidMultibulkLength),
        (b"*-2\r\n", InvalidMultibulkLength),
        (b"%-1\r\n", InvalidMultibulkLength),
        (b"|?\r\n", InvalidMultibulkLength),
        (b"#x\r\n", InvalidBoolean),
        (b",abc\r\n", InvalidDouble),
        (b"(12a\r\n", InvalidBigNumber),
        (b"(\r\n", InvalidBigNumber),
        (b"=3\r\ntxt\r\n", InvalidVerbatim),
        (b"=5\r\ntxt-x\r\n", InvalidVerbatim),
        (b"_x\r\n", ExpectedCrlf),
        (b".\r\n", InvalidStream),
        (b";3\r\nabc\r\n", InvalidStream),
        (b"$?\r\n+a\r\n", InvalidStream),
        (b"*1\r\n.\r\n", InvalidStream),
        (b"%?\r\n+a\r\n.\r\n", InvalidStream),
        (b"!-1\r\n", InvalidBulkLength),
    ];
    for (wire, error) in cases {
        assert_eq!(
            decode_all(wire),
            Err(error.clone()),
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[test]
fn limits_are_enforced_before_waiting_for_data() {
    let limits = Limits {
        max_bulk_len: 10,
        max_array_len: 3,
        max_depth: 2,
        max_inline_len: 16,
    };
    let check = |wire: &[u8], expected: Result<Option<Frame>, ProtocolError>| {
        let mut buf = BytesMut::from(wire);
        assert_eq!(
            decode_frame(&mut buf, &limits),
            expected,
            "{}",
            String::from_utf8_lossy(wire)
        );
    };
    // A declared length over the limit fails at once, before any payload has arrived.
    check(b"$11\r\n", Err(ProtocolError::InvalidBulkLength));
    check(b"$10\r\n", Ok(None));
    check(b"*4\r\n", Err(ProtocolError::InvalidMultibulkLength));
    check(b"*3\r\n", Ok(None));
    check(b"*1\r\n*1\r\n*1\r\n", Err(ProtocolError::TooDeep));
    check(
        b"*1\r\n*1\r\n:1\r\n",
        Ok(Some(Frame::Array(vec![Frame::Array(vec![
            Frame::Integer(1),
        ])]))),
    );
    // A header that never ends is cut off at the inline limit.
    check(
        b"$11111111111111111111",
        Err(ProtocolError::TooBigBulkCount),
    );
    check(
        b"*11111111111111111111",
        Err(ProtocolError::TooBigMultibulkCount),
    );
    check(
        b"$?\r\n;6\r\nabcdef\r\n;5\r\nabcde\r\n",
        Err(ProtocolError::InvalidBulkLength),
    );
    check(
        b"*?\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n",
        Err(ProtocolError::InvalidMultibulkLength),
    );
}

#[test]
fn a_huge_declared_length_allocates_nothing() {
    // 512 MB declared, 5 bytes sent: the decoder must simply wait.
    let mut buf = BytesMut::from(&b"$536870912\r\nabcde"[..]);
    let capacity = buf.capacity();
    let mut decoder = FrameDecoder::default();
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(buf.capacity(), capacity);
    let mut buf = BytesMut::from(&b"*2147483647\r\n:1\r\n"[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
}

#[test]
fn error_texts_match_redis() {
    assert_eq!(
        ProtocolError::InvalidBulkLength.to_string(),
        "Protocol error: invalid bulk length"
    );
    assert_eq!(
        ProtocolError::InvalidMultibulkLength.to_string(),
        "Protocol error: invalid multibulk length"
    );
    assert_eq!(
        ProtocolError::UnbalancedQuotes.to_string(),
        "Protocol error: unbalanced quotes in request"
    );
    assert_eq!(
        ProtocolError::ExpectedBulk(b'x').to_string(),
        "Protocol error: expected '$', got 'x'"
    );
    assert_eq!(
        ProtocolError::TooBigInlineRequest.to_string(),
        "Protocol error: too big inline request"
    );
    assert_eq!(
        ProtocolError::TooBigMultibulkCount.to_string(),
        "Protocol error: too big mbulk count string"
    );
    assert_eq!(
        ProtocolError::TooBigBulkCount.to_string(),
        "Protocol error: too big bulk count string"
    );
}
