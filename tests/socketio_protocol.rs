//! Engine.IO v4 and Socket.IO v5 on the wire, over real sockets: raw HTTP for
//! long-polling, tungstenite for WebSockets. Each test names the rule of the
//! engine.io-protocol or socket.io-protocol README it checks.
#![cfg(feature = "socketio")]

mod support;

use std::net::TcpStream;
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use carafe::socketio::{Ack, AckError, Args, Cors, Socket, SocketIo, SocketIoConfig};
use carafe::{App, Request};
use serde_json::{Value, json};
use support::{Reader, Resp, TestServer};
use tungstenite::Message as Msg;

const EIO: &str = "/socket.io/?EIO=4";

fn serve(
    config: SocketIoConfig,
    workers: usize,
    setup: impl FnOnce(&SocketIo, &mut App),
) -> (TestServer, SocketIo) {
    let io = SocketIo::with_config(config);
    let mut app = App::new();
    io.attach(&mut app);
    io.on("echo", |socket: &Socket, args: Args, ack: Option<Ack>| {
        let _ = match ack {
            Some(ack) => ack.send(args),
            None => socket.emit("echo", args),
        };
    });
    setup(&io, &mut app);
    app.workers(workers);
    app.config_mut().shutdown_timeout = Duration::from_millis(300);
    (TestServer::start(app), io)
}

fn default_server() -> (TestServer, SocketIo) {
    serve(SocketIoConfig::default(), 1, |_, _| {})
}

/// One request on a new connection.
fn request(
    server: &TestServer,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut reader = Reader::new(server.connect());
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
        server.addr,
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    reader.send(&bytes);
    reader.response().expect("a response")
}

fn get(server: &TestServer, target: &str) -> Resp {
    request(server, "GET", target, &[], b"")
}

/// A long-polling handshake: the sid and the `open` packet's JSON.
fn handshake(server: &TestServer) -> (String, Value) {
    let resp = get(server, &format!("{EIO}&transport=polling"));
    assert_eq!(resp.status, 200);
    let text = resp.text();
    let json: Value =
        serde_json::from_str(text.strip_prefix('0').expect("an open packet")).unwrap();
    (json["sid"].as_str().unwrap().to_owned(), json)
}

fn poll(server: &TestServer, sid: &str) -> Resp {
    get(server, &format!("{EIO}&transport=polling&sid={sid}"))
}

fn post(server: &TestServer, sid: &str, body: &[u8]) -> Resp {
    request(
        server,
        "POST",
        &format!("{EIO}&transport=polling&sid={sid}"),
        &[],
        body,
    )
}

/// A polling session connected to `/`: returns the sid.
fn connected(server: &TestServer) -> String {
    let (sid, _) = handshake(server);
    assert_eq!(post(server, &sid, b"40").text(), "ok");
    let connect = poll(server, &sid).text();
    assert!(connect.starts_with("40{\"sid\":"), "{connect}");
    sid
}

fn assert_refused(resp: &Resp, status: u16, code: u8, message: &str) {
    assert_eq!(resp.status, status, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let json: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(json, json!({ "code": code, "message": message }));
}

type Ws = tungstenite::WebSocket<TcpStream>;

fn websocket(server: &TestServer, query: &str) -> Ws {
    let stream = server.connect();
    let url = format!("ws://{}{EIO}&transport=websocket{query}", server.addr);
    let (ws, _) = tungstenite::client(url, stream).expect("WebSocket handshake");
    ws
}

/// The next text message, skipping Engine.IO pings.
fn text(ws: &mut Ws) -> String {
    loop {
        match ws.read().expect("a message") {
            Msg::Text(text) if text.as_str() == "2" => continue,
            Msg::Text(text) => return text.to_string(),
            other => panic!("expected text, got {other:?}"),
        }
    }
}

/// Reads until the connection closes; panics if it stays open past `within`.
fn assert_closes(ws: &mut Ws, within: Duration) {
    ws.get_mut().set_read_timeout(Some(within)).unwrap();
    loop {
        match ws.read() {
            Ok(Msg::Close(_)) | Err(tungstenite::Error::ConnectionClosed) => return,
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("still open after {within:?}")
            }
            Err(_) => return,
        }
    }
}

