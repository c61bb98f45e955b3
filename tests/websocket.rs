//! WebSockets over real sockets: tungstenite as the client for what a client does right,
//! raw bytes for each protocol error a server must answer (RFC 6455 §5, §7).
#![cfg(feature = "websocket")]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use carafe::websocket::{Group, Message, SendError, WebSocket, WebSocketHandle, WebSocketHandler};
use carafe::{App, Blueprint, HttpError, Request, abort};
use support::TestServer;
use tungstenite::Message as Msg;

/// Echoes, and reports its life to the test.
struct Echo {
    events: Option<Sender<String>>,
}

impl WebSocketHandler for Echo {
    fn on_open(&mut self, ws: &mut WebSocket<'_>) {
        self.report(format!("open {:?}", ws.protocol()));
    }

    fn on_message(&mut self, ws: &mut WebSocket<'_>, message: Message<'_>) {
        if message == Message::Text("panic") {
            panic!("the handler broke");
        }
        if message == Message::Text("close") {
            let _ = ws.close(4000, "asked to");
            return;
        }
        let _ = ws.send(message);
    }

    fn on_close(&mut self, code: Option<u16>, reason: &str) {
        self.report(format!("close {code:?} {reason}"));
    }
}

impl Echo {
    fn report(&self, event: String) {
        if let Some(events) = &self.events {
            let _ = events.send(event);
        }
    }
}

fn echo_app() -> (App, Receiver<String>) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let mut app = App::new();
    app.websocket("/echo", move |_: &Request| {
        Ok::<_, HttpError>(Echo {
            events: Some(tx.lock().unwrap().clone()),
        })
    });
    app.websocket("/private", |req: &Request| {
        if req.header("Authorization") != Some("Bearer ok") {
            return Err(abort(401));
        }
        Ok(Echo { events: None })
    });
    app.config_mut().websocket_protocols = vec!["chat.v2".into(), "chat.v1".into()];
    (app, rx)
}

fn next(events: &Receiver<String>) -> String {
    events
        .recv_timeout(Duration::from_secs(5))
        .expect("an event")
}

fn client(server: &TestServer, path: &str) -> tungstenite::WebSocket<TcpStream> {
    let stream = server.connect();
    let url = format!("ws://{}{path}", server.addr);
    let (ws, response) = tungstenite::client(url, stream).expect("handshake");
    assert_eq!(response.status(), 101);
    ws
}

#[test]
fn echoes_text_as_text_and_binary_as_binary() {
    let (app, events) = echo_app();
    let server = TestServer::start(app);
    let mut ws = client(&server, "/echo");
    assert_eq!(next(&events), "open None");
    ws.send(Msg::text("hello")).unwrap();
    assert_eq!(ws.read().unwrap(), Msg::text("hello"));
    ws.send(Msg::binary(vec![0u8, 1, 2, 255])).unwrap();
    assert_eq!(ws.read().unwrap(), Msg::binary(vec![0u8, 1, 2, 255]));
    let big = "x".repeat(3 * 1024 * 1024);
    ws.send(Msg::text(big.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), Msg::text(big));
    ws.close(None).unwrap();
    // The close handshake completes and the server closes the TCP connection.
    loop {
        match ws.read() {
            Ok(Msg::Close(_)) => continue,
            Err(tungstenite::Error::ConnectionClosed) => break,
            other => panic!("{other:?}"),
        }
    }
    // tungstenite's close frame carries no code: none is reported (RFC 6455 §7.1.5).
    assert_eq!(next(&events), "close None ");
}

