//! A response body pushed from other threads: [`BodySender`] queues pieces, the
//! connection takes them as the client reads.
//!
//! The queue is bounded in bytes, so a client that reads slowly makes `send` report
//! [`SendError::Full`] instead of growing memory; the sender decides whether to drop,
//! wait or give up. Dropping every sender ends the body; the connection going away
//! makes `send` report [`SendError::Closed`].
//!
//! The queue itself knows nothing of event loops: whoever drains it installs a
//! notification, called when a piece lands in a queue it found empty.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

/// Bytes a channel holds when made by [`Response::channel`](crate::Response::channel).
pub(crate) const DEFAULT_LIMIT: usize = 256 * 1024;

/// Called when the drained side has something new to take.
pub(crate) type Notify = Box<dyn Fn() + Send + Sync>;

/// Pushes pieces of a response body from any thread.
///
/// Made with [`Response::channel`](crate::Response::channel). Clones push into the same
/// body; it ends when the last one is dropped.
pub struct BodySender {
    shared: Arc<Shared>,
}

/// The connection's side of the channel.
pub(crate) struct Receiver {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// For a drain with no event loop (the test client), which waits here.
    arrived: Condvar,
}

struct State {
    pieces: VecDeque<Bytes>,
    queued: usize,
    limit: usize,
    senders: usize,
    receiver_gone: bool,
    /// The receiver found the queue empty and wants to hear of the next piece.
    waiting: bool,
    notify: Option<Notify>,
}

/// Why a piece was not queued; the piece comes back with it.
#[derive(Clone, PartialEq, Eq)]
pub enum SendError {
    /// The queue holds its limit: the client is reading slower than pieces arrive.
    Full(Bytes),
    /// The client went away (or the response was never sent); nothing more will be read.
    Closed(Bytes),
}

impl fmt::Debug for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(piece) => write!(f, "Full({} bytes)", piece.len()),
            SendError::Closed(piece) => write!(f, "Closed({} bytes)", piece.len()),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("the response body's buffer is full"),
            SendError::Closed(_) => f.write_str("the client has gone away"),
        }
    }
}

impl std::error::Error for SendError {}

/// What the receiver found.
pub(crate) enum Taken {
    /// A piece of the body.
    Piece(Bytes),
    /// Nothing yet; the notification will tell when there is.
    Empty,
    /// Every sender is gone and the queue is drained: the body is complete.
    Ended,
}

/// A new channel holding at most `limit` bytes (a single larger piece is let through
/// when the queue is empty, or it could never be sent).
pub(crate) fn channel(limit: usize) -> (BodySender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            pieces: VecDeque::new(),
            queued: 0,
            limit,
            senders: 1,
            receiver_gone: false,
            waiting: true,
            notify: None,
        }),
        arrived: Condvar::new(),
    });
    (
        BodySender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // Every critical section is a few field updates: a poisoned lock left no half-work.
    shared
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl BodySender {
    /// Queues `piece` to be sent as the client reads.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] when the queue holds its limit (try again later, or drop the
    /// piece); [`SendError::Closed`] once the client has gone away.
    pub fn send(&self, piece: impl Into<Bytes>) -> Result<(), SendError> {
        let piece = piece.into();
        let mut state = lock(&self.shared);
        if state.receiver_gone {
            return Err(SendError::Closed(piece));
        }
        if state.queued + piece.len() > state.limit && !state.pieces.is_empty() {
            return Err(SendError::Full(piece));
        }
        state.queued += piece.len();
        state.pieces.push_back(piece);
        wake(state, &self.shared);
        Ok(())
    }

    /// Whether the client has gone away: nothing sent now would be read.
    pub fn is_closed(&self) -> bool {
        lock(&self.shared).receiver_gone
    }

    /// Bytes queued and not yet taken by the connection.
    pub fn queued(&self) -> usize {
        lock(&self.shared).queued
    }
}

/// Tells the receiver, if it is waiting, that something changed.
fn wake(mut state: MutexGuard<'_, State>, shared: &Shared) {
    if !std::mem::take(&mut state.waiting) {
        return;
    }
    // Called outside the lock: the notification may take other locks (a mailbox).
    let notify = state.notify.take();
    drop(state);
    shared.arrived.notify_all();
    if let Some(notify) = notify {
        notify();
        let mut state = lock(shared);
        if state.notify.is_none() {
            state.notify = Some(notify);
        }
    }
}

impl Clone for BodySender {
    fn clone(&self) -> BodySender {
        lock(&self.shared).senders += 1;
        BodySender {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.senders -= 1;
        if state.senders == 0 {
            wake(state, &self.shared);
        }
    }
}

impl fmt::Debug for BodySender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodySender").finish_non_exhaustive()
    }
}

