//! kv-resp against the `redis-protocol` crate, side by side in one run.
//!
//! `cargo bench -p kv-resp --bench codec`
//!
//! - `decode_pipeline`: a buffer holding a pipeline of 1000 `SET key:NNNNNN <32-byte value>`
//!   multibulk requests, decoded until the buffer is empty. Each iteration starts from a fresh
//!   copy of the buffer, made outside the timed section.
//! - `encode_replies`: typical replies encoded into a reused buffer, cleared each iteration.
//!   The frames are built once, outside the timed section, for both crates.
//!
//! Throughput is reported in decimal MB/s of the pipeline, or of the encoded reply; see
//! BENCHMARKS.md for commands/s and elements/s derived from the same timings.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use kv_resp::{encode, Frame, FrameDecoder, Limits, Protocol, RequestDecoder};
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::encode::extend_encode;
use redis_protocol::resp2::types::BytesFrame;

/// Commands in the pipeline.
const COMMANDS: usize = 1000;

/// `*3\r\n$3\r\nSET\r\n$10\r\nkey:NNNNNN\r\n$32\r\n<32 bytes>\r\n`, `COMMANDS` times.
fn pipeline() -> BytesMut {
    let value = b"value-of-32-bytes-abcdefghijklmn";
    assert_eq!(value.len(), 32);
    let mut buf = BytesMut::new();
    for i in 0..COMMANDS {
        let key = format!("key:{i:06}");
        buf.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
        buf.extend_from_slice(format!("${}\r\n{key}\r\n", key.len()).as_bytes());
        buf.extend_from_slice(format!("${}\r\n", value.len()).as_bytes());
        buf.extend_from_slice(value);
        buf.extend_from_slice(b"\r\n");
    }
    buf
}

/// Decodes every request in `buf` with kv's server-side decoder, each argument a `Bytes` split
/// off the buffer into one reused vector (`decode_into`); returns how many.
fn kv_requests(mut buf: BytesMut) -> usize {
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut args = Vec::new();
    let mut count = 0;
    while decoder
        .decode_into(&mut buf, &mut args)
        .expect("a valid pipeline")
    {
        black_box(&args);
        count += 1;
    }
    count
}

/// Up to 8 arguments kept on the stack, as the server keeps a request's (`ArgSlices`).
#[derive(Default)]
struct StackArgs<'a> {
    args: [&'a [u8]; 8],
    len: usize,
}

impl<'a> Extend<&'a [u8]> for StackArgs<'a> {
    fn extend<I: IntoIterator<Item = &'a [u8]>>(&mut self, iter: I) {
        for arg in iter {
            if let Some(slot) = self.args.get_mut(self.len) {
                *slot = arg;
            }
            self.len += 1;
        }
    }
}

/// Decodes every request in `buf` in place (`decode_borrowed`), as the server does: each
/// argument a slice of the buffer; returns how many.
fn kv_requests_in_place(buf: BytesMut) -> usize {
    let mut decoder = RequestDecoder::new(Limits::default());
    let mut at = 0;
    let mut count = 0;
    loop {
        let mut args = StackArgs::default();
        let decoded = decoder
            .decode_borrowed(&buf[at..], &mut args)
            .expect("a valid pipeline");
        at += decoded.consumed;
        if !decoded.complete {
            return count;
        }
        black_box(&args.args[..args.len.min(8)]);
        count += 1;
    }
}

/// Decodes every frame in `buf` with kv's generic frame decoder; returns how many.
fn kv_frames(mut buf: BytesMut) -> usize {
    let mut decoder = FrameDecoder::new(Limits::default());
    let mut count = 0;
    while let Some(frame) = decoder.decode(&mut buf).expect("a valid pipeline") {
        black_box(&frame);
        count += 1;
    }
    count
}

