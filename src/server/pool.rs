//! The blocking pool: OS threads that run views which may wait (a database, a file, a
//! sleep), so the event loops never do. One pool serves every loop of a server.
//!
//! Threads are started on demand up to a limit and leave after a minute without work,
//! so an app with no blocking views costs nothing. Jobs beyond the threads wait in a
//! bounded queue; past that the pool refuses and the connection answers 503.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

/// A unit of work for the pool.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// How long an idle thread waits for work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(60);

/// A handle to the pool; clones share it.
#[derive(Clone)]
pub(crate) struct BlockingPool {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    max_threads: usize,
    max_queued: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    closed: bool,
}

impl BlockingPool {
    /// A pool of at most `max_threads` threads (at least one) and `max_queued` jobs
    /// waiting for a thread.
    pub(crate) fn new(max_threads: usize, max_queued: usize) -> BlockingPool {
        BlockingPool {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                max_threads: max_threads.max(1),
                max_queued,
            }),
        }
    }

    /// Runs `job` on a pool thread, or gives it back when every thread is busy and the
    /// queue is full (or the pool was closed).
    pub(crate) fn submit(&self, job: Job) -> Result<(), Job> {
        let mut state = self.lock();
        if state.closed {
            return Err(job);
        }
        // An idle thread not yet claimed by a queued job takes this one.
        let spare = state.idle > state.queue.len();
        if !spare {
            let spawned = state.threads < self.shared.max_threads
                && self
                    .spawn(&mut state)
                    .map_err(|e| log::error!("could not start a blocking-pool thread: {e}"))
                    .is_ok();
            if !spawned && (state.threads == 0 || state.queue.len() >= self.shared.max_queued) {
                return Err(job);
            }
        }
        state.queue.push_back(job);
        drop(state);
        self.shared.work.notify_one();
        Ok(())
    }

    /// Lets the threads finish the queued jobs and exit; later submissions are refused.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.shared.work.notify_all();
    }

    fn spawn(&self, state: &mut State) -> std::io::Result<()> {
        let shared = self.shared.clone();
        let n = state.threads + 1;
        thread::Builder::new()
            .name(format!("carafe-blocking-{n}"))
            .spawn(move || work(&shared))?;
        state.threads += 1;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    /// Threads running now (for tests).
    #[cfg(test)]
    fn threads(&self) -> usize {
        self.lock().threads
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Jobs run outside the lock, so a poisoned lock means nothing half-done.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A pool thread: run jobs until idle for [`IDLE_EXIT`] or the pool closes.
fn work(shared: &Shared) {
    let mut state = lock(&shared.state);
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            // Views are guarded where they run; this guard keeps the thread itself
            // alive whatever a job does.
            let _ = catch_unwind(AssertUnwindSafe(job));
            state = lock(&shared.state);
            continue;
        }
        if state.closed {
            break;
        }
        state.idle += 1;
        let (next, timeout) = shared
            .work
            .wait_timeout(state, IDLE_EXIT)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state = next;
        state.idle -= 1;
        if timeout.timed_out() && state.queue.is_empty() {
            break;
        }
    }
    state.threads -= 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn jobs_run_on_threads_started_on_demand() {
        let pool = BlockingPool::new(4, 16);
        assert_eq!(pool.threads(), 0, "no thread before the first job");
        let (tx, rx) = mpsc::channel();
        for i in 0..8 {
            let tx = tx.clone();
            assert!(pool.submit(Box::new(move || tx.send(i).unwrap())).is_ok());
        }
        let mut got: Vec<i32> = (0..8)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        got.sort();
        assert_eq!(got, (0..8).collect::<Vec<_>>());
        assert!(pool.threads() <= 4);
    }

    #[test]
    fn a_full_pool_refuses_and_a_panic_does_not_kill_the_thread() {
        let pool = BlockingPool::new(1, 1);
        let (release, gate) = mpsc::channel::<()>();
        let (started, running) = mpsc::channel();
        pool.submit(Box::new(move || {
            started.send(()).unwrap();
            gate.recv().unwrap();
        }))
        .ok()
        .unwrap();
        running.recv_timeout(Duration::from_secs(5)).unwrap();
        // One thread busy, a queue of one: the second job waits, the third is refused.
        pool.submit(Box::new(|| panic!("a job that panics")))
            .ok()
            .unwrap();
        assert!(pool.submit(Box::new(|| {})).is_err());
        release.send(()).unwrap();
        // The panic above ran on the only thread; it still takes work.
        let (tx, rx) = mpsc::channel();
        let submitted = (0..100).any(|_| {
            let tx = tx.clone();
            let ok = pool.submit(Box::new(move || tx.send(()).unwrap())).is_ok();
            if !ok {
                thread::sleep(Duration::from_millis(10));
            }
            ok
        });
        assert!(submitted);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(pool.threads(), 1);
    }

    #[test]
    fn a_closed_pool_refuses_and_its_threads_exit() {
        let pool = BlockingPool::new(2, 2);
        let (tx, rx) = mpsc::channel();
        pool.submit(Box::new(move || tx.send(()).unwrap()))
            .ok()
            .unwrap();
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        pool.close();
        assert!(pool.submit(Box::new(|| {})).is_err());
        for _ in 0..500 {
            if pool.threads() == 0 {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("pool threads still running after close");
    }
}
