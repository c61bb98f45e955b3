//! Socket.IO v5 over Engine.IO v4, without IO: the codecs that let the official clients
//! (`socket.io-client`, python-socketio, rust_socketio) talk to carafe unchanged.
//!
//! - [`engineio`]: the transport layer's packets, long-polling payloads and handshake.
//! - [`packet`]: Socket.IO packets (`<type>[<attachments>-][<nsp>,][<ack id>][<json>]`),
//!   encoded once for any number of sockets.
//! - [`decoder`]: reading them, validated as socket.io-parser 4.x does, and the streaming
//!   decoder that joins a binary packet with its attachments.
//! - [`binary`]: how binary data sits in the JSON tree: placeholders
//!   `{"_placeholder":true,"num":n}` beside a list of attachments, and the serde adapters
//!   that turn `bytes` fields into placeholders and back.
//!
//! The protocol texts are the socket.io-protocol README (v5) and the engine.io-protocol
//! README (v4); where they are silent, the reference parsers decide.

// The session state machine and the public API are built on these codecs; until they
// land, only the tests and the fuzz entry points call them.
#![allow(dead_code)]

pub(crate) mod binary;
pub(crate) mod decoder;
pub(crate) mod engineio;
pub(crate) mod packet;
