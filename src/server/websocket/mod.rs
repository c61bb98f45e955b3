//! WebSockets on the loop: after the `101`, a connection runs a [`WebSocketHandler`]'s
//! callbacks on its loop as messages arrive, and anything may send to it from any thread
//! through a [`WebSocketHandle`].
//!
//! Register a route with [`App::websocket`](crate::App::websocket):
//!
//! ```
//! use carafe::websocket::{Message, WebSocket, WebSocketHandler};
//! use carafe::{App, HttpError, Request};
//!
//! /// Echoes every message with its kind: text as text, binary as binary.
//! struct Echo;
//!
//! impl WebSocketHandler for Echo {
//!     fn on_message(&mut self, ws: &mut WebSocket<'_>, message: Message<'_>) {
//!         let _ = ws.send(message);
//!     }
//! }
//!
//! let mut app = App::new();
//! app.websocket("/echo", |_: &Request| Ok::<_, HttpError>(Echo));
//! let mut ws = app.test_client().websocket("/echo").unwrap();
//! ws.send_text("hi");
//! assert_eq!(ws.receive(), Some(carafe::websocket::Received::Text("hi".into())));
//! ```
//!
//! The callbacks run on the event loop, so like any view they must not block; hand slow
//! work to a thread and send the result through the handle.

mod handle;
pub(crate) mod session;

#[cfg(feature = "socketio")]
pub(crate) use handle::broadcast as broadcast_frames;
pub use handle::{Group, WebSocketHandle};
pub(crate) use handle::{Outgoing, Target};
pub(crate) use session::{Alive, Session, Upgrade};

use std::fmt;

use crate::http::ws::send::{self, Sender};

/// A complete message, as received or to send: text or binary (RFC 6455 §5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message (valid UTF-8, checked before it is handed over).
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

/// A message received by a test client ([`TestWebSocket`](crate::TestWebSocket)), owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping the server sent.
    Ping(Vec<u8>),
    /// The server's close frame: its code, if any, and reason.
    Close(Option<u16>, String),
}

/// What a WebSocket route runs for each connection, on the connection's loop.
///
/// Made per connection by the route's factory (which sees the upgrade request), so it
/// can hold that connection's state. Every callback may send through `ws`; those sends go
/// straight into the connection's write buffer.
pub trait WebSocketHandler: Send + 'static {
    /// The handshake is done; the connection is open.
    fn on_open(&mut self, ws: &mut WebSocket<'_>) {
        let _ = ws;
    }

    /// A whole message arrived (fragments joined, text checked as UTF-8).
    fn on_message(&mut self, ws: &mut WebSocket<'_>, message: Message<'_>);

    /// The connection ended: the closing handshake finished (`code` is the client's, if
    /// it gave one), the client vanished or broke the protocol (`code` is `None`, or the
    /// code the server closed with), or the server shut down (1001). Called once.
    fn on_close(&mut self, code: Option<u16>, reason: &str) {
        let _ = (code, reason);
    }
}

/// The connection, inside a [`WebSocketHandler`] callback.
pub struct WebSocket<'a> {
    sender: Sender<'a>,
    handle: &'a WebSocketHandle,
    protocol: Option<&'a str>,
}

/// Why a message was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The connection is closing or closed: nothing more can be sent.
    Closed,
    /// The connection's loop has too many messages waiting (from other threads); try
    /// again later.
    Full,
    /// A ping or close payload over 125 bytes, or a close code a server may not send.
    Invalid,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Closed => "the WebSocket is closed",
            SendError::Full => "the WebSocket's event loop is too busy to take more",
            SendError::Invalid => {
                "invalid control frame (payload over 125 bytes or bad close code)"
            }
        })
    }
}

impl std::error::Error for SendError {}

impl From<send::SendError> for SendError {
    fn from(e: send::SendError) -> SendError {
        match e {
            send::SendError::Closed => SendError::Closed,
            send::SendError::ControlTooLong | send::SendError::BadCloseCode => SendError::Invalid,
        }
    }
}

impl WebSocket<'_> {
    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        Ok(self.sender.send_text(text)?)
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        Ok(self.sender.send_binary(data)?)
    }

    /// Sends a message of either kind.
    pub fn send(&mut self, message: Message<'_>) -> Result<(), SendError> {
        match message {
            Message::Text(text) => self.send_text(text),
            Message::Binary(data) => self.send_binary(data),
        }
    }

    /// Sends a ping (at most 125 bytes); the client answers with a pong.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        Ok(self.sender.send_ping(payload)?)
    }

    /// Starts the closing handshake with `code` (1000 for a normal close) and a reason of
    /// at most 123 bytes; nothing more can be sent after it.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), SendError> {
        Ok(self.sender.send_close(code, reason)?)
    }

    /// A handle that sends to this connection from anywhere (another thread, a blocking
    /// view, another connection's callback).
    pub fn handle(&self) -> WebSocketHandle {
        self.handle.clone()
    }

    /// The subprotocol chosen in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol
    }
}
