//! Routing a percent-decoded path in apps of 10 and 100 rules: static and dynamic hits,
//! a miss (404) and a known path with the wrong method (405).

use std::hint::black_box;

use carafe::Method;
use carafe::bench_api::{Outcome, Router};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const GET: &[Method] = &[Method::GET];
const GET_POST: &[Method] = &[Method::GET, Method::POST];

/// The rules the cases hit, registered last so a bigger app cannot favour them.
const HIT: [(&str, &[Method]); 5] = [
    ("/plaintext", GET),
    ("/users/<int:id>", GET),
    ("/users/<int:id>/posts/<slug>", GET_POST),
    ("/api/items/<int:id>", GET),
    ("/static/<path:filename>", GET),
];

/// An app of `n` rules: filler shaped like a REST API and a site (many rules share the
/// `/api` and `/users` prefixes, so dynamic candidates pile up), then [`HIT`].
fn rules(n: usize) -> Vec<(String, &'static [Method])> {
    let mut rules: Vec<(String, &[Method])> = (0..n - HIT.len())
        .map(|i| match i % 5 {
            0 => (format!("/api/things{i}"), GET_POST),
            1 => (format!("/api/things{i}/<int:id>"), GET),
            2 => (format!("/users/<int:id>/setting{i}"), GET),
            3 => (format!("/pages/page{i}"), GET),
            _ => (format!("/blog/<int:year>/<slug>/part{i}"), GET),
        })
        .collect();
    rules.extend(
        HIT.iter()
            .map(|&(text, methods)| (text.to_owned(), methods)),
    );
    rules
}

fn route(c: &mut Criterion) {
    let cases = [
        ("static", Method::GET, "/plaintext", Outcome::Found(0)),
        ("int", Method::GET, "/users/12345", Outcome::Found(1)),
        (
            "two_vars",
            Method::GET,
            "/users/7/posts/hello-world",
            Outcome::Found(2),
        ),
        ("api_int", Method::GET, "/api/items/42", Outcome::Found(3)),
        (
            "path",
            Method::GET,
            "/static/css/site/main.css",
            Outcome::Found(4),
        ),
        ("miss_404", Method::GET, "/no/such/page", Outcome::NotFound),
        (
            "wrong_method_405",
            Method::DELETE,
            "/users/12345",
            Outcome::MethodNotAllowed,
        ),
    ];
    let mut group = c.benchmark_group("route");
    for n in [10, 100] {
        let rules = rules(n);
        let rules: Vec<(&str, &[Method])> = rules.iter().map(|(t, m)| (&**t, *m)).collect();
        let mut router = Router::new(&rules).expect("valid rules");
        for (name, method, path, expected) in &cases {
            // Indices of HIT rules are offset by the filler before them.
            let expected = match *expected {
                Outcome::Found(i) => Outcome::Found(n - HIT.len() + i),
                other => other,
            };
            assert_eq!(router.route(path, method).0, expected, "{path}");
            group.bench_function(BenchmarkId::new(*name, n), |b| {
                b.iter(|| router.route(black_box(path), method));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, route);
criterion_main!(benches);
