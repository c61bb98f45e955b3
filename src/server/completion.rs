//! Responses promised now and given later from elsewhere: a long-poll that waits for
//! something to send. The connection waits in the request's turn, exactly as for a
//! blocking view; whoever holds the [`Completion`] answers it from any thread.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::http::response::Response;
use crate::http::status::StatusCode;
use crate::server::mailbox::{ConnId, LoopHandle, Message};

/// Where a promised response goes.
enum Target {
    /// A connection on an event loop, through its mailbox.
    Loop { mailbox: LoopHandle, conn: ConnId },
    /// An exchange driven in memory (the test client), which waits on the slot.
    Memory(Arc<Slot>),
}

/// A response slot for an exchange with no loop.
#[derive(Default)]
pub(crate) struct Slot {
    response: Mutex<Option<Response>>,
    filled: Condvar,
}

fn lock(slot: &Slot) -> MutexGuard<'_, Option<Response>> {
    slot.response
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Slot {
    /// Waits until the response is given, at most `timeout`.
    pub(crate) fn wait(&self, timeout: Duration) -> Option<Response> {
        let guard = lock(self);
        let (mut guard, _) = self
            .filled
            .wait_timeout_while(guard, timeout, |r| r.is_none())
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.take()
    }
}

/// The promise of one response to a waiting connection. Answer it with
/// [`Completion::complete`]; dropped unanswered, it answers `500` so that no client waits
/// forever.
pub(crate) struct Completion {
    target: Option<Target>,
}

impl Completion {
    pub(crate) fn on_loop(mailbox: LoopHandle, conn: ConnId) -> Completion {
        Completion {
            target: Some(Target::Loop { mailbox, conn }),
        }
    }

    pub(crate) fn in_memory(slot: Arc<Slot>) -> Completion {
        Completion {
            target: Some(Target::Memory(slot)),
        }
    }

    /// Sends `response` to the waiting connection (dropped if it has gone away).
    #[cfg_attr(not(feature = "socketio"), allow(dead_code))] // long-polling's, for now
    pub(crate) fn complete(mut self, response: Response) {
        if let Some(target) = self.target.take() {
            deliver(target, response);
        }
    }
}

fn deliver(target: Target, response: Response) {
    match target {
        // One message per waiting connection at most: bounded by the connections.
        Target::Loop { mailbox, conn } => {
            mailbox.post_reserved(Message::Respond { conn, response })
        }
        Target::Memory(slot) => {
            *lock(&slot) = Some(response);
            slot.filled.notify_all();
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(target) = self.target.take() {
            log::error!("a promised response was dropped unanswered; answering 500");
            let response = Response::text("500 Internal Server Error\n")
                .with_status(StatusCode::INTERNAL_SERVER_ERROR);
            deliver(target, response);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_completion_fills_its_slot_from_another_thread() {
        let slot = Arc::new(Slot::default());
        let completion = Completion::in_memory(slot.clone());
        std::thread::spawn(move || completion.complete(Response::text("later")));
        let response = slot.wait(Duration::from_secs(5)).unwrap();
        assert_eq!(response.body(), Some(&b"later"[..]));
    }

    #[test]
    fn a_dropped_completion_answers_500() {
        let slot = Arc::new(Slot::default());
        drop(Completion::in_memory(slot.clone()));
        let response = slot.wait(Duration::from_secs(5)).unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