#[test]
fn the_handshake_is_checked() {
    let (app, _) = echo_app();
    let server = TestServer::start(app);
    let cases: &[(&str, u16, &[&str])] = &[
        // A plain GET to a WebSocket route.
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",
            426,
            &["Upgrade: websocket"],
        ),
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            426,
            &["Sec-WebSocket-Version: 13"],
        ),
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2hvcnQ=\r\n\r\n",
            400,
            &[],
        ),
        (
            "GET /private HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            401,
            &[],
        ),
    ];
    for (request, status, headers) in cases {
        let resp = support::roundtrip(&server, request.as_bytes());
        assert_eq!(resp.status, *status, "{request}");
        for header in *headers {
            let (name, value) = header.split_once(": ").unwrap();
            assert_eq!(resp.header(name), Some(value), "{request}");
        }
    }
    // With the credentials the hook wants, the same route upgrades.
    let stream = server.connect();
    let request = tungstenite::ClientRequestBuilder::new(
        format!("ws://{}/private", server.addr).parse().unwrap(),
    )
    .with_header("Authorization", "Bearer ok");
    let (mut ws, _) = tungstenite::client(request, stream).unwrap();
    ws.send(Msg::text("in")).unwrap();
    assert_eq!(ws.read().unwrap(), Msg::text("in"));
}

#[test]
fn a_subprotocol_is_chosen_from_the_server_s_list() {
    let (app, events) = echo_app();
    let server = TestServer::start(app);
    let request = tungstenite::ClientRequestBuilder::new(
        format!("ws://{}/echo", server.addr).parse().unwrap(),
    )
    .with_sub_protocol("chat.v1")
    .with_sub_protocol("chat.v2");
    let (_ws, response) = tungstenite::client(request, server.connect()).unwrap();
    // The client's order of preference decides among those the server speaks.
    assert_eq!(
        response.headers()["Sec-WebSocket-Protocol"]
            .to_str()
            .unwrap(),
        "chat.v1"
    );
    assert_eq!(next(&events), "open Some(\"chat.v1\")");
}

#[test]
fn a_foreign_origin_is_refused_when_origins_are_listed() {
    let (mut app, _) = echo_app();
    app.config_mut().websocket_origins = vec!["https://good.example".into()];
    let server = TestServer::start(app);
    let handshake = |origin: &str| {
        format!(
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Origin: {origin}\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
    };
    let resp = support::roundtrip(&server, handshake("https://evil.example").as_bytes());
    assert_eq!(resp.status, 403);
    let resp = support::roundtrip(&server, handshake("https://good.example").as_bytes());
    assert_eq!(resp.status, 101);
}

/// A raw connection, upgraded, for byte-exact protocol checks.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

const HANDSHAKE: &[u8] = b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
    Connection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

/// A client frame: FIN and opcode in `first`, masked.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend((n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend((n as u64).to_be_bytes());
        }
    }
    out.extend(mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

impl Raw {
    /// Upgrades on `/echo`, sending `first_frames` in the same write as the handshake.
    fn open(server: &TestServer, first_frames: &[u8]) -> Raw {
        Raw::open_at(server, "/echo", first_frames)
    }

    fn open_at(server: &TestServer, path: &str, first_frames: &[u8]) -> Raw {
        let mut stream = server.connect();
        let handshake = String::from_utf8(HANDSHAKE.to_vec()).unwrap();
        let mut bytes = handshake.replacen("/echo", path, 1).into_bytes();
        bytes.extend_from_slice(first_frames);
        stream.write_all(&bytes).unwrap();
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
        };
        let head = raw.until(b"\r\n\r\n");
        let head = String::from_utf8(head).unwrap();
        assert!(
            head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
            "{head}"
        );
        assert!(
            head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
            "{head}"
        );
        assert!(head.contains("Connection: Upgrade\r\n"), "{head}");
        raw
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => false,
            Err(e) => panic!("read: {e}"),
        }
    }

    fn until(&mut self, end: &[u8]) -> Vec<u8> {
        loop {
            if let Some(at) = self.buf.windows(end.len()).position(|w| w == end) {
                return self.buf.drain(..at + end.len()).collect();
            }
            assert!(self.fill(), "closed early");
        }
    }

    /// The next server frame: (first byte, payload).
    fn frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                assert_eq!(self.buf[1] & 0x80, 0, "server frames are not masked");
                let (len, at) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => (
                        u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                        10,
                    ),
                    n @ 0..=125 => (n as usize, 2),
                    _ => (usize::MAX, 0),
                };
                if at > 0 && self.buf.len() >= at + len {
                    let first = self.buf[0];
                    let payload = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return Some((first, payload));
                }
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// Expects a close frame with `code`, then the server closing TCP.
    fn expect_close(&mut self, code: u16) {
        let (first, payload) = self.frame().expect("a close frame");
        assert_eq!(first, 0x88, "{payload:?}");
        assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), code);
        // Answer the close; the server then closes the connection.
        let _ = self.stream.write_all(&frame(0x88, &payload[..2]));
        assert_eq!(self.frame(), None, "the server closes after the handshake");
    }
}

