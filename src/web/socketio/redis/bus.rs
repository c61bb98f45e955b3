//! One server's link to the others through Redis: its uid, its channels, the publishing
//! thread and the subscribing one, and its queries waiting for answers. Every namespace's
//! [`RedisAdapter`](super::adapter::RedisAdapter) shares it.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::channels::Channels;
use super::envelope::{Body, Envelope, new_uid};
use super::fetch::Fetches;
use super::health::Health;
use super::publisher::{Outgoing, Publisher};
use super::subscriber;
use crate::web::socketio::adapter::{FetchCallback, SocketInfo, Target};
use crate::web::socketio::engineio::timer::Timer;
use crate::web::socketio::server::Core;

pub(crate) struct Bus {
    /// This server's uid: it ignores envelopes that carry it.
    pub(crate) uid: u64,
    channels: Channels,
    publisher: Publisher,
    pub(crate) fetches: Fetches,
    timer: Timer,
}

impl Bus {
    /// Starts both threads. Fails only on a URL redis does not accept; an unreachable
    /// Redis is retried in the background.
    pub(crate) fn start(
        url: &str,
        prefix: &str,
        core: Weak<Core>,
        timer: Timer,
    ) -> redis::RedisResult<Bus> {
        let client = redis::Client::open(url)?;
        let health = Arc::new(Health::new(url));
        let uid = new_uid();
        let channels = Channels::new(prefix);
        let publisher = Publisher::start(client.clone(), health.clone());
        subscriber::start(client, channels.clone(), uid, health, core);
        Ok(Bus {
            uid,
            channels,
            publisher,
            fetches: Fetches::default(),
            timer,
        })
    }

    /// Tells every other server of the namespace.
    pub(crate) fn publish(&self, nsp: &str, body: Body) {
        self.send(self.channels.namespace(nsp), nsp, body, None);
    }

    /// Asks every server for the sockets a target names; `found` is this one's answer.
    pub(crate) fn fetch(
        self: &Arc<Bus>,
        nsp: &str,
        target: &Target,
        found: Vec<SocketInfo>,
        timeout: Duration,
        done: FetchCallback,
    ) {
        let request = self.fetches.open(found, done);
        let bus = Arc::downgrade(self);
        self.timer
            .schedule(Instant::now() + timeout, move |_, _| close(&bus, request));
        let bus = Arc::downgrade(self);
        let body = Body::FetchSockets {
            request,
            target: target.clone(),
        };
        let receivers = Box::new(move |subscribers: Option<usize>| match subscribers {
            Some(subscribers) => {
                if let Some(bus) = bus.upgrade() {
                    bus.fetches.expect(request, subscribers);
                }
            }
            None => close(&bus, request),
        });
        self.send(self.channels.namespace(nsp), nsp, body, Some(receivers));
    }

    /// Answers another server's query, on its response channel.
    pub(crate) fn answer(&self, asker: u64, nsp: &str, request: u64, sockets: Vec<SocketInfo>) {
        let body = Body::Sockets { request, sockets };
        self.send(self.channels.responses(asker), nsp, body, None);
    }

    fn send(
        &self,
        channel: String,
        nsp: &str,
        body: Body,
        receivers: Option<super::publisher::Receivers>,
    ) {
        let envelope = Envelope {
            origin: self.uid,
            nsp: nsp.to_owned(),
            body,
        };
        self.publisher.send(Outgoing {
            channel,
            payload: envelope.encode(),
            receivers,
        });
    }
}

fn close(bus: &Weak<Bus>, request: u64) {
    if let Some(bus) = bus.upgrade() {
        bus.fetches.close(request);
    }
}
