//! One client of the Socket.IO server: the Engine.IO session's data on this layer (its
//! packet decoder and the sockets it has in each namespace), and what each packet does.
//!
//! socket.io-protocol README, "Exchange protocol": CONNECT joins a namespace (answered
//! by CONNECT or CONNECT_ERROR), DISCONNECT leaves it, EVENT and ACK carry the
//! application's messages. A packet that does not decode closes the client's session,
//! as socket.io's `Client.ondata` does; no other client notices.

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use super::args::Args;
use super::decoder::{Decoder, Status};
use super::engineio::conn::{CloseReason, Conn, Incoming};
use super::engineio::server::Handler;
use super::packet::{Packet, PacketType};
use super::server::Core;
use super::socket::{DisconnectReason, Handshake, Socket};
use crate::web::request::Request;

/// A client's state on the Socket.IO layer.
pub(crate) struct Client {
    pub(crate) handshake: Handshake,
    state: Mutex<State>,
}

struct State {
    decoder: Decoder,
    sockets: Vec<Socket>,
    /// A namespace connection was made at some point.
    joined: bool,
}

impl Client {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn socket(&self, nsp: &str) -> Option<Socket> {
        self.state()
            .sockets
            .iter()
            .find(|s| s.namespace() == nsp)
            .cloned()
    }

    /// The socket left its namespace: the client no longer routes packets to it.
    pub(crate) fn forget(&self, socket: &Socket) {
        self.state().sockets.retain(|s| s != socket);
    }
}

/// The handshake request, kept for the life of the session.
fn handshake(req: &Request<'_>) -> Handshake {
    let headers = req
        .headers()
        .map(|(name, value)| (name.to_owned(), String::from_utf8_lossy(value).into_owned()))
        .collect();
    #[cfg(feature = "sessions")]
    let session = {
        let config = req.app().config();
        config
            .secret_key
            .as_deref()
            .zip(req.cookie(&config.session_cookie_name))
            .and_then(|(secret, value)| {
                crate::web::session::unsign(secret.as_bytes(), value, config)
            })
            .unwrap_or_default()
    };
    #[cfg(not(feature = "sessions"))]
    let session = serde_json::Map::new();
    Handshake {
        headers,
        query: req.args().clone(),
        cookies: req.cookies().clone(),
        peer: req.peer_addr(),
        session,
    }
}

/// What the Engine.IO layer calls: the Socket.IO server's core.
pub(crate) struct SocketIoHandler(pub(crate) Arc<Core>);

impl Handler for SocketIoHandler {
    type Data = Client;

    fn data(&self, req: &Request<'_>) -> Client {
        Client {
            handshake: handshake(req),
            state: Mutex::new(State {
                decoder: Decoder::default(),
                sockets: Vec::new(),
                joined: false,
            }),
        }
    }

    /// A client that joins no namespace within `connect_timeout` is closed (socket.io's
    /// `connectTimeout`): an open session costs memory and heartbeats for nothing.
    fn on_open(&self, conn: &Arc<Conn<Client>>) {
        let weak = Arc::downgrade(conn);
        let at = std::time::Instant::now() + self.0.config.connect_timeout;
        self.0.timer.schedule(at, move |_, _| {
            if let Some(conn) = weak.upgrade()
                && !conn.data.state().joined
            {
                conn.close(CloseReason::TransportClose);
            }
        });
    }

    fn on_message(&self, conn: &Arc<Conn<Client>>, message: Incoming<'_>) {
        let status = {
            let mut state = conn.data.state();
            match message {
                Incoming::Text(text) => state.decoder.text(text),
                Incoming::Binary(data) => state.decoder.binary(data),
            }
        };
        match status {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(packet)) => self.dispatch(conn, packet),
            Err(e) => {
                log::debug!("closing a Socket.IO client: {e}");
                conn.close(CloseReason::ParseError);
            }
        }
    }

    fn on_close(&self, conn: &Arc<Conn<Client>>, reason: CloseReason) {
        let sockets = std::mem::take(&mut conn.data.state().sockets);
        let reason = match reason {
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ParseError => DisconnectReason::ParseError,
            CloseReason::TransportError => DisconnectReason::TransportError,
        };
        for socket in sockets {
            socket.closed(reason);
        }
    }
}

impl SocketIoHandler {
    fn dispatch(&self, conn: &Arc<Conn<Client>>, packet: Packet) {
        match packet.kind {
            PacketType::Connect => self.connect(conn, packet),
            PacketType::Disconnect => {
                if let Some(socket) = conn.data.socket(&packet.nsp) {
                    conn.data.forget(&socket);
                    socket.closed(DisconnectReason::ClientNamespaceDisconnect);
                }
            }
            PacketType::Event => {
                if let Some(socket) = conn.data.socket(&packet.nsp) {
                    socket.inner.ns.clone().on_event(&socket, packet);
                }
            }
            PacketType::Ack => {
                if let (Some(socket), Some(id)) = (conn.data.socket(&packet.nsp), packet.id) {
                    let values = match packet.data {
                        Some(Value::Array(values)) => values,
                        _ => Vec::new(),
                    };
                    let args = Args {
                        values,
                        attachments: packet.attachments,
                    };
                    socket.on_ack(id, args);
                }
            }
            // Only a server sends CONNECT_ERROR.
            PacketType::ConnectError => conn.close(CloseReason::ParseError),
        }
    }

    /// CONNECT: the namespace's connect handler decides; CONNECT or CONNECT_ERROR answers.
    fn connect(&self, conn: &Arc<Conn<Client>>, packet: Packet) {
        let nsp = packet.nsp.into_owned();
        let Some(ns) = self.0.namespace(&nsp) else {
            let refusal = Packet::connect_error(nsp, "Invalid namespace");
            conn.send(&super::socket::frames(&refusal.encode()));
            return;
        };
        if conn.data.socket(&nsp).is_some() {
            return; // already connected there
        }
        let Some(socket) = Socket::new(ns.inner.clone(), conn.clone()) else {
            let refusal = Packet::connect_error(nsp, "Internal server error");
            conn.send(&super::socket::frames(&refusal.encode()));
            return;
        };
        match ns.inner.on_connect(&socket, packet.data) {
            Ok(()) => {
                {
                    let mut state = conn.data.state();
                    state.sockets.push(socket.clone());
                    state.joined = true;
                }
                ns.inner.adapter.add(&socket);
                socket.accept();
                if conn.is_closed() {
                    // The session ended while the handler ran (another thread closed it
                    // and found no socket yet): this one leaves as the others did.
                    conn.data.forget(&socket);
                    socket.closed(DisconnectReason::TransportClose);
                }
            }
            Err(message) => {
                socket.refuse();
                let refusal = Packet::connect_error(nsp, &message);
                conn.send(&super::socket::frames(&refusal.encode()));
            }
        }
    }
}
