//! A client's connection to one namespace: [`Socket`], what handlers get and what any
//! thread may keep to emit to it later; and [`Handshake`], the HTTP request that opened
//! the session.
//!
//! socket.io-protocol README, "Connection to a namespace": the server answers CONNECT
//! with `{"sid": ...}`, a socket id of its own (not the Engine.IO sid), or refuses with
//! CONNECT_ERROR. Each socket is in the room named by its id, as in socket.io.

use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::args::{AckError, Args, EmitError, IntoArgs};
use super::client::Client;
use super::engineio::conn::Conn;
use super::engineio::packet::Frame;
use super::engineio::sid::Sid;
use super::namespace::{Broadcast, NsInner};
use super::packet::{Encoded, Packet};
use crate::http::url::MultiDict;
use crate::server::PeerAddr;

/// The HTTP request that opened a client's session: its headers, query, cookies and the
/// Flask-style `session` cookie, as they were then (Flask-SocketIO's `request` in a
/// `connect` handler).
#[derive(Clone, Debug)]
pub struct Handshake {
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) query: MultiDict,
    pub(crate) cookies: MultiDict,
    pub(crate) peer: PeerAddr,
    pub(crate) session: Map<String, Value>,
}

impl Handshake {
    /// A request header (the first, if repeated), by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The query string's arguments (`EIO`, `transport`, and whatever the client added).
    pub fn query(&self) -> &MultiDict {
        &self.query
    }

    /// A cookie sent with the request.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name)
    }

    /// The app's signed `session` cookie, decoded (empty without one, or without a
    /// secret key): what a Flask view would see as `session`.
    pub fn session(&self) -> &Map<String, Value> {
        &self.session
    }

    /// The client's address.
    pub fn peer_addr(&self) -> &PeerAddr {
        &self.peer
    }
}

/// Why a socket left its namespace, in socket.io's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The connection closed (the client went away or closed it).
    TransportClose,
    /// The client stopped answering pings.
    PingTimeout,
    /// The client sent a packet that does not parse.
    ParseError,
    /// The transport broke the protocol.
    TransportError,
    /// The client left the namespace (`socket.disconnect()` on its side).
    ClientNamespaceDisconnect,
    /// The server disconnected the socket.
    ServerNamespaceDisconnect,
}

impl DisconnectReason {
    /// socket.io's name for the reason (`"transport close"`, `"ping timeout"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type AckCallback = Box<dyn FnOnce(Result<Args, AckError>) + Send>;

/// A client connected to a namespace. `Clone + Send + Sync`: keep it to emit to that
/// client from any thread. Handlers get it first.
///
/// ```
/// use carafe::socketio::{Ack, Args, SocketIo, Socket};
///
/// let io = SocketIo::new();
/// io.on("join", |socket: &Socket, (room,): (String,), ack: Option<Ack>| {
///     socket.join(&room);
///     if let Some(ack) = ack {
///         let _ = ack.send(&true);
///     }
/// });
/// ```
#[derive(Clone)]
pub struct Socket {
    pub(crate) inner: Arc<SocketInner>,
}

pub(crate) struct SocketInner {
    pub(crate) id: Sid,
    pub(crate) ns: Arc<NsInner>,
    pub(crate) conn: Arc<Conn<Client>>,
    state: Mutex<State>,
    session: Mutex<Map<String, Value>>,
}

struct State {
    phase: Phase,
    next_ack: u64,
    acks: HashMap<u64, AckCallback>,
}

enum Phase {
    /// The connect handler runs: what is emitted waits for the CONNECT answer.
    Connecting(Vec<Encoded>),
    Connected,
    Disconnected,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs handler code; a panic is logged and costs nothing else.
pub(crate) fn guarded<R>(what: &str, f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(panic) => {
            let message = crate::server::panic_message(&*panic);
            log::error!("panic in a Socket.IO {what} handler: {message}");
            None
        }
    }
}

/// The frames that carry an encoded packet.
pub(crate) fn frames(encoded: &Encoded) -> Vec<Frame> {
    encoded.frames().collect()
}

/// An EVENT packet `[event, ...args]`.
pub(crate) fn event_packet(nsp: &str, event: &str, args: Args) -> Packet {
    let mut values = Vec::with_capacity(1 + args.values.len());
    values.push(Value::from(event));
    values.extend(args.values);
    Packet::event(nsp.to_owned(), Value::Array(values), args.attachments)
}

impl Socket {
    pub(crate) fn new(ns: Arc<NsInner>, conn: Arc<Conn<Client>>) -> Option<Socket> {
        let id = Sid::generate().ok()?;
        let session = conn.data.handshake.session.clone();
        Some(Socket {
            inner: Arc::new(SocketInner {
                id,
                ns,
                conn,
                state: Mutex::new(State {
                    phase: Phase::Connecting(Vec::new()),
                    next_ack: 0,
                    acks: HashMap::new(),
                }),
                session: Mutex::new(session),
            }),
        })
    }

