//! Server push over real sockets: response bodies fed from other threads
//! (`Response::channel`) and server-sent events (`Response::event_stream`).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use carafe::{App, BodySender, Event, EventSender, Request, Response, SendError};
use support::{Reader, TestServer};

/// An app whose `/push` hands each request's body sender to the test.
fn push_app(limit: usize) -> (App, Receiver<BodySender>) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let mut app = App::new();
    app.get("/push", move |_: &Request| {
        let (response, body) = Response::channel_with_limit(limit);
        tx.lock().unwrap().send(body).unwrap();
        response.with_content_type("text/plain")
    });
    app.get("/", |_: &Request| "root");
    (app, rx)
}

fn sender(rx: &Receiver<BodySender>) -> BodySender {
    rx.recv_timeout(Duration::from_secs(5))
        .expect("the view ran")
}

/// Reads until `needle` has arrived; returns everything read.
fn read_until(stream: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let n = stream.read(&mut chunk).expect("read");
        assert!(n > 0, "closed before {:?}", String::from_utf8_lossy(needle));
        // Only the new bytes (and a needle's length before them) can complete a match.
        let from = got.len().saturating_sub(needle.len());
        got.extend_from_slice(&chunk[..n]);
        if got[from..].windows(needle.len()).any(|w| w == needle) {
            return got;
        }
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn pushed_pieces_arrive_as_they_are_sent_and_the_connection_goes_on() {
    let (app, bodies) = push_app(64 * 1024);
    let server = TestServer::start(app);
    let mut stream = server.connect();
    stream
        .write_all(b"GET /push HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let body = sender(&bodies);
    let head = read_until(&mut stream, b"\r\n\r\n");
    let head = String::from_utf8_lossy(&head);
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    // Each piece is on the wire before the next is sent: streamed, not buffered.
    body.send("first").unwrap();
    read_until(&mut stream, b"5\r\nfirst\r\n");
    body.send("second").unwrap();
    read_until(&mut stream, b"6\r\nsecond\r\n");
    let clone = body.clone();
    drop(body);
    clone.send("third").unwrap();
    drop(clone);
    read_until(&mut stream, b"5\r\nthird\r\n0\r\n\r\n");
    let mut reader = Reader::new(stream);
    reader.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(reader.response().unwrap().text(), "root");
}

#[test]
fn the_sender_learns_the_client_went_away() {
    let (app, bodies) = push_app(64 * 1024);
    let server = TestServer::start(app);
    let mut stream = server.connect();
    stream
        .write_all(b"GET /push HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let body = sender(&bodies);
    body.send("hello").unwrap();
    read_until(&mut stream, b"hello");
    assert!(!body.is_closed());
    drop(stream);
    // Noticed without anything being sent: the closed reading side tells.
    wait_for("the closed flag", || body.is_closed());
    assert!(matches!(body.send("late"), Err(SendError::Closed(_))));
}

#[test]
fn a_client_that_does_not_read_fills_the_buffer_instead_of_memory() {
    let limit = 32 * 1024;
    let (app, bodies) = push_app(limit);
    let server = TestServer::start(app);
    let mut stream = server.connect();
    stream
        .write_all(b"GET /push HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let body = sender(&bodies);
    let piece = vec![b'p'; 4096];
    let mut sent = 0usize;
    let mut full = 0;
    // Far more than the socket buffers and the queue can hold together.
    for _ in 0..20_000 {
        match body.send(piece.clone()) {
            Ok(()) => sent += piece.len(),
            Err(SendError::Full(_)) => {
                full += 1;
                if full > 200 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(SendError::Closed(_)) => panic!("closed while the client is there"),
        }
        assert!(body.queued() <= limit);
    }
    assert!(full > 0, "never full after {sent} bytes");
    assert!(
        sent < 64 * 1024 * 1024,
        "{sent} bytes accepted for a client that reads nothing"
    );
    drop(body);
    // Everything accepted arrives, in order, once the client reads.
    let mut reader = Reader::new(stream);
    let resp = reader.response().unwrap();
    assert_eq!(resp.body.len(), sent);
    assert!(resp.body.iter().all(|b| *b == b'p'));
}

#[test]
fn a_quiet_stream_is_not_timed_out() {
    let (mut app, bodies) = push_app(64 * 1024);
    app.config_mut().write_timeout = Duration::from_millis(100);
    app.config_mut().keep_alive_timeout = Duration::from_millis(100);
    let server = TestServer::start(app);
    let mut stream = server.connect();
    stream
        .write_all(b"GET /push HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let body = sender(&bodies);
    read_until(&mut stream, b"\r\n\r\n");
    std::thread::sleep(Duration::from_millis(500));
    body.send("still here").unwrap();
    read_until(&mut stream, b"still here");
}

#[test]
fn http10_gets_a_body_that_ends_with_the_connection() {
    let (app, bodies) = push_app(64 * 1024);
    let server = TestServer::start(app);
    let mut stream = server.connect();
    stream.write_all(b"GET /push HTTP/1.0\r\n\r\n").unwrap();
    let body = sender(&bodies);
    body.send("one ").unwrap();
    body.send("two").unwrap();
    drop(body);
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(!text.contains("chunked"), "{text}");
    assert!(text.ends_with("\r\n\r\none two"), "{text}");
}

/// Subscribers of a clock: each gets its own sender, fed by one thread.
fn clock_app() -> (App, Arc<Mutex<Vec<EventSender>>>) {
    let subscribers: Arc<Mutex<Vec<EventSender>>> = Arc::default();
    let list = subscribers.clone();
    let mut app = App::new();
    app.get("/events", move |_: &Request| {
        let (response, events) = Response::event_stream();
        list.lock().unwrap().push(events);
        response
    });
    (app, subscribers)
}

fn subscribe(server: &TestServer) -> TcpStream {
    let mut stream = server.connect();
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .unwrap();
    let head = read_until(&mut stream, b"\r\n\r\n");
    assert!(String::from_utf8_lossy(&head).contains("text/event-stream"));
    stream
}

/// Reads events until `last` has arrived; returns their ids in order.
fn ids_until(stream: &mut TcpStream, last: u32) -> Vec<u32> {
    let text = read_until(stream, format!("id: {last}\n").as_bytes());
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .filter_map(|line| line.strip_prefix("id: "))
        .map(|id| id.parse().unwrap())
        .collect()
}

#[test]
fn a_hundred_subscribers_each_get_every_event_in_order() {
    let (app, subscribers) = clock_app();
    let server = TestServer::start(app);
    let mut streams: Vec<TcpStream> = (0..100).map(|_| subscribe(&server)).collect();
    wait_for("100 subscribers", || {
        subscribers.lock().unwrap().len() == 100
    });
    for n in 1..=20u32 {
        let event = Event::data(format!("tick {n}"))
            .event("tick")
            .id(&n.to_string())
            .encode();
        for events in subscribers.lock().unwrap().iter() {
            events.send_encoded(event.clone()).unwrap();
        }
    }
    for stream in &mut streams {
        assert_eq!(ids_until(stream, 20), (1..=20).collect::<Vec<_>>());
    }
}

#[test]
fn a_slow_subscriber_is_bounded_and_does_not_hold_up_the_others() {
    let (app, subscribers) = clock_app();
    let server = TestServer::start(app);
    let _slow = subscribe(&server); // never reads
    let mut fast = subscribe(&server);
    wait_for("2 subscribers", || subscribers.lock().unwrap().len() == 2);
    // 32 MiB in all: more than the kernel buffers a loopback socket, so the slow
    // subscriber's queue fills while the fast one keeps up.
    let payload = "x".repeat(32 * 1024);
    let mut slow_full = 0;
    for n in 1..=1000u32 {
        let event = Event::data(payload.clone()).id(&n.to_string()).encode();
        let list = subscribers.lock().unwrap();
        if let Err(SendError::Full(_)) = list[0].send_encoded(event.clone()) {
            slow_full += 1;
        }
        // The fast one is read as we go, so it must never be full for long.
        loop {
            match list[1].send_encoded(event.clone()) {
                Ok(()) => break,
                Err(SendError::Full(_)) => std::thread::sleep(Duration::from_millis(1)),
                Err(SendError::Closed(_)) => panic!("fast subscriber closed"),
            }
        }
        drop(list);
        if n % 10 == 0 {
            assert_eq!(*ids_until(&mut fast, n).last().unwrap(), n);
        }
    }
    assert!(slow_full > 0, "the slow subscriber never filled up");
}

/// `body` as one chunk of a chunked body.
fn chunk(body: &str) -> Vec<u8> {
    format!("{:x}\r\n{body}\r\n", body.len()).into_bytes()
}

#[test]
fn keep_alive_comments_are_comment_lines_on_the_wire() {
    let (app, subscribers) = clock_app();
    let server = TestServer::start(app);
    let mut stream = subscribe(&server);
    wait_for("the subscriber", || subscribers.lock().unwrap().len() == 1);
    let events = subscribers.lock().unwrap().pop().unwrap();
    // Each piece is read before the next is sent, so each arrives alone, as its own
    // chunk, at once: a keep-alive that waited in a buffer would keep nothing alive.
    events.comment("keep-alive").unwrap();
    assert_eq!(
        read_until(&mut stream, b"\n\n\r\n"),
        chunk(": keep-alive\n\n")
    );
    // A line break would end the comment and start a field: it is dropped.
    events.comment("not\r\ndata: forged").unwrap();
    assert_eq!(
        read_until(&mut stream, b"\n\n\r\n"),
        chunk(": notdata: forged\n\n")
    );
    events.comment("").unwrap();
    assert_eq!(read_until(&mut stream, b"\n\n\r\n"), chunk(": \n\n"));
    events.send(&Event::data("after")).unwrap();
    assert_eq!(
        read_until(&mut stream, b"\n\n\r\n"),
        chunk("data: after\n\n")
    );
    drop(events);
    assert_eq!(read_until(&mut stream, b"0\r\n\r\n"), b"0\r\n\r\n");
}
