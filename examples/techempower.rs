//! The TechEmpower plaintext and JSON tests, by their rules: every response carries
//! `Server` and `Date`, the JSON body is serialised for each request (not cached), and
//! nothing else is served.
//!
//! ```sh
//! cargo run --release --example techempower                 # http://127.0.0.1:8080/plaintext
//! HOST=0.0.0.0 PORT=8080 WORKERS=0 cargo run --release --example techempower   # all cores
//! TLS_CERT=cert.pem TLS_KEY=key.pem cargo run --release --features tls --example techempower
//! ```
//!
//! `benches/load.sh` builds this example and drives it with `wrk`. Limits and timeouts
//! come from `CARAFE_*` variables (see `Config::from_env`).

use carafe::{App, Json, Request, Response};
use serde::Serialize;

/// `GET /plaintext`: `Hello, World!` as `text/plain`.
fn plaintext(_: &Request) -> Response {
    Response::text("Hello, World!")
}

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

/// `GET /json`: `{"message":"Hello, World!"}`, serialised anew each time.
fn json(_: &Request) -> Json<Message> {
    Json(Message {
        message: "Hello, World!",
    })
}

/// The app, apart from `main` so tests can serve exactly this.
pub fn app() -> App {
    let mut app = App::new();
    app.get("/plaintext", plaintext);
    app.get("/json", json);
    app
}

fn main() -> std::io::Result<()> {
    let mut app = app();
    if let Some(workers) = std::env::var("WORKERS").ok().and_then(|w| w.parse().ok()) {
        app.workers(workers);
    }
    // `CARAFE_KEEP_ALIVE_TIMEOUT`, `CARAFE_MAX_CONNECTIONS`...: the load benchmark's
    // idle-connection run holds 10 000 connections open for longer than the defaults allow.
    app.run_from_env(8080)
}
