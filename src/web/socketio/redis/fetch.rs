//! Queries over every process (`fetch_sockets`) waiting for their answers. A query is
//! done when every other server has answered — `PUBLISH` tells how many subscribers got
//! the question, this one among them — or when its timeout passes, whichever is first;
//! its callback then runs once, with the answers so far.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::web::socketio::adapter::{FetchCallback, SocketInfo};
use crate::web::socketio::socket::guarded;

/// The queries of one server still waiting.
#[derive(Default)]
pub(crate) struct Fetches {
    next: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
}

struct Pending {
    found: Vec<SocketInfo>,
    answers: usize,
    /// How many answers will come, once `PUBLISH` has said.
    expected: Option<usize>,
    done: FetchCallback,
}

impl Pending {
    fn complete(&self) -> bool {
        self.expected
            .is_some_and(|expected| self.answers >= expected)
    }
}

impl Fetches {
    /// A new query, with this process's own answer: its id.
    pub(crate) fn open(&self, found: Vec<SocketInfo>, done: FetchCallback) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let pending = Pending {
            found,
            answers: 0,
            expected: None,
            done,
        };
        self.lock().insert(id, pending);
        id
    }

    /// The question reached `subscribers` servers, this one included.
    pub(crate) fn expect(&self, id: u64, subscribers: usize) {
        self.update(id, |pending| {
            pending.expected = Some(subscribers.saturating_sub(1));
        });
    }

    /// Another server's answer.
    pub(crate) fn answer(&self, id: u64, sockets: Vec<SocketInfo>) {
        self.update(id, |pending| {
            pending.found.extend(sockets);
            pending.answers += 1;
        });
    }

    /// The timeout passed, or the question was not published: done with what is there.
    pub(crate) fn close(&self, id: u64) {
        let pending = self.lock().remove(&id);
        if let Some(pending) = pending {
            finish(pending);
        }
    }

    fn update(&self, id: u64, change: impl FnOnce(&mut Pending)) {
        let done = {
            let mut all = self.lock();
            let Some(pending) = all.get_mut(&id) else {
                return; // timed out already
            };
            change(pending);
            if !pending.complete() {
                return;
            }
            all.remove(&id)
        };
        if let Some(pending) = done {
            finish(pending);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs the callback, outside the lock: it may start another query.
fn finish(pending: Pending) {
    let Pending { found, done, .. } = pending;
    guarded("fetch_sockets", || done(found));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn info(id: &str) -> SocketInfo {
        SocketInfo {
            id: id.to_owned(),
            rooms: vec![id.to_owned()],
        }
    }

    fn recorder() -> (Arc<Mutex<Option<Vec<String>>>>, FetchCallback) {
        let got = Arc::new(Mutex::new(None));
        let sink = got.clone();
        let done: FetchCallback = Box::new(move |found: Vec<SocketInfo>| {
            *sink.lock().unwrap() = Some(found.into_iter().map(|s| s.id).collect());
        });
        (got, done)
    }

    #[test]
    fn done_when_every_server_answered() {
        let fetches = Fetches::default();
        let (got, done) = recorder();
        let id = fetches.open(vec![info("here")], done);
        // An answer may come before PUBLISH's count.
        fetches.answer(id, vec![info("a")]);
        assert!(got.lock().unwrap().is_none());
        fetches.expect(id, 3);
        assert!(got.lock().unwrap().is_none());
        fetches.answer(id, vec![]);
        assert_eq!(*got.lock().unwrap(), Some(vec!["here".into(), "a".into()]));
        // Late answers and the timeout find nothing to do.
        fetches.answer(id, vec![info("late")]);
        fetches.close(id);
    }

    #[test]
    fn alone_or_timed_out() {
        let fetches = Fetches::default();
        let (got, done) = recorder();
        let id = fetches.open(vec![info("here")], done);
        fetches.expect(id, 1);
        assert_eq!(*got.lock().unwrap(), Some(vec!["here".into()]));

        let (got, done) = recorder();
        let id = fetches.open(vec![], done);
        fetches.expect(id, 2);
        fetches.close(id);
        assert_eq!(*got.lock().unwrap(), Some(vec![]));
    }
}
