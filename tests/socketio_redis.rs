//! Socket.IO across processes through Redis: two servers of `examples/chat.rs`, each
//! with its own Redis link (its own uid, publishing and subscribing threads) as two
//! processes would have, on a `redis-server` this test starts; clients over real
//! WebSockets. Rooms, broadcasts, disconnects, closed rooms and queries cross; the
//! emitter reaches both; a Redis crash leaves each server serving its own clients, and
//! the link comes back when Redis does.
//!
//! Needs `redis-server` (installed with apt-get if missing; skipped if it cannot be,
//! except under CI).
#![cfg(feature = "redis")]

mod support;

#[path = "../examples/chat.rs"]
#[allow(dead_code)]
mod chat;

use std::sync::mpsc::channel;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use carafe::socketio::{Emitter, SocketIo, SocketIoConfig};
use serde_json::{Value, json};
use support::TestServer;
use support::redis_server::RedisServer;
use support::sio_client::{SioClient, TIMEOUT};

/// A chat server attached to `redis`.
fn chat_server(redis: &RedisServer) -> (TestServer, SocketIo) {
    let io = SocketIo::with_config(SocketIoConfig {
        message_queue: Some(redis.url()),
        ..SocketIoConfig::default()
    });
    let mut app = chat::app(&io);
    app.config_mut().shutdown_timeout = Duration::from_millis(300);
    (TestServer::start(app), io)
}

/// Redis and two chat servers on it, both subscribed.
fn cluster() -> Option<(RedisServer, TestServer, SocketIo, TestServer, SocketIo)> {
    let redis = RedisServer::start()?;
    let (s1, io1) = chat_server(&redis);
    let (s2, io2) = chat_server(&redis);
    redis.wait_for_subscribers(2);
    Some((redis, s1, io1, s2, io2))
}

fn said(room: &str, text: &str, from: &str) -> Vec<Value> {
    vec![json!({ "room": room, "text": text, "from": from })]
}

fn say(client: &mut SioClient, room: &str, text: &str) {
    client.emit("say", &[json!({ "room": room, "text": text })]);
}

/// Whether `client` gets `said` with `text` within `timeout`.
fn hears(client: &mut SioClient, text: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next("said", left) {
            Some(args) if args[0]["text"] == text => return true,
            Some(_) => continue,
            None => return false,
        }
    }
}

