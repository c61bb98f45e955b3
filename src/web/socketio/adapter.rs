//! Rooms: who is in which, and sending one packet to a set of sockets.
//!
//! As in socket.io (`socket.io-adapter`) and socketioxide, membership and broadcasts sit
//! behind [`Adapter`], so that an adapter for several processes (Redis pub/sub, see
//! `redis`) can forward each operation to the others and apply it here through the
//! in-memory one. [`LocalAdapter`] keeps one process's rooms: every loop of
//! `app.workers(n)` shares it.
//!
//! Membership stays where the socket is: joining, leaving and a socket's rooms are local
//! on every adapter. What names sockets by room (a broadcast, a disconnect, closing a
//! room, a query) reaches every process.
//!
//! A broadcast encodes its packet once ([`Packet::encode`](super::packet::Packet::encode)):
//! WebSocket recipients share one set of frames, posted once per event loop with the
//! list of that loop's connections; long-polling ones queue clones of the same bytes.

use std::collections::{HashMap, HashSet};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::engineio::conn::{Route, direct, shared_frames};
use super::engineio::sid::Sid;
use super::packet::Encoded;
use super::socket::{Socket, frames, guarded};
use crate::server::websocket::{WebSocketHandle, broadcast_frames};

/// Whom a broadcast reaches: the sockets in any of `rooms` (all of the namespace when
/// empty), less those in any of `except`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) rooms: Vec<String>,
    pub(crate) except: Vec<String>,
}

/// A socket as the process that holds it describes it, in the answer to a query over
/// every process ([`Namespace::fetch_sockets`](super::Namespace::fetch_sockets)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketInfo {
    /// The socket's id (also its own room).
    pub id: String,
    /// The rooms it is in, its own included, sorted.
    pub rooms: Vec<String>,
}

/// What gets the answer of a query over every process.
pub(crate) type FetchCallback = Box<dyn FnOnce(Vec<SocketInfo>) + Send>;

/// Room membership and broadcasts of one namespace.
pub(crate) trait Adapter: Send + Sync {
    /// A socket finished connecting: it is in the namespace and in its own room.
    fn add(&self, socket: &Socket);
    /// A socket left: it is in no room any more.
    fn remove(&self, socket: &Socket);
    fn join(&self, socket: &Socket, room: &str);
    fn leave(&self, socket: &Socket, room: &str);
    /// The rooms of a socket, sorted.
    fn rooms_of(&self, socket: &Socket) -> Vec<String>;
    /// The connected sockets a target names.
    fn sockets(&self, target: &Target) -> Vec<Socket>;
    /// A connected socket by id.
    fn socket(&self, id: &str) -> Option<Socket>;
    /// How many sockets are connected.
    fn len(&self) -> usize;
    /// Sends an encoded packet to the sockets a target names.
    fn broadcast(&self, target: &Target, packet: &Encoded);
    /// Takes every socket out of `room`.
    fn close_room(&self, room: &str);
    /// Disconnects the sockets a target names.
    fn disconnect(&self, target: &Target);
    /// Calls `done` with the sockets a target names, once every process has answered
    /// or `timeout` has passed.
    fn fetch_sockets(&self, target: &Target, timeout: Duration, done: FetchCallback);
    /// This process's rooms, where operations from other processes apply.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn local(&self) -> &LocalAdapter;
}

/// The rooms of one process, in memory.
#[derive(Default)]
pub(crate) struct LocalAdapter {
    state: RwLock<Rooms>,
}

#[derive(Default)]
struct Rooms {
    /// Every connected socket.
    sockets: HashMap<Sid, Socket>,
    /// Each room's members.
    rooms: HashMap<String, HashMap<Sid, Socket>>,
    /// Each socket's rooms.
    of: HashMap<Sid, HashSet<String>>,
}

impl Rooms {
    fn join(&mut self, socket: &Socket, room: &str) {
        let id = socket.inner.id;
        self.rooms
            .entry(room.to_owned())
            .or_default()
            .insert(id, socket.clone());
        self.of.entry(id).or_default().insert(room.to_owned());
    }

    fn leave(&mut self, id: Sid, room: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
        if let Some(rooms) = self.of.get_mut(&id) {
            rooms.remove(room);
            if rooms.is_empty() {
                self.of.remove(&id);
            }
        }
    }