#[test]
fn frames_sent_with_the_handshake_are_the_first_messages() {
    let (app, _) = echo_app();
    let server = TestServer::start(app);
    let mut first = frame(0x81, b"early");
    first.extend(frame(0x82, &[9, 8, 7]));
    let mut raw = Raw::open(&server, &first);
    assert_eq!(raw.frame(), Some((0x81, b"early".to_vec())));
    assert_eq!(raw.frame(), Some((0x82, vec![9, 8, 7])));
}

#[test]
fn pings_are_answered_and_fragments_joined_around_control_frames() {
    let (app, _) = echo_app();
    let server = TestServer::start(app);
    let mut raw = Raw::open(&server, &[]);
    raw.stream
        .write_all(&frame(0x89, b"are you there"))
        .unwrap();
    assert_eq!(raw.frame(), Some((0x8a, b"are you there".to_vec())));
    // An unsolicited pong is ignored.
    raw.stream.write_all(&frame(0x8a, b"unasked")).unwrap();
    // "Hel" + ping + "lo" → one message; the ping is answered in between.
    let mut bytes = frame(0x01, b"Hel");
    bytes.extend(frame(0x89, b"mid"));
    bytes.extend(frame(0x80, b"lo"));
    raw.stream.write_all(&bytes).unwrap();
    assert_eq!(raw.frame(), Some((0x8a, b"mid".to_vec())));
    assert_eq!(raw.frame(), Some((0x81, b"Hello".to_vec())));
    // A multi-byte character split across fragments is still valid.
    let euro = "€".as_bytes();
    let mut bytes = frame(0x01, &euro[..1]);
    bytes.extend(frame(0x80, &euro[1..]));
    raw.stream.write_all(&bytes).unwrap();
    assert_eq!(raw.frame(), Some((0x81, euro.to_vec())));
}

#[test]
fn protocol_errors_close_with_the_right_code() {
    let (mut app, _) = echo_app();
    app.config_mut().websocket_max_message = 1000;
    let server = TestServer::start(app);
    let unmasked = {
        let mut f = vec![0x81, 5];
        f.extend(b"plain");
        f
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked client frame", unmasked, 1002),
        ("unknown opcode", frame(0x83, b""), 1002),
        ("reserved bit without an extension", frame(0xC1, b"x"), 1002),
        ("control frame over 125 bytes", frame(0x89, &[0; 126]), 1002),
        ("fragmented control frame", frame(0x09, b"x"), 1002),
        ("continuation without a message", frame(0x80, b"x"), 1002),
        (
            "new message inside another",
            [frame(0x01, b"a"), frame(0x81, b"b")].concat(),
            1002,
        ),
        ("invalid UTF-8", frame(0x81, &[0xff, 0xfe]), 1007),
        (
            "invalid UTF-8 in a first fragment",
            frame(0x01, &[b'a', 0xc0]),
            1007,
        ),
        ("message over the limit", frame(0x82, &[0; 1001]), 1009),
        (
            "fragments over the limit",
            [frame(0x02, &[0; 600]), frame(0x80, &[0; 600])].concat(),
            1009,
        ),
        ("one-byte close payload", frame(0x88, &[3]), 1002),
        (
            "reserved close code 1005",
            frame(0x88, &1005u16.to_be_bytes()),
            1002,
        ),
        ("close code 1004", frame(0x88, &1004u16.to_be_bytes()), 1002),
        ("close code 999", frame(0x88, &999u16.to_be_bytes()), 1002),
        (
            "close reason not UTF-8",
            frame(0x88, &[0x03, 0xe8, 0xff]),
            1007,
        ),
    ];
    for (what, bytes, code) in cases {
        let mut raw = Raw::open(&server, &[]);
        raw.stream.write_all(&bytes).unwrap();
        let (first, payload) = raw.frame().unwrap_or_else(|| panic!("{what}: no close"));
        assert_eq!(first, 0x88, "{what}");
        assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), code, "{what}");
        assert_eq!(
            raw.frame(),
            None,
            "{what}: the server closes the connection"
        );
    }
}