#[test]
fn rooms_broadcasts_queries_and_disconnects_cross_servers() {
    let Some((_redis, s1, io1, s2, io2)) = cluster() else {
        return;
    };
    let mut a = SioClient::connect(s1.addr);
    let mut b = SioClient::connect(s2.addr);
    assert_eq!(a.call("join", &[json!("room")]), [json!(true)]);
    assert_eq!(b.call("join", &[json!("room")]), [json!(true)]);

    // Each hears the other's say, and its own.
    say(&mut a, "room", "from a");
    assert_eq!(
        b.next("said", TIMEOUT),
        Some(said("room", "from a", &a.sid))
    );
    assert_eq!(
        a.next("said", TIMEOUT),
        Some(said("room", "from a", &a.sid))
    );
    say(&mut b, "room", "from b");
    assert_eq!(
        a.next("said", TIMEOUT),
        Some(said("room", "from b", &b.sid))
    );
    assert_eq!(
        b.next("said", TIMEOUT),
        Some(said("room", "from b", &b.sid))
    );

    // socket.broadcast() crosses and skips the sender; io.emit reaches everyone.
    a.emit("broadcast", &[json!({"x": 1})]);
    assert_eq!(b.next("broadcast", TIMEOUT), Some(vec![json!({"x": 1})]));
    assert_eq!(a.next("broadcast", Duration::from_millis(300)), None);
    io2.emit("everyone", "hi").unwrap();
    assert_eq!(a.next("everyone", TIMEOUT), Some(vec![json!("hi")]));
    assert_eq!(b.next("everyone", TIMEOUT), Some(vec![json!("hi")]));
    // except(room) crosses too: b is left out, on its own server and on the other.
    let mut c = SioClient::connect(s2.addr);
    io1.except(&b.sid).emit("but_b", &1).unwrap();
    assert_eq!(a.next("but_b", TIMEOUT), Some(vec![json!(1)]));
    assert_eq!(c.next("but_b", TIMEOUT), Some(vec![json!(1)]));
    assert_eq!(b.next("but_b", Duration::from_millis(300)), None);

    // Queries: the members of a room and the count of `/`, over both servers.
    let mut members = vec![a.sid.clone(), b.sid.clone()];
    members.sort();
    assert_eq!(a.call("members", &[json!("room")]), [json!(members)]);
    let mut admin = SioClient::connect_to(s1.addr, "/admin", Some(json!({"token": "secret"})));
    assert_eq!(admin.call("count", &[]), [json!(3)]);
    let (tx, rx) = channel();
    io1.to("room")
        .fetch_sockets(TIMEOUT, move |sockets| tx.send(sockets).unwrap());
    let mut found = rx.recv_timeout(TIMEOUT * 2).expect("an answer");
    found.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(found.len(), 2);
    for info in &found {
        assert!(members.contains(&info.id));
        assert!(info.rooms.contains(&"room".to_owned()), "{info:?}");
        assert!(info.rooms.contains(&info.id), "{info:?}");
    }
    // Only the local part without waiting: `len` is this process's.
    assert_eq!((io1.of("/").len(), io2.of("/").len()), (1, 2));

    // close_room on one server empties the room on the other.
    io1.close_room("room");
    let deadline = Instant::now() + TIMEOUT;
    while b.call("rooms", &[]) != [json!([])] {
        assert!(Instant::now() < deadline, "b is still in the room");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(a.call("rooms", &[]), [json!([])]);

    // disconnect(sid) of a socket on the other server.
    assert!(!io1.disconnect(&b.sid), "b is not on server 1");
    assert!(b.disconnected_within(TIMEOUT), "b was not disconnected");
    assert_eq!(admin.call("count", &[]), [json!(2)]);
    // Broadcast::disconnect crosses as well.
    io2.to(&a.sid).disconnect();
    assert!(a.disconnected_within(TIMEOUT), "a was not disconnected");
    assert_eq!(admin.call("count", &[]), [json!(1)]);
}

#[test]
fn the_emitter_reaches_every_server() {
    let Some((redis, s1, _io1, s2, _io2)) = cluster() else {
        return;
    };
    let mut a = SioClient::connect(s1.addr);
    let mut b = SioClient::connect(s2.addr);
    let mut outside = SioClient::connect(s2.addr);
    a.call("join", &[json!("news")]);
    b.call("join", &[json!("news")]);

    let emitter = Emitter::new(&redis.url()).unwrap();
    let servers = emitter
        .to("news")
        .emit("said", &json!({"text": "extra"}))
        .unwrap();
    assert_eq!(servers, 2, "both servers got it");
    assert_eq!(
        a.next("said", TIMEOUT),
        Some(vec![json!({"text": "extra"})])
    );
    assert_eq!(
        b.next("said", TIMEOUT),
        Some(vec![json!({"text": "extra"})])
    );
    assert_eq!(outside.next("said", Duration::from_millis(300)), None);

    // Binary attachments cross as binary.
    let blob = Bytes::from_static(&[0, 1, 2, 255]);
    emitter.to("news").emit("blob", &blob).unwrap();
    for client in [&mut a, &mut b] {
        let (args, attachments) = client.next_with_attachments("blob", TIMEOUT).unwrap();
        assert_eq!(args, [json!({"_placeholder": true, "num": 0})]);
        assert_eq!(attachments, [blob.to_vec()]);
    }

    // Another namespace, and a disconnect by id.
    let mut admin = SioClient::connect_to(s1.addr, "/admin", Some(json!({"token": "secret"})));
    emitter.of("/admin").emit("alert", "disk").unwrap();
    assert_eq!(admin.next("alert", TIMEOUT), Some(vec![json!("disk")]));
    assert_eq!(a.next("alert", Duration::from_millis(300)), None);
    emitter.to(&b.sid).disconnect().unwrap();
    assert!(b.disconnected_within(TIMEOUT));

    // examples/emitter.rs, a process of its own, when built (`cargo test` builds it; a
    // run limited to this test needs `cargo build --features redis --example emitter`).
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/emitter");
    if example.exists() {
        let out = std::process::Command::new(&example)
            .args(["news", "from the example"])
            .env("REDIS_URL", redis.url())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(hears(&mut a, "from the example", TIMEOUT));
    }
}

/// Waits (bounded) until what `from` says, `to` hears.
fn resumes(from: &mut SioClient, to: &mut SioClient, deadline: Instant) {
    for n in 0.. {
        assert!(Instant::now() < deadline, "remote delivery did not resume");
        let text = format!("after {n}");
        say(from, "room", &text);
        if hears(to, &text, Duration::from_millis(300)) {
            return;
        }
    }
}

/// Warnings this test binary logged, to count them.
fn warnings() -> &'static Mutex<Vec<String>> {
    struct Capture;
    static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    impl log::Log for Capture {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.level() <= log::Level::Warn
        }
        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                let line = record.args().to_string();
                eprintln!("[{}] {line}", record.level());
                LINES.get_or_init(Mutex::default).lock().unwrap().push(line);
            }
        }
        fn flush(&self) {}
    }
    static CAPTURE: Capture = Capture;
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    LINES.get_or_init(Mutex::default)
}

