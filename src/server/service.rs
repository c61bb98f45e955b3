//! The one interface through which the server drives the layer above it.
//!
//! The connection parses a request and hands it over as an [`Incoming`]; the service
//! writes its answer into a response slot. The server never learns what the service is:
//! the framework's `App` is one, a test's few-line stub is another.

use std::net::SocketAddr;

use crate::config::Config;
use crate::http::method::Method;
use crate::http::parse::Version;
use crate::http::response::Response;

/// What answers requests. Shared by every loop, hence `Send + Sync`.
pub(crate) trait Service: Send + Sync + 'static {
    /// The limits and timeouts the server applies.
    fn config(&self) -> &Config;

    /// Answers one request, writing the response into `response`, which arrives as an
    /// empty `200 OK`. Must not panic: user code inside is the service's to guard.
    fn respond(&self, request: Incoming<'_>, response: &mut Response);
}

/// One parsed request, borrowed from the connection's buffer for the span of the call.
pub(crate) struct Incoming<'a> {
    pub(crate) method: Method,
    pub(crate) version: Version,
    pub(crate) target: &'a str,
    pub(crate) headers: &'a [httparse::Header<'a>],
    pub(crate) body: &'a [u8],
    pub(crate) peer: SocketAddr,
}