    /// The socket's id (Flask-SocketIO's `request.sid`), also the name of its own room.
    pub fn id(&self) -> &str {
        self.inner.id.as_str()
    }

    /// The namespace it is connected to (`/` by default).
    pub fn namespace(&self) -> &str {
        &self.inner.ns.name
    }

    /// Whether it is still connected.
    pub fn connected(&self) -> bool {
        matches!(lock(&self.inner.state).phase, Phase::Connected)
    }

    /// The HTTP request that opened the client's session.
    pub fn handshake(&self) -> &Handshake {
        &self.inner.conn.data.handshake
    }

    /// Data kept with this socket for its life (Flask-SocketIO's `session`): it starts as
    /// a copy of the app's `session` cookie at the handshake.
    pub fn session(&self) -> MutexGuard<'_, Map<String, Value>> {
        lock(&self.inner.session)
    }

    /// Sends an event to this client: `data` is one argument, or [`Args`] for several
    /// (binary parts as binary).
    pub fn emit(&self, event: &str, data: impl IntoArgs) -> Result<(), EmitError> {
        let packet = event_packet(&self.inner.ns.name, event, data.into_args()?);
        self.send_encoded(&packet.encode())
    }

    /// Sends a `message` event (Flask-SocketIO's `send(data)`).
    pub fn send(&self, data: impl IntoArgs) -> Result<(), EmitError> {
        self.emit("message", data)
    }

    /// Sends an event and asks the client to acknowledge it: `callback` gets the client's
    /// answer, or [`AckError::Timeout`] after `timeout`, or [`AckError::Disconnected`].
    /// It runs on the thread that read the answer, or on the timer thread.
    pub fn emit_with_ack(
        &self,
        event: &str,
        data: impl IntoArgs,
        timeout: Duration,
        callback: impl FnOnce(Result<Args, AckError>) + Send + 'static,
    ) -> Result<(), EmitError> {
        let args = data.into_args()?;
        let id = {
            let mut state = lock(&self.inner.state);
            if let Phase::Disconnected = state.phase {
                return Err(EmitError::Disconnected);
            }
            let id = state.next_ack;
            state.next_ack += 1;
            state.acks.insert(id, Box::new(callback));
            id
        };
        let packet = event_packet(&self.inner.ns.name, event, args).with_id(id);
        let weak = Arc::downgrade(&self.inner);
        self.inner
            .ns
            .timer
            .schedule(Instant::now() + timeout, move |_, _| {
                let Some(inner) = weak.upgrade() else { return };
                let callback = lock(&inner.state).acks.remove(&id);
                if let Some(callback) = callback {
                    guarded("ack", || callback(Err(AckError::Timeout)));
                }
            });
        self.send_encoded(&packet.encode())
    }

    /// Puts the socket in `room` (Flask-SocketIO's `join_room`).
    pub fn join(&self, room: &str) {
        self.inner.ns.adapter.join(self, room);
    }

    /// Takes the socket out of `room` (`leave_room`).
    pub fn leave(&self, room: &str) {
        self.inner.ns.adapter.leave(self, room);
    }

