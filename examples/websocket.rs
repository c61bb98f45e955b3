//! A WebSocket echo: every message comes back as it was sent, text as text and binary as
//! binary; the page at `/` shows it in a browser.
//!
//! ```sh
//! cargo run --release --example websocket       # open http://127.0.0.1:5000/
//! curl -i localhost:5000/echo                   # 426 Upgrade Required: not a handshake
//! ```
//!
//! The handler runs on the event loop for each message, like a view for each request;
//! `ws.send` writes straight into the connection's buffer.

use carafe::websocket::{Message, WebSocket, WebSocketHandler};
use carafe::{App, HttpError, Request};

/// One connection's handler: it holds no state, so one type serves every connection.
pub struct Echo;

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
<h1>WebSocket echo</h1>
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
    app
}

fn main() -> std::io::Result<()> {
    app().run_from_env(5000)
}
