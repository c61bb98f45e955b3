//! WebSocket frames: client frames decoded and unmasked in place through the protocol, as
//! the loop will read them, and server frames encoded into the write buffer.

use std::hint::black_box;

use bytes::BytesMut;
use carafe::bench_api::{WsConnection, ws_client_frames, ws_encode, ws_mask};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const SMALL: usize = 32;
const LARGE: usize = 64 * 1024;

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| b"a chat message! "[i % 16]).collect()
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_decode");
    for (name, text, len, count) in [
        ("binary_32B", false, SMALL, 1),
        ("binary_64KiB", false, LARGE, 1),
        ("64_binary_32B_in_one_read", false, SMALL, 64),
    ] {
        let mut input = ws_client_frames(text, &payload(len), count);
        let mut conn = WsConnection::new();
        assert_eq!(conn.advance(&mut input.clone()), (input.len(), len * count));
        group.throughput(Throughput::Bytes(input.len() as u64));
        // Unmasking in place toggles the payload; binary messages are delivered
        // whatever their bytes, so the same buffer serves every run.
        group.bench_function(name, |b| b.iter(|| conn.advance(black_box(&mut input))));
    }
    // Text is checked as UTF-8, so each run gets a fresh copy, made untimed.
    for (name, len, batch) in [
        ("text_32B", SMALL, BatchSize::SmallInput),
        ("text_64KiB", LARGE, BatchSize::LargeInput),
    ] {
        let input = ws_client_frames(true, &payload(len), 1);
        let mut conn = WsConnection::new();
        assert_eq!(conn.advance(&mut input.clone()), (input.len(), len));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| {
            b.iter_batched_ref(|| input.clone(), |buf| conn.advance(black_box(buf)), batch);
        });
    }
    group.finish();
}

fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_mask");
    let mut buf = payload(LARGE);
    group.throughput(Throughput::Bytes(LARGE as u64));
    group.bench_function("64KiB", |b| {
        b.iter(|| ws_mask(black_box(&mut buf), [1, 2, 3, 4]))
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_encode");
    for (name, text, len) in [("text_32B", true, SMALL), ("binary_64KiB", false, LARGE)] {
        let data = payload(len);
        let mut out = BytesMut::with_capacity(len + 16);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                ws_encode(&mut out, text, black_box(&data));
                out.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode, mask, encode);
criterion_main!(benches);
