//! Receiving from Redis on a thread of its own: it subscribes to every namespace's
//! channel and to this server's response channel, and applies what other processes
//! publish through the in-memory adapter, as if it had been done here. When the
//! connection breaks it reconnects with a backoff (100 ms doubling to 2 s); it ends
//! once the server is gone.

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use redis::{Client, RedisResult};

use super::channels::Channels;
use super::envelope::{Body, Envelope};
use super::health::Health;
use crate::web::socketio::adapter::Adapter;
use crate::web::socketio::server::Core;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often an idle read gives up, to see whether the server is still there.
const POLL: Duration = Duration::from_secs(1);
/// Idle polls between two pings, which find a connection that died silently.
const PING_EVERY: u32 = 15;
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

struct Subscriber {
    client: Client,
    channels: Channels,
    uid: u64,
    health: Arc<Health>,
    core: Weak<Core>,
}

pub(crate) fn start(
    client: Client,
    channels: Channels,
    uid: u64,
    health: Arc<Health>,
    core: Weak<Core>,
) {
    let subscriber = Subscriber {
        client,
        channels,
        uid,
        health,
        core,
    };
    std::thread::Builder::new()
        .name("socketio-redis-sub".into())
        .spawn(move || subscriber.run())
        .expect("the OS could not start a thread");
}

impl Subscriber {
    fn run(self) {
        let mut backoff = MIN_BACKOFF;
        loop {
            match self.listen(&mut backoff) {
                Ok(()) => return,
                Err(e) => self.health.lost(&e),
            }
            // Asleep in steps, so a server that goes away meanwhile is noticed.
            let mut slept = Duration::ZERO;
            while slept < backoff {
                if self.core.strong_count() == 0 {
                    return;
                }
                let step = (backoff - slept).min(Duration::from_millis(100));
                std::thread::sleep(step);
                slept += step;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Subscribes and applies messages until the connection fails (`Err`) or the server
    /// is gone (`Ok`).
    fn listen(&self, backoff: &mut Duration) -> RedisResult<()> {
        let mut connection = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        let mut pubsub = connection.as_pubsub();
        pubsub.set_read_timeout(Some(POLL))?;
        pubsub.psubscribe(self.channels.namespaces_pattern())?;
        pubsub.subscribe(self.channels.responses(self.uid))?;
        self.health.back();
        *backoff = MIN_BACKOFF;
        let mut idle = 0;
        loop {
            match pubsub.get_message() {
                Ok(message) => {
                    idle = 0;
                    let Some(core) = self.core.upgrade() else {
                        return Ok(());
                    };
                    let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                    self.apply(&core, payload);
                }
                Err(e) if e.is_timeout() => {
                    if self.core.strong_count() == 0 {
                        return Ok(());
                    }
                    idle += 1;
                    if idle % PING_EVERY == 0 {
                        pubsub.ping::<redis::Value>()?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Does here what another process asked.
    fn apply(&self, core: &Core, payload: Bytes) {
        let Some(envelope) = Envelope::decode(payload) else {
            log::debug!("Socket.IO: ignored a Redis message that is not an envelope");
            return;
        };
        if envelope.origin == self.uid {
            return; // our own, already done here
        }
        let Some(bus) = core.bus.as_ref() else { return };
        if let Body::Sockets { request, sockets } = envelope.body {
            bus.fetches.answer(request, sockets);
            return;
        }
        // A namespace with no handlers here has no sockets here either.
        let Some(ns) = core.namespace(&envelope.nsp) else {
            return;
        };
        let local = ns.inner.adapter.local();
        match envelope.body {
            Body::Broadcast { target, packet } => local.broadcast(&target, &packet),
            Body::CloseRoom { room } => local.close_room(&room),
            Body::Disconnect { target } => local.disconnect(&target),
            Body::FetchSockets { request, target } => {
                let sockets = local.socket_infos(&target);
                bus.answer(envelope.origin, &envelope.nsp, request, sockets);
            }
            Body::Sockets { .. } => {}
        }
    }
}