#[test]
fn valid_close_codes_are_echoed() {
    let (app, events) = echo_app();
    let server = TestServer::start(app);
    for code in [1000u16, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
        let mut raw = Raw::open(&server, &[]);
        assert_eq!(next(&events), "open None");
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend(b"bye");
        raw.stream.write_all(&frame(0x88, &payload)).unwrap();
        let (first, echoed) = raw.frame().expect("the echo");
        assert_eq!(first, 0x88);
        assert_eq!(u16::from_be_bytes([echoed[0], echoed[1]]), code);
        assert_eq!(raw.frame(), None);
        assert_eq!(next(&events), format!("close Some({code}) bye"));
    }
}

#[test]
fn the_server_closes_and_then_sends_no_data() {
    let (app, events) = echo_app();
    let server = TestServer::start(app);
    let mut raw = Raw::open(&server, &[]);
    assert_eq!(next(&events), "open None");
    raw.stream.write_all(&frame(0x81, b"close")).unwrap();
    let (first, payload) = raw.frame().unwrap();
    assert_eq!(first, 0x88);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 4000);
    // Data sent now is not echoed: the server's close is out.
    raw.stream.write_all(&frame(0x81, b"late")).unwrap();
    raw.stream
        .write_all(&frame(0x88, &4000u16.to_be_bytes()))
        .unwrap();
    assert_eq!(raw.frame(), None);
    assert_eq!(next(&events), "close Some(4000) ");
}

#[test]
fn a_panicking_handler_costs_its_connection_only() {
    let (app, events) = echo_app();
    let server = TestServer::start(app);
    let mut raw = Raw::open(&server, &[]);
    assert_eq!(next(&events), "open None");
    raw.stream.write_all(&frame(0x81, b"panic")).unwrap();
    raw.expect_close(1011);
    let mut ws = client(&server, "/echo");
    ws.send(Msg::text("still here")).unwrap();
    assert_eq!(ws.read().unwrap(), Msg::text("still here"));
}

#[test]
fn a_client_that_vanishes_is_noticed() {
    let (app, events) = echo_app();
    let server = TestServer::start(app);
    let raw = Raw::open(&server, &[]);
    assert_eq!(next(&events), "open None");
    drop(raw);
    assert_eq!(next(&events), "close None ");
}

/// Keeps each connection's handle where the test can reach it.
struct Registered {
    handles: Arc<Mutex<Vec<WebSocketHandle>>>,
    group: Group,
}

impl WebSocketHandler for Registered {
    fn on_open(&mut self, ws: &mut WebSocket<'_>) {
        self.handles.lock().unwrap().push(ws.handle());
        self.group.add(ws.handle());
    }
    fn on_message(&mut self, _: &mut WebSocket<'_>, _: Message<'_>) {}
}

fn registry_app(workers: usize) -> (App, Arc<Mutex<Vec<WebSocketHandle>>>, Group) {
    let handles = Arc::new(Mutex::new(Vec::new()));
    let group = Group::new();
    let mut app = App::new();
    app.workers(workers);
    let (h, g) = (handles.clone(), group.clone());
    app.websocket("/feed", move |_: &Request| {
        Ok::<_, HttpError>(Registered {
            handles: h.clone(),
            group: g.clone(),
        })
    });
    (app, handles, group)
}

fn wait_for(mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out");
}