/// Decodes every frame in `buf` with redis-protocol's RESP2 decoder; returns how many.
fn redis_protocol_frames(mut buf: BytesMut) -> usize {
    let mut count = 0;
    while let Some((frame, _, _)) = decode_bytes_mut(&mut buf).expect("a valid pipeline") {
        black_box(&frame);
        count += 1;
    }
    count
}

fn decode_pipeline(c: &mut Criterion) {
    let input = pipeline();
    // Every decoder must see the whole pipeline, and nothing else.
    assert_eq!(kv_requests(input.clone()), COMMANDS);
    assert_eq!(kv_requests_in_place(input.clone()), COMMANDS);
    assert_eq!(kv_frames(input.clone()), COMMANDS);
    assert_eq!(redis_protocol_frames(input.clone()), COMMANDS);

    let mut group = c.benchmark_group("decode_pipeline");
    group.throughput(Throughput::BytesDecimal(input.len() as u64));
    group.bench_function("kv_request_decoder", |b| {
        b.iter_batched(|| input.clone(), kv_requests, BatchSize::SmallInput)
    });
    group.bench_function("kv_request_decoder_in_place", |b| {
        b.iter_batched(
            || input.clone(),
            kv_requests_in_place,
            BatchSize::SmallInput,
        )
    });
    group.bench_function("kv_frame_decoder", |b| {
        b.iter_batched(|| input.clone(), kv_frames, BatchSize::SmallInput)
    });
    group.bench_function("redis_protocol", |b| {
        b.iter_batched(
            || input.clone(),
            redis_protocol_frames,
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// One reply, as each crate represents it.
struct Reply {
    name: &'static str,
    kv: Frame,
    redis_protocol: BytesFrame,
}

fn replies() -> Vec<Reply> {
    let bulk32 = Bytes::from_static(b"0123456789abcdef0123456789abcdef");
    let items: Vec<Bytes> = (0..10)
        .map(|i| Bytes::from(format!("element-{i:08}")))
        .collect();
    assert!(items.iter().all(|item| item.len() == 16));
    vec![
        Reply {
            name: "ok",
            kv: Frame::simple("OK"),
            redis_protocol: BytesFrame::SimpleString(Bytes::from_static(b"OK")),
        },
        Reply {
            name: "bulk_32",
            kv: Frame::Bulk(bulk32.clone()),
            redis_protocol: BytesFrame::BulkString(bulk32),
        },
        Reply {
            name: "integer",
            kv: Frame::Integer(1_234_567),
            redis_protocol: BytesFrame::Integer(1_234_567),
        },
        Reply {
            name: "array_10x16",
            kv: Frame::Array(items.iter().cloned().map(Frame::Bulk).collect()),
            redis_protocol: BytesFrame::Array(
                items.into_iter().map(BytesFrame::BulkString).collect(),
            ),
        },
    ]
}

fn encode_replies(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_replies");
    for reply in replies() {
        // Both crates must write the same bytes.
        let mut kv_bytes = BytesMut::new();
        encode::encode(&reply.kv, Protocol::Resp2, &mut kv_bytes);
        let mut rp_bytes = BytesMut::new();
        extend_encode(&mut rp_bytes, &reply.redis_protocol, false).expect("encodable");
        assert_eq!(kv_bytes, rp_bytes, "{}", reply.name);

        group.throughput(Throughput::BytesDecimal(kv_bytes.len() as u64));
        let mut buf = BytesMut::with_capacity(1024);
        group.bench_with_input(BenchmarkId::new("kv", reply.name), &reply.kv, |b, frame| {
            b.iter(|| {
                buf.clear();
                encode::encode(black_box(frame), Protocol::Resp2, &mut buf);
                black_box(buf.len())
            })
        });
        group.bench_with_input(
            BenchmarkId::new("redis_protocol", reply.name),
            &reply.redis_protocol,
            |b, frame| {
                b.iter(|| {
                    buf.clear();
                    let written =
                        extend_encode(&mut buf, black_box(frame), false).expect("encodable");
                    black_box(written)
                })
            },
        );
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode_pipeline, encode_replies
}
criterion_main!(benches);
