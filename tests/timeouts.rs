//! Every timeout, with short configured values, over real sockets. Bounds are generous:
//! these tests prove that each deadline fires, not how precisely.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread::sleep;
use std::time::{Duration, Instant};

use carafe::{App, Config, Request, Response};
use support::{Reader, TestServer, roundtrip};

fn app(config: Config) -> App {
    let mut app = App::new().with_config(config);
    app.get("/", |_: &Request| "ok");
    app.post("/echo", |req: &Request| Response::new(req.body().to_vec()));
    app.get("/huge", |_: &Request| Response::new(vec![b'h'; 64 << 20]));
    app
}

/// Reads until EOF or reset; returns what arrived.
fn read_to_close(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("not closed within {limit:?}: {e}"),
        }
    }
}

#[test]
fn a_slowloris_head_gets_408_and_others_are_served_meanwhile() {
    let server = TestServer::start(app(Config {
        head_timeout: Duration::from_millis(400),
        ..Config::default()
    }));
    let mut slow = server.connect();
    slow.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    // Keep trickling header lines, each well within any per-read timeout.
    let mut i = 0;
    let answer = loop {
        if slow.write_all(format!("X-{i}: y\r\n").as_bytes()).is_err() {
            break read_to_close(&mut slow, Duration::from_secs(5));
        }
        assert_eq!(
            roundtrip(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").text(),
            "ok"
        );
        sleep(Duration::from_millis(50));
        i += 1;
        if started.elapsed() > Duration::from_secs(2) {
            break read_to_close(&mut slow, Duration::from_secs(5));
        }
    };
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_stalled_body_gets_408() {
    let server = TestServer::start(app(Config {
        body_timeout: Duration::from_millis(300),
        ..Config::default()
    }));
    let mut conn = server.connect();
    conn.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let answer = read_to_close(&mut conn, Duration::from_secs(5));
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408 "));
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let server = TestServer::start(app(Config {
        keep_alive_timeout: Duration::from_millis(300),
        ..Config::default()
    }));
    let mut used = Reader::new(server.connect());
    used.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(used.response().unwrap().text(), "ok");
    // A connection that never sends anything is idle too.
    let mut silent = server.connect();
    assert!(read_to_close(&mut used.stream, Duration::from_secs(5)).is_empty());
    assert!(read_to_close(&mut silent, Duration::from_secs(5)).is_empty());
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_write_timeout() {
    let server = TestServer::start(app(Config {
        write_timeout: Duration::from_millis(300),
        ..Config::default()
    }));
    let mut hog = server.connect();
    hog.write_all(b"GET /huge HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Do not read: the server's output stalls, then the deadline passes.
    sleep(Duration::from_millis(1500));
    assert_eq!(
        roundtrip(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").text(),
        "ok"
    );
    let received = read_to_close(&mut hog, Duration::from_secs(10));
    assert!(
        received.len() < 64 << 20,
        "the whole body arrived: the connection was not dropped"
    );
}

#[test]
fn lingering_ends_after_the_linger_timeout() {
    let server = TestServer::start(app(Config {
        linger_timeout: Duration::from_millis(300),
        ..Config::default()
    }));
    let mut conn = server.connect();
    // A bad request: answered, then the server lingers; the client never closes.
    conn.write_all(b"BAD\r\n\r\n").unwrap();
    let answer = read_to_close(&mut conn, Duration::from_secs(5));
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 400 "));
    // EOF came from the server's half-close; while it lingers, what we send is read and
    // discarded. Once the linger timeout closes the socket, sending fails with a reset.
    let started = Instant::now();
    let failed = loop {
        if conn.write_all(b"more").is_err() {
            break true;
        }
        if started.elapsed() > Duration::from_secs(5) {
            break false;
        }
        sleep(Duration::from_millis(50));
    };
    assert!(failed, "the server kept lingering past its timeout");
    assert!(
        started.elapsed() > Duration::from_millis(100),
        "it did linger first"
    );
}