    /// The rooms the socket is in, its own included (`rooms()`), sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.inner.ns.adapter.rooms_of(self)
    }

    /// Everyone in the namespace but this socket (`emit(..., broadcast=True,
    /// include_self=False)`, socket.io's `socket.broadcast`).
    pub fn broadcast(&self) -> Broadcast {
        Broadcast::new(self.inner.ns.clone()).except(self.id())
    }

    /// Everyone in `room` but this socket (socket.io's `socket.to(room)`); for everyone
    /// in it, this one included, use the namespace's [`to`](super::Namespace::to).
    pub fn to(&self, room: &str) -> Broadcast {
        self.broadcast().to(room)
    }

    /// Disconnects the socket from its namespace (Flask-SocketIO's `disconnect()`).
    pub fn disconnect(&self) {
        if !self.connected() {
            return;
        }
        let _ = self.send_encoded(&Packet::disconnect(self.inner.ns.name.clone()).encode());
        self.inner.conn.data.forget(self);
        self.closed(DisconnectReason::ServerNamespaceDisconnect);
    }

    /// Sends an encoded packet, or keeps it for after the CONNECT answer.
    pub(crate) fn send_encoded(&self, encoded: &Encoded) -> Result<(), EmitError> {
        let mut state = lock(&self.inner.state);
        match &mut state.phase {
            Phase::Connecting(waiting) => waiting.push(encoded.clone()),
            Phase::Disconnected => return Err(EmitError::Disconnected),
            Phase::Connected => {
                drop(state);
                self.inner.conn.send(&frames(encoded));
            }
        }
        Ok(())
    }

    /// Whether a broadcast may go straight to this socket's session; one still
    /// connecting keeps it for later instead.
    pub(crate) fn accepts_broadcast(&self, encoded: &Encoded) -> bool {
        let mut state = lock(&self.inner.state);
        match &mut state.phase {
            Phase::Connected => true,
            Phase::Connecting(waiting) => {
                waiting.push(encoded.clone());
                false
            }
            Phase::Disconnected => false,
        }
    }

    pub(crate) fn send_ack(&self, id: u64, args: Args) -> Result<(), EmitError> {
        let packet = Packet::ack(
            self.inner.ns.name.clone(),
            id,
            Value::Array(args.values),
            args.attachments,
        );
        self.send_encoded(&packet.encode())
    }

    /// The connect handler accepted: CONNECT goes out, then what it emitted.
    pub(crate) fn accept(&self) {
        let connect = Packet::connect(
            self.inner.ns.name.clone(),
            Some(serde_json::json!({ "sid": self.id() })),
        );
        let mut state = lock(&self.inner.state);
        let waiting = match std::mem::replace(&mut state.phase, Phase::Connected) {
            Phase::Connecting(waiting) => waiting,
            other => {
                state.phase = other;
                return;
            }
        };
        // Under the lock, so that no emit from another thread overtakes them.
        let mut out = frames(&connect.encode());
        for encoded in &waiting {
            out.extend(encoded.frames());
        }
        self.inner.conn.send(&out);
    }

    /// The connect handler refused: the socket never was.
    pub(crate) fn refuse(&self) {
        lock(&self.inner.state).phase = Phase::Disconnected;
        self.inner.ns.adapter.remove(self);
    }

    /// An ACK from the client.
    pub(crate) fn on_ack(&self, id: u64, args: Args) {
        let callback = lock(&self.inner.state).acks.remove(&id);
        if let Some(callback) = callback {
            guarded("ack", || callback(Ok(args)));
        }
    }

    /// The socket left its namespace: out of its rooms, waiting acks fail, and the
    /// disconnect handler runs. Once.
    pub(crate) fn closed(&self, reason: DisconnectReason) {
        let acks = {
            let mut state = lock(&self.inner.state);
            let was = std::mem::replace(&mut state.phase, Phase::Disconnected);
            if let Phase::Disconnected = was {
                return;
            }
            std::mem::take(&mut state.acks)
        };
        self.inner.ns.adapter.remove(self);
        for (_, callback) in acks {
            guarded("ack", || callback(Err(AckError::Disconnected)));
        }
        self.inner.ns.on_disconnect(self, reason);
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Socket) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id())
            .field("namespace", &self.namespace())
            .finish()
    }
}