#[test]
fn other_threads_send_through_handles_and_closed_ones_refuse() {
    let (app, handles, _) = registry_app(1);
    let server = TestServer::start(app);
    let mut ws = client(&server, "/feed");
    wait_for(|| handles.lock().unwrap().len() == 1);
    let handle = handles.lock().unwrap()[0].clone();
    let sender = std::thread::spawn(move || {
        handle.send_text("from a thread").unwrap();
        handle.send_binary(vec![1u8, 2]).unwrap();
        handle.ping("p").unwrap();
        handle
    });
    let handle = sender.join().unwrap();
    assert_eq!(ws.read().unwrap(), Msg::text("from a thread"));
    assert_eq!(ws.read().unwrap(), Msg::binary(vec![1u8, 2]));
    assert_eq!(ws.read().unwrap(), Msg::Ping(b"p".to_vec().into()));
    handle.close(1000, "done").unwrap();
    match ws.read().unwrap() {
        Msg::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("{other:?}"),
    }
    assert_eq!(handle.send_text("too late"), Err(SendError::Closed));
}

#[test]
fn a_group_broadcasts_to_members_on_every_loop() {
    let (app, handles, group) = registry_app(2);
    let server = TestServer::start(app);
    let mut clients: Vec<_> = (0..8).map(|_| client(&server, "/feed")).collect();
    wait_for(|| handles.lock().unwrap().len() == 8);
    assert_eq!(group.len(), 8);
    assert_eq!(group.broadcast_text("to all"), 8);
    let except = handles.lock().unwrap()[0].clone();
    assert_eq!(group.broadcast_text_except("to the others", &except), 7);
    for (i, ws) in clients.iter_mut().enumerate() {
        assert_eq!(ws.read().unwrap(), Msg::text("to all"));
        if i > 0 {
            assert_eq!(ws.read().unwrap(), Msg::text("to the others"));
        }
    }
    // A member that leaves is dropped from the group.
    clients.pop().unwrap().close(None).unwrap();
    wait_for(|| group.len() == 7);
}

#[test]
fn silent_clients_are_pinged_then_dropped_responsive_ones_stay() {
    let (mut app, events) = echo_app();
    app.config_mut().websocket_ping_interval = Duration::from_millis(100);
    app.config_mut().websocket_ping_timeout = Duration::from_millis(200);
    let server = TestServer::start(app);
    // tungstenite answers pings while it reads: it reads for well over a ping timeout,
    // sending nothing of its own, then checks it is still connected.
    let mut responsive = client(&server, "/echo");
    assert_eq!(next(&events), "open None");
    let idle_reader = std::thread::spawn(move || {
        responsive
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut pings = 0;
        let until = std::time::Instant::now() + Duration::from_millis(1000);
        while std::time::Instant::now() < until {
            match responsive.read() {
                Ok(Msg::Ping(_)) => pings += 1,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                other => panic!("{other:?}"),
            }
        }
        responsive
            .get_mut()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        responsive.send(Msg::text("alive")).unwrap();
        assert_eq!(responsive.read().unwrap(), Msg::text("alive"));
        pings
    });
    let mut silent = Raw::open(&server, &[]);
    assert_eq!(next(&events), "open None");
    let (first, _) = silent.frame().expect("a ping");
    assert_eq!(first, 0x89);
    // No answer: dropped once the timeout passes.
    assert_eq!(silent.frame(), None);
    assert_eq!(next(&events), "close None ");
    let pings = idle_reader.join().unwrap();
    assert!(pings >= 3, "{pings} pings in a second at a 100 ms interval");
}