    /// Calls `f` with each socket the target names, once.
    fn each(&self, target: &Target, mut f: impl FnMut(&Socket)) {
        let excluded: HashSet<Sid> = target
            .except
            .iter()
            .filter_map(|room| self.rooms.get(room))
            .flat_map(|members| members.keys().copied())
            .collect();
        if target.rooms.is_empty() {
            for (id, socket) in &self.sockets {
                if !excluded.contains(id) {
                    f(socket);
                }
            }
            return;
        }
        let mut seen = HashSet::new();
        for members in target.rooms.iter().filter_map(|room| self.rooms.get(room)) {
            for (id, socket) in members {
                let once = target.rooms.len() == 1 || seen.insert(*id);
                if once && !excluded.contains(id) && self.sockets.contains_key(id) {
                    f(socket);
                }
            }
        }
    }
}

impl LocalAdapter {
    fn read(&self) -> RwLockReadGuard<'_, Rooms> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Rooms> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a target names only sockets of this process by id (`io.to(sid)`, a
    /// socket's own room): then no other process has anything to do.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn names_local_sockets_only(&self, target: &Target) -> bool {
        let rooms = self.read();
        !target.rooms.is_empty()
            && target
                .rooms
                .iter()
                .all(|room| Sid::parse(room).is_some_and(|id| rooms.sockets.contains_key(&id)))
    }

    /// The sockets a target names, described for a query.
    pub(crate) fn socket_infos(&self, target: &Target) -> Vec<SocketInfo> {
        let rooms = self.read();
        let mut found = Vec::new();
        rooms.each(target, |socket| {
            let mut names: Vec<String> = rooms
                .of
                .get(&socket.inner.id)
                .map(|names| names.iter().cloned().collect())
                .unwrap_or_default();
            names.sort();
            found.push(SocketInfo {
                id: socket.id().to_owned(),
                rooms: names,
            });
        });
        found
    }
}

impl Adapter for LocalAdapter {
    fn add(&self, socket: &Socket) {
        let mut rooms = self.write();
        rooms.sockets.insert(socket.inner.id, socket.clone());
        rooms.join(socket, socket.id());
    }

    fn remove(&self, socket: &Socket) {
        let id = socket.inner.id;
        let mut rooms = self.write();
        rooms.sockets.remove(&id);
        for room in rooms.of.remove(&id).unwrap_or_default() {
            rooms.leave(id, &room);
        }
    }

    fn join(&self, socket: &Socket, room: &str) {
        self.write().join(socket, room);
    }

    fn leave(&self, socket: &Socket, room: &str) {
        self.write().leave(socket.inner.id, room);
    }

    fn rooms_of(&self, socket: &Socket) -> Vec<String> {
        let mut rooms: Vec<String> = self
            .read()
            .of
            .get(&socket.inner.id)
            .map(|rooms| rooms.iter().cloned().collect())
            .unwrap_or_default();
        rooms.sort();
        rooms
    }

    fn sockets(&self, target: &Target) -> Vec<Socket> {
        let mut found = Vec::new();
        self.read().each(target, |s| found.push(s.clone()));
        found
    }

    fn socket(&self, id: &str) -> Option<Socket> {
        let id = Sid::parse(id)?;
        self.read().sockets.get(&id).cloned()
    }

    fn len(&self) -> usize {
        self.read().sockets.len()
    }

    fn broadcast(&self, target: &Target, packet: &Encoded) {
        let frames = frames(packet);
        let mut websockets: Vec<WebSocketHandle> = Vec::new();
        self.read().each(target, |socket| {
            if !socket.accepts_broadcast(packet) {
                return;
            }
            let conn = &socket.inner.conn;
            if let Route::WebSocket(ws) = conn.route(&frames)
                && !direct::push(conn.key(), &frames)
            {
                websockets.push(ws);
            }
        });
        if !websockets.is_empty() {
            broadcast_frames(&websockets, &shared_frames(&frames));
        }
    }

    fn close_room(&self, room: &str) {
        let mut rooms = self.write();
        let members: Vec<Sid> = rooms
            .rooms
            .get(room)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        for id in members {
            rooms.leave(id, room);
        }
    }

    fn disconnect(&self, target: &Target) {
        // Collected first: a disconnect takes the socket out of the rooms.
        for socket in self.sockets(target) {
            socket.disconnect();
        }
    }

    fn fetch_sockets(&self, target: &Target, _timeout: Duration, done: FetchCallback) {
        let found = self.socket_infos(target);
        guarded("fetch_sockets", || done(found));
    }

    fn local(&self) -> &LocalAdapter {
        self
    }
}
