//! The server's life: binding, port 0, shutdown from another thread, backpressure.

mod support;

use std::io::{ErrorKind, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use carafe::{App, Request, Response};
use support::{Reader, TestServer, demo_app, roundtrip};

#[test]
fn binds_port_zero_and_reports_the_real_port() {
    let server = demo_app().bind("127.0.0.1:0").unwrap();
    assert_ne!(server.local_addr().port().unwrap(), 0);
}

#[test]
fn bind_errors_are_returned_not_panics() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = demo_app().bind(addr).err().expect("address in use");
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    let err = demo_app()
        .bind("not an address")
        .err()
        .expect("bad address");
    assert!(!err.to_string().is_empty());
}

#[test]
fn shutdown_from_another_thread_returns_from_run() {
    let server = TestServer::start(demo_app());
    assert_eq!(
        roundtrip(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").status,
        200
    );
    // An idle keep-alive connection does not hold the shutdown up.
    let idle = server.connect();
    let addr = server.addr;
    let started = Instant::now();
    server.stop().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(idle);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listener closed"
    );
}

#[test]
fn shutdown_finishes_the_request_in_flight() {
    let mut app = App::new();
    app.get("/slow", |_: &Request| {
        std::thread::sleep(Duration::from_millis(300));
        "done"
    });
    let server = TestServer::start(app);
    let mut conn = Reader::new(server.connect());
    conn.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let handle = server.handle.clone();
    handle.shutdown();
    let resp = conn.response().expect("the request in flight is answered");
    assert_eq!(resp.text(), "done");
    assert!(conn.is_closed());
    server.stop().unwrap();
}

#[test]
fn a_partial_request_in_flight_is_answered_with_close() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhe");
    std::thread::sleep(Duration::from_millis(50));
    server.handle.shutdown();
    std::thread::sleep(Duration::from_millis(50));
    conn.send(b"llo");
    let resp = conn.response().unwrap();
    assert_eq!(resp.text(), "hello");
    assert_eq!(resp.header("connection"), Some("close"));
    server.stop().unwrap();
}

/// A client that pipelines requests and never reads must not make the server buffer
/// without bound: the server stops reading from it, so the client's writes block.
#[test]
fn a_client_that_never_reads_is_throttled_and_others_are_served() {
    let mut app = App::new();
    app.get("/big", |_: &Request| Response::new(vec![b'x'; 64 * 1024]));
    app.get("/", |_: &Request| "ok");
    let server = TestServer::start(app);
    let hog = server.connect();
    hog.set_nonblocking(true).unwrap();
    let request = b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
    let mut written = 0usize;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut blocked = false;
    while Instant::now() < deadline {
        match (&hog).write(&request) {
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // Give the server a chance to drain; if it keeps reading, writes resume.
                std::thread::sleep(Duration::from_millis(200));
                match (&hog).write(&request) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        blocked = true;
                        break;
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(blocked, "the server kept reading: {written} bytes accepted");
    // Each request asks for 64 KiB; had the server answered everything it read, it would
    // hold written/31 * 64 KiB of output. It holds at most a bounded amount instead.
    assert!(
        written < 64 * 1024 * 1024,
        "{written} bytes accepted before blocking"
    );
    // Everyone else is still served promptly.
    let resp = roundtrip(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.text(), "ok");
}

#[test]
fn many_connections_at_once() {
    let server = TestServer::start(demo_app());
    let mut conns: Vec<Reader> = (0..200).map(|_| Reader::new(server.connect())).collect();
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.send(format!("GET /users/{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    for (i, conn) in conns.iter_mut().enumerate() {
        assert_eq!(conn.response().unwrap().text(), format!("user {i}"));
    }
}
