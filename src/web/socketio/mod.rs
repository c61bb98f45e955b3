//! Socket.IO v5 over Engine.IO v4, without IO: the codecs that let the official clients
//! (`socket.io-client`, python-socketio, rust_socketio) talk to carafe unchanged.
//!
//! - [`engineio`]: the transport layer's packets, long-polling payloads and handshake.
//!
//! The protocol texts are the socket.io-protocol README (v5) and the engine.io-protocol
//! README (v4); where they are silent, the reference parsers decide.

// The session state machine and the public API are built on these codecs; until they
// land, only the tests and the fuzz entry points call them.
#![allow(dead_code)]

pub(crate) mod engineio;
