//! An app as it runs in production behind nginx (see `deploy/`): it trusts the one proxy
//! in front of it for the client's address, scheme and host, and serves plain pages, a
//! WebSocket and an event stream, all through the proxy.
//!
//! ```sh
//! CARAFE_PROXY_X_FOR=1 CARAFE_PROXY_X_PROTO=1 CARAFE_PROXY_X_HOST=1 \
//!   HOST=unix:/run/carafe/app.sock cargo run --release --example behind_proxy
//! ```
//!
//! Started by systemd with a socket unit (`deploy/carafe.socket`), it serves on the
//! socket it is handed, so a restart drops no connection. `INSTANCE` names it in `/`.

use std::time::Duration;

use carafe::websocket::{Message, WebSocket, WebSocketHandler};
use carafe::{App, Event, HttpError, Json, Request, Response};
use serde::Serialize;

fn index(_: &Request) -> String {
    let instance = std::env::var("INSTANCE").unwrap_or_else(|_| "carafe".into());
    format!("Hello from {instance}\n")
}

#[derive(Serialize)]
struct Client {
    remote_addr: Option<String>,
    scheme: &'static str,
    host: Option<String>,
    url_root: String,
}

/// What the app believes about the client, through the trusted proxy.
fn whoami(req: &Request) -> Json<Client> {
    Json(Client {
        remote_addr: req.remote_addr().map(|ip| ip.to_string()),
        scheme: req.scheme(),
        host: req.host().map(|h| h.into_owned()),
        url_root: req.url_root(),
    })
}

/// Ten events, a tenth of a second apart, from a thread of their own.
fn events(req: &Request) -> Response {
    let start: u64 = req
        .last_event_id()
        .and_then(|id| id.parse().ok())
        .map_or(1, |last: u64| last + 1);
    let (response, events) = Response::event_stream();
    std::thread::spawn(move || {
        for n in start..start + 10 {
            let id = n.to_string();
            if events.send(&Event::data(&*id).id(&id)).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    response
}

/// A WebSocket that echoes what it is sent.
struct Echo;

impl WebSocketHandler for Echo {
    fn on_message(&mut self, ws: &mut WebSocket<'_>, message: Message<'_>) {
        let _ = ws.send(message);
    }
}

/// The app, apart from `main` so tests can serve exactly this.
pub fn app() -> App {
    let mut app = App::new();
    app.get("/", index);
    app.get("/plaintext", |_: &Request| Response::text("Hello, World!"));
    app.get("/whoami", whoami);
    app.get("/events", events);
    app.websocket("/ws", |_: &Request| Ok::<_, HttpError>(Echo));
    app
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    app().run_from_env(5000)
}
