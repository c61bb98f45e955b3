//! Request-head parsing: httparse plus the framing and connection checks, through the
//! same header slots the exchange uses.

use std::hint::black_box;

use carafe::bench_api::{Limits, parse_head};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod support;

fn parse(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("parse_head");
    for (name, head) in [("short", support::SHORT), ("browser", support::BROWSER)] {
        // Check once that the whole head parses, so the bench never measures a refusal.
        assert_eq!(
            parse_head(head, &limits).map(|(len, _)| len),
            Some(head.len())
        );
        group.throughput(Throughput::Bytes(head.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| parse_head(black_box(head), &limits));
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
