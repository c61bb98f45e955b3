//! `examples/sse.rs` with a real client on a socket: the clock, `Last-Event-ID`, the page.

mod support;

#[path = "../examples/sse.rs"]
#[allow(dead_code)]
mod sse;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{TestServer, roundtrip};

/// Subscribes, and returns the stream once the response head has arrived.
fn subscribe(server: &TestServer, last_event_id: Option<&str>) -> TcpStream {
    let mut stream = server.connect();
    let extra = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    write!(stream, "GET /events HTTP/1.1\r\nHost: x\r\n{extra}\r\n").unwrap();
    let head = read_until(&mut stream, "\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Content-Type: text/event-stream"), "{head}");
    stream
}

fn read_until(stream: &mut TcpStream, end: &str) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(end.as_bytes()) {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed");
        got.push(byte[0]);
    }
    String::from_utf8(got).unwrap()
}

/// The data of the next event, its chunk framing stripped.
fn next_event(stream: &mut TcpStream) -> String {
    let size = read_until(stream, "\r\n");
    let size = usize::from_str_radix(size.trim_end(), 16).unwrap();
    let mut data = vec![0u8; size + 2];
    stream.read_exact(&mut data).unwrap();
    data.truncate(size);
    String::from_utf8(data).unwrap()
}

#[test]
fn each_subscriber_counts_from_one() {
    let clock = sse::Clock::default();
    let server = TestServer::start(sse::app(clock.clone()));
    let mut first = subscribe(&server, None);
    clock.tick();
    clock.tick();
    let mut second = subscribe(&server, None);
    clock.tick();
    assert_eq!(next_event(&mut first), "event: tick\nid: 1\ndata: 1\n\n");
    assert_eq!(next_event(&mut first), "event: tick\nid: 2\ndata: 2\n\n");
    assert_eq!(next_event(&mut first), "event: tick\nid: 3\ndata: 3\n\n");
    assert_eq!(next_event(&mut second), "event: tick\nid: 1\ndata: 1\n\n");
}

#[test]
fn a_reconnecting_client_resumes_after_its_last_event_id() {
    let clock = sse::Clock::default();
    let server = TestServer::start(sse::app(clock.clone()));
    let mut stream = subscribe(&server, Some("41"));
    clock.tick();
    assert_eq!(next_event(&mut stream), "event: tick\nid: 42\ndata: 42\n\n");
}

#[test]
fn the_clock_thread_ticks_by_itself() {
    let clock = sse::Clock::default();
    clock.start(Duration::from_millis(20));
    let server = TestServer::start(sse::app(clock));
    let mut stream = subscribe(&server, None);
    for n in 1..=3 {
        assert_eq!(
            next_event(&mut stream),
            format!("event: tick\nid: {n}\ndata: {n}\n\n")
        );
    }
}

#[test]
fn the_page_listens_for_ticks() {
    let server = TestServer::start(sse::app(sse::Clock::default()));
    let resp = roundtrip(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 200);
    assert!(resp.text().contains("new EventSource(\"/events\")"));
    assert!(resp.text().contains("addEventListener(\"tick\""));
}
