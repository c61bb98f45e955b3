//! Chunked request bodies decoded in place, as the exchange decodes them after a head.

use std::hint::black_box;

use carafe::bench_api::decode_chunked;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const BODY_LEN: usize = 64 * 1024;

/// `BODY_LEN` bytes in chunks of `size`, every chunk with an extension (which the
/// decoder must skip), ending with two trailer fields.
fn encode(size: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..BODY_LEN).map(|i| b'a' + (i % 26) as u8).collect();
    let mut out = Vec::new();
    for chunk in data.chunks(size) {
        out.extend_from_slice(format!("{:x};part=\"x\"\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\nServer-Timing: db;dur=53\r\nDigest: sha-256=abc\r\n\r\n");
    out
}

fn chunked(c: &mut Criterion) {
    let mut group = c.benchmark_group("chunked");
    // Small chunks stress the per-byte framing states; large ones the data copy.
    for (name, size) in [
        ("64KiB_in_64B_chunks", 64),
        ("64KiB_in_16KiB_chunks", 16 * 1024),
    ] {
        let encoded = encode(size);
        assert_eq!(
            decode_chunked(&mut encoded.clone(), usize::MAX),
            Some((encoded.len(), BODY_LEN))
        );
        group.throughput(Throughput::Bytes(encoded.len() as u64));
        group.bench_function(name, |b| {
            // Decoding overwrites its input: each run gets a fresh copy, made untimed.
            b.iter_batched_ref(
                || encoded.clone(),
                |buf| decode_chunked(black_box(buf), usize::MAX),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, chunked);
criterion_main!(benches);
