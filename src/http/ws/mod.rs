//! WebSocket (RFC 6455) and permessage-deflate (RFC 7692), without IO.
//!
//! The opening handshake is checked and answered from a parsed request head
//! ([`handshake`], with extension negotiation in [`extension`]). Below it: frame headers,
//! masking and encoding ([`frame`]), close codes ([`close`]) and, with the `deflate`
//! feature, compression (`deflate`).

// The server loop and the framework reach this layer next; until then the tests, the
// benches and the fuzz entry points are its only callers.
#![allow(dead_code)]

pub(crate) mod close;
#[cfg(feature = "deflate")]
pub(crate) mod deflate;
pub(crate) mod extension;
pub(crate) mod frame;
pub(crate) mod handshake;
