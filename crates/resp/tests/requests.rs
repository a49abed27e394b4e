//! Requests as a server reads them: multibulk, inline, pipelined, split and malformed.

use bytes::BytesMut;
use kv_resp::{Limits, ProtocolError, RequestDecoder};

fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// Decodes every request in `input`, in one buffer, checking that decoding in place finds the
/// same requests (or the same error).
fn decode_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
    let mut decoder = RequestDecoder::default();
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    let taken = (|| {
        while let Some(request) = decoder.decode(&mut buf)? {
            out.push(request.iter().map(|a| a.to_vec()).collect());
        }
        Ok(out)
    })();
    assert_eq!(taken, decode_all_borrowed(input), "decoded in place");
    taken
}

/// Decodes every request in `input` with `decode_borrowed`, as a server executing requests
/// in place does: the consumed bytes are dropped after each call.
fn decode_all_borrowed(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
    let mut decoder = RequestDecoder::default();
    let mut at = 0;
    let mut out = Vec::new();
    loop {
        let mut args: Vec<&[u8]> = Vec::new();
        let decoded = decoder.decode_borrowed(&input[at..], &mut args)?;
        at += decoded.consumed;
        if !decoded.complete {
            assert!(args.is_empty());
            return Ok(out);
        }
        out.push(args.iter().map(|a| a.to_vec()).collect());
    }
}

#[test]
fn multibulk_and_inline_pipelines() {
    let input = b"*1\r\n$4\r\nPING\r\nSET a \"b c\"\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nECHO x\n";
    assert_eq!(
        decode_all(input).unwrap(),
        vec![
            args(&["PING"]),
            args(&["SET", "a", "b c"]),
            args(&["GET", "a"]),
            args(&["ECHO", "x"])
        ]
    );
}

#[test]
fn empty_requests_are_skipped() {
    let input = b"*0\r\n*-1\r\n\r\n   \r\n*1\r\n$4\r\nPING\r\n";
    assert_eq!(decode_all(input).unwrap(), vec![args(&["PING"])]);
}

#[test]
fn binary_arguments_survive() {
    let input = b"*2\r\n$3\r\nGET\r\n$4\r\n\0\r\n\xff\r\n";
    assert_eq!(
        decode_all(input).unwrap(),
        vec![vec![b"GET".to_vec(), b"\0\r\n\xff".to_vec()]]
    );
}

