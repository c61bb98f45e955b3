//! Publishing to Redis from a thread of its own, so that no event loop ever waits on
//! Redis: an emit hands its envelope over through a bounded queue and returns. When
//! the queue is full (Redis is slower than the emits), the envelope is dropped and
//! counted, with one warning per overflow. The thread sends whatever is queued as one
//! pipeline, so a burst of emits costs one round trip.
//!
//! While Redis is down the thread tries to reconnect at most once per backoff step and
//! drops what is queued meanwhile: a broadcast delivered minutes late would be worse
//! than one not delivered to other processes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use redis::{Client, Connection, RedisResult};

use super::health::Health;

/// How many envelopes may wait for the thread.
const QUEUE: usize = 8192;
/// The most envelopes sent in one pipeline.
const BATCH: usize = 512;
/// How long a connect, or a pipeline's reply, may take before Redis counts as down.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Told how many subscribers got the envelope (`PUBLISH`'s answer), or `None` if it
/// was not published.
pub(crate) type Receivers = Box<dyn FnOnce(Option<usize>) + Send>;

/// One envelope to publish.
pub(crate) struct Outgoing {
    pub(crate) channel: String,
    pub(crate) payload: Vec<u8>,
    pub(crate) receivers: Option<Receivers>,
}

impl Outgoing {
    fn failed(self) {
        if let Some(receivers) = self.receivers {
            receivers(None);
        }
    }
}

/// The queue to the publishing thread; the thread ends when this is dropped.
pub(crate) struct Publisher {
    queue: SyncSender<Outgoing>,
    overflow: Arc<Overflow>,
}

/// Envelopes dropped because the queue was full.
#[derive(Default)]
struct Overflow {
    full: AtomicBool,
    dropped: AtomicU64,
}

impl Publisher {
    pub(crate) fn start(client: Client, health: Arc<Health>) -> Publisher {
        let (queue, incoming) = sync_channel(QUEUE);
        let overflow = Arc::new(Overflow::default());
        let thread = Thread {
            client,
            health,
            overflow: overflow.clone(),
            connection: None,
            backoff: MIN_BACKOFF,
            next_attempt: Instant::now(),
        };
        std::thread::Builder::new()
            .name("socketio-redis-pub".into())
            .spawn(move || thread.run(incoming))
            .expect("the OS could not start a thread");
        Publisher { queue, overflow }
    }

    /// Queues an envelope; never blocks.
    pub(crate) fn send(&self, outgoing: Outgoing) {
        match self.queue.try_send(outgoing) {
            Ok(()) => {}
            Err(TrySendError::Full(outgoing)) => {
                self.overflow.dropped.fetch_add(1, Ordering::Relaxed);
                if !self.overflow.full.swap(true, Ordering::AcqRel) {
                    log::warn!(
                        "Socket.IO: the Redis publish queue is full ({QUEUE} messages); \
                         messages for other processes are dropped until it drains"
                    );
                }
                outgoing.failed();
            }
            Err(TrySendError::Disconnected(outgoing)) => outgoing.failed(),
        }
    }
}

struct Thread {
    client: Client,
    health: Arc<Health>,
    overflow: Arc<Overflow>,
    connection: Option<Connection>,
    backoff: Duration,
    next_attempt: Instant,
}

impl Thread {
    fn run(mut self, incoming: Receiver<Outgoing>) {
        while let Ok(first) = incoming.recv() {
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match incoming.try_recv() {
                    Ok(outgoing) => batch.push(outgoing),
                    Err(_) => break,
                }
            }
            // A batch that is not full took everything that was queued.
            let drained = batch.len() < BATCH;
            self.publish(batch);
            if drained && self.overflow.full.load(Ordering::Acquire) {
                self.overflow.full.store(false, Ordering::Release);
                let dropped = self.overflow.dropped.swap(0, Ordering::AcqRel);
                log::warn!(
                    "Socket.IO: the Redis publish queue drained; {dropped} messages for \
                     other processes were dropped"
                );
            }
        }
    }

    fn publish(&mut self, batch: Vec<Outgoing>) {
        let result = match self.connection.as_mut() {
            Some(connection) => match send(connection, &batch) {
                // A connection Redis closed (a restart): once more on a new one, so
                // the first emits after a restart are not lost.
                Err(_) => self.reconnect().and_then(|c| send(c, &batch)),
                done => done,
            },
            None if Instant::now() < self.next_attempt => {
                self.health.dropped(batch.len());
                batch.into_iter().for_each(Outgoing::failed);
                return;
            }
            None => self.reconnect().and_then(|c| send(c, &batch)),
        };
        match result {
            Ok(counts) => {
                self.health.back();
                self.backoff = MIN_BACKOFF;
                for (outgoing, count) in batch.into_iter().zip(counts) {
                    if let Some(receivers) = outgoing.receivers {
                        receivers(Some(count));
                    }
                }
            }
            Err(e) => {
                self.connection = None;
                self.health.lost(&e);
                self.health.dropped(batch.len());
                self.next_attempt = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                batch.into_iter().for_each(Outgoing::failed);
            }
        }
    }

    fn reconnect(&mut self) -> RedisResult<&mut Connection> {
        self.connection = None;
        let connection = self.client.get_connection_with_timeout(IO_TIMEOUT)?;
        connection.set_read_timeout(Some(IO_TIMEOUT))?;
        connection.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(self.connection.insert(connection))
    }
}

/// One pipeline of `PUBLISH`es: how many subscribers got each.
fn send(connection: &mut Connection, batch: &[Outgoing]) -> RedisResult<Vec<usize>> {
    let mut pipe = redis::pipe();
    for outgoing in batch {
        pipe.cmd("PUBLISH")
            .arg(&outgoing.channel)
            .arg(&outgoing.payload);
    }
    pipe.query(connection)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        // A "Redis" that accepts and never answers: the thread waits on it while the
        // queue fills.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}/", silent.local_addr().unwrap());
        let health = Arc::new(Health::new(&url));
        let publisher = Publisher::start(Client::open(url).unwrap(), health);
        let failed = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let extra = 100;
        for _ in 0..QUEUE + BATCH + extra {
            let failed = failed.clone();
            publisher.send(Outgoing {
                channel: "c".into(),
                payload: vec![0; 16],
                receivers: Some(Box::new(move |n: Option<usize>| {
                    if n.is_none() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                })),
            });
        }
        assert!(started.elapsed() < IO_TIMEOUT, "send waited");
        let dropped = publisher.overflow.dropped.load(Ordering::Relaxed) as usize;
        assert!(dropped >= extra, "{dropped} dropped");
        assert!(publisher.overflow.full.load(Ordering::Relaxed));
        // Each dropped envelope was reported as not published, at once.
        assert!(failed.load(Ordering::Relaxed) >= dropped);
    }
}
