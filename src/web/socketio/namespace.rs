//! Namespaces: the handlers of one (`connect`, `disconnect`, and one per event name), its
//! rooms, and emitting to it from anywhere ([`Namespace`], [`Broadcast`]).
//!
//! socket.io-protocol README, "Connection to a namespace": a client multiplexes
//! namespaces over one session; each has its own handlers and rooms, and a connect
//! handler that may refuse with a message (CONNECT_ERROR).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;

use super::adapter::{Adapter, SocketInfo, Target};
use super::args::{Ack, Args, ArgsError, FromArgs, IntoArgs};
use super::engineio::timer::Timer;
use super::packet::Packet;
use super::socket::{DisconnectReason, Socket, event_packet, guarded};

type ConnectFn = dyn Fn(&Socket, Option<Value>) -> Result<(), String> + Send + Sync;
type DisconnectFn = dyn Fn(&Socket, DisconnectReason) + Send + Sync;
type EventFn = dyn Fn(&Socket, Args, Option<Ack>) + Send + Sync;

#[derive(Default)]
struct Handlers {
    connect: Option<Arc<ConnectFn>>,
    disconnect: Option<Arc<DisconnectFn>>,
    events: HashMap<String, Arc<EventFn>>,
}

pub(crate) struct NsInner {
    pub(crate) name: String,
    handlers: RwLock<Handlers>,
    pub(crate) adapter: Box<dyn Adapter>,
    pub(crate) timer: Timer,
}

/// What a connect handler returns: `()` accepts; `Err(message)` refuses with
/// CONNECT_ERROR `{"message": message}` (Flask-SocketIO's `ConnectionRefusedError`);
/// `false` refuses as Flask-SocketIO does when the handler returns `False`.
pub trait ConnectOutcome {
    /// `Err` with the refusal's message.
    fn into_outcome(self) -> Result<(), String>;
}

impl ConnectOutcome for () {
    fn into_outcome(self) -> Result<(), String> {
        Ok(())
    }
}

impl ConnectOutcome for bool {
    fn into_outcome(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("Connection rejected by server".to_owned())
        }
    }
}

impl<E: std::fmt::Display> ConnectOutcome for Result<(), E> {
    fn into_outcome(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

impl NsInner {
    pub(crate) fn new(name: &str, timer: Timer, adapter: Box<dyn Adapter>) -> NsInner {
        NsInner {
            name: name.to_owned(),
            handlers: RwLock::default(),
            adapter,
            timer,
        }
    }

    fn handlers(&self) -> std::sync::RwLockReadGuard<'_, Handlers> {
        self.handlers.read().unwrap_or_else(|p| p.into_inner())
    }

    fn handlers_mut(&self) -> std::sync::RwLockWriteGuard<'_, Handlers> {
        self.handlers.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the connect handler; a panic refuses.
    pub(crate) fn on_connect(&self, socket: &Socket, auth: Option<Value>) -> Result<(), String> {
        let Some(handler) = self.handlers().connect.clone() else {
            return Ok(());
        };
        guarded("connect", || handler(socket, auth))
            .unwrap_or_else(|| Err("Internal server error".to_owned()))
    }

    pub(crate) fn on_disconnect(&self, socket: &Socket, reason: DisconnectReason) {
        let handler = self.handlers().disconnect.clone();
        if let Some(handler) = handler {
            guarded("disconnect", || handler(socket, reason));
        }
    }

    /// Runs the handler of an EVENT, if there is one for its name.
    pub(crate) fn on_event(&self, socket: &Socket, packet: Packet) {
        let name = match packet.event_name() {
            Some(Value::String(name)) => name.clone(),
            Some(other) => other.to_string(),
            None => return,
        };
        let Some(handler) = self.handlers().events.get(&name).cloned() else {
            log::debug!(
                "no handler for the Socket.IO event {name:?} in {}",
                self.name
            );
            return;
        };
        let Some(Value::Array(mut values)) = packet.data else {
            return;
        };
        values.remove(0);
        let args = Args {
            values,
            attachments: packet.attachments,
        };
        let ack = packet.id.map(|id| Ack {
            socket: socket.clone(),
            id,
        });
        guarded(&name, || handler(socket, args, ack));
    }
}

/// A namespace, to register its handlers and to emit to it from anywhere. `Clone + Send
/// + Sync`. Get one with [`SocketIo::of`](super::SocketIo::of).
///
/// ```
/// use carafe::socketio::{Ack, SocketIo, Socket};
/// use serde_json::Value;
///
/// let io = SocketIo::new();
/// let admin = io.of("/admin");
/// admin.on_connect(|_: &Socket, auth: Option<Value>| {
///     match auth.as_ref().and_then(|a| a.get("token")) {
///         Some(token) if token == "secret" => Ok(()),
///         _ => Err("unauthorized"),
///     }
/// });
/// let main = io.of("/");
/// admin.on("count", move |_: &Socket, _: Vec<Value>, ack: Option<Ack>| {
///     if let Some(ack) = ack {
///         let _ = ack.send(&main.len());
///     }
/// });
/// ```
#[derive(Clone)]
pub struct Namespace {
    pub(crate) inner: Arc<NsInner>,
}

impl Namespace {
    /// The namespace's name (`/`, `/admin`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Sets the connect handler (`@socketio.on("connect")`): it sees the socket (and
    /// through it the handshake request) and the client's auth payload, and may refuse
    /// (see [`ConnectOutcome`]). What it emits is sent once the connection is accepted.
    pub fn on_connect<F, R>(&self, handler: F) -> &Namespace
    where
        F: Fn(&Socket, Option<Value>) -> R + Send + Sync + 'static,
        R: ConnectOutcome,
    {
        self.inner.handlers_mut().connect = Some(Arc::new(move |socket: &Socket, auth| {
            handler(socket, auth).into_outcome()
        }));
        self
    }

