//! A mailbox per event loop: other threads post work to a loop through a [`LoopHandle`],
//! and the loop's `mio::Waker` tells it to look.
//!
//! Messages name their connection by slab key and serial, so a message for a connection
//! that closed while it was in flight is dropped rather than delivered to whichever
//! connection got the key next. The queue is bounded: a full mailbox refuses a message
//! (the sender gets it back) instead of growing without limit. Wake-ups are coalesced:
//! a burst of posts costs the loop one `epoll_wait` return and the posters one `write`
//! to the eventfd between them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mio::Waker;

use crate::http::response::Response;
#[cfg(feature = "websocket")]
use crate::http::ws::send::SharedFrame;
#[cfg(feature = "websocket")]
use crate::server::websocket::Outgoing;

/// A connection, as another thread names it: which loop, which slab key, and which of
/// the connections that held that key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ConnId {
    pub(crate) key: usize,
    pub(crate) serial: u64,
}

/// What a loop is asked to do.
pub(crate) enum Message {
    /// A response computed off the loop (a blocking view) is ready for its connection.
    Respond { conn: ConnId, response: Response },
    /// Something queued for the connection outside the loop (a pushed body piece) is
    /// waiting: drive it again.
    Wake { conn: ConnId },
    /// A WebSocket message from another thread.
    #[cfg(feature = "websocket")]
    WsSend { conn: ConnId, outgoing: Outgoing },
    /// The same frames, in order, for every listed WebSocket connection of this loop (a
    /// broadcast; a message with binary parts is several frames that must not be split).
    #[cfg(feature = "websocket")]
    WsBroadcast {
        conns: Vec<ConnId>,
        frames: Arc<[SharedFrame]>,
    },
}

/// The sending half of a loop's mailbox. `Clone + Send + Sync`: any thread may post.
#[derive(Clone)]
pub(crate) struct LoopHandle {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<VecDeque<Message>>,
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    capacity: usize,
    /// Set by the first post after the loop last looked; later posts skip the wake-up.
    notified: AtomicBool,
    waker: Waker,
}

/// The mailbox was full: the message was not posted.
#[derive(Debug)]
#[cfg_attr(not(feature = "websocket"), allow(dead_code))] // bounded posts are WebSocket sends
pub(crate) struct Full;

impl LoopHandle {
    /// A mailbox of `capacity` messages that wakes its loop through `waker`.
    pub(crate) fn new(waker: Waker, capacity: usize) -> LoopHandle {
        LoopHandle {
            shared: Arc::new(Shared {
                queue: Mutex::new(VecDeque::new()),
                capacity: capacity.max(1),
                notified: AtomicBool::new(false),
                waker,
            }),
        }
    }

    /// Posts `message`, or refuses it when the mailbox is full.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))] // bounded posts are WebSocket sends
    pub(crate) fn post(&self, message: Message) -> Result<(), Full> {
        {
            let mut queue = lock(&self.shared.queue);
            if queue.len() >= self.shared.capacity {
                return Err(Full);
            }
            queue.push_back(message);
        }
        self.notify();
        Ok(())
    }

    /// Posts `message` even over the bound. Only for messages whose number is bounded
    /// elsewhere: a blocking view's response must reach its connection (the pool's own
    /// queue limit bounds how many can be in flight), or the client would wait forever.
    pub(crate) fn post_reserved(&self, message: Message) {
        lock(&self.shared.queue).push_back(message);
        self.notify();
    }

    /// Whether both handles post to the same loop.
    #[cfg(feature = "websocket")]
    pub(crate) fn same_loop(&self, other: &LoopHandle) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Wakes the loop without a message (it then checks its flags, e.g. shutdown).
    pub(crate) fn wake(&self) {
        if let Err(e) = self.shared.waker.wake() {
            log::error!("could not wake an event loop: {e}");
        }
    }

    fn notify(&self) {
        if !self.shared.notified.swap(true, Ordering::AcqRel) {
            self.wake();
        }
    }

    /// Moves every waiting message into `into` (the loop's spare list, so draining
    /// allocates nothing once both have grown).
    pub(crate) fn drain_into(&self, into: &mut VecDeque<Message>) {
        // Cleared before taking the messages: a post that lands after the swap below
        // then wakes the loop again instead of waiting unseen.
        self.shared.notified.store(false, Ordering::Release);
        std::mem::swap(&mut *lock(&self.shared.queue), into);
    }

    /// How many messages wait (for tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.shared.queue).len()
    }
}

/// A poisoned lock only means another thread panicked while holding it; the queue
/// itself is still consistent (every operation on it is a single push or swap).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll, Token};
    use std::time::Duration;

    fn mailbox(capacity: usize) -> (Poll, LoopHandle) {
        let poll = Poll::new().unwrap();
        let waker = Waker::new(poll.registry(), Token(0)).unwrap();
        (poll, LoopHandle::new(waker, capacity))
    }

    fn wake_of(id: usize) -> Message {
        Message::Wake {
            conn: ConnId { key: id, serial: 1 },
        }
    }

    #[test]
    fn a_full_mailbox_refuses_and_gives_the_message_back() {
        let (_poll, handle) = mailbox(2);
        assert!(handle.post(wake_of(1)).is_ok());
        assert!(handle.post(wake_of(2)).is_ok());
        assert!(
            handle.post(wake_of(3)).is_err(),
            "a third message fit in a mailbox of two"
        );
        // Reserved posts go over the bound.
        handle.post_reserved(wake_of(4));
        assert_eq!(handle.len(), 3);
        let mut taken = VecDeque::new();
        handle.drain_into(&mut taken);
        let keys: Vec<usize> = taken
            .iter()
            .map(|m| match m {
                Message::Wake { conn } => conn.key,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(keys, [1, 2, 4]);
        assert!(handle.post(wake_of(5)).is_ok(), "room again once drained");
    }

    #[test]
    fn posts_from_other_threads_wake_the_poll_once_per_drain() {
        let (mut poll, handle) = mailbox(1024);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let handle = handle.clone();
                std::thread::spawn(move || {
                    for i in 0..100 {
                        handle.post(wake_of(t * 100 + i)).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let mut events = Events::with_capacity(8);
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(!events.is_empty(), "the waker fired");
        let mut taken = VecDeque::new();
        handle.drain_into(&mut taken);
        assert_eq!(taken.len(), 400);
        // Nothing new: no wake-up pending.
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        assert!(events.is_empty());
        // A post after the drain wakes the loop again.
        handle.post(wake_of(0)).unwrap();
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(!events.is_empty());
    }
}
