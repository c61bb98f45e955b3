//! WebSocket (RFC 6455) and permessage-deflate (RFC 7692), without IO.
//!
//! The opening handshake is checked and answered from a parsed request head
//! ([`handshake`]); the open connection is a [`protocol::Protocol`] the connection feeds
//! with the bytes it reads and drains of the bytes to write, like python `websockets`' and
//! `wsproto`'s protocol objects. Below it: frame headers, masking and encoding
//! ([`frame`]), message assembly and the incremental UTF-8 check ([`message`]), close
//! codes ([`close`]), extension negotiation ([`extension`]) and, with the `deflate`
//! feature, compression (`deflate`).

pub(crate) mod close;
#[cfg(feature = "deflate")]
pub(crate) mod deflate;
pub(crate) mod extension;
pub(crate) mod frame;
pub(crate) mod handshake;
pub(crate) mod message;
pub(crate) mod protocol;
pub(crate) mod send;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