#[test]
fn every_split_point_gives_the_same_requests() {
    let input: &[u8] =
        b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nINCR \"x\"\r\n*1\r\n$4\r\nPING\r\n";
    let expected = decode_all(input).unwrap();
    assert_eq!(expected.len(), 3);
    for cut in 0..=input.len() {
        let mut decoder = RequestDecoder::default();
        let mut buf = BytesMut::from(&input[..cut]);
        let mut got = Vec::new();
        while let Some(request) = decoder.decode(&mut buf).unwrap() {
            got.push(request.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
        }
        buf.extend_from_slice(&input[cut..]);
        while let Some(request) = decoder.decode(&mut buf).unwrap() {
            got.push(request.iter().map(|a| a.to_vec()).collect());
        }
        assert_eq!(got, expected, "split at {cut}");
        assert!(buf.is_empty());
    }
}

#[test]
fn byte_by_byte_arrival() {
    let input: &[u8] = b"*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n";
    let mut decoder = RequestDecoder::default();
    let mut buf = BytesMut::new();
    let mut got = None;
    for (i, byte) in input.iter().enumerate() {
        buf.extend_from_slice(&[*byte]);
        if let Some(request) = decoder.decode(&mut buf).unwrap() {
            assert_eq!(i, input.len() - 1, "complete too early");
            got = Some(request);
        }
    }
    assert_eq!(got.unwrap(), [&b"ECHO"[..], b"hello world"]);
}

#[test]
fn malformed_requests_get_redis_errors() {
    use ProtocolError::*;
    let cases: Vec<(&[u8], ProtocolError)> = vec![
        (b"*x\r\n", InvalidMultibulkLength),
        (b"*2147483648\r\n", InvalidMultibulkLength),
        (b"*1\r\n:1\r\n", ExpectedBulk(b':')),
        (b"*1\r\nx", ExpectedBulk(b'x')),
        (b"*1\r\n$x\r\n", InvalidBulkLength),
        (b"*1\r\n$-1\r\n", InvalidBulkLength),
        (b"*1\r\n$536870913\r\n", InvalidBulkLength),
        (b"*1\r\n$3\r\nabcd\r\n", ExpectedCrlf),
        (b"SET a \"b\r\n", UnbalancedQuotes),
        (b"SET a 'b'c\r\n", UnbalancedQuotes),
    ];
    for (input, error) in cases {
        assert_eq!(
            decode_all(input),
            Err(error.clone()),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn unterminated_headers_and_inline_lines_are_bounded() {
    let big = vec![b'a'; 64 * 1024 + 1];
    assert_eq!(decode_all(&big), Err(ProtocolError::TooBigInlineRequest));
    // Exactly at the limit Redis still waits for the newline.
    assert_eq!(decode_all(&big[1..]), Ok(vec![]));

    let mut header = b"*".to_vec();
    header.extend(std::iter::repeat_n(b'1', 64 * 1024 + 1));
    assert_eq!(
        decode_all(&header),
        Err(ProtocolError::TooBigMultibulkCount)
    );
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(std::iter::repeat_n(b'1', 64 * 1024 + 1));
    assert_eq!(decode_all(&bulk), Err(ProtocolError::TooBigBulkCount));
}

#[test]
fn declared_sizes_reserve_nothing_up_front() {
    // Two billion arguments declared, one sent: the decoder waits without reserving them.
    let mut decoder = RequestDecoder::default();
    let mut buf = BytesMut::from(&b"*2147483647\r\n$1\r\na\r\n"[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\nabc"[..]);
    let capacity = buf.capacity();
    assert_eq!(RequestDecoder::default().decode(&mut buf), Ok(None));
    assert_eq!(buf.capacity(), capacity);
}

#[test]
fn limits_can_be_tightened() {
    let limits = Limits {
        max_bulk_len: 4,
        max_array_len: 2,
        ..Limits::default()
    };
    let mut decoder = RequestDecoder::new(limits);
    let mut buf = BytesMut::from(&b"*1\r\n$5\r\nhello\r\n"[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Err(ProtocolError::InvalidBulkLength)
    );
    let mut buf = BytesMut::from(&b"*3\r\n"[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Err(ProtocolError::InvalidMultibulkLength)
    );
    // The decoder is usable again after an error.
    let mut buf = BytesMut::from(&b"*2\r\n$4\r\nECHO\r\n$4\r\nhey!\r\n"[..]);
    assert_eq!(
        decoder.decode(&mut buf).unwrap().unwrap(),
        [&b"ECHO"[..], b"hey!"]
    );
}

#[test]
fn decode_into_reuses_the_callers_vector() {
    let input: &[u8] =
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\nPING x\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4";
    let mut decoder = RequestDecoder::default();
    let mut buf = BytesMut::from(input);
    // Whatever the vector held is replaced, never appended to.
    let mut request = vec![bytes::Bytes::from_static(b"stale")];
    let mut got = Vec::new();
    while decoder.decode_into(&mut buf, &mut request).unwrap() {
        got.push(request.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
    }
    assert!(request.is_empty(), "an incomplete request leaves it empty");
    assert_eq!(
        got,
        vec![
            args(&["SET", "k", ""]),
            args(&["PING", "x"]),
            args(&["GET", "k"])
        ]
    );
    assert_eq!(
        &buf[..],
        b"*1\r\n$4",
        "the incomplete request stays buffered"
    );
    buf.extend_from_slice(b"\r\nPING\r\n");
    assert!(decoder.decode_into(&mut buf, &mut request).unwrap());
    assert_eq!(request, vec![bytes::Bytes::from_static(b"PING")]);
    assert!(buf.is_empty());
}

#[test]
fn decoding_in_place_resumes_at_every_split_point() {
    let input: &[u8] = b"\r\n*0\r\n*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nINCR \"x\"\r\n*1\r\n$4\r\nPING\r\n";
    let expected = decode_all(input).unwrap();
    assert_eq!(expected.len(), 3);
    for cut in 0..=input.len() {
        // What a connection keeps: the bytes received and not yet reported consumed.
        let mut kept = Vec::new();
        let mut decoder = RequestDecoder::default();
        let mut got = Vec::new();
        for part in [&input[..cut], &input[cut..]] {
            kept.extend_from_slice(part);
            loop {
                let mut args: Vec<&[u8]> = Vec::new();
                let decoded = decoder.decode_borrowed(&kept, &mut args).unwrap();
                let request: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
                kept.drain(..decoded.consumed);
                if !decoded.complete {
                    break;
                }
                got.push(request);
            }
        }
        assert_eq!(got, expected, "split at {cut}");
        assert!(kept.is_empty(), "split at {cut}");
    }
}

#[test]
fn decoding_in_place_reports_skipped_empty_requests_as_consumed() {
    // Empty requests before an incomplete one can be dropped at once: a client cannot make
    // the server rescan them on every read.
    let mut decoder = RequestDecoder::default();
    let input: &[u8] = b"\r\n\r\n*0\r\n*-1\r\n*1\r\n$4\r\nPI";
    let mut args: Vec<&[u8]> = Vec::new();
    let decoded = decoder.decode_borrowed(input, &mut args).unwrap();
    assert_eq!(
        decoded,
        kv_resp::Decoded {
            consumed: 13,
            complete: false
        }
    );
    assert!(args.is_empty());
    let rest = b"*1\r\n$4\r\nPING\r\n";
    let mut args: Vec<&[u8]> = Vec::new();
    let decoded = decoder.decode_borrowed(rest, &mut args).unwrap();
    assert_eq!(
        decoded,
        kv_resp::Decoded {
            consumed: rest.len(),
            complete: true
        }
    );
    assert_eq!(args, [&b"PING"[..]]);
}

#[test]
fn a_reset_decoder_starts_a_new_request() {
    let mut decoder = RequestDecoder::default();
    // Half a request: the decoder keeps its place.
    let mut args: Vec<&[u8]> = Vec::new();
    let half = b"*2\r\n$3\r\nGET\r\n$5\r\nke";
    let decoded = decoder.decode_borrowed(half, &mut args).unwrap();
    assert!(!decoded.complete);
    // Reset, it decodes a buffer that starts at another request.
    decoder.reset();
    let mut args: Vec<&[u8]> = Vec::new();
    let decoded = decoder
        .decode_borrowed(b"*1\r\n$4\r\nPING\r\n", &mut args)
        .unwrap();
    assert!(decoded.complete);
    assert_eq!(args, vec![&b"PING"[..]]);
}
