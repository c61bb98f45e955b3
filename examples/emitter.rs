//! Emits `said` to a room of the chat (`examples/chat.rs`) from a process that serves no
//! one, as a worker or a cron job would, and exits: every chat instance attached to the
//! same Redis delivers it to its sockets in that room.
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379/ cargo run --features redis --example emitter -- lobby "hello"
//! ```
//!
//! The room is the first argument (or `ROOM`), the text the second (or `TEXT`);
//! `REDIS_URL` defaults to `redis://127.0.0.1:6379/`. It prints how many servers got
//! the message.

use carafe::socketio::Emitter;
use serde_json::json;

fn main() {
    let mut args = std::env::args().skip(1);
    let room = args
        .next()
        .or_else(|| std::env::var("ROOM").ok())
        .unwrap_or_else(|| "lobby".to_owned());
    let text = args
        .next()
        .or_else(|| std::env::var("TEXT").ok())
        .unwrap_or_else(|| "hello from the emitter".to_owned());
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());

    let said = json!({ "room": room, "text": text, "from": "emitter" });
    match Emitter::new(&url).and_then(|emitter| emitter.to(&room).emit("said", &said)) {
        Ok(servers) => println!("said to room {room:?}: {servers} servers got it"),
        Err(e) => {
            eprintln!("emitter: {e}");
            std::process::exit(1);
        }
    }
}