#[test]
fn a_client_that_does_not_read_is_disconnected_not_buffered_for() {
    let (mut app, handles, _) = registry_app(1);
    app.config_mut().websocket_max_buffered = 256 * 1024;
    let server = TestServer::start(app);
    let mut raw = Raw::open_at(&server, "/feed", &[]);
    wait_for(|| handles.lock().unwrap().len() == 1);
    let handle = handles.lock().unwrap()[0].clone();
    let chunk = vec![7u8; 64 * 1024];
    // Far more than the socket buffers and the limit together, never read.
    let mut refused = false;
    for _ in 0..2000 {
        if handle.send_binary(chunk.clone()).is_err() {
            refused = true;
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    assert!(refused, "the server buffered everything");
    wait_for(|| handle.is_closed());
    // What arrived ends without the rest: the connection was dropped.
    while raw.frame().is_some() {}
}

#[test]
fn shutdown_sends_going_away() {
    let (app, events) = echo_app();
    let server = TestServer::start(app);
    let mut raw = Raw::open(&server, &[]);
    assert_eq!(next(&events), "open None");
    server.handle.shutdown();
    raw.expect_close(1001);
    assert!(next(&events).starts_with("close Some(1001)"));
    server.stop().unwrap();
}

#[path = "../examples/websocket.rs"]
#[allow(dead_code)]
mod example;

#[test]
fn the_example_echoes_and_its_room_reaches_every_member() {
    let server = TestServer::start(example::app());
    let mut ws = client(&server, "/echo");
    ws.send(Msg::binary(vec![1u8, 2, 3])).unwrap();
    assert_eq!(ws.read().unwrap(), Msg::binary(vec![1u8, 2, 3]));
    let mut members: Vec<_> = (0..5).map(|_| client(&server, "/room")).collect();
    // Each joined in on_open, which runs before its 101 is written.
    members[0].send(Msg::text("hello, room")).unwrap();
    for member in &mut members {
        assert_eq!(member.read().unwrap(), Msg::text("hello, room"));
    }
    let resp = support::roundtrip(&server, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 426);
}

#[test]
fn a_full_mailbox_refuses_sends_instead_of_growing() {
    let (mut app, handles, _) = registry_app(1);
    app.config_mut().mailbox_capacity = 4;
    // A view that holds the loop while the mailbox is posted to from another thread.
    app.get("/hold", |_: &Request| {
        std::thread::sleep(Duration::from_millis(500));
        "held"
    });
    let server = TestServer::start(app);
    let mut ws = client(&server, "/feed");
    wait_for(|| handles.lock().unwrap().len() == 1);
    let handle = handles.lock().unwrap()[0].clone();
    let mut hold = support::Reader::new(server.connect());
    hold.send(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    std::thread::sleep(Duration::from_millis(100)); // the loop is inside the view now
    let results: Vec<_> = (0..10).map(|i| handle.send_text(format!("{i}"))).collect();
    assert_eq!(results[..4], [Ok(()), Ok(()), Ok(()), Ok(())]);
    assert!(
        results[4..].iter().all(|r| *r == Err(SendError::Full)),
        "{results:?}"
    );
    assert_eq!(hold.response().unwrap().text(), "held");
    // What was accepted arrives, in order; what was refused never does.
    for i in 0..4 {
        assert_eq!(ws.read().unwrap(), Msg::text(i.to_string()));
    }
    handle.send_text("after").unwrap();
    assert_eq!(ws.read().unwrap(), Msg::text("after"));
}

/// A raw handshake for `path`, with extra header lines.
fn handshake_to(path: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
    .into_bytes()
}

#[test]
fn before_request_hooks_refuse_an_upgrade_before_the_101() {
    let made = Arc::new(AtomicUsize::new(0));
    let mut app = App::new();
    app.before_request(|req: &Request| {
        if req.path().starts_with("/members") && req.header("Authorization").is_none() {
            return Err(abort(401).with_header("WWW-Authenticate", "Bearer"));
        }
        Ok(())
    });
    let counted = made.clone();
    app.websocket("/members/ws", move |_: &Request| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok::<_, HttpError>(Echo { events: None })
    });
    let mut admin = Blueprint::new("admin", "/admin");
    admin.before_request(|req: &Request| {
        if req.header("X-Admin") != Some("yes") {
            return Err(abort(403));
        }
        Ok(())
    });
    let counted = made.clone();
    admin.websocket("/ws", move |_: &Request| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok::<_, HttpError>(Echo { events: None })
    });
    app.register_blueprint(admin);
    app.get("/plain", |_: &Request| "still HTTP");
    let server = TestServer::start(app);

    for (path, status) in [("/members/ws", 401), ("/admin/ws", 403)] {
        let mut reader = support::Reader::new(server.connect());
        reader.send(&handshake_to(path, ""));
        let resp = reader.response().expect("a response");
        assert_eq!(resp.status, status, "{path}");
        if status == 401 {
            assert_eq!(resp.header("www-authenticate"), Some("Bearer"));
        }
        assert_eq!(resp.header("sec-websocket-accept"), None, "{path}");
        // No 101 follows: the connection still speaks HTTP.
        reader.send(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
        let next = reader.response().expect("the next HTTP response");
        assert_eq!((next.status, next.text().as_str()), (200, "still HTTP"));
    }
    assert_eq!(made.load(Ordering::SeqCst), 0, "the factories never ran");

    // With what the hooks want, the same routes upgrade.
    for (path, header, value) in [
        ("/members/ws", "Authorization", "Bearer t"),
        ("/admin/ws", "X-Admin", "yes"),
    ] {
        let request = tungstenite::ClientRequestBuilder::new(
            format!("ws://{}{path}", server.addr).parse().unwrap(),
        )
        .with_header(header, value);
        let (mut ws, response) = tungstenite::client(request, server.connect()).unwrap();
        assert_eq!(response.status(), 101);
        ws.send(Msg::text(path)).unwrap();
        assert_eq!(ws.read().unwrap(), Msg::text(path));
    }
    assert_eq!(made.load(Ordering::SeqCst), 2);
}

/// Greets with the room its rule named, then prefixes what it echoes with it.
struct Room {
    name: String,
}

impl WebSocketHandler for Room {
    fn on_open(&mut self, ws: &mut WebSocket<'_>) {
        let _ = ws.send_text(&format!("joined {}", self.name));
    }

    fn on_message(&mut self, ws: &mut WebSocket<'_>, message: Message<'_>) {
        if let Message::Text(text) = message {
            let _ = ws.send_text(&format!("{}: {text}", self.name));
        }
    }
}

#[test]
fn an_upgrade_on_a_variable_rule_reads_its_parameters() {
    let mut app = App::new();
    app.websocket("/chat/<room>", |req: &Request| {
        Ok::<_, HttpError>(Room {
            name: req.param_str("room").unwrap_or("?").to_owned(),
        })
    });
    app.websocket("/numbered/<int:n>", |req: &Request| {
        let n: u32 = req.param("n")?;
        Ok::<_, HttpError>(Room {
            name: format!("#{}", n + 1),
        })
    });
    let server = TestServer::start(app);
    for (path, name) in [
        ("/chat/lobby", "lobby"),
        ("/chat/caf%C3%A9", "café"),
        ("/numbered/41", "#42"),
    ] {
        let mut ws = client(&server, path);
        assert_eq!(ws.read().unwrap(), Msg::text(format!("joined {name}")));
        ws.send(Msg::text("hi")).unwrap();
        assert_eq!(ws.read().unwrap(), Msg::text(format!("{name}: hi")));
    }
    // A value the converter refuses does not match the rule.
    let resp = support::roundtrip(&server, &handshake_to("/numbered/x", ""));
    assert_eq!(resp.status, 404);
}

#[test]
fn an_unanswered_close_ends_the_connection_after_the_close_timeout() {
    let (mut app, events) = echo_app();
    let timeout = Duration::from_millis(300);
    app.config_mut().websocket_close_timeout = timeout;
    let server = TestServer::start(app);
    let mut raw = Raw::open(&server, &[]);
    assert_eq!(next(&events), "open None");
    let asked = Instant::now();
    raw.stream.write_all(&frame(0x81, b"close")).unwrap();
    let (first, payload) = raw.frame().expect("the server's close");
    assert_eq!(first, 0x88);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 4000);
    // The client never answers; the server waits out the timeout, then closes TCP.
    assert_eq!(raw.frame(), None, "nothing but the end of the connection");
    let waited = asked.elapsed();
    assert!(
        waited >= timeout,
        "closed after {waited:?}, before the timeout"
    );
    assert!(
        waited < Duration::from_secs(3),
        "closed after {waited:?}: the 5 s default, not the configured timeout"
    );
    assert_eq!(next(&events), "close None ");
}
