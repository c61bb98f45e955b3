//! A Socket.IO chat: rooms, acknowledgements, binary echo, a namespace with auth, and a
//! clock thread that emits from outside any handler. The page at `/` uses the official
//! browser client.
//!
//! ```sh
//! cargo run --release --features socketio --example chat     # http://127.0.0.1:5000/
//! HOST=unix:/tmp/chat.sock cargo run --release --features socketio --example chat
//! ```
//!
//! `PING_INTERVAL_MS` and `PING_TIMEOUT_MS` set the heartbeat, `WORKERS` the loops, and
//! `CARAFE_*` variables the server (`CARAFE_WEBSOCKET_NODELAY=false` for cheaper room
//! broadcasts, see `Config::websocket_nodelay`).
//!
//! Several processes: with the `redis` feature and `REDIS_URL` set, each instance
//! attaches to that Redis, and rooms, broadcasts and counts span all of them
//! (`examples/emitter.rs` emits to them from outside):
//!
//! ```sh
//! cargo build --release --features redis --example chat
//! REDIS_URL=redis://127.0.0.1:6379/ PORT=5000 target/release/examples/chat &
//! REDIS_URL=redis://127.0.0.1:6379/ PORT=5001 target/release/examples/chat &
//! ```
//!
//! Events of the default namespace: `echo` (ack with the same arguments if asked, else
//! emit them back), `join`/`leave` a room (ack `true`), `say` `{"room","text"}` (everyone
//! in the room gets `said`), `broadcast` (everyone else gets it), `rooms` (ack the
//! sorted rooms, the socket's own excluded), `members` a room (ack the sorted ids of the
//! sockets in it, on every instance). `/admin` needs auth `{"token":"secret"}` and
//! answers `count` with the number of sockets on `/`, on every instance.

use std::time::Duration;

use carafe::socketio::{Ack, Args, Socket, SocketIo, SocketIoConfig};
use carafe::{App, Response};
use serde::Deserialize;
use serde_json::{Value, json};

const PAGE: &str = include_str!("chat/index.html");
/// socket.io-client's browser build, MIT (its header names the version).
const CLIENT_JS: &[u8] = include_bytes!("chat/static/socket.io.min.js");

#[derive(Deserialize)]
struct Say {
    room: String,
    text: Value,
}

/// How long a query over every instance waits for the others.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// The Socket.IO settings: the protocol's defaults, or `PING_INTERVAL_MS`,
/// `PING_TIMEOUT_MS` and `REDIS_URL` from the environment.
fn config() -> SocketIoConfig {
    let ms = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
    };
    let defaults = SocketIoConfig::default();
    let redis_url = std::env::var("REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty());
    #[cfg(not(feature = "redis"))]
    if redis_url.is_some() {
        log::warn!("REDIS_URL is ignored: the example was built without the redis feature");
    }
    SocketIoConfig {
        ping_interval: ms("PING_INTERVAL_MS").unwrap_or(defaults.ping_interval),
        ping_timeout: ms("PING_TIMEOUT_MS").unwrap_or(defaults.ping_timeout),
        #[cfg(feature = "redis")]
        message_queue: redis_url,
        ..defaults
    }
}

/// The app and its Socket.IO server, apart from `main` so tests can serve exactly this.
pub fn app(io: &SocketIo) -> App {
    let mut app = App::new();
    app.get("/", |_: &carafe::Request| Response::html(PAGE));
    app.get("/static/socket.io.min.js", |_: &carafe::Request| {
        Response::new(CLIENT_JS).with_content_type("application/javascript; charset=utf-8")
    });
    io.attach(&mut app);

    io.on_connect(|socket: &Socket, _auth: Option<Value>| {
        let _ = socket.emit("welcome", &json!({ "sid": socket.id() }));
    });
    io.on("echo", |socket: &Socket, args: Args, ack: Option<Ack>| {
        let _ = match ack {
            Some(ack) => ack.send(args),
            None => socket.emit("echo", args),
        };
    });
    io.on(
        "join",
        |socket: &Socket, (room,): (String,), ack: Option<Ack>| {
            socket.join(&room);
            if let Some(ack) = ack {
                let _ = ack.send(&true);
            }
        },
    );
    io.on(
        "leave",
        |socket: &Socket, (room,): (String,), ack: Option<Ack>| {
            socket.leave(&room);
            if let Some(ack) = ack {
                let _ = ack.send(&true);
            }
        },
    );
    let everyone = io.clone();
    io.on(
        "say",
        move |socket: &Socket, (say,): (Say,), _: Option<Ack>| {
            let said = json!({ "room": say.room, "text": say.text, "from": socket.id() });
            let _ = everyone.to(&say.room).emit("said", &said);
        },
    );
    io.on(
        "broadcast",
        |socket: &Socket, args: Args, _: Option<Ack>| {
            let _ = socket.broadcast().emit("broadcast", args);
        },
    );
    io.on("rooms", |socket: &Socket, _: Args, ack: Option<Ack>| {
        let mut rooms = socket.rooms();
        rooms.retain(|room| room != socket.id());
        if let Some(ack) = ack {
            let _ = ack.send(&rooms);
        }
    });
    let members = io.clone();
    io.on(
        "members",
        move |_: &Socket, (room,): (String,), ack: Option<Ack>| {
            let Some(ack) = ack else { return };
            // Answered when every instance has, without holding the loop meanwhile.
            members
                .to(&room)
                .fetch_sockets(QUERY_TIMEOUT, move |sockets| {
                    let mut ids: Vec<String> = sockets.into_iter().map(|s| s.id).collect();
                    ids.sort();
                    let _ = ack.send(&ids);
                });
        },
    );

    let admin = io.of("/admin");
    admin.on_connect(|_: &Socket, auth: Option<Value>| {
        match auth.as_ref().and_then(|auth| auth.get("token")) {
            Some(token) if token == "secret" => Ok(()),
            _ => Err("unauthorized"),
        }
    });
    let main = io.of("/");
    admin.on("count", move |_: &Socket, _: Args, ack: Option<Ack>| {
        if let Some(ack) = ack {
            main.fetch_sockets(QUERY_TIMEOUT, move |sockets| {
                let _ = ack.send(&sockets.len());
            });
        }
    });
    app
}

/// The clock: a plain thread that emits `tick` with a counter to room `clock` every
/// second, from outside any handler.
pub fn start_clock(io: &SocketIo) {
    let clock = io.clone();
    io.start_background_task(move || {
        let mut tick = 0u64;
        loop {
            std::thread::sleep(Duration::from_secs(1));
            tick += 1;
            let _ = clock.to("clock").emit("tick", &tick);
        }
    });
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let io = SocketIo::with_config(config());
    let mut app = app(&io);
    if let Some(workers) = std::env::var("WORKERS").ok().and_then(|w| w.parse().ok()) {
        app.workers(workers);
    }
    start_clock(&io);
    // HOST/PORT (HOST=unix:/path for a Unix socket) and CARAFE_* server settings,
    // e.g. CARAFE_WEBSOCKET_NODELAY=false.
    app.run_from_env(5000)
}
