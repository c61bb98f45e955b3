//! HTTPS and WSS over real sockets, with rustls as the client: what works over plain
//! HTTP works the same over TLS (keep-alive, pipelining, uploads, streaming, SSE,
//! WebSockets, the blocking pool, graceful shutdown), the handshake is timed and
//! fails quietly, SNI picks the certificate, and a client refuses a bad one.
#![cfg(feature = "tls")]

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use carafe::{App, Event, Listen, Request, Response, TlsConfig};
use rustls::CertificateError;
use support::tls::{
    Pki, TlsStream, client_hello, connect, connect_trusting_anything, handshake, start, tls_error,
};
use support::{Reader, TestServer, demo_app};

/// The demo app, and views that say what they see of the connection.
fn app() -> App {
    let mut app = demo_app();
    app.get("/scheme", |req: &Request| {
        format!("{} {} {}", req.scheme(), req.is_secure(), req.url())
    });
    app
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

/// Reads until the server closes; `true` for a clean TLS close (close_notify).
fn closed_cleanly(stream: &mut TlsStream) -> bool {
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => false,
        Err(e) => panic!("read failed: {e}"),
    }
}

#[test]
fn requests_on_a_kept_alive_connection_over_tls_1_3_and_1_2() {
    let pki = Pki::new();
    let server = start(app(), pki.leaf(&["localhost"]).config());
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let config = support::tls::client_config(pki.roots(), &[version]);
        let stream = connect(server.addr, "localhost", &config).unwrap();
        assert_eq!(stream.conn.protocol_version(), Some(version.version));
        assert_eq!(stream.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
        let mut conn = Reader::new(stream);
        for _ in 0..3 {
            conn.send(&get("/"));
            let resp = conn.response().unwrap();
            assert_eq!((resp.status, resp.text().as_str()), (200, "Hello, World!"));
        }
        conn.send(&get("/scheme?x=1"));
        assert_eq!(
            conn.response().unwrap().text(),
            "https true https://localhost/scheme?x=1"
        );
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let pki = Pki::new();
    let server = start(app(), pki.leaf(&["localhost"]).config());
    let mut conn = Reader::new(connect(server.addr, "localhost", &pki.client()).unwrap());
    let mut batch = Vec::new();
    for id in 1..=20 {
        batch.extend_from_slice(&get(&format!("/users/{id}")));
    }
    conn.send(&batch);
    for id in 1..=20 {
        assert_eq!(conn.response().unwrap().text(), format!("user {id}"));
    }
}

#[test]
fn a_chunked_upload_arrives_whole() {
    let pki = Pki::new();
    let mut app = app();
    app.config_mut().max_body_size = 8 << 20;
    let server = start(app, pki.leaf(&["localhost"]).config());
    let mut conn = Reader::new(connect(server.addr, "localhost", &pki.client()).unwrap());
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    conn.send(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n");
    // Chunks of uneven sizes, written as they come, as a streaming client sends them.
    for piece in body.chunks(70_001) {
        conn.send(format!("{:x}\r\n", piece.len()).as_bytes());
        conn.send(piece);
        conn.send(b"\r\n");
    }
    conn.send(b"0\r\n\r\n");
    let resp = conn.response().unwrap();
    assert_eq!(resp.status, 200);
    assert!(resp.body == body, "the echo differs");
}

#[test]
fn a_large_response_reaches_a_slow_reader() {
    let pki = Pki::new();
    let mut app = app();
    app.get("/large", |_: &Request| {
        Response::new(
            (0..8_000_000u32)
                .map(|i| (i % 253) as u8)
                .collect::<Vec<u8>>(),
        )
    });
    let server = start(app, pki.leaf(&["localhost"]).config());
    let mut conn = Reader::new(connect(server.addr, "localhost", &pki.client()).unwrap());
    conn.send(&get("/large"));
    // The socket buffers fill and the server holds the rest (records it has encrypted
    // included) until the client reads.
    std::thread::sleep(Duration::from_millis(300));
    let resp = conn.response().unwrap();
    assert_eq!(resp.body.len(), 8_000_000);
    assert!(
        resp.body
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 253) as u8)
    );
    conn.send(&get("/"));
    assert_eq!(conn.response().unwrap().text(), "Hello, World!");
}

