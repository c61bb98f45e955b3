//! Engine.IO v4, the transport layer under Socket.IO, without IO: packets, long-polling
//! payloads, the handshake's `open` packet and errors, and session ids.
//!
//! The protocol is the engine.io-protocol README (v4); the reference implementation the
//! codec matches is engine.io-parser 5.x, and the reference server engine.io 6.x. Like
//! socketioxide's `engineioxide`, this layer knows nothing of namespaces or events: it
//! carries text and binary messages for the layer above.

pub(crate) mod conn;
pub(crate) mod cors;
pub(crate) mod handshake;
pub(crate) mod packet;
pub(crate) mod payload;
pub(crate) mod server;
pub(crate) mod sid;
pub(crate) mod timer;
mod ws;