    /// Sets the disconnect handler (`@socketio.on("disconnect")`). The socket has left
    /// its rooms already.
    pub fn on_disconnect<F>(&self, handler: F) -> &Namespace
    where
        F: Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    {
        self.inner.handlers_mut().disconnect = Some(Arc::new(handler));
        self
    }

    /// Sets the handler of `event` (`@socketio.on(event)`): it gets the socket, the
    /// arguments (see [`FromArgs`]; arguments that do not fit `T` skip the handler, with
    /// a warning in the log) and the acknowledgement, if the client asked for one.
    /// Handlers run on the event loop, like views: hand slow work to a thread.
    pub fn on<T, F>(&self, event: &str, handler: F) -> &Namespace
    where
        T: FromArgs,
        F: Fn(&Socket, T, Option<Ack>) + Send + Sync + 'static,
    {
        let name = event.to_owned();
        let wrapped = move |socket: &Socket, args: Args, ack: Option<Ack>| match T::from_args(args)
        {
            Ok(args) => handler(socket, args, ack),
            Err(e) => log::warn!("Socket.IO event {name:?}: {e}"),
        };
        self.inner
            .handlers_mut()
            .events
            .insert(event.to_owned(), Arc::new(wrapped));
        self
    }

    /// Sends an event to every socket of the namespace (`emit(..., broadcast=True)`), on
    /// every server when they share a message queue.
    pub fn emit(&self, event: &str, data: impl IntoArgs) -> Result<(), ArgsError> {
        Broadcast::new(self.inner.clone()).emit(event, data)
    }

    /// The sockets in `room` (`to=room`); chain more `to` and `except`.
    pub fn to(&self, room: &str) -> Broadcast {
        Broadcast::new(self.inner.clone()).to(room)
    }

    /// Every socket but those in `room` (a socket id is a room too).
    pub fn except(&self, room: &str) -> Broadcast {
        Broadcast::new(self.inner.clone()).except(room)
    }

    /// The sockets connected to this process (see [`fetch_sockets`](Self::fetch_sockets)
    /// for every process on a message queue).
    pub fn sockets(&self) -> Vec<Socket> {
        self.inner.adapter.sockets(&Target::default())
    }

