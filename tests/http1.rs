//! HTTP/1.1 over real sockets: keep-alive, pipelining, bodies, 100-continue, HEAD.

mod support;

use std::io::Write;
use std::thread::sleep;
use std::time::Duration;

use support::{Reader, TestServer, demo_app, roundtrip};

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    for i in 0..5 {
        conn.send(format!("GET /users/{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        let resp = conn.response().unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.text(), format!("user {i}"));
        assert_eq!(resp.header("connection"), None);
        assert_eq!(
            resp.header("content-length"),
            Some(&*resp.body.len().to_string())
        );
        assert!(
            resp.header("date")
                .is_some_and(|d| d.ends_with(" GMT") && d.len() == 29)
        );
    }
}

#[test]
fn thirty_two_pipelined_requests_in_one_write() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    let mut batch = Vec::new();
    for i in 0..32 {
        batch.extend_from_slice(format!("GET /users/{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    conn.send(&batch);
    for i in 0..32 {
        let resp = conn.response().unwrap();
        assert_eq!(resp.text(), format!("user {i}"), "responses in order");
    }
}

#[test]
fn a_request_one_byte_at_a_time() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    conn.stream.set_nodelay(true).unwrap();
    let request = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    for byte in request {
        conn.send(&[*byte]);
        sleep(Duration::from_millis(1));
    }
    let resp = conn.response().unwrap();
    assert_eq!(resp.text(), "hello");
}

#[test]
fn content_length_body_across_writes() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    let body = vec![b'a'; 300_000];
    conn.send(
        format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    for piece in body.chunks(70_000) {
        conn.send(piece);
        sleep(Duration::from_millis(5));
    }
    let resp = conn.response().unwrap();
    assert_eq!(resp.body, body);
}

#[test]
fn chunked_upload_split_anywhere() {
    let server = TestServer::start(demo_app());
    let request: &[u8] = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: yes\r\n\r\n";
    for split in [1, 40, 62, 65, 70, request.len() - 1] {
        let mut conn = Reader::new(server.connect());
        conn.stream.set_nodelay(true).unwrap();
        conn.send(&request[..split]);
        sleep(Duration::from_millis(10));
        conn.send(&request[split..]);
        let resp = conn.response().unwrap();
        assert_eq!(resp.status, 200, "split at {split}");
        assert_eq!(resp.text(), "hello, world");
        // The connection is still usable: the body was consumed exactly.
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(conn.response().unwrap().text(), "Hello, World!");
    }
}

#[test]
fn expect_100_continue_gets_an_interim_response_before_the_body() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    conn.send(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    );
    let interim = conn.response().unwrap();
    assert_eq!(interim.status, 100);
    conn.send(b"ping");
    let resp = conn.response().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "ping");

    // Chunked too.
    conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(conn.response().unwrap().status, 100);
    conn.send(b"2\r\nok\r\n0\r\n\r\n");
    assert_eq!(conn.response().unwrap().text(), "ok");
}

#[test]
fn expect_100_continue_is_skipped_when_the_body_is_already_here() {
    let server = TestServer::start(demo_app());
    let resp = roundtrip(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "hi");
}

#[test]
fn head_has_headers_and_no_body() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    conn.send(b"HEAD /plaintext HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = conn.response_to(true).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));
    assert_eq!(
        head.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    // The next response follows immediately: no body bytes were sent for HEAD.
    assert_eq!(conn.response().unwrap().text(), "Hello, World!");
}

#[test]
fn absolute_form_targets_are_routed_by_their_path() {
    let server = TestServer::start(demo_app());
    let resp = roundtrip(
        &server,
        b"GET http://example.com/users/9?x=1 HTTP/1.1\r\nHost: other\r\n\r\n",
    );
    assert_eq!(resp.text(), "user 9");
}

#[test]
fn connection_close_is_honoured_and_later_requests_ignored() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /users/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    let resp = conn.response().unwrap();
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(
        conn.is_closed(),
        "nothing after the Connection: close request is answered"
    );
}

#[test]
fn http10_closes_unless_keep_alive() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    conn.send(b"GET / HTTP/1.0\r\n\r\n");
    let resp = conn.response().unwrap();
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(conn.is_closed());

    let mut conn = Reader::new(server.connect());
    conn.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(
        conn.response().unwrap().header("connection"),
        Some("keep-alive")
    );
    conn.send(b"GET /users/3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(conn.response().unwrap().text(), "user 3");
}