/// A client reading slowly through a small receive window.
struct Slow<S> {
    inner: S,
    reads: usize,
}

impl<S: Read> Read for Slow<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reads += 1;
        if self.reads.is_multiple_of(4) {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Small reads: the window opens a little at a time.
        let n = buf.len().min(4096);
        self.inner.read(&mut buf[..n])
    }
}

impl<S: Write> Write for Slow<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A socket whose receive buffer is as small as the kernel allows, set before the
/// connection opens so the window it advertises stays small.
fn connect_small_window(addr: std::net::SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    socket.into()
}

#[test]
fn a_slow_reader_with_a_small_window_gets_every_byte() {
    let pki = Pki::new();
    let mut app = app();
    let pattern = |i: usize| (i % 251) as u8;
    app.get("/large", move |_: &Request| {
        Response::new((0..3_000_000).map(pattern).collect::<Vec<u8>>())
    });
    // Pieces pulled only as the client takes the previous ones: each write meets a
    // full socket, and encrypted records wait in the session for the next writable edge.
    app.get("/stream", move |_: &Request| {
        Response::stream((0..60).map(move |piece| {
            (0..50_000)
                .map(|i| pattern(piece * 50_000 + i))
                .collect::<Vec<u8>>()
        }))
    });
    let server = start(app, pki.leaf(&["localhost"]).config());
    let stream = handshake(
        connect_small_window(server.addr),
        "localhost",
        &pki.client(),
    )
    .unwrap();
    let mut conn = Reader::new(Slow {
        inner: stream,
        reads: 0,
    });
    let mut batch = get("/large");
    batch.extend_from_slice(&get("/stream"));
    batch.extend_from_slice(&get("/"));
    conn.send(&batch);
    for (path, len) in [("/large", 3_000_000), ("/stream", 3_000_000)] {
        let resp = conn.response().unwrap();
        assert_eq!((resp.status, resp.body.len()), (200, len), "{path}");
        let wrong = resp
            .body
            .iter()
            .enumerate()
            .position(|(i, &b)| b != pattern(i));
        assert_eq!(wrong, None, "{path}: the first wrong byte");
    }
    assert_eq!(conn.response().unwrap().text(), "Hello, World!");
}

#[test]
fn an_idle_connection_timed_out_ends_with_close_notify() {
    let pki = Pki::new();
    let mut app = app();
    app.config_mut().keep_alive_timeout = Duration::from_millis(200);
    let server = start(app, pki.leaf(&["localhost"]).config());
    let mut conn = Reader::new(connect(server.addr, "localhost", &pki.client()).unwrap());
    conn.send(&get("/"));
    assert_eq!(conn.response().unwrap().status, 200);
    let started = Instant::now();
    assert!(closed_cleanly(&mut conn.stream));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn server_sent_events_stream_over_tls() {
    let pki = Pki::new();
    let mut app = app();
    app.get("/events", |_: &Request| {
        let (response, events) = Response::event_stream();
        std::thread::spawn(move || {
            for n in 1..=3 {
                std::thread::sleep(Duration::from_millis(20));
                let _ = events.send(&Event::data(n.to_string()).id(&n.to_string()));
            }
        });
        response
    });
    let server = start(app, pki.leaf(&["localhost"]).config());
    let mut conn = Reader::new(connect(server.addr, "localhost", &pki.client()).unwrap());
    conn.send(&get("/events"));
    let resp = conn.response().unwrap();
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        resp.text(),
        "id: 1\ndata: 1\n\nid: 2\ndata: 2\n\nid: 3\ndata: 3\n\n"
    );
}

