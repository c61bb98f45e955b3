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
//! Start with [`App`]: register views with [`App::get`], [`App::post`] or [`App::route`];
//! a view takes a [`Request`] and returns anything [`Responder`] covers (text, HTML, bytes,
//! `Json`, [`Response`], a `Result` with [`HttpError`]). A returned `String` is HTML, as in
//! Flask: text from a client goes into it through [`escape`]. [`App::run`] serves the app;
//! [`App::test_client`] calls it without a socket. [`Config`] holds every limit and
//! timeout.
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
//!
//! ## Logging
//!
//! carafe logs through the [`log`](https://docs.rs/log) crate; install any logger
//! (`env_logger`, ...) to see it. The access log is the `carafe::access` target at level
//! info, one line per request in Werkzeug's shape, `127.0.0.1 "GET / HTTP/1.1" 200 13
//! 45us`: status, body bytes, and the time from the moment the request head was complete
//! to the moment the last byte of the response was handed to the socket. The time the
//! request body takes to arrive counts, and so does waiting for the blocking pool, for a
//! streamed or pushed body to end, or for a slow client to take the response. Without a logger, or with that target off, nothing is recorded and the check
//! costs one atomic load per request. The cause of every 500 is reported once, to the
//! logger when one takes errors from carafe and to stderr otherwise.

#![deny(missing_docs)]

mod config;
mod http;
mod server;
mod web;

#[doc(hidden)]
pub mod bench_api;
#[doc(hidden)]
pub mod fuzzing;

pub use config::{Config, ConfigError, TrustedProxies};
pub use http::channel::{BodySender, SendError};
pub use http::method::Method;
pub use http::parse::Version;
pub use http::response::{HeaderText, Response};
pub use http::sse::{Event, EventSender};
pub use http::status::StatusCode;
pub use http::url::{MultiDict, encode_query_component};
#[cfg(feature = "tls")]
pub use server::TlsConfig;
pub use server::{Listen, ListenAddr, PeerAddr, Server, ShutdownHandle, ToListenAddrs};
pub use web::app::App;
pub use web::blocking::Blocking;
pub use web::blueprint::Blueprint;
#[cfg(feature = "templates")]
#[doc(hidden)]
pub use web::context::__templates;
pub use web::cookie::{Cookie, CookieError, SameSite};
pub use web::error::{HttpError, abort};
pub use web::html::{Markup, escape};
#[cfg(feature = "json")]
pub use web::json::Json;
pub use web::mime::mime_type;
pub use web::multipart::{FileStorage, Files, secure_filename};
pub use web::request::Request;
pub use web::responder::{IntoResponse, Responder, redirect, redirect_with};
pub use web::router::UrlBuildError;
pub use web::scaffold::BeforeRequest;
#[cfg(feature = "sessions")]
pub use web::session::Session;
pub use web::static_files::{send_file, send_from_directory};
pub use web::test_client::{TestClient, TestRequest, TestResponse};
#[cfg(feature = "websocket")]
pub use web::test_websocket::TestWebSocket;

/// WebSockets (RFC 6455, and RFC 7692 with the `deflate` feature): the handler a
/// [`App::websocket`] route runs per connection, the handle that sends to one from any
/// thread, and groups for broadcasts.
#[cfg(feature = "websocket")]
pub mod websocket {
    pub use crate::server::websocket::{
        Group, Message, Received, SendError, WebSocket, WebSocketHandle, WebSocketHandler,
    };
}

// The example is the README's Socket.IO block, which `tests/readme.rs` keeps the same.
/// Socket.IO (v5, over Engine.IO v4): a server the official clients (`socket.io-client`,
/// python-socketio, rust_socketio) connect to unchanged, with Flask-SocketIO's model —
/// handlers per event, rooms, namespaces, acknowledgements both ways, and emitting from
/// anywhere. Long-polling and WebSocket transports, and the upgrade between them.
///
/// ```no_run
/// use carafe::socketio::{Ack, Args, Socket, SocketIo};
/// use carafe::App;
///
/// let mut app = App::new();
/// let io = SocketIo::new();                       // SocketIo::with_config(SocketIoConfig { .. })
/// io.attach(&mut app);                            // mounts /socket.io/
/// io.on_connect(|socket: &Socket, auth: Option<serde_json::Value>| {
///     let _ = socket.emit("welcome", &serde_json::json!({ "sid": socket.id() }));
/// });
/// io.on("join", |socket: &Socket, (room,): (String,), ack: Option<Ack>| {
///     socket.join(&room);
///     if let Some(ack) = ack { let _ = ack.send(&true); }
/// });
/// let everyone = io.clone();                      // Clone + Send: emit from anywhere
/// io.on("say", move |socket: &Socket, args: Args, _: Option<Ack>| {
///     let room: String = args.get(0).unwrap_or_default();
///     let _ = everyone.to(&room).emit("said", args);   // encoded once for the whole room
/// });
/// app.run("127.0.0.1:5000")?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "socketio")]
pub mod socketio {
    pub use crate::web::socketio::{
        Ack, AckError, Args, ArgsError, Broadcast, ConnectOutcome, Cors, DisconnectReason,
        EmitError, FromArgs, Handshake, IntoArgs, Namespace, Socket, SocketInfo, SocketIo,
        SocketIoConfig,
    };
    #[cfg(feature = "redis")]
    pub use crate::web::socketio::{Emitter, EmitterError};
}

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[cfg(all(doctest, feature = "json"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
