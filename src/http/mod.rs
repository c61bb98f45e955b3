//! HTTP/1.1 without IO: the request head, body decoding, the response and its encoding,
//! the cached `Date`, status codes, methods and percent-encoding; and WebSocket, from the
//! opening handshake to frames and messages (`ws`).
//!
//! Nothing here sees a socket, the event loop or the framework: every piece is driven by
//! plain byte slices, which is how it is tested and fuzzed.

pub(crate) mod body;
pub(crate) mod channel;
pub(crate) mod date;
pub(crate) mod encode;
pub(crate) mod method;
pub(crate) mod parse;
pub(crate) mod response;
pub(crate) mod sse;
pub(crate) mod status;
pub(crate) mod url;
#[cfg(feature = "websocket")]
pub(crate) mod ws;
