//! Response encoding: the status line and headers through the server's encoder, then
//! the body, into a write buffer that keeps its capacity as the connection's does.

use std::hint::black_box;

use bytes::BytesMut;
use carafe::Response;
use carafe::bench_api::Encoder;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn responses() -> Vec<(&'static str, Response)> {
    vec![
        // The `200 OK` fast path with the smallest body.
        ("plaintext", Response::text("Hello, World!")),
        (
            "json_with_headers",
            Response::new(&br#"{"id":42,"name":"carafe","tags":["web","mio"]}"#[..])
                .with_content_type("application/json")
                .with_header("Cache-Control", "no-store")
                .with_header("Vary", "Accept-Encoding"),
        ),
        // Not 200: the status line is built from the code and its reason.
        (
            "not_found",
            Response::html("<!doctype html><title>404 Not Found</title><h1>Not Found</h1>")
                .with_status(404),
        ),
        (
            "redirect_with_cookies",
            carafe::redirect("/dashboard")
                .with_header(
                    "Set-Cookie",
                    "session=eyJ1c2VyIjo0Mn0.ZkVxYg.c2ln; HttpOnly; Path=/",
                )
                .with_header("X-Frame-Options", "DENY")
                .with_header("Referrer-Policy", "strict-origin-when-cross-origin"),
        ),
        // A page-sized body: the copy dominates.
        ("html_16KiB", Response::html(vec![b'x'; 16 * 1024])),
    ]
}

fn encode(c: &mut Criterion) {
    let encoder = Encoder::new();
    let mut group = c.benchmark_group("encode");
    for (name, resp) in responses() {
        let mut out = BytesMut::with_capacity(64 * 1024);
        encoder.encode(&resp, &mut out);
        group.throughput(Throughput::Bytes(out.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                encoder.encode(black_box(&resp), &mut out);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
