//! Views that wait, on the blocking pool: the loop goes on serving while they do.
//!
//! ```sh
//! cargo run --release --example blocking        # http://127.0.0.1:5000/
//! curl localhost:5000/slow & curl localhost:5000/fast   # "fast" comes back at once
//! curl localhost:5000/db/users/7                # {"id":7,"name":"user 7"}
//! ```
//!
//! A Flask view may call a database or sleep without a second thought; in carafe such a
//! view is registered with `app.blocking()` so it runs on a pool of OS threads instead
//! of the event loop. Everything else (`/fast` here) stays on the loop.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use carafe::{App, HttpError, IntoResponse, Json, Request, Response, StatusCode};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

/// Where the database lives; seeded once at start.
static DATABASE: OnceLock<PathBuf> = OnceLock::new();

thread_local! {
    // A connection per pool thread: SQLite connections are not shared between threads,
    // and opening one per request would cost more than the query.
    static DB: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's connection, opening it on first use.
fn with_db<T>(f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, HttpError> {
    DB.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            let path = DATABASE.get().expect("the database is seeded at start");
            *slot = Some(Connection::open(path)?);
        }
        Ok(f(slot.as_ref().unwrap())?)
    })
}

/// Creates the database with users 1..=100.
pub fn seed(path: PathBuf) -> rusqlite::Result<()> {
    let _ = std::fs::remove_file(&path);
    let db = Connection::open(&path)?;
    db.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")?;
    let insert = db.prepare("INSERT INTO users (id, name) VALUES (?1, ?2)");
    let mut insert = insert?;
    for id in 1..=100 {
        insert.execute((id, format!("user {id}")))?;
    }
    let _ = DATABASE.set(path);
    Ok(())
}

fn slow(_: &Request) -> &'static str {
    std::thread::sleep(Duration::from_secs(2));
    "slept"
}

fn fast(_: &Request) -> &'static str {
    "fast"
}

fn plaintext(_: &Request) -> Response {
    Response::text("Hello, World!")
}

#[derive(Serialize)]
struct User {
    id: u64,
    name: String,
}

fn user(req: &Request) -> Result<Response, HttpError> {
    let id: u64 = req.param("id")?;
    let name = with_db(|db| {
        db.query_row("SELECT name FROM users WHERE id = ?1", [id], |row| {
            row.get(0)
        })
        .optional()
    })?;
    Ok(match name {
        Some(name) => Json(User { id, name }).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "no such user", "id": id})),
        )
            .into_response(),
    })
}

/// The app, apart from `main` so tests can serve exactly this.
pub fn app() -> App {
    let mut app = App::new();
    // Enough threads that a hundred slow requests wait together, not in turns.
    app.config_mut().blocking_threads = 128;
    app.blocking().get("/slow", slow);
    app.blocking().get("/db/users/<int:id>", user);
    app.get("/fast", fast);
    // The same trivial view on the loop and on the pool: what the hand-off costs
    // (`benches/load.sh --example blocking plaintext-c64 blocking-c64`).
    app.get("/plaintext", plaintext);
    app.blocking().get("/blocking/plaintext", plaintext);
    app.get("/", |_: &Request| {
        "Try /slow (two seconds on the pool), /fast (at once, meanwhile) and /db/users/7.\n"
    });
    app
}

fn main() -> std::io::Result<()> {
    let path = std::env::temp_dir().join(format!("carafe-blocking-{}.sqlite", std::process::id()));
    seed(path).map_err(std::io::Error::other)?;
    app().run_from_env(5000)
}
