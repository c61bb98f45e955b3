//! `examples/blocking.rs` over real sockets: slow views on the pool, the loop free.
#![cfg(feature = "json")]

mod support;

#[path = "../examples/blocking.rs"]
#[allow(dead_code)]
mod blocking;

use std::io::{ErrorKind, Read};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

use support::{Reader, TestServer};

fn server() -> TestServer {
    static SEED: Once = Once::new();
    let path = std::env::temp_dir().join(format!(
        "carafe-example-blocking-{}.sqlite",
        std::process::id()
    ));
    SEED.call_once(|| blocking::Database::new(path.clone()).seed().unwrap());
    TestServer::start(blocking::app(blocking::Database::new(path)))
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}

#[test]
fn fast_is_answered_while_slow_sleeps_on_the_pool() {
    let server = server();
    let mut slow = Reader::new(server.connect());
    slow.send(&get("/slow"));
    thread::sleep(Duration::from_millis(100));
    let mut fast = Reader::new(server.connect());
    fast.send(&get("/fast"));
    assert_eq!(fast.response().unwrap().text(), "fast");
    // The slow answer has not come yet: fast went first.
    slow.stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let pending = slow.stream.read(&mut byte);
    assert!(
        matches!(&pending, Err(e) if e.kind() == ErrorKind::WouldBlock),
        "slow answered before fast: {pending:?}"
    );
    slow.stream.set_nonblocking(false).unwrap();
    assert_eq!(slow.response().unwrap().text(), "slept");
}

#[test]
fn a_hundred_slow_requests_take_one_round_not_a_hundred() {
    let server = server();
    let started = Instant::now();
    let mut readers: Vec<Reader> = (0..100).map(|_| Reader::new(server.connect())).collect();
    for reader in &mut readers {
        reader.send(&get("/slow"));
    }
    for reader in &mut readers {
        assert_eq!(reader.response().unwrap().text(), "slept");
    }
    let took = started.elapsed();
    // One round is two seconds; one after another would be two hundred.
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(3900),
        "{took:?}"
    );
}

#[test]
fn users_come_from_the_database_on_the_pool() {
    let server = server();
    let mut reader = Reader::new(server.connect());
    reader.send(&get("/db/users/7"));
    let resp = reader.response().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert_eq!(resp.text(), r#"{"id":7,"name":"user 7"}"#);
    reader.send(&get("/db/users/101"));
    let resp = reader.response().unwrap();
    assert_eq!(resp.status, 404);
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["id"], 101);
    reader.send(&get("/db/users/seven"));
    assert_eq!(reader.response().unwrap().status, 404);
}
