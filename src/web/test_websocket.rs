//! WebSockets through the test client: the handshake goes through the same exchange as
//! on the network, then the route's handler runs in memory, so handlers are unit-tested
//! without a socket or a loop.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use bytes::{Buf, BytesMut};

use crate::http::date::DateCache;
use crate::http::parse::Limits;
use crate::http::ws::close;
use crate::http::ws::frame::{self, OpCode};
use crate::server::PeerAddr;
use crate::server::h1::{Env, H1};
use crate::server::websocket::{Received, Session, Target, WebSocketHandle};
use crate::web::test_client::{TestClient, TestResponse};

/// The key every test handshake sends: RFC 6455's own example.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A WebSocket opened by a [`TestClient`], with the route's handler running in memory.
///
/// ```
/// use carafe::websocket::{Message, Received, WebSocket, WebSocketHandler};
/// use carafe::{App, HttpError, Request};
///
/// struct Shout;
/// impl WebSocketHandler for Shout {
///     fn on_message(&mut self, ws: &mut WebSocket<'_>, message: Message<'_>) {
///         if let Message::Text(text) = message {
///             let _ = ws.send_text(&text.to_uppercase());
///         }
///     }
/// }
///
/// let mut app = App::new();
/// app.websocket("/shout", |_: &Request| Ok::<_, HttpError>(Shout));
/// let mut ws = app.test_client().websocket("/shout").unwrap();
/// ws.send_text("hello");
/// assert_eq!(ws.receive(), Some(Received::Text("HELLO".into())));
/// assert_eq!(ws.receive(), None); // nothing more was sent
/// ```
pub struct TestWebSocket {
    session: Session,
    /// What the server wrote and the test has not read yet.
    from_server: BytesMut,
}

impl TestClient<'_> {
    /// Opens a WebSocket on `path` (with the client's cookies); `Err` holds the response
    /// when the server answers with anything but `101 Switching Protocols`.
    pub fn websocket(&self, path: &str) -> Result<TestWebSocket, TestResponse> {
        let request = self
            .get(path)
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Key", KEY)
            .header("Sec-WebSocket-Version", "13")
            .into_bytes();
        let app = self.app();
        let date = DateCache::new();
        let limits = Limits::new(app.config());
        let env = Env {
            service: app,
            limits: &limits,
            date: date.as_bytes(),
            conn: crate::server::ConnInfo::plain(PeerAddr::Tcp(SocketAddr::from((
                Ipv4Addr::LOCALHOST,
                0,
            )))),
            origin: None,
        };
        let mut h1 = H1::new();
        let mut input = request;
        let mut out = BytesMut::new();
        h1.advance(&mut input, &mut out, &env);
        let Some(upgrade) = h1.take_upgrade() else {
            return Err(TestResponse::parse_whole(&out, false));
        };
        let now = Instant::now();
        let handle = WebSocketHandle::new(Target::Memory(Default::default()));
        let mut session = Session::new(*upgrade, handle, app.config(), now);
        let mut from_server = BytesMut::new();
        session.open(&mut from_server, now);
        Ok(TestWebSocket {
            session,
            from_server,
        })
    }
}

impl TestWebSocket {
    /// Sends a text message, as a browser would (masked).
    pub fn send_text(&mut self, text: &str) {
        self.send_frame(OpCode::Text, text.as_bytes());
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) {
        self.send_frame(OpCode::Binary, data);
    }

    /// Sends a ping; the server's pong is dropped (it is not a message).
    pub fn ping(&mut self, payload: &[u8]) {
        self.send_frame(OpCode::Ping, payload);
    }

    /// Sends a close frame with `code` and `reason`.
    pub fn close(&mut self, code: u16, reason: &str) {
        let mut payload = BytesMut::new();
        let _ = close::encode(&mut payload, Some(code), reason);
        self.send_frame(OpCode::Close, &payload);
    }

    /// The next message (or ping, or close) the server sent, `None` if there is none.
    /// Messages sent through a [`WebSocketHandle`] from other threads are delivered first.
    pub fn receive(&mut self) -> Option<Received> {
        self.deliver_queued();
        loop {
            let header = frame::decode_header(&self.from_server).ok()??;
            let end = header.header_len + usize::try_from(header.len).ok()?;
            if self.from_server.len() < end {
                return None;
            }
            let payload = self.from_server[header.header_len..end].to_vec();
            self.from_server.advance(end);
            return Some(match header.opcode {
                OpCode::Text => Received::Text(String::from_utf8_lossy(&payload).into_owned()),
                OpCode::Binary | OpCode::Continuation => Received::Binary(payload),
                OpCode::Ping => Received::Ping(payload),
                OpCode::Pong => continue,
                OpCode::Close => {
                    let (code, reason) = close::parse_payload(&payload).unwrap_or((None, ""));
                    Received::Close(code, reason.to_owned())
                }
            });
        }
    }

    /// Whether the closing handshake is over (or the server failed the connection).
    pub fn is_closed(&self) -> bool {
        self.session.is_finished()
    }

    fn send_frame(&mut self, opcode: OpCode, payload: &[u8]) {
        self.deliver_queued();
        let mut frame = BytesMut::new();
        frame::encode_masked(
            &mut frame,
            true,
            0,
            opcode,
            payload,
            [0x12, 0x34, 0x56, 0x78],
        );
        let now = Instant::now();
        let used = self.session.read(&mut frame, &mut self.from_server, now);
        debug_assert!(used == frame.len() || self.session.is_finished());
    }

    fn deliver_queued(&mut self) {
        let now = Instant::now();
        for outgoing in self.session.handle().take_queued() {
            self.session.deliver(outgoing, &mut self.from_server, now);
        }
    }
}

impl Drop for TestWebSocket {
    fn drop(&mut self) {
        // The client went away: the handler hears of it, as on a socket.
        self.session.gone();
    }
}

impl std::fmt::Debug for TestWebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestWebSocket")
            .field("closed", &self.is_closed())
            .finish()
    }
}