fn count_warnings(port: u16, containing: &str) -> usize {
    let port = format!(":{port}/");
    warnings()
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains(&port) && line.contains(containing))
        .count()
}

#[test]
fn a_redis_crash_keeps_local_delivery_and_remote_delivery_resumes() {
    warnings();
    let Some((mut redis, s1, _io1, s2, _io2)) = cluster() else {
        return;
    };
    let port = redis.port;
    let mut a = SioClient::connect(s1.addr);
    let mut b = SioClient::connect(s2.addr);
    a.call("join", &[json!("room")]);
    b.call("join", &[json!("room")]);
    say(&mut a, "room", "before");
    assert!(hears(&mut b, "before", TIMEOUT));
    assert!(hears(&mut a, "before", TIMEOUT));

    redis.kill();
    // Each server goes on serving its own clients, promptly; the other does not hear.
    for n in 0..5 {
        let text = format!("during {n}");
        let started = Instant::now();
        say(&mut a, "room", &text);
        assert!(hears(&mut a, &text, TIMEOUT), "local delivery stopped");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the loop waited"
        );
        say(&mut b, "room", &text);
        assert!(hears(&mut b, &text, TIMEOUT), "local delivery stopped");
    }
    assert!(!hears(&mut b, "during 0", Duration::from_millis(300)));
    // A query answers with what it has by its timeout.
    let mut admin = SioClient::connect_to(s1.addr, "/admin", Some(json!({"token": "secret"})));
    assert_eq!(admin.call("count", &[]), [json!(1)]);

    let redis = RedisServer::start_on(port);
    // Remote delivery resumes once both servers are back on: each says until the
    // other hears.
    let deadline = Instant::now() + Duration::from_secs(20);
    resumes(&mut a, &mut b, deadline);
    resumes(&mut b, &mut a, deadline);
    redis.wait_for_subscribers(2);
    assert_eq!(admin.call("count", &[]), [json!(2)]);
    // One warning per server when Redis went away and one when it came back, not one
    // per message.
    assert_eq!(count_warnings(port, "unreachable"), 2);
    assert_eq!(count_warnings(port, "reachable again"), 2);
}
