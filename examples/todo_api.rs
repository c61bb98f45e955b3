//! A JSON CRUD API over an in-memory store: the shape of most small services.
//!
//! ```sh
//! cargo run --example todo_api
//! curl -s -X POST localhost:5000/todos -H 'Content-Type: application/json' -d '{"title":"write docs"}'
//! curl -s localhost:5000/todos
//! curl -s -X PUT localhost:5000/todos/1 -H 'Content-Type: application/json' -d '{"done":true}'
//! curl -s -X DELETE localhost:5000/todos/1 -i
//! ```

use std::collections::BTreeMap;
use std::sync::Mutex;

use carafe::{App, HttpError, Json, Method, Request, Response, StatusCode, abort};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize)]
struct Todo {
    id: u64,
    title: String,
    done: bool,
}

/// What POST and PUT accept. An unknown field or a wrong type is a 422 from `req.json()`;
/// every field is optional so that a missing title gets its own clear 422 message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TodoInput {
    title: Option<String>,
    done: Option<bool>,
}

#[derive(Default)]
struct Store {
    last_id: u64,
    todos: BTreeMap<u64, Todo>,
}

/// Registered once with `app.state`; every view reaches it with `req.state::<Todos>()`.
type Todos = Mutex<Store>;

fn unprocessable(message: &'static str) -> HttpError {
    abort(StatusCode::UNPROCESSABLE_CONTENT).with_message(message)
}

/// A title must be a non-empty string.
fn valid_title(title: Option<String>) -> Result<String, HttpError> {
    match title.map(|t| t.trim().to_owned()) {
        Some(title) if !title.is_empty() => Ok(title),
        Some(_) => Err(unprocessable("title must not be empty")),
        None => Err(unprocessable("title is required")),
    }
}

fn todo_id(req: &Request) -> Result<u64, HttpError> {
    req.param("id")
}

fn not_found() -> HttpError {
    abort(StatusCode::NOT_FOUND).with_message("no such todo")
}

/// The app, apart from `main` so tests can serve exactly this.
pub fn app() -> App {
    let mut app = App::new();
    app.state(Todos::default());

    app.add_url_rule(
        "/todos",
        Some("list_todos"),
        &[Method::GET],
        |req: &Request| -> Result<_, HttpError> {
            let store = req.state::<Todos>()?.lock().unwrap();
            Ok(Json(store.todos.values().cloned().collect::<Vec<_>>()))
        },
    );

    app.add_url_rule(
        "/todos",
        Some("create_todo"),
        &[Method::POST],
        |req: &Request| {
            let input: TodoInput = req.json()?;
            let title = valid_title(input.title)?;
            let mut store = req.state::<Todos>()?.lock().unwrap();
            store.last_id += 1;
            let todo = Todo {
                id: store.last_id,
                title,
                done: input.done.unwrap_or(false),
            };
            store.todos.insert(todo.id, todo.clone());
            let location = req.url_for("get_todo", &[("id", &todo.id)])?;
            Ok::<_, HttpError>(
                Response::json(&todo)
                    .with_status(StatusCode::CREATED)
                    .with_header("Location", location),
            )
        },
    );

    app.add_url_rule(
        "/todos/<int:id>",
        Some("get_todo"),
        &[Method::GET],
        |req: &Request| {
            let id = todo_id(req)?;
            let store = req.state::<Todos>()?.lock().unwrap();
            store
                .todos
                .get(&id)
                .cloned()
                .map(Json)
                .ok_or_else(not_found)
        },
    );

    app.add_url_rule(
        "/todos/<int:id>",
        Some("update_todo"),
        &[Method::PUT],
        |req: &Request| {
            let id = todo_id(req)?;
            let input: TodoInput = req.json()?;
            let title = input.title.map(|t| valid_title(Some(t))).transpose()?;
            let mut store = req.state::<Todos>()?.lock().unwrap();
            let todo = store.todos.get_mut(&id).ok_or_else(not_found)?;
            if let Some(title) = title {
                todo.title = title;
            }
            if let Some(done) = input.done {
                todo.done = done;
            }
            Ok::<_, HttpError>(Json(todo.clone()))
        },
    );

    app.add_url_rule(
        "/todos/<int:id>",
        Some("delete_todo"),
        &[Method::DELETE],
        |req: &Request| {
            let id = todo_id(req)?;
            match req.state::<Todos>()?.lock().unwrap().todos.remove(&id) {
                Some(_) => Ok(StatusCode::NO_CONTENT),
                None => Err(not_found()),
            }
        },
    );

    // Every error is JSON, whatever raised it: routing, a handler, or a bad body.
    app.errorhandler_any(|_: &Request, err: &HttpError| {
        #[derive(Serialize)]
        struct Error<'a> {
            error: &'a str,
        }
        let message = if err.status() == StatusCode::INTERNAL_SERVER_ERROR {
            "internal server error"
        } else {
            err.description()
        };
        Response::json(&Error { error: message }).with_status(err.status())
    });
    app
}

fn main() -> std::io::Result<()> {
    // A line per request on stderr, as Werkzeug prints them; RUST_LOG=warn quiets them.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    app().run_from_env(5000)
}