#[test]
fn an_unread_body_never_becomes_the_next_request() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    // 405 for a POST whose body looks like a request of its own.
    let smuggled = "GET /users/666 HTTP/1.1\r\nHost: x\r\n\r\n";
    conn.send(
        format!(
            "POST /users/1 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{smuggled}GET /users/2 HTTP/1.1\r\nHost: x\r\n\r\n",
            smuggled.len()
        )
        .as_bytes(),
    );
    let first = conn.response().unwrap();
    assert_eq!(first.status, 405);
    assert_eq!(first.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(conn.response().unwrap().text(), "user 2");
}

#[test]
fn a_panicking_handler_costs_one_500() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    conn.send(b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\nGET /users/5 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(conn.response().unwrap().status, 500);
    assert_eq!(conn.response().unwrap().text(), "user 5");
    assert_eq!(
        roundtrip(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").status,
        200
    );
}

#[test]
fn a_half_closed_client_still_gets_its_answer() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    conn.send(b"GET /users/4 HTTP/1.1\r\nHost: x\r\n\r\n");
    conn.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(conn.response().unwrap().text(), "user 4");
    assert!(conn.is_closed());
}

#[test]
fn large_responses_arrive_whole() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    conn.send(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    for _ in 0..2 {
        let resp = conn.response().unwrap();
        assert_eq!(resp.body.len(), 256 * 1024);
        assert!(resp.body.iter().all(|&b| b == b'x'));
    }
}

#[test]
fn options_and_405() {
    let server = TestServer::start(demo_app());
    let resp = roundtrip(&server, b"OPTIONS /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("allow"), Some("POST, OPTIONS"));
    let resp = roundtrip(&server, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 200);
    assert!(resp.header("allow").unwrap().contains("GET"));
    let resp = roundtrip(&server, b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 405);
    let resp = roundtrip(&server, b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 405);
    let resp = roundtrip(&server, b"BREW /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 501);
}

#[test]
fn writes_from_several_clients_interleave() {
    let server = TestServer::start(demo_app());
    let mut a = Reader::new(server.connect());
    let mut b = Reader::new(server.connect());
    a.stream.write_all(b"GET /users/1 HTTP/1.1\r\n").unwrap();
    b.send(b"GET /users/2 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(b.response().unwrap().text(), "user 2");
    a.send(b"Host: x\r\n\r\n");
    assert_eq!(a.response().unwrap().text(), "user 1");
}

#[test]
fn streamed_bodies_are_chunked_and_others_are_served_meanwhile() {
    use carafe::{App, Request, Response};
    let mut app = App::new();
    app.get("/count", |_: &Request| {
        Response::stream((0..1000).map(|i| format!("{i}\n")))
    });
    // Endless: only a client that stops reading ends it.
    app.get("/forever", |_: &Request| {
        Response::stream(std::iter::repeat(vec![b'z'; 8192]))
    });
    app.get("/", |_: &Request| "ok");
    let server = TestServer::start(app);

    let mut conn = Reader::new(server.connect());
    conn.send(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let resp = conn.response().unwrap();
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    let expected: String = (0..1000).map(|i| format!("{i}\n")).collect();
    assert_eq!(resp.text(), expected);
    assert_eq!(
        conn.response().unwrap().text(),
        "ok",
        "the next request follows the stream"
    );

    // HTTP/1.0 has no chunked coding: the body ends when the connection does.
    let mut conn = Reader::new(server.connect());
    conn.send(b"GET /count HTTP/1.0\r\n\r\n");
    let resp = conn.response().unwrap();
    assert_eq!(resp.header("transfer-encoding"), None);
    assert_eq!(resp.text(), expected);

    // A client draining an endless body as fast as it can does not starve the others.
    let mut hog = server.connect();
    hog.write_all(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let drain = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0usize;
        while total < 200 << 20 {
            match std::io::Read::read(&mut hog, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
        total
    });
    for _ in 0..20 {
        assert_eq!(
            roundtrip(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").text(),
            "ok"
        );
    }
    assert!(drain.join().unwrap() > 1 << 20);
}