#[test]
fn blocking_views_answer_over_tls() {
    let pki = Pki::new();
    let mut app = app();
    app.blocking().get("/slow", |req: &Request| {
        std::thread::sleep(Duration::from_millis(50));
        format!("{} from the pool", req.scheme())
    });
    let server = start(app, pki.leaf(&["localhost"]).config());
    let mut conn = Reader::new(connect(server.addr, "localhost", &pki.client()).unwrap());
    // Pipelined behind a blocking view: answered in order.
    let mut batch = get("/slow");
    batch.extend_from_slice(&get("/"));
    conn.send(&batch);
    assert_eq!(conn.response().unwrap().text(), "https from the pool");
    assert_eq!(conn.response().unwrap().text(), "Hello, World!");
}

/// The test app with a WebSocket echo at `/echo`.
#[cfg(feature = "websocket")]
fn echo_app() -> App {
    use carafe::websocket::{Message, WebSocket, WebSocketHandler};

    struct Echo;
    impl WebSocketHandler for Echo {
        fn on_message(&mut self, ws: &mut WebSocket<'_>, message: Message<'_>) {
            let _ = ws.send(message);
        }
    }
    let mut app = app();
    app.websocket("/echo", |_: &Request| Ok::<_, carafe::HttpError>(Echo));
    app
}

#[cfg(feature = "websocket")]
#[test]
fn websockets_over_tls() {
    let pki = Pki::new();
    let server = start(echo_app(), pki.leaf(&["localhost"]).config());
    let stream = connect(server.addr, "localhost", &pki.client()).unwrap();
    let (mut ws, response) = tungstenite::client("wss://localhost/echo", stream).unwrap();
    assert_eq!(response.status(), 101);
    let big = "x".repeat(200_000);
    for text in ["hello", big.as_str()] {
        ws.send(tungstenite::Message::text(text)).unwrap();
        assert_eq!(ws.read().unwrap(), tungstenite::Message::text(text));
    }
    ws.send(tungstenite::Message::binary(vec![1, 2, 3]))
        .unwrap();
    assert_eq!(
        ws.read().unwrap(),
        tungstenite::Message::binary(vec![1, 2, 3])
    );
    ws.close(None).unwrap();
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(_)) => {}
            Ok(other) => panic!("after close: {other:?}"),
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("closing: {e}"),
        }
    }
}

#[cfg(feature = "websocket")]
#[test]
fn a_websocket_over_tls_is_closed_cleanly_on_shutdown() {
    let pki = Pki::new();
    let server = start(echo_app(), pki.leaf(&["localhost"]).config());
    let stream = connect(server.addr, "localhost", &pki.client()).unwrap();
    let (mut ws, _) = tungstenite::client("wss://localhost/echo", stream).unwrap();
    ws.send(tungstenite::Message::text("before")).unwrap();
    assert_eq!(ws.read().unwrap(), tungstenite::Message::text("before"));
    server.handle.shutdown();
    // The server's close frame (1001, going away), answered; then TLS ends cleanly.
    match ws.read().unwrap() {
        tungstenite::Message::Close(Some(frame)) => {
            assert_eq!(
                frame.code,
                tungstenite::protocol::frame::coding::CloseCode::Away
            )
        }
        other => panic!("expected a close frame: {other:?}"),
    }
    match ws.read() {
        Err(tungstenite::Error::ConnectionClosed) => {}
        other => panic!("after close: {other:?}"),
    }
    assert!(closed_cleanly(ws.get_mut()));
    server.stop().unwrap();
}

/// How long the server takes to close a connection that sent `bytes` and stopped.
fn time_to_close(server: &TestServer, bytes: &[u8]) -> Duration {
    let mut raw = TcpStream::connect(server.addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    raw.write_all(bytes).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match raw.read(&mut buf) {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {} // the server's flight, read and ignored
        }
    }
}

