//! WebSocket (RFC 6455), without IO.
//!
//! Frame headers, masking and encoding ([`frame`]) and close codes ([`close`]).

// The server loop and the framework reach this layer next; until then the tests, the
// benches and the fuzz entry points are its only callers.
#![allow(dead_code)]

pub(crate) mod close;
pub(crate) mod frame;