    /// How many sockets are connected to this process.
    pub fn len(&self) -> usize {
        self.inner.adapter.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A socket connected to this process, by id.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.inner.adapter.socket(id)
    }

    /// The sockets of the namespace on every process (socket.io's `fetchSockets()`):
    /// `done` gets them once each process on the message queue has answered, or after
    /// `timeout` with the answers so far. Without a message queue it runs at once with
    /// this process's sockets; with one, on a thread of the server. It never blocks the
    /// caller, so a handler may call it and acknowledge from `done`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use carafe::socketio::{Ack, Args, SocketIo, Socket};
    ///
    /// let io = SocketIo::new();
    /// let main = io.of("/");
    /// io.on("count", move |_: &Socket, _: Args, ack: Option<Ack>| {
    ///     main.fetch_sockets(Duration::from_secs(1), move |sockets| {
    ///         if let Some(ack) = ack {
    ///             let _ = ack.send(&sockets.len());
    ///         }
    ///     });
    /// });
    /// ```
    pub fn fetch_sockets(
        &self,
        timeout: Duration,
        done: impl FnOnce(Vec<SocketInfo>) + Send + 'static,
    ) {
        Broadcast::new(self.inner.clone()).fetch_sockets(timeout, done);
    }

    /// Disconnects a socket by id (Flask-SocketIO's `disconnect(sid)`): `true` if it was
    /// connected to this process. If not, and a message queue is set, the other
    /// processes are asked to disconnect it.
    pub fn disconnect(&self, id: &str) -> bool {
        match self.socket(id) {
            Some(socket) => {
                socket.disconnect();
                true
            }
            None => {
                self.inner.adapter.disconnect(&Target {
                    rooms: vec![id.to_owned()],
                    except: Vec::new(),
                });
                false
            }
        }
    }

    /// Takes every socket out of `room` (`close_room`), on every process.
    pub fn close_room(&self, room: &str) {
        self.inner.adapter.close_room(room);
    }
}

/// An emit to several sockets of a namespace: the rooms named with [`to`](Broadcast::to)
/// (all sockets when none), less those named with [`except`](Broadcast::except). The
/// packet is encoded once for all of them. With a message queue
/// ([`SocketIoConfig::message_queue`](super::SocketIoConfig)) it reaches the sockets of
/// every server.
#[derive(Clone)]
pub struct Broadcast {
    ns: Arc<NsInner>,
    target: Target,
}

impl Broadcast {
    pub(crate) fn new(ns: Arc<NsInner>) -> Broadcast {
        Broadcast {
            ns,
            target: Target::default(),
        }
    }

    /// Adds a room to send to.
    pub fn to(mut self, room: &str) -> Broadcast {
        self.target.rooms.push(room.to_owned());
        self
    }

    /// Leaves out the sockets in `room` (or the socket of that id).
    pub fn except(mut self, room: &str) -> Broadcast {
        self.target.except.push(room.to_owned());
        self
    }

    /// Sends an event: `data` is one argument, or [`Args`] for several.
    pub fn emit(&self, event: &str, data: impl IntoArgs) -> Result<(), ArgsError> {
        let packet = event_packet(&self.ns.name, event, data.into_args()?);
        self.ns.adapter.broadcast(&self.target, &packet.encode());
        Ok(())
    }

    /// The sockets it would reach on this process.
    pub fn sockets(&self) -> Vec<Socket> {
        self.ns.adapter.sockets(&self.target)
    }

    /// The sockets it would reach on every process: `io.to(room).fetch_sockets(..)`
    /// lists a room across a cluster. See [`Namespace::fetch_sockets`].
    pub fn fetch_sockets(
        &self,
        timeout: Duration,
        done: impl FnOnce(Vec<SocketInfo>) + Send + 'static,
    ) {
        self.ns
            .adapter
            .fetch_sockets(&self.target, timeout, Box::new(done));
    }

    /// Disconnects the sockets it would reach, on every process (socket.io's
    /// `disconnectSockets()`).
    pub fn disconnect(&self) {
        self.ns.adapter.disconnect(&self.target);
    }
}