#[test]
fn a_stalled_handshake_is_timed_out_by_the_head_timeout() {
    let pki = Pki::new();
    let mut app = app();
    app.config_mut().head_timeout = Duration::from_millis(300);
    app.config_mut().keep_alive_timeout = Duration::from_secs(30);
    let server = start(app, pki.leaf(&["localhost"]).config());
    let hello = client_hello(&pki.client());
    // Half a ClientHello; then a whole one and no answer to the server's flight.
    for sent in [&hello[..hello.len() / 2], &hello[..]] {
        let waited = time_to_close(&server, sent);
        assert!(
            waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
            "closed after {waited:?}"
        );
    }
    // Others are served meanwhile and after.
    let mut conn = Reader::new(connect(server.addr, "localhost", &pki.client()).unwrap());
    conn.send(&get("/"));
    assert_eq!(conn.response().unwrap().status, 200);
}

#[test]
fn plain_http_to_the_tls_port_gets_a_plain_400() {
    let pki = Pki::new();
    let server = start(app(), pki.leaf(&["localhost"]).config());
    let mut raw = Reader::new(server.connect());
    raw.send(&get("/"));
    let resp = raw.response().unwrap();
    assert_eq!(resp.status, 400);
    assert!(resp.text().contains("plain HTTP"), "{}", resp.text());
    assert!(raw.is_closed());
    // Bytes that are neither TLS nor HTTP: closed (after a TLS alert), without a 400.
    let mut junk = server.connect();
    junk.write_all(&[0x42; 64]).unwrap();
    let mut answer = Vec::new();
    let _ = junk.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    let mut conn = Reader::new(connect(server.addr, "localhost", &pki.client()).unwrap());
    conn.send(&get("/"));
    assert_eq!(conn.response().unwrap().status, 200);
}

#[test]
fn sni_chooses_the_certificate() {
    let pki = Pki::new();
    let (default, a, b) = (
        pki.leaf(&["localhost", "127.0.0.1"]),
        pki.leaf(&["a.test"]),
        pki.leaf(&["b.test", "www.b.test"]),
    );
    let tls = default
        .config()
        .add_certificate_pem("a.test", a.cert.as_bytes(), a.key.as_bytes())
        .unwrap()
        .add_certificate_pem("b.test", b.cert.as_bytes(), b.key.as_bytes())
        .unwrap();
    let server = start(app(), tls);
    let client = pki.client();
    for (name, expected) in [
        ("a.test", &a),
        ("b.test", &b),
        ("localhost", &default),
        // An IP address sends no SNI: the first certificate.
        ("127.0.0.1", &default),
    ] {
        let stream = connect(server.addr, name, &client).unwrap();
        let served = &stream.conn.peer_certificates().unwrap()[0];
        assert_eq!(*served, expected.der(), "for {name}");
        let mut conn = Reader::new(stream);
        conn.send(&get("/"));
        assert_eq!(conn.response().unwrap().status, 200, "for {name}");
    }
    // A name with no certificate of its own gets the first, which the client refuses.
    let err = connect(server.addr, "www.b.test", &client).unwrap_err();
    assert!(
        matches!(
            tls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{err}"
    );
}

#[test]
fn clients_refuse_expired_unknown_and_misnamed_certificates() {
    let pki = Pki::new();
    let expired = start(app(), pki.expired(&["localhost"]).config());
    let err = connect(expired.addr, "localhost", &pki.client()).unwrap_err();
    assert!(
        matches!(
            tls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            ))
        ),
        "{err}"
    );
    let server = start(app(), pki.leaf(&["localhost"]).config());
    let stranger = Pki::new();
    let err = connect(server.addr, "localhost", &stranger.client()).unwrap_err();
    assert!(
        matches!(
            tls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ),
        "{err}"
    );
    let err = connect(server.addr, "other.test", &pki.client()).unwrap_err();
    assert!(
        matches!(
            tls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{err}"
    );
    // The server shrugs each one off.
    let mut conn = Reader::new(connect(server.addr, "localhost", &pki.client()).unwrap());
    conn.send(&get("/"));
    assert_eq!(conn.response().unwrap().status, 200);
}

