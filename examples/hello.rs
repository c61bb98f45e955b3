//! The smallest useful carafe app, and the one the load benchmark drives.
//!
//! ```sh
//! cargo run --release --example hello            # http://127.0.0.1:5000/
//! HOST=0.0.0.0 PORT=8080 WORKERS=0 cargo run --release --example hello   # all cores
//! TLS_CERT=adhoc cargo run --features tls --example hello   # https://127.0.0.1:5000/, self-signed
//! TLS_CERT=cert.pem TLS_KEY=key.pem cargo run --features tls --example hello   # your certificate
//! ```
//!
//! Every example serves HTTPS the same way: `App::run_from_env` reads `HOST`, `PORT`,
//! `TLS_CERT` and `TLS_KEY`.

use carafe::{App, HttpError, Json, Request, Response};
use serde::Serialize;

fn index(_: &Request) -> &'static str {
    "Hello, World!"
}

fn plaintext(_: &Request) -> Response {
    Response::text("Hello, World!")
}

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

fn json(_: &Request) -> Json<Message> {
    Json(Message {
        message: "Hello, World!",
    })
}

/// The body back, with its content type.
fn echo(req: &Request) -> Response {
    let resp = Response::new(req.body().to_vec());
    match req.content_type() {
        Some(content_type) => resp.with_content_type(content_type.to_owned()),
        None => resp,
    }
}

#[derive(Serialize)]
struct User {
    id: u64,
}

fn user(req: &Request) -> Result<Json<User>, HttpError> {
    Ok(Json(User {
        id: req.param("id")?,
    }))
}

/// The app, apart from `main` so tests can serve exactly this.
pub fn app() -> App {
    let mut app = App::new();
    app.get("/", index);
    app.get("/plaintext", plaintext);
    app.get("/json", json);
    app.post("/echo", echo);
    app.get("/users/<int:id>", user);
    app
}

fn main() -> std::io::Result<()> {
    // A line per request on stderr, as Werkzeug prints them; RUST_LOG=warn quiets them.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut app = app();
    if let Some(workers) = std::env::var("WORKERS").ok().and_then(|w| w.parse().ok()) {
        app.workers(workers);
    }
    app.run_from_env(5000)
}
