//! [`RedisAdapter`]: one namespace's rooms on a server attached to Redis. Membership is
//! kept here, in the in-memory adapter; what names sockets by room is done here and
//! published, so every other server does the same with its own sockets.

use std::sync::Arc;
use std::time::Duration;

use super::bus::Bus;
use super::envelope::Body;
use crate::web::socketio::adapter::{Adapter, FetchCallback, LocalAdapter, Target};
use crate::web::socketio::packet::Encoded;
use crate::web::socketio::socket::Socket;

pub(crate) struct RedisAdapter {
    local: LocalAdapter,
    nsp: String,
    bus: Arc<Bus>,
}

impl RedisAdapter {
    pub(crate) fn new(nsp: &str, bus: Arc<Bus>) -> RedisAdapter {
        RedisAdapter {
            local: LocalAdapter::default(),
            nsp: nsp.to_owned(),
            bus,
        }
    }
}

impl Adapter for RedisAdapter {
    fn add(&self, socket: &Socket) {
        self.local.add(socket);
    }

    fn remove(&self, socket: &Socket) {
        self.local.remove(socket);
    }

    fn join(&self, socket: &Socket, room: &str) {
        self.local.join(socket, room);
    }

    fn leave(&self, socket: &Socket, room: &str) {
        self.local.leave(socket, room);
    }

    fn rooms_of(&self, socket: &Socket) -> Vec<String> {
        self.local.rooms_of(socket)
    }

    fn sockets(&self, target: &Target) -> Vec<Socket> {
        self.local.sockets(target)
    }

    fn socket(&self, id: &str) -> Option<Socket> {
        self.local.socket(id)
    }

    fn len(&self) -> usize {
        self.local.len()
    }

    fn broadcast(&self, target: &Target, packet: &Encoded) {
        self.local.broadcast(target, packet);
        if !self.local.names_local_sockets_only(target) {
            let body = Body::Broadcast {
                target: target.clone(),
                packet: packet.clone(),
            };
            self.bus.publish(&self.nsp, body);
        }
    }

    fn close_room(&self, room: &str) {
        self.local.close_room(room);
        let body = Body::CloseRoom {
            room: room.to_owned(),
        };
        self.bus.publish(&self.nsp, body);
    }

    fn disconnect(&self, target: &Target) {
        // Asked before: the disconnect takes the sockets away.
        let only_here = self.local.names_local_sockets_only(target);
        self.local.disconnect(target);
        if !only_here {
            let body = Body::Disconnect {
                target: target.clone(),
            };
            self.bus.publish(&self.nsp, body);
        }
    }

    fn fetch_sockets(&self, target: &Target, timeout: Duration, done: FetchCallback) {
        let found = self.local.socket_infos(target);
        self.bus.fetch(&self.nsp, target, found, timeout, done);
    }

    fn local(&self) -> &LocalAdapter {
        &self.local
    }
}
