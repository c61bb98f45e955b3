//! The whole request → response exchange of one keep-alive connection, without a socket:
//! parse, route, run the handler, encode. This is what the loop runs per read, so it is
//! the hot path that the parse, router and encode benches take apart.

use std::hint::black_box;

use bytes::BytesMut;
use carafe::bench_api::Exchange;
use carafe::{App, Request, Response};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod support;

/// The TechEmpower plaintext app.
fn app() -> App {
    let mut app = App::new();
    app.get("/plaintext", |_: &Request| Response::text("Hello, World!"));
    app
}

fn exchange(c: &mut Criterion) {
    let mut group = c.benchmark_group("exchange");
    let cases = [
        ("plaintext", support::SHORT.to_vec(), 1),
        // wrk's pipelining script sends 16 at once; all are answered in one call.
        ("plaintext_pipelined_16", support::SHORT.repeat(16), 16),
        ("browser", support::BROWSER.to_vec(), 1),
    ];
    for (name, mut input, requests) in cases {
        let mut conn = Exchange::new(app());
        // The write buffer keeps its capacity between reads, as the connection's does.
        let mut out = BytesMut::with_capacity(64 * 1024);
        assert_eq!(conn.advance(&mut input, &mut out), input.len());
        let answered = out.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count();
        assert_eq!(answered, requests, "{}", String::from_utf8_lossy(&out));
        group.throughput(Throughput::Elements(requests as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                conn.advance(black_box(&mut input), &mut out)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, exchange);
criterion_main!(benches);
