//! # carafe
//!
//! A Flask-style micro web framework whose whole server is one single-threaded
//! [mio](https://docs.rs/mio) event loop per core.
//!
//! ```no_run
//! use carafe::{App, Request};
//!
//! let mut app = App::new();
//! app.get("/", |_req: &Request| "Hello, World!");
//! app.get("/users/<int:id>", |req: &Request| {
//!     let id: u64 = req.param("id")?;
//!     Ok::<_, carafe::HttpError>(format!("user {id}"))
//! });
//! app.run("127.0.0.1:5000").unwrap();
//! ```
//!
//! One request's way through: accept (`server`) → read into the loop's buffer (`conn`) →
//! parse the head (`parse`) → decode the body (`body`) → route and run the handler
//! (`app`, `router`) → encode (`encode`, `date`) → write (`conn`) → keep-alive or close.
//!
//! ## Routing rules
//!
//! Rules use Flask's variable syntax: `<name>` (any text without a slash),
//! `<int:id>`, `<float:x>`, `<path:rest>` (slashes allowed), `<uuid:id>`,
//! `<any(a, b):which>`, with Werkzeug's arguments (`<int(min=1):page>`,
//! `<string(length=2):lang>`). Static segments win over variables; the path is
//! percent-decoded before matching; the query string never affects routing. An unknown
//! path is a 404, a known path with another method a 405 with `Allow`; `HEAD` is served
//! by the `GET` view and `OPTIONS` is answered automatically.

#![deny(missing_docs)]

mod app;
#[doc(hidden)]
pub mod bench_api;
mod blueprint;
mod body;
mod config;
mod conn;
mod converter;
mod cookie;
mod date;
mod encode;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod h1;
mod html;
#[cfg(feature = "json")]
mod json;
mod method;
mod mime;
mod multipart;
mod parse;
mod request;
mod response;
mod router;
mod server;
#[cfg(feature = "sessions")]
mod session;
mod static_files;
mod status;
#[cfg(feature = "templates")]
mod templates;
mod test_client;
mod timer;
mod url;

pub use app::{App, BeforeRequest};
pub use blueprint::Blueprint;
pub use config::{Config, ConfigError};
pub use cookie::{Cookie, SameSite};
pub use error::{HttpError, abort};
#[cfg(feature = "json")]
pub use json::Json;
pub use method::Method;
pub use mime::mime_type;
#[cfg(feature = "templates")]
pub use minijinja::context;
pub use multipart::{FileStorage, Files, secure_filename};
pub use parse::Version;
pub use request::Request;
pub use response::{HeaderText, IntoResponse, Responder, Response, redirect, redirect_with};
pub use router::UrlBuildError;
pub use server::{Server, ShutdownHandle};
#[cfg(feature = "sessions")]
pub use session::Session;
pub use static_files::{send_file, send_from_directory};
pub use status::StatusCode;
pub use test_client::{TestClient, TestRequest, TestResponse};
pub use url::{MultiDict, encode_query_component};

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[cfg(all(doctest, feature = "json"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
