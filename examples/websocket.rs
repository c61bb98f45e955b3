//! A WebSocket echo: every message comes back as it was sent, text as text and binary as
//! binary; the page at `/` shows it in a browser. And a room: a text sent to `/room` goes
//! to everyone connected there, encoded once for all of them.
//!
//! ```sh
//! cargo run --release --example websocket       # open http://127.0.0.1:5000/
//! curl -i localhost:5000/echo                   # 426 Upgrade Required: not a handshake
//! ```
//!
//! The handler runs on the event loop for each message, like a view for each request;
//! `ws.send` writes straight into the connection's buffer.

use carafe::websocket::{Group, Message, WebSocket, WebSocketHandler};
use carafe::{App, HttpError, Request};

/// One connection's handler: it holds no state, so one type serves every connection.
pub struct Echo;

/// A member of the room: on open it joins the group; what it says goes to everyone.
pub struct Member {
    room: Group,
}

impl WebSocketHandler for Member {
    fn on_open(&mut self, ws: &mut WebSocket<'_>) {
        self.room.add(ws.handle());
    }

    fn on_message(&mut self, _: &mut WebSocket<'_>, message: Message<'_>) {
        if let Message::Text(text) = message {
            self.room.broadcast_text(text);
        }
    }
}

impl WebSocketHandler for Echo {
    fn on_message(&mut self, ws: &mut WebSocket<'_>, message: Message<'_>) {
        // Only fails once the connection is closing, when there is no one to echo to.
        let _ = ws.send(message);
    }
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>carafe WebSocket echo</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
  h1 { font-weight: 600; }
  input { font: inherit; padding: .3rem .5rem; width: 20rem; }
  button { font: inherit; padding: .3rem 1rem; }
  ul { list-style: none; padding: 0; font-family: ui-monospace, monospace; }
  li { padding: .2rem .5rem; border-bottom: 1px solid #eee; }
  .muted { color: #777; }
</style>
<h1>WebSocket echo</h1>
<p class="muted">Every message comes back as it was sent: text as text, binary as binary.</p>
<form id="form"><input id="text" value="hello" autocomplete="off"> <button>Send</button></form>
<ul id="log"></ul>
<script>
  const log = (line) => {
    const item = document.createElement("li");
    item.textContent = line;
    document.getElementById("log").append(item);
  };
  const ws = new WebSocket(`ws://${location.host}/echo`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    log("open");
    ws.send("hello from the page");
    ws.send(new Uint8Array([1, 2, 3]));
  };
  ws.onmessage = (e) => {
    if (typeof e.data === "string") log(`text: ${e.data}`);
    else log(`binary: ${Array.from(new Uint8Array(e.data)).join(",")}`);
  };
  ws.onclose = (e) => log(`closed ${e.code}`);
  document.getElementById("form").onsubmit = (e) => {
    e.preventDefault();
    ws.send(document.getElementById("text").value);
  };
</script>
"#;

/// The app, apart from `main` so tests can serve exactly this.
pub fn app() -> App {
    let mut app = App::new();
    app.get("/", |_: &Request| PAGE);
    // Messages up to Config::websocket_max_message (16 MiB by default).
    app.websocket("/echo", |_: &Request| Ok::<_, HttpError>(Echo));
    // Members leave the group by themselves when their connection closes.
    let room = Group::new();
    app.websocket("/room", move |_: &Request| {
        Ok::<_, HttpError>(Member { room: room.clone() })
    });
    app
}

fn main() -> std::io::Result<()> {
    // A line per request on stderr, as Werkzeug prints them; RUST_LOG=warn quiets them.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    app().run_from_env(5000)
}
