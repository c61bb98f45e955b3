//! State shared by every view: registered once on the app, found by its type.
//!
//! A database pool, a configuration or a cache is given to `App::state` once instead of
//! an `Arc` cloned into each closure. Views run on whichever loop (thread) took the
//! connection, blocking views on the pool's threads, so state is `Send + Sync`: read-only data as it is, anything that
//! changes behind a `Mutex`, an `RwLock` or atomics.

use std::any::{Any, TypeId, type_name};

use crate::web::app::App;
use crate::web::error::{HttpError, abort};
use crate::web::request::Request;

/// The app's state values, one per type. A short list: a scan beats hashing.
#[derive(Default)]
pub(crate) struct States(Vec<(TypeId, Box<dyn Any + Send + Sync>)>);

impl States {
    fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.0
            .iter()
            .find(|(t, _)| *t == id)
            .and_then(|(_, value)| value.downcast_ref())
    }
}

/// The cause of the 500 for state that was never registered.
#[derive(Debug)]
struct MissingState(&'static str);

impl std::fmt::Display for MissingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no state of type {} was registered with App::state",
            self.0
        )
    }
}

impl std::error::Error for MissingState {}

impl App {
    /// Registers `value` for every view to reach with [`Request::state`], by its type;
    /// registering a value of the same type again replaces it.
    ///
    /// `T: Send + Sync` because views run on any of the app's loops at once, and
    /// blocking views ([`App::blocking`]) on the threads of its pool: put what changes
    /// behind a `Mutex`, an `RwLock` or atomics. A value that is `Send` but not `Sync`,
    /// such as a database connection, goes behind a `Mutex` or into a pool of them
    /// (`examples/blocking.rs` keeps its SQLite connections so).
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use carafe::{App, HttpError, Request};
    ///
    /// struct Db { rows: Mutex<Vec<String>> }
    ///
    /// let mut app = App::new();
    /// app.state(Db { rows: Mutex::new(vec!["first".into()]) });
    /// app.get("/rows", |req: &Request| -> Result<String, HttpError> {
    ///     let db = req.state::<Db>()?;
    ///     Ok(db.rows.lock().unwrap().join(","))
    /// });
    /// assert_eq!(app.test_client().get("/rows").send().text(), "first");
    /// ```
    pub fn state<T: Send + Sync + 'static>(&mut self, value: T) -> &mut App {
        let id = TypeId::of::<T>();
        self.states.0.retain(|(t, _)| *t != id);
        self.states.0.push((id, Box::new(value)));
        self
    }
}

impl<'a> Request<'a> {
    /// The value registered with [`App::state`] for type `T`; a 500 naming the type if
    /// none was (a bug in the app, reported like any 500).
    pub fn state<T: Send + Sync + 'static>(&self) -> Result<&'a T, HttpError> {
        self.app()
            .states
            .get::<T>()
            .ok_or_else(|| abort(500).with_source(MissingState(type_name::<T>())))
    }
}