impl Receiver {
    /// Takes the next piece, if any.
    pub(crate) fn take(&self) -> Taken {
        let mut state = lock(&self.shared);
        if let Some(piece) = state.pieces.pop_front() {
            state.queued -= piece.len();
            return Taken::Piece(piece);
        }
        if state.senders == 0 {
            return Taken::Ended;
        }
        state.waiting = true;
        Taken::Empty
    }

    /// Installs what is called when a piece arrives in an empty queue (or the body ends).
    pub(crate) fn set_notify(&self, notify: Notify) {
        lock(&self.shared).notify = Some(notify);
    }

    /// Blocks until there is something to take or `timeout` passes: for a drain that
    /// has no event loop to wake.
    pub(crate) fn wait(&self, timeout: Duration) {
        let state = lock(&self.shared);
        if state.pieces.is_empty() && state.senders > 0 {
            let _ = self.shared.arrived.wait_timeout(state, timeout);
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.receiver_gone = true;
        state.pieces.clear();
        state.queued = 0;
        state.notify = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counter(rx: &Receiver) -> Arc<AtomicUsize> {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        rx.set_notify(Box::new(move || {
            seen.fetch_add(1, Ordering::SeqCst);
        }));
        count
    }

    fn piece(taken: Taken) -> Option<Bytes> {
        match taken {
            Taken::Piece(p) => Some(p),
            _ => None,
        }
    }

    #[test]
    fn pieces_arrive_in_order_and_notify_only_a_waiting_receiver() {
        let (tx, rx) = channel(1024);
        let notified = counter(&rx);
        tx.send("a").unwrap();
        assert_eq!(notified.load(Ordering::SeqCst), 1, "first piece wakes");
        tx.send("b").unwrap();
        assert_eq!(
            notified.load(Ordering::SeqCst),
            1,
            "not waiting: no second wake"
        );
        assert_eq!(piece(rx.take()).unwrap(), "a");
        assert_eq!(piece(rx.take()).unwrap(), "b");
        assert!(matches!(rx.take(), Taken::Empty));
        tx.send("c").unwrap();
        assert_eq!(notified.load(Ordering::SeqCst), 2, "waiting again: woken");
    }

    #[test]
    fn the_limit_refuses_with_the_piece_back() {
        let (tx, rx) = channel(10);
        tx.send(vec![0u8; 8]).unwrap();
        let Err(SendError::Full(back)) = tx.send(vec![1u8; 8]) else {
            panic!("over the limit was accepted");
        };
        assert_eq!(back.len(), 8);
        assert_eq!(tx.queued(), 8);
        piece(rx.take()).unwrap();
        assert_eq!(tx.queued(), 0);
        // An empty queue takes one piece larger than the limit.
        tx.send(vec![2u8; 100]).unwrap();
    }

    #[test]
    fn dropping_every_sender_ends_the_body_after_the_queue() {
        let (tx, rx) = channel(1024);
        let notified = counter(&rx);
        let second = tx.clone();
        tx.send("x").unwrap();
        drop(tx);
        assert!(matches!(rx.take(), Taken::Piece(_)));
        assert!(matches!(rx.take(), Taken::Empty), "one sender is left");
        drop(second);
        assert_eq!(
            notified.load(Ordering::SeqCst),
            2,
            "the end wakes the receiver"
        );
        assert!(matches!(rx.take(), Taken::Ended));
    }

    #[test]
    fn senders_learn_the_receiver_is_gone() {
        let (tx, rx) = channel(1024);
        tx.send("queued").unwrap();
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send("late"), Err(SendError::Closed(Bytes::from("late"))));
        assert_eq!(tx.queued(), 0, "the queue was freed with the receiver");
    }

    #[test]
    fn a_receiver_without_a_loop_can_wait() {
        let (tx, rx) = channel(1024);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send("late").unwrap();
        });
        let mut got = None;
        for _ in 0..100 {
            rx.wait(Duration::from_millis(100));
            if let Taken::Piece(p) = rx.take() {
                got = Some(p);
                break;
            }
        }
        assert_eq!(got.unwrap(), "late");
        thread.join().unwrap();
    }
}
