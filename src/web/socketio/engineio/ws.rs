//! The WebSocket transport: each Engine.IO packet is one WebSocket message (text: the
//! type digit and data; binary: a binary message as is), engine.io-protocol README,
//! "Transports / WebSocket".
//!
//! A WebSocket either starts a session (`transport=websocket` without a `sid`: the
//! `open` packet is its first message) or upgrades a long-polling one ("Upgrade": the
//! client sends `2probe`, the server answers `3probe` and ends the pending `GET` with a
//! noop, the client sends `5` and the WebSocket takes over).

use std::sync::Arc;

use super::conn::{CloseReason, Conn, direct};
use super::handshake::{Transport, open_packet};
use super::packet::{Frame, Packet, PacketType, decode_text};
use super::server::{Engine, Handler};
use crate::server::websocket::{Message, WebSocket, WebSocketHandler};

/// The connection's part in its session.
enum Role<D> {
    /// A new session; made when the connection opens.
    New(Option<D>),
    /// Probing for the upgrade of this polling session.
    Probe(Arc<Conn<D>>),
    /// The session's transport.
    Open(Arc<Conn<D>>),
    /// Done with: the probe failed, or the session closed.
    Done,
}

/// The WebSocket handler of an Engine.IO connection.
pub(crate) struct EngineWs<H: Handler> {
    engine: Arc<Engine<H>>,
    role: Role<H::Data>,
}

impl<H: Handler> EngineWs<H> {
    pub(crate) fn new_session(engine: Arc<Engine<H>>, data: H::Data) -> EngineWs<H> {
        EngineWs {
            engine,
            role: Role::New(Some(data)),
        }
    }

    pub(crate) fn probe(engine: Arc<Engine<H>>, conn: Arc<Conn<H::Data>>) -> EngineWs<H> {
        EngineWs {
            engine,
            role: Role::Probe(conn),
        }
    }

    /// Sends frames into this connection.
    fn write(ws: &mut WebSocket<'_>, frames: &[Frame]) {
        for frame in frames {
            let _ = match frame {
                Frame::Text(text) => ws.send_text(std::str::from_utf8(text).unwrap_or("")),
                Frame::Binary(data) => ws.send_binary(data),
            };
        }
    }

    /// Hands `packet` to the engine with this connection's own sends collected, then
    /// writes them.
    fn receive(&mut self, ws: &mut WebSocket<'_>, conn: &Arc<Conn<H::Data>>, packet: Packet<'_>) {
        let engine = &self.engine;
        let mut alive = true;
        let frames = direct::collect(conn.key(), || alive = engine.receive(conn, packet));
        Self::write(ws, &frames);
        if !alive {
            self.role = Role::Done;
        }
    }
}

impl<H: Handler> WebSocketHandler for EngineWs<H> {
    fn on_open(&mut self, ws: &mut WebSocket<'_>) {
        if let Role::New(data) = &mut self.role {
            let Some(data) = data.take() else { return };
            let Some(conn) = self.engine.open(data, Some(ws.handle())) else {
                let _ = ws.close(1011, "");
                self.role = Role::Done;
                return;
            };
            let open = open_packet(&conn.sid, Transport::WebSocket, &conn.settings);
            Self::write(ws, &[open]);
            self.role = Role::Open(conn);
        }
    }

    fn on_message(&mut self, ws: &mut WebSocket<'_>, message: Message<'_>) {
        let conn = match &self.role {
            Role::Open(conn) | Role::Probe(conn) => conn.clone(),
            Role::New(_) | Role::Done => return,
        };
        let len = match message {
            Message::Text(text) => text.len(),
            Message::Binary(data) => data.len(),
        };
        if len > conn.settings.max_payload {
            // engine.io closes a WebSocket whose message passes maxHttpBufferSize.
            if let Role::Open(_) = self.role {
                conn.close(CloseReason::TransportError);
            }
            let _ = ws.close(1009, "");
            self.role = Role::Done;
            return;
        }
        let packet = match message {
            Message::Text(text) => decode_text(text),
            Message::Binary(data) => Ok(Packet::Binary(bytes::Bytes::copy_from_slice(data))),
        };
        let Ok(packet) = packet else {
            if let Role::Open(_) = self.role {
                conn.close(CloseReason::ParseError);
            } else {
                let _ = ws.close(1002, "");
            }
            self.role = Role::Done;
            return;
        };
        match (&self.role, packet) {
            (Role::Probe(_), Packet::Text(PacketType::Ping, "probe")) => {
                if conn.begin_probe(&ws.handle()) {
                    Self::write(ws, &[Frame::pong_probe()]);
                } else {
                    let _ = ws.close(1000, "");
                    self.role = Role::Done;
                }
            }
            (Role::Probe(_), Packet::Text(PacketType::Upgrade, _)) => {
                match conn.finish_upgrade(&ws.handle()) {
                    Some(queued) => {
                        Self::write(ws, &queued);
                        self.role = Role::Open(conn);
                    }
                    None => {
                        let _ = ws.close(1000, "");
                        self.role = Role::Done;
                    }
                }
            }
            (Role::Probe(_), _) => {
                // Nothing else belongs on a probe: the upgrade is off.
                conn.cancel_probe(&ws.handle());
                let _ = ws.close(1002, "");
                self.role = Role::Done;
            }
            (_, packet) => self.receive(ws, &conn, packet),
        }
    }

    fn on_close(&mut self, _code: Option<u16>, _reason: &str) {
        match std::mem::replace(&mut self.role, Role::Done) {
            Role::Open(conn) => conn.close(CloseReason::TransportClose),
            Role::Probe(conn) => {
                // The probe's handle is gone with the connection; the session polls on.
                conn.cancel_probe_any();
            }
            Role::New(_) | Role::Done => {}
        }
    }
}
