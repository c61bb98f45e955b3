//! HTTPS and WSS: TLS as a transport under HTTP, on the same loops as plain HTTP.
//!
//! A TLS listener's connections carry a [`TlsStream`] instead of a bare socket; the
//! connection reads and writes it as it would the socket, so keep-alive, pipelining,
//! streaming, server-sent events, WebSockets and the blocking pool all work unchanged
//! over TLS. [`TlsConfig`] holds what the listener serves.

mod config;
mod stream;

pub use config::TlsConfig;
pub(crate) use stream::TlsStream;
