//! The framework: Flask's model on top of the server. `App` with its rules, hooks and
//! error handlers, the request and response conversions, blueprints, sessions,
//! templates, static files, multipart forms, JSON, and the test client.
//!
//! The server reaches it only through the [`Service`](crate::server::Service) that `App`
//! implements; nothing below this layer names anything in it.

pub(crate) mod app;
pub(crate) mod blocking;
pub(crate) mod blueprint;
#[cfg(feature = "templates")]
pub mod context;
pub(crate) mod converter;
pub(crate) mod cookie;
pub(crate) mod debug;
pub(crate) mod error;
pub(crate) mod fault;
pub(crate) mod html;
#[cfg(feature = "json")]
pub(crate) mod json;
pub(crate) mod mime;
pub(crate) mod multipart;
pub(crate) mod proxy;
pub(crate) mod request;
pub(crate) mod responder;
pub(crate) mod router;
pub(crate) mod scaffold;
pub(crate) mod serve;
#[cfg(feature = "sessions")]
pub(crate) mod session;
#[cfg(feature = "socketio")]
pub(crate) mod socketio;
pub(crate) mod state;
pub(crate) mod static_files;
#[cfg(feature = "templates")]
pub(crate) mod templates;
pub(crate) mod test_client;
#[cfg(feature = "websocket")]
pub(crate) mod test_websocket;
#[cfg(feature = "websocket")]
pub(crate) mod websocket;
