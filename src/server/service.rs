//! The one interface through which the server drives the layer above it.
//!
//! The connection parses a request and hands it over as an [`Incoming`]; the service
//! writes its answer into a response slot. The server never learns what the service is:
//! the framework's `App` is one, a test's few-line stub is another.

use crate::config::Config;
use crate::http::method::Method;
use crate::http::parse::Version;
use crate::http::response::Response;
use crate::http::status::StatusCode;
use crate::server::completion::Completion;
use crate::server::transport::PeerAddr;
#[cfg(feature = "websocket")]
use crate::server::websocket::Upgrade;

/// What answers requests. Shared by every loop, hence `Send + Sync`.
pub(crate) trait Service: Send + Sync + 'static {
    /// The limits and timeouts the server applies.
    fn config(&self) -> &Config;

    /// Answers one request, writing the response into `response`, which arrives as an
    /// empty `200 OK`; or hands back a job to run off the loop. Must not panic: user
    /// code inside is the service's to guard.
    fn respond(&self, request: Incoming<'_>, response: &mut Response) -> Reply<Self>
    where
        Self: Sized;

    /// Answers a request the server refuses after reading its head (its body is too
    /// large, or arrives too slowly), writing the error response into `response`, which
    /// arrives as an empty response with `status`. `request.body` is empty. The
    /// connection closes after it.
    fn refuse(&self, request: Incoming<'_>, status: StatusCode, response: &mut Response) {
        let _ = request;
        *response = Response::text(format!("{status}\n")).with_status(status);
    }
}

/// What the service made of a request.
pub(crate) enum Reply<S> {
    /// The response is in the slot.
    Ready,
    /// The answer may wait on something (a database, a file): run this on the blocking
    /// pool; its response is sent when it returns, in the request's turn.
    Blocking(BlockingJob<S>),
    /// The response will come later, from elsewhere (a long-poll waiting for something
    /// to send): this is called at once with the promise to answer. The connection waits
    /// in the request's turn, as for a blocking view.
    // Its one user, Engine.IO long-polling, is behind the `socketio` feature.
    #[cfg_attr(not(feature = "socketio"), allow(dead_code))]
    Later(Box<dyn FnOnce(Completion) + Send>),
    /// Switch to WebSocket: the slot holds the `101` to send, and the connection then
    /// runs this.
    #[cfg(feature = "websocket")]
    Upgrade(Box<Upgrade>),
}

/// Work that computes a response off the loop. It owns what it needs of the request.
pub(crate) type BlockingJob<S> = Box<dyn FnOnce(&S) -> Response + Send>;

/// One parsed request, borrowed from the connection's buffer for the span of the call.
pub(crate) struct Incoming<'a> {
    pub(crate) method: Method,
    pub(crate) version: Version,
    pub(crate) target: &'a str,
    pub(crate) headers: &'a [httparse::Header<'a>],
    pub(crate) body: &'a [u8],
    pub(crate) conn: &'a ConnInfo,
}

/// What a request knows of its connection, fixed when it was accepted. Requests borrow
/// it, so a fact added here costs a request nothing to carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConnInfo {
    pub(crate) peer: PeerAddr,
    /// TLS protects the connection: the scheme is `https`.
    pub(crate) secure: bool,
}

impl ConnInfo {
    /// A plain connection from `peer`.
    pub(crate) fn plain(peer: PeerAddr) -> ConnInfo {
        ConnInfo {
            peer,
            secure: false,
        }
    }
}