#[test]
fn handshake_answers_the_open_packet() {
    // "Handshake": 0{"sid","upgrades","pingInterval","pingTimeout","maxPayload"}.
    let (server, _io) = default_server();
    let resp = get(&server, &format!("{EIO}&transport=polling&t=abc"));
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    let body = resp.text();
    let sid = serde_json::from_str::<Value>(&body[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sid.len(), 20);
    assert_eq!(
        body,
        format!(
            r#"0{{"sid":"{sid}","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#
        )
    );
    // Straight to WebSocket: the open packet is the first message, with nothing to upgrade to.
    let mut ws = websocket(&server, "");
    let open: Value = serde_json::from_str(text(&mut ws).strip_prefix('0').unwrap()).unwrap();
    assert_eq!(open["upgrades"], json!([]));
    ws.send(Msg::text("40")).unwrap();
    assert!(text(&mut ws).starts_with("40{\"sid\":"));
}

#[test]
fn bad_requests_get_the_error_json() {
    // engine.io `Server.verify` and its `errors`: 400 with {"code","message"}.
    let (server, _io) = default_server();
    assert_refused(
        &get(&server, "/socket.io/?EIO=3&transport=polling"),
        400,
        5,
        "Unsupported protocol version",
    );
    assert_refused(
        &get(&server, "/socket.io/?transport=polling"),
        400,
        5,
        "Unsupported protocol version",
    );
    assert_refused(
        &get(&server, &format!("{EIO}&transport=carrier-pigeon")),
        400,
        0,
        "Transport unknown",
    );
    assert_refused(&get(&server, EIO), 400, 0, "Transport unknown");
    assert_refused(
        &poll(&server, "AAAAAAAAAAAAAAAAAAAA"),
        400,
        1,
        "Session ID unknown",
    );
    assert_refused(&poll(&server, "not-a-sid"), 400, 1, "Session ID unknown");
    let post_handshake = request(
        &server,
        "POST",
        &format!("{EIO}&transport=polling"),
        &[],
        b"40",
    );
    assert_refused(&post_handshake, 400, 2, "Bad handshake method");
    // transport=websocket without the upgrade headers.
    assert_refused(
        &get(&server, &format!("{EIO}&transport=websocket")),
        400,
        3,
        "Bad request",
    );
}

#[test]
fn polling_payloads_join_packets_and_carry_binary_as_base64() {
    // "Packet encoding / HTTP long-polling": records joined by \x1e, binary as b+base64.
    let (got_tx, got) = channel();
    let got_tx = Mutex::new(got_tx);
    let (server, _io) = serve(SocketIoConfig::default(), 1, move |io, _| {
        io.on_connect(|socket: &Socket, _: Option<Value>| {
            let _ = socket.emit("first", &1);
            let _ = socket.emit("bin", &Bytes::from_static(&[1, 2, 3]));
        });
        io.on(
            "upload",
            move |_: &Socket, (data,): (Bytes,), _: Option<Ack>| {
                got_tx.lock().unwrap().send(data).unwrap();
            },
        );
    });
    let (sid, _) = handshake(&server);
    post(&server, &sid, b"40");
    let body = poll(&server, &sid).text();
    let records: Vec<&str> = body.split('\x1e').collect();
    assert_eq!(records.len(), 4, "{body:?}");
    assert!(records[0].starts_with("40{\"sid\":"));
    assert_eq!(records[1], r#"42["first",1]"#);
    assert_eq!(records[2], r#"451-["bin",{"_placeholder":true,"num":0}]"#);
    assert_eq!(records[3], "bAQID");
    // Two events in one POST, both answered in one GET.
    assert_eq!(
        post(&server, &sid, b"42[\"echo\",\"x\"]\x1e421[\"echo\",\"y\"]").text(),
        "ok"
    );
    assert_eq!(
        poll(&server, &sid).text(),
        "42[\"echo\",\"x\"]\x1e431[\"y\"]"
    );
    // A binary event from the client: its attachment as b+base64 in the same payload.
    post(
        &server,
        &sid,
        b"451-[\"upload\",{\"_placeholder\":true,\"num\":0}]\x1ebAAH/",
    );
    assert_eq!(
        &got.recv_timeout(Duration::from_secs(5)).unwrap()[..],
        &[0, 1, 255]
    );
}

#[test]
fn a_parked_get_is_answered_from_another_thread_on_any_loop() {
    // Two loops, a new connection for every request: SO_REUSEPORT spreads them, and
    // each request finds the session wherever it was made.
    let (server, io) = serve(SocketIoConfig::default(), 2, |_, _| {});
    let sid = connected(&server);
    for i in 0..12 {
        let body = format!("42[\"echo\",{i}]");
        assert_eq!(post(&server, &sid, body.as_bytes()).text(), "ok");
        assert_eq!(poll(&server, &sid).text(), format!("42[\"echo\",{i}]"));
    }
    // A GET that waits, answered by an emit from a plain thread.
    let waiting = {
        let addr = server.addr;
        let sid = sid.clone();
        thread::spawn(move || {
            let mut reader = Reader::new(TcpStream::connect(addr).unwrap());
            reader.send(
                format!("GET {EIO}&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n")
                    .as_bytes(),
            );
            reader.response().unwrap().text()
        })
    };
    thread::sleep(Duration::from_millis(200));
    io.emit("news", &json!({"n": 1})).unwrap();
    assert_eq!(waiting.join().unwrap(), r#"42["news",{"n":1}]"#);
}

#[test]
fn a_second_concurrent_get_is_refused_and_closes_the_session() {
    // engine.io: "overlap from client" → 400, and the session closes.
    let (server, _io) = default_server();
    let sid = connected(&server);
    let addr = server.addr;
    let sid2 = sid.clone();
    let first = thread::spawn(move || {
        let mut reader = Reader::new(TcpStream::connect(addr).unwrap());
        reader.send(
            format!("GET {EIO}&transport=polling&sid={sid2} HTTP/1.1\r\nHost: x\r\n\r\n")
                .as_bytes(),
        );
        reader.response().unwrap().text()
    });
    thread::sleep(Duration::from_millis(200));
    assert_refused(&poll(&server, &sid), 400, 3, "Bad request");
    // The parked GET ends with a close packet; the session is gone.
    assert_eq!(first.join().unwrap(), "1");
    assert_refused(&poll(&server, &sid), 400, 1, "Session ID unknown");
}

#[test]
fn a_post_over_max_payload_is_413() {
    let config = SocketIoConfig {
        max_payload: 100,
        ..SocketIoConfig::default()
    };
    let (server, _io) = serve(config, 1, |_, _| {});
    let sid = connected(&server);
    let big = format!("42[\"echo\",\"{}\"]", "x".repeat(200));
    assert_eq!(post(&server, &sid, big.as_bytes()).status, 413);
    // And over WebSocket, such a message closes the connection.
    let mut ws = websocket(&server, "");
    text(&mut ws);
    ws.send(Msg::text("40")).unwrap();
    text(&mut ws);
    ws.send(Msg::text(big)).unwrap();
    assert_closes(&mut ws, Duration::from_secs(5));
}

fn quick_heartbeat() -> SocketIoConfig {
    SocketIoConfig {
        ping_interval: Duration::from_millis(150),
        ping_timeout: Duration::from_millis(150),
        ..SocketIoConfig::default()
    }
}

#[test]
fn the_server_pings_and_drops_a_silent_client() {
    // "Heartbeat": a ping every pingInterval; no pong within pingTimeout closes.
    let (reasons_tx, reasons) = channel();
    let reasons_tx = Mutex::new(reasons_tx);
    let (server, _io) = serve(quick_heartbeat(), 1, move |io, _| {
        io.on_disconnect(move |_: &Socket, reason| {
            reasons_tx.lock().unwrap().send(reason.as_str()).unwrap();
        });
    });
    let sid = connected(&server);
    // Answering pings keeps the session for several intervals.
    let start = Instant::now();
    for _ in 0..3 {
        assert_eq!(poll(&server, &sid).text(), "2");
        assert_eq!(post(&server, &sid, b"3").text(), "ok");
    }
    assert!(start.elapsed() >= Duration::from_millis(300));
    // Then silence: gone after pingInterval + pingTimeout.
    thread::sleep(Duration::from_millis(600));
    assert_refused(&poll(&server, &sid), 400, 1, "Session ID unknown");
    assert_eq!(
        reasons.recv_timeout(Duration::from_secs(5)).unwrap(),
        "ping timeout"
    );

    // Over WebSocket the same: pings arrive, and silence closes the connection.
    let mut ws = websocket(&server, "");
    text(&mut ws);
    ws.send(Msg::text("40")).unwrap();
    text(&mut ws);
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(ws.read().unwrap(), Msg::text("2"));
    ws.send(Msg::text("3")).unwrap();
    assert_eq!(ws.read().unwrap(), Msg::text("2"));
    assert_closes(&mut ws, Duration::from_secs(5));
    assert_eq!(
        reasons.recv_timeout(Duration::from_secs(5)).unwrap(),
        "ping timeout"
    );
}

#[test]
fn polling_upgrades_to_websocket_with_the_probe() {
    // "Upgrade": 2probe → 3probe, the pending GET ends with a noop, 5 switches.
    let (server, io) = default_server();
    let sid = connected(&server);
    let addr = server.addr;
    let sid2 = sid.clone();
    let parked = thread::spawn(move || {
        let mut reader = Reader::new(TcpStream::connect(addr).unwrap());
        reader.send(
            format!("GET {EIO}&transport=polling&sid={sid2} HTTP/1.1\r\nHost: x\r\n\r\n")
                .as_bytes(),
        );
        reader.response().unwrap().text()
    });
    thread::sleep(Duration::from_millis(150));
    let mut ws = websocket(&server, &format!("&sid={sid}"));
    ws.send(Msg::text("2probe")).unwrap();
    assert_eq!(text(&mut ws), "3probe");
    assert_eq!(parked.join().unwrap(), "6");
    // Until `5`, what the server sends still goes by polling.
    io.emit("before", &1).unwrap();
    assert_eq!(poll(&server, &sid).text(), r#"42["before",1]"#);
    ws.send(Msg::text("5")).unwrap();
    ws.send(Msg::text(r#"421["echo","over ws"]"#)).unwrap();
    assert_eq!(text(&mut ws), r#"431["over ws"]"#);
    io.emit("after", &2).unwrap();
    assert_eq!(text(&mut ws), r#"42["after",2]"#);
    // The session no longer polls.
    assert_refused(&poll(&server, &sid), 400, 3, "Bad request");
}

#[test]
fn cors_follows_the_allowed_origins() {
    let (server, _io) = default_server();
    let same = format!("http://{}", server.addr);
    // The same origin is allowed by default, echoed back with credentials.
    let resp = request(
        &server,
        "GET",
        &format!("{EIO}&transport=polling"),
        &[("Origin", &same)],
        b"",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some(same.as_str())
    );
    assert_eq!(
        resp.header("access-control-allow-credentials"),
        Some("true")
    );
    // Another is refused, as python-engineio refuses it.
    let resp = request(
        &server,
        "GET",
        &format!("{EIO}&transport=polling"),
        &[("Origin", "http://evil.example")],
        b"",
    );
    assert_refused(&resp, 403, 4, "Not an accepted origin.");

    let config = SocketIoConfig {
        cors_allowed_origins: Cors::Origins(vec!["https://app.example".into()]),
        ..SocketIoConfig::default()
    };
    let (server, _io) = serve(config, 1, |_, _| {});
    let preflight = request(
        &server,
        "OPTIONS",
        &format!("{EIO}&transport=polling"),
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("OPTIONS, GET, POST")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(
        preflight.header("access-control-allow-credentials"),
        Some("true")
    );
    let resp = request(
        &server,
        "GET",
        &format!("{EIO}&transport=polling"),
        &[("Origin", &format!("http://{}", server.addr))],
        b"",
    );
    assert_eq!(resp.status, 403);

    let any = SocketIoConfig {
        cors_allowed_origins: Cors::Any,
        ..SocketIoConfig::default()
    };
    let (server, _io) = serve(any, 1, |_, _| {});
    let resp = request(
        &server,
        "GET",
        &format!("{EIO}&transport=polling"),
        &[("Origin", "http://x.example")],
        b"",
    );
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("http://x.example")
    );
}

/// A WebSocket client connected to `nsp` with `auth`; returns it and the CONNECT answer.
fn ws_connect(server: &TestServer, nsp: &str, auth: &str) -> (Ws, String) {
    let mut ws = websocket(server, "");
    text(&mut ws);
    let prefix = if nsp == "/" {
        String::new()
    } else {
        format!("{nsp},")
    };
    ws.send(Msg::text(format!("40{prefix}{auth}"))).unwrap();
    let answer = text(&mut ws);
    (ws, answer)
}

#[test]
fn server_to_client_acks_call_back_or_time_out() {
    // socket.io-protocol "Acknowledgement": the server's EVENT with an id, the client's ACK.
    let (server, io) = default_server();
    let (mut ws, answer) = ws_connect(&server, "/", "");
    let id: Value = serde_json::from_str(&answer[2..]).unwrap();
    let socket = io.socket(id["sid"].as_str().unwrap()).expect("the socket");
    let (tx, rx) = channel();
    let tx2 = tx.clone();
    socket
        .emit_with_ack(
            "question",
            "ready?",
            Duration::from_secs(5),
            move |answer| {
                tx.send(answer.map(|args| args.get::<String>(0).unwrap()))
                    .unwrap()
            },
        )
        .unwrap();
    assert_eq!(text(&mut ws), r#"420["question","ready?"]"#);
    ws.send(Msg::text(r#"430["yes"]"#)).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        Ok("yes".to_owned())
    );
    // Unanswered: the callback hears of the timeout.
    let start = Instant::now();
    socket
        .emit_with_ack(
            "question",
            "again?",
            Duration::from_millis(200),
            move |answer| tx2.send(answer.map(|_| String::new())).unwrap(),
        )
        .unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        Err(AckError::Timeout)
    );
    assert!(start.elapsed() >= Duration::from_millis(200));
}

#[test]
fn a_malformed_packet_closes_only_its_client() {
    let (server, _io) = default_server();
    let (mut good, _) = ws_connect(&server, "/", "");
    let (mut bad, _) = ws_connect(&server, "/", "");
    bad.send(Msg::text("42[not json")).unwrap();
    assert_closes(&mut bad, Duration::from_secs(5));
    good.send(Msg::text(r#"427["echo","still here"]"#)).unwrap();
    assert_eq!(text(&mut good), r#"437["still here"]"#);
    // An attachment nobody announced is as bad.
    let (mut bad, _) = ws_connect(&server, "/", "");
    bad.send(Msg::binary(vec![1, 2, 3])).unwrap();
    assert_closes(&mut bad, Duration::from_secs(5));
}

#[test]
fn connect_handlers_see_auth_and_the_handshake_request_and_may_refuse() {
    let (server, io) = serve(SocketIoConfig::default(), 1, |io, app| {
        app.secret_key("a secret for the test");
        app.get("/login", |req: &Request| {
            req.session().insert("user", "ann");
            "in"
        });
        let private = io.of("/private");
        private.on_connect(|socket: &Socket, auth: Option<Value>| {
            let token = auth
                .as_ref()
                .and_then(|a| a.get("token"))
                .and_then(Value::as_str);
            if token != Some("t0k") {
                return Err("unauthorized".to_owned());
            }
            let handshake = socket.handshake();
            let user = handshake
                .session()
                .get("user")
                .cloned()
                .unwrap_or(Value::Null);
            socket.session().insert("user".into(), user.clone());
            let _ = socket.emit(
                "hello",
                &json!({
                    "agent": handshake.header("user-agent"),
                    "theme": handshake.cookie("theme"),
                    "user": user,
                }),
            );
            Ok(())
        });
        private.on("whoami", |socket: &Socket, _: Args, ack: Option<Ack>| {
            let user = socket.session().get("user").cloned();
            if let Some(ack) = ack {
                let _ = ack.send(&user);
            }
        });
    });
    let _ = io;
    let login = get(&server, "/login");
    let cookie = login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let cookies = format!("{cookie}; theme=dark");

    let resp = request(
        &server,
        "GET",
        &format!("{EIO}&transport=polling"),
        &[("Cookie", &cookies), ("User-Agent", "test-agent")],
        b"",
    );
    let sid = serde_json::from_str::<Value>(&resp.text()[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    post(&server, &sid, br#"40/private,{"token":"nope"}"#);
    assert_eq!(
        poll(&server, &sid).text(),
        r#"44/private,{"message":"unauthorized"}"#
    );
    post(&server, &sid, br#"40/private,{"token":"t0k"}"#);
    let body = poll(&server, &sid).text();
    let records: Vec<&str> = body.split('\x1e').collect();
    assert!(records[0].starts_with("40/private,{\"sid\":"), "{body}");
    assert_eq!(
        records[1],
        r#"42/private,["hello",{"agent":"test-agent","theme":"dark","user":"ann"}]"#
    );
    post(&server, &sid, br#"42/private,3["whoami"]"#);
    assert_eq!(poll(&server, &sid).text(), r#"43/private,3["ann"]"#);
    // A namespace nobody registered.
    post(&server, &sid, b"40/nowhere,");
    assert_eq!(
        poll(&server, &sid).text(),
        r#"44/nowhere,{"message":"Invalid namespace"}"#
    );
}

#[test]
fn blocking_views_and_threads_emit_and_disconnect() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let (server, io) = serve(SocketIoConfig::default(), 2, move |io, app| {
        let notifier = io.clone();
        app.blocking().get("/notify/<room>", move |req: &Request| {
            let room = req.param_str("room").unwrap_or("").to_owned();
            notifier.to(&room).emit("note", &room).unwrap();
            "sent"
        });
        io.on(
            "join",
            |socket: &Socket, (room,): (String,), _: Option<Ack>| socket.join(&room),
        );
        io.on_disconnect(move |socket: &Socket, reason| {
            seen.lock()
                .unwrap()
                .push(format!("{} {reason}", socket.id()));
        });
    });
    let (mut a, answer) = ws_connect(&server, "/", "");
    let a_id = serde_json::from_str::<Value>(&answer[2..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut b, _) = ws_connect(&server, "/", "");
    a.send(Msg::text(r#"42["join","news"]"#)).unwrap();
    thread::sleep(Duration::from_millis(100));
    assert_eq!(get(&server, "/notify/news").text(), "sent");
    assert_eq!(text(&mut a), r#"42["note","news"]"#);
    // A thread of its own, to a room except one socket.
    let io2 = io.clone();
    let a2 = a_id.clone();
    thread::spawn(move || io2.except(&a2).emit("all-but-a", &0).unwrap())
        .join()
        .unwrap();
    assert_eq!(text(&mut b), r#"42["all-but-a",0]"#);
    // Disconnect from outside: the client gets DISCONNECT.
    assert!(io.disconnect(&a_id));
    assert_eq!(text(&mut a), "41");
    assert!(io.socket(&a_id).is_none());
    assert_eq!(
        *events.lock().unwrap(),
        [format!("{a_id} server namespace disconnect")]
    );
}

#[test]
fn a_client_that_joins_no_namespace_is_closed_after_the_connect_timeout() {
    // socket.io's connectTimeout: a session with no namespace is not kept.
    let config = SocketIoConfig {
        connect_timeout: Duration::from_millis(200),
        ..SocketIoConfig::default()
    };
    let (server, _io) = serve(config, 1, |_, _| {});
    let (idle, _) = handshake(&server);
    let joined = connected(&server);
    thread::sleep(Duration::from_millis(500));
    assert_refused(&poll(&server, &idle), 400, 1, "Session ID unknown");
    assert_eq!(post(&server, &joined, br#"42["echo","here"]"#).text(), "ok");
    assert_eq!(poll(&server, &joined).text(), r#"42["echo","here"]"#);
}

/// The sid in a CONNECT answer (`40{"sid":..}` or `40/nsp,{"sid":..}`).
fn sid_of(answer: &str) -> String {
    let json = &answer[answer.find('{').expect("a CONNECT answer")..];
    serde_json::from_str::<Value>(json).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs `f` on a plain thread of its own, as an app's background work would.
fn from_a_thread(io: &SocketIo, f: impl FnOnce(SocketIo) + Send + 'static) {
    let io = io.clone();
    thread::spawn(move || f(io)).join().unwrap();
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < until, "timed out");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn chained_targets_namespaces_and_closed_rooms_from_plain_threads() {
    // Flask-SocketIO's emit(to=room, skip_sid=sid), emit(namespace=..) and close_room,
    // called from outside any handler. Each client's next message after a marker sent
    // to everyone shows what it was and was not sent before it.
    let (server, io) = serve(SocketIoConfig::default(), 2, |io, _| {
        io.on(
            "join",
            |socket: &Socket, (room,): (String,), _: Option<Ack>| socket.join(&room),
        );
        io.of("/admin");
    });
    let (mut a, answer) = ws_connect(&server, "/", "");
    let a_id = sid_of(&answer);
    let (mut b, answer) = ws_connect(&server, "/", "");
    let b_id = sid_of(&answer);
    let (mut outsider, _) = ws_connect(&server, "/", "");
    let (mut admin, answer) = ws_connect(&server, "/admin", "");
    assert!(answer.starts_with("40/admin,{"), "{answer}");
    for ws in [&mut a, &mut b] {
        ws.send(Msg::text(r#"42["join","news"]"#)).unwrap();
    }
    wait_until(|| io.to("news").sockets().len() == 2);

    // to(room).except(sid): b only.
    let a2 = a_id.clone();
    from_a_thread(&io, move |io| {
        io.to("news").except(&a2).emit("chained", &1).unwrap();
        io.emit("marker", &1).unwrap();
    });
    assert_eq!(text(&mut b), r#"42["chained",1]"#);
    for ws in [&mut a, &mut b, &mut outsider] {
        assert_eq!(text(ws), r#"42["marker",1]"#);
    }

    // of("/admin").emit: the /admin socket only, and none of "/"'s emits reach it.
    from_a_thread(&io, |io| {
        io.of("/admin").emit("admins", "only").unwrap();
        io.emit("marker", &2).unwrap();
        io.of("/admin").emit("end", &0).unwrap();
    });
    assert_eq!(text(&mut admin), r#"42/admin,["admins","only"]"#);
    assert_eq!(text(&mut admin), r#"42/admin,["end",0]"#);
    for ws in [&mut a, &mut b, &mut outsider] {
        assert_eq!(text(ws), r#"42["marker",2]"#);
    }

    // close_room: its former members stay connected but no longer get its emits.
    from_a_thread(&io, |io| {
        io.close_room("news");
        io.to("news").emit("closed", &0).unwrap();
        io.emit("marker", &3).unwrap();
    });
    assert!(io.to("news").sockets().is_empty());
    for id in [&a_id, &b_id] {
        let rooms = io.socket(id).expect("still connected").rooms();
        assert!(!rooms.contains(&"news".to_owned()), "{rooms:?}");
    }
    for ws in [&mut a, &mut b, &mut outsider] {
        assert_eq!(text(ws), r#"42["marker",3]"#);
    }
}
