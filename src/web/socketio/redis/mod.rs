//! Socket.IO across processes through Redis pub/sub (the `redis` feature): what
//! Flask-SocketIO's `message_queue="redis://"` and socket.io's Redis adapter do.
//!
//! A server with [`SocketIoConfig::message_queue`](super::SocketIoConfig) set gives each
//! namespace a [`RedisAdapter`](adapter::RedisAdapter) instead of the in-memory one.
//! Rooms stay where their sockets are; an operation that names sockets by room — a
//! broadcast, a disconnect, closing a room, a query — is done on this process's sockets
//! and published as an [`envelope`] on the namespace's channel (see [`channels`]). Every
//! other server applies it to its own sockets through its in-memory adapter; each one
//! ignores what it published itself (the envelope carries a uid per server).
//!
//! Nothing on an event loop waits on Redis:
//!
//! - [`publisher`]: a thread publishes what the loops queue (bounded; when full, messages
//!   are dropped and counted, with a warning);
//! - [`subscriber`]: a thread receives and applies, and reconnects with a backoff;
//! - [`health`]: one warning when Redis is lost and one when it is back. Meanwhile each
//!   process goes on serving its own clients.
//!
//! Queries over every process ([`fetch`]) wait for each server's answer on the asker's
//! response channel, up to a timeout, and call back. [`Emitter`] publishes from a process
//! that serves no one.

pub(crate) mod adapter;
pub(crate) mod bus;
pub(crate) mod channels;
pub(crate) mod emitter;
pub(crate) mod envelope;
pub(crate) mod fetch;
pub(crate) mod health;
pub(crate) mod publisher;
pub(crate) mod subscriber;

pub use emitter::{Emitter, EmitterError};
