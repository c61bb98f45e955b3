//! Each kind of bad input gets its status over a real socket, and the connection closes.
//! Bytes after a framing error are never answered as a request (no smuggling).

mod support;

use std::io::Write;

use carafe::{App, Config};
use support::{Reader, TestServer, demo_app};

/// Sends `request` followed by a request that must never be answered, and checks the
/// status and that the server then closed the connection.
fn assert_rejected(server: &TestServer, request: &[u8], status: u16) {
    let mut conn = Reader::new(server.connect());
    let mut bytes = request.to_vec();
    bytes.extend_from_slice(b"GET /users/666 HTTP/1.1\r\nHost: x\r\n\r\n");
    conn.send(&bytes);
    let resp = conn
        .response()
        .unwrap_or_else(|| panic!("no response to {:?}", String::from_utf8_lossy(request)));
    assert_eq!(
        resp.status,
        status,
        "{:?}",
        String::from_utf8_lossy(request)
    );
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(
        conn.is_closed(),
        "still open after {:?}",
        String::from_utf8_lossy(request)
    );
}

#[test]
fn malformed_heads_are_400() {
    let server = TestServer::start(demo_app());
    let cases: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Ctl: a\x01b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"GET nohost HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for case in cases {
        assert_rejected(&server, case, 400);
    }
}

#[test]
fn a_path_that_does_not_decode_is_400_but_the_stream_is_fine() {
    let server = TestServer::start(demo_app());
    let mut conn = Reader::new(server.connect());
    conn.send(b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\nGET /%ff HTTP/1.1\r\nHost: x\r\n\r\nGET /users/%31 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(conn.response().unwrap().status, 400);
    assert_eq!(conn.response().unwrap().status, 400);
    assert_eq!(conn.response().unwrap().text(), "user 1");
}

#[test]
fn host_rules() {
    let server = TestServer::start(demo_app());
    assert_rejected(&server, b"GET / HTTP/1.1\r\n\r\n", 400);
    assert_rejected(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
    );
}

#[test]
fn framing_conflicts_are_400_or_501() {
    let server = TestServer::start(demo_app());
    let cases: &[(&[u8], u16)] = &[
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3a\r\n\r\nabc", 400),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\nabc", 400),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        (b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ];
    for (case, status) in cases {
        assert_rejected(&server, case, *status);
    }
}

#[test]
fn bad_chunk_framing_is_400_and_nothing_after_it_is_parsed() {
    let server = TestServer::start(demo_app());
    let cases: &[&[u8]] = &[
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\n",
    ];
    for case in cases {
        assert_rejected(&server, case, 400);
    }
}

#[test]
fn limits_are_431_414_413() {
    let config = Config {
        max_head_size: 1024,
        max_headers: 10,
        max_uri_len: 256,
        max_body_size: 1000,
        ..Config::default()
    };
    let server = TestServer::start(demo_app().with_config(config));
    let mut many = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..11 {
        many.extend(format!("X-{i}: y\r\n").as_bytes());
    }
    many.extend(b"\r\n");
    assert_rejected(&server, &many, 431);
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "y".repeat(2000)
    );
    assert_rejected(&server, big.as_bytes(), 431);
    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(300));
    assert_rejected(&server, long.as_bytes(), 414);
    assert_rejected(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n",
        413,
    );
    let chunked = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n{}\r\n1\r\nz\r\n0\r\n\r\n",
        "a".repeat(1000)
    );
    assert_rejected(&server, chunked.as_bytes(), 413);
}

#[test]
fn unsupported_versions_are_505_and_expectations_417() {
    let server = TestServer::start(demo_app());
    assert_rejected(&server, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
    assert_rejected(&server, b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505);
    assert_rejected(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx",
        417,
    );
}

/// The error response must survive the client still sending: the server shuts down its
/// side and drains input (lingering close) instead of resetting the connection.
#[test]
fn error_responses_reach_a_client_that_keeps_sending() {
    let config = Config {
        max_body_size: 1024,
        ..Config::default()
    };
    let server = TestServer::start(demo_app().with_config(config));
    let mut conn = Reader::new(server.connect());
    conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n");
    // Keep sending the body the server has already refused.
    let chunk = vec![b'z'; 64 * 1024];
    let mut sent = 0;
    while sent < 4_000_000 {
        match conn.stream.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    let resp = conn
        .response()
        .expect("the 413 arrives despite the unread body");
    assert_eq!(resp.status, 413);
}

#[test]
fn a_stream_of_garbage_does_not_hurt_others() {
    let server = TestServer::start(demo_app());
    let mut garbage = Reader::new(server.connect());
    let _ = garbage.stream.write_all(&[0xffu8; 100_000]);
    let mut good = Reader::new(server.connect());
    good.send(b"GET /users/8 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(good.response().unwrap().text(), "user 8");
    let resp = garbage.response().unwrap();
    assert_eq!(resp.status, 400);
}

#[test]
fn test_client_sees_the_same_errors() {
    let app: App = demo_app();
    let client = app.test_client();
    let out = client
        .raw(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert_eq!(text.matches("HTTP/1.1").count(), 1);
}
