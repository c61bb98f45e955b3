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

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use carafe::{App, HttpError, IntoResponse, Json, Request, Response, StatusCode};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

/// The database, app state that every view reaches with `req.state::<Database>()`.
///
/// State must be `Send + Sync`: blocking views use it from many pool threads at once. A
/// rusqlite `Connection` is `Send` (it may move to another thread) but not `Sync` (two
/// threads may not use it at the same time: its handle and its statement cache sit in
/// `RefCell`s), so it cannot be shared as it is. One connection behind a `Mutex` would be `Sync`, but every
/// query would wait for the one before it. So this is a small pool instead: a query
/// takes an idle connection (opening one when none is idle) and gives it back after;
/// the `Mutex` guards the list of idle connections, never a query.
pub struct Database {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Database {
    /// The database in the file at `path`; connections are opened as queries need them.
    pub fn new(path: PathBuf) -> Database {
        Database {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Creates the file afresh, with users 1..=100.
    pub fn seed(&self) -> rusqlite::Result<()> {
        let _ = std::fs::remove_file(&self.path);
        let db = Connection::open(&self.path)?;
        db.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")?;
        let mut insert = db.prepare("INSERT INTO users (id, name) VALUES (?1, ?2)")?;
        for id in 1..=100 {
            insert.execute((id, format!("user {id}")))?;
        }
        Ok(())
    }

    /// Runs `f` with a connection that no other thread uses meanwhile.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, HttpError> {
        let idle = self.lock().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => Connection::open(&self.path)?,
        };
        let result = f(&conn);
        self.lock().push(conn);
        Ok(result?)
    }

    /// The idle connections; a panic elsewhere while holding the lock left the list whole.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
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
    let name = req.state::<Database>()?.with(|db| {
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

/// The app on `database`, apart from `main` so tests can serve exactly this.
pub fn app(database: Database) -> App {
    let mut app = App::new();
    app.state(database);
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
    // A line per request on stderr, as Werkzeug prints them; RUST_LOG=warn quiets them.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let path = std::env::temp_dir().join(format!("carafe-blocking-{}.sqlite", std::process::id()));
    let database = Database::new(path);
    database.seed().map_err(std::io::Error::other)?;
    app(database).run_from_env(5000)
}