#[test]
fn a_client_that_offers_only_h2_is_refused_in_the_handshake() {
    let pki = Pki::new();
    let server = start(app(), pki.leaf(&["localhost"]).config());
    let mut config = (*pki.client()).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let err = connect(server.addr, "localhost", &std::sync::Arc::new(config)).unwrap_err();
    assert!(
        matches!(
            tls_error(&err),
            Some(rustls::Error::AlertReceived(
                rustls::AlertDescription::NoApplicationProtocol
            ))
        ),
        "{err}"
    );
}

#[test]
fn http_and_https_on_two_ports_of_one_app() {
    let pki = Pki::new();
    let server = app()
        .bind_many([
            Listen::http("127.0.0.1:0"),
            Listen::https("127.0.0.1:0", pki.leaf(&["localhost"]).config()),
        ])
        .unwrap();
    let addrs: Vec<_> = server
        .local_addrs()
        .iter()
        .map(|a| a.tcp().unwrap())
        .collect();
    assert_eq!(addrs.len(), 2);
    let server = TestServer::run(server);
    let mut plain = Reader::new(TcpStream::connect(addrs[0]).unwrap());
    plain.send(&get("/scheme"));
    assert_eq!(
        plain.response().unwrap().text(),
        "http false http://localhost/scheme"
    );
    let mut secure = Reader::new(connect(addrs[1], "localhost", &pki.client()).unwrap());
    secure.send(&get("/scheme"));
    assert_eq!(
        secure.response().unwrap().text(),
        "https true https://localhost/scheme"
    );
    drop(server);
}

#[test]
fn the_server_ends_with_close_notify() {
    let pki = Pki::new();
    let mut app = app();
    app.blocking().get("/slow", |_: &Request| {
        std::thread::sleep(Duration::from_millis(300));
        "done"
    });
    let server = start(app, pki.leaf(&["localhost"]).config());
    let client = pki.client();

    // After a response with `Connection: close`.
    let mut conn = Reader::new(connect(server.addr, "localhost", &client).unwrap());
    conn.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_eq!(conn.response().unwrap().status, 200);
    assert!(closed_cleanly(&mut conn.stream));

    // On graceful shutdown: an idle connection at once, a busy one after its answer.
    let mut idle = Reader::new(connect(server.addr, "localhost", &client).unwrap());
    idle.send(&get("/"));
    assert_eq!(idle.response().unwrap().status, 200);
    let mut busy = Reader::new(connect(server.addr, "localhost", &client).unwrap());
    busy.send(&get("/slow"));
    std::thread::sleep(Duration::from_millis(50));
    server.handle.shutdown();
    assert!(closed_cleanly(&mut idle.stream));
    let resp = busy.response().unwrap();
    assert_eq!((resp.status, resp.text().as_str()), (200, "done"));
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(closed_cleanly(&mut busy.stream));
    server.stop().unwrap();
}

#[test]
fn the_adhoc_certificate_serves_this_machine() {
    let tls = TlsConfig::adhoc().unwrap();
    let fingerprint = tls.fingerprint();
    let server = start(app(), tls);
    // Trusted as its own root, it is valid for the names a developer types.
    let mut roots = rustls::RootCertStore::empty();
    let probe = connect_trusting_anything(server.addr);
    let served = probe.conn.peer_certificates().unwrap()[0].clone();
    assert_eq!(support::tls::fingerprint(&served), fingerprint);
    roots.add(served).unwrap();
    let client = support::tls::client_config(roots, &[&rustls::version::TLS13]);
    for name in ["localhost", "127.0.0.1"] {
        let mut conn = Reader::new(connect(server.addr, name, &client).unwrap());
        conn.send(&get("/"));
        assert_eq!(conn.response().unwrap().status, 200, "for {name}");
    }
}
