//! Sending to WebSockets from anywhere: a [`WebSocketHandle`] per connection, and
//! [`Group`]s of them for broadcasts.
//!
//! A send from another thread is a message to the connection's loop, through its bounded
//! mailbox; a full mailbox refuses it ([`SendError::Full`]) rather than grow. A broadcast
//! encodes its frame once and posts one message per loop, naming every member there, so
//! a thousand recipients cost one encoding and a few mailbox posts, not a thousand copies.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::http::ws::send::SharedFrame;
use crate::server::mailbox::{ConnId, LoopHandle, Message};
use crate::server::websocket::SendError;

/// What another thread asks a connection to send.
pub(crate) enum Outgoing {
    Text(String),
    Binary(Bytes),
    /// Frames encoded once for many connections, sent back to back (a message and its
    /// binary parts).
    Frames(Arc<[SharedFrame]>),
    Ping(Bytes),
    Close(u16, String),
}

/// Where a handle's messages go.
pub(crate) enum Target {
    /// A connection on an event loop.
    Loop { mailbox: LoopHandle, conn: ConnId },
    /// A connection driven in memory (the test client), which takes them from here.
    Memory(Mutex<VecDeque<Outgoing>>),
}

/// Sends to one WebSocket connection from any thread. `Clone + Send + Sync`.
///
/// Get one with [`WebSocket::handle`](crate::websocket::WebSocket::handle). Sending to a
/// connection that has closed returns [`SendError::Closed`].
#[derive(Clone)]
pub struct WebSocketHandle {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    target: Target,
    /// Our close frame is out, or the connection is gone.
    closed: AtomicBool,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is one push or one pass: a poisoned lock left nothing half-done.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl WebSocketHandle {
    pub(crate) fn new(target: Target) -> WebSocketHandle {
        WebSocketHandle {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                target,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// A number no other connection in this process has.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Whether the connection is closing or gone: sends will fail.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Sends a text message.
    pub fn send_text(&self, text: impl Into<String>) -> Result<(), SendError> {
        self.post(Outgoing::Text(text.into()))
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.post(Outgoing::Binary(data.into()))
    }

    /// Sends a ping of at most 125 bytes.
    pub fn ping(&self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        let payload = payload.into();
        if payload.len() > 125 {
            return Err(SendError::Invalid);
        }
        self.post(Outgoing::Ping(payload))
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123 bytes).
    pub fn close(&self, code: u16, reason: &str) -> Result<(), SendError> {
        if reason.len() > 123 || !crate::http::ws::close::is_valid_code(code) {
            return Err(SendError::Invalid);
        }
        self.post(Outgoing::Close(code, reason.to_owned()))
    }

    fn post(&self, outgoing: Outgoing) -> Result<(), SendError> {
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        match &self.inner.target {
            Target::Loop { mailbox, conn } => mailbox
                .post(Message::WsSend {
                    conn: *conn,
                    outgoing,
                })
                .map_err(|_| SendError::Full),
            Target::Memory(queue) => {
                lock(queue).push_back(outgoing);
                Ok(())
            }
        }
    }

    /// Sends frames encoded once (for this and other connections), back to back: a
    /// full mailbox refuses them all, so they are never split.
    #[cfg_attr(not(feature = "socketio"), allow(dead_code))]
    pub(crate) fn send_frames(&self, frames: Arc<[SharedFrame]>) -> Result<(), SendError> {
        self.post(Outgoing::Frames(frames))
    }

    pub(crate) fn mark_closed(&self) {
        self.inner.closed.store(true, Ordering::Release);
    }

    /// What was sent to an in-memory connection since the last call.
    pub(crate) fn take_queued(&self) -> VecDeque<Outgoing> {
        match &self.inner.target {
            Target::Memory(queue) => std::mem::take(&mut *lock(queue)),
            Target::Loop { .. } => VecDeque::new(),
        }
    }
}

impl PartialEq for WebSocketHandle {
    fn eq(&self, other: &WebSocketHandle) -> bool {
        self.id() == other.id()
    }
}

impl Eq for WebSocketHandle {}

impl fmt::Debug for WebSocketHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketHandle")
            .field("id", &self.id())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A set of WebSocket connections, on any loops, to send one message to all of them:
/// a chat room, the subscribers of a feed. `Clone + Send + Sync`; clones are the same group.
///
/// Connections that have closed are dropped from it as it finds them.
///
/// ```
/// use carafe::websocket::{Group, Message, WebSocket, WebSocketHandler};
///
/// struct Member { room: Group }
///
/// impl WebSocketHandler for Member {
///     fn on_open(&mut self, ws: &mut WebSocket<'_>) {
///         self.room.add(ws.handle());
///     }
///     fn on_message(&mut self, _: &mut WebSocket<'_>, message: Message<'_>) {
///         if let Message::Text(text) = message {
///             self.room.broadcast_text(text); // encoded once for everyone
///         }
///     }
/// }
/// ```
#[derive(Clone, Default)]
pub struct Group {
    members: Arc<Mutex<Vec<WebSocketHandle>>>,
}

impl Group {
    /// An empty group.
    pub fn new() -> Group {
        Group::default()
    }

    /// Adds a connection (once: adding it again changes nothing).
    pub fn add(&self, handle: WebSocketHandle) {
        let mut members = lock(&self.members);
        if !members.contains(&handle) {
            members.push(handle);
        }
    }

    /// Removes a connection.
    pub fn remove(&self, handle: &WebSocketHandle) {
        lock(&self.members).retain(|m| m != handle);
    }

    /// How many open connections are in the group.
    pub fn len(&self) -> usize {
        let mut members = lock(&self.members);
        members.retain(|m| !m.is_closed());
        members.len()
    }

    /// Whether no open connection is in the group.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends a text message to every member; returns how many it was queued for (a
    /// loop whose mailbox is full misses it, as do connections that have closed).
    pub fn broadcast_text(&self, text: &str) -> usize {
        self.broadcast(SharedFrame::text(text), None)
    }

    /// Sends a binary message to every member; returns how many it was queued for.
    pub fn broadcast_binary(&self, data: &[u8]) -> usize {
        self.broadcast(SharedFrame::binary(data), None)
    }

    /// Sends a text message to every member but `except` (usually the sender).
    pub fn broadcast_text_except(&self, text: &str, except: &WebSocketHandle) -> usize {
        self.broadcast(SharedFrame::text(text), Some(except.id()))
    }

    fn broadcast(&self, frame: SharedFrame, except: Option<u64>) -> usize {
        let mut members = lock(&self.members);
        members.retain(|m| !m.is_closed());
        let frames: Arc<[SharedFrame]> = Arc::new([frame]);
        broadcast(members.iter().filter(|m| Some(m.id()) != except), &frames)
    }
}

/// Sends `frames` to every handle in `members`, grouped by loop: one mailbox message per
/// loop names all of that loop's connections. Returns how many connections they were
/// queued for (a loop whose mailbox is full misses them, as do closed connections).
pub(crate) fn broadcast<'h>(
    members: impl IntoIterator<Item = &'h WebSocketHandle>,
    frames: &Arc<[SharedFrame]>,
) -> usize {
    let mut loops: Vec<(&LoopHandle, Vec<ConnId>)> = Vec::new();
    let mut queued = 0;
    for member in members {
        if member.is_closed() {
            continue;
        }
        match &member.inner.target {
            Target::Loop { mailbox, conn } => {
                match loops.iter_mut().find(|(l, _)| l.same_loop(mailbox)) {
                    Some((_, conns)) => conns.push(*conn),
                    None => loops.push((mailbox, vec![*conn])),
                }
            }
            Target::Memory(queue) => {
                lock(queue).push_back(Outgoing::Frames(frames.clone()));
                queued += 1;
            }
        }
    }
    for (mailbox, conns) in loops {
        let n = conns.len();
        let message = Message::WsBroadcast {
            conns,
            frames: frames.clone(),
        };
        if mailbox.post(message).is_ok() {
            queued += n;
        }
    }
    queued
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("len", &self.len()).finish()
    }
}
