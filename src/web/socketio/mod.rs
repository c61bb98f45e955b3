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
//! On top of them, the server:
//!
//! - [`engineio`] also holds the sessions ([`engineio::conn`]), the endpoint that answers
//!   each request ([`engineio::server`]), the WebSocket transport and the heartbeat timers;
//! - [`client`]: one client's packets, and what CONNECT, EVENT, ACK and DISCONNECT do;
//! - [`socket`], [`namespace`], [`adapter`] (rooms), [`args`]: what handlers see;
//! - [`server`]: [`SocketIo`], mounted on an app and used from anywhere;
//! - `redis` (feature `redis`): rooms and broadcasts across processes through Redis
//!   pub/sub, and the [`Emitter`] for processes that serve no one.
//!
//! The protocol texts are the socket.io-protocol README (v5) and the engine.io-protocol
//! README (v4); where they are silent, the reference parsers and servers decide.

pub(crate) mod adapter;
pub(crate) mod args;
pub(crate) mod binary;
pub(crate) mod client;
pub(crate) mod decoder;
pub(crate) mod engineio;
pub(crate) mod namespace;
pub(crate) mod packet;
#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod server;
pub(crate) mod socket;

#[cfg(feature = "redis")]
pub use self::redis::{Emitter, EmitterError};
pub use adapter::SocketInfo;
pub use args::{Ack, AckError, Args, ArgsError, EmitError, FromArgs, IntoArgs};
pub use engineio::cors::Cors;
pub use namespace::{Broadcast, ConnectOutcome, Namespace};
pub use server::{SocketIo, SocketIoConfig};
pub use socket::{DisconnectReason, Handshake, Socket};
