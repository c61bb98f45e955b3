//! The blocking pool: OS threads that run views which may wait (a database, a file, a
//! sleep), so the event loops never do. One pool serves every loop of a server.
//!
//! Threads are started on demand up to a limit and leave after a minute without work,
//! so an app with no blocking views costs nothing. Jobs beyond the threads wait in a
//! bounded queue; past that the pool refuses and the connection answers 503.
//!
//! Waking a thread costs a system call and two context switches, more than a quick view.
//! So at most one thread is ever on its way to the queue: the submitter wakes (or starts)
//! one only when none is coming, and each thread that takes a job wakes the next while
//! jobs remain. A burst of quick jobs is then run by the few threads already awake, one
//! after another; a burst of slow ones still gets a thread each, a wake-up apart.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

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
    /// Threads alive.
    threads: usize,
    /// Threads waiting for work.
    idle: usize,
    /// Wake-ups given to idle threads and not yet taken up.
    permits: usize,
    /// Threads started and not yet looking at the queue.
    starting: usize,
    closed: bool,
}

impl State {
    /// Threads on their way to the queue.
    fn coming(&self) -> usize {
        self.permits + self.starting
    }
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
        let mut state = lock(&self.shared.state);
        // Room: threads that are free or can still be started, and the queue beyond them.
        let free = state.idle - state.permits + (self.shared.max_threads - state.threads);
        if state.closed || state.queue.len() >= free + state.coming() + self.shared.max_queued {
            return Err(job);
        }
        state.queue.push_back(job);
        if state.coming() == 0 && !summon(&self.shared, &mut state) && state.threads == 0 {
            // No thread at all, and none could be started.
            return Err(state.queue.pop_back().expect("just pushed"));
        }
        Ok(())
    }

    /// Lets the threads finish the queued jobs and exit; later submissions are refused.
    pub(crate) fn close(&self) {
        lock(&self.shared.state).closed = true;
        self.shared.work.notify_all();
    }

    /// Threads running now (for tests).
    #[cfg(test)]
    fn threads(&self) -> usize {
        lock(&self.shared.state).threads
    }
}

/// Gets one more thread on its way to the queue: an idle one woken, else a new one
/// started. Returns whether one is coming.
fn summon(shared: &Arc<Shared>, state: &mut State) -> bool {
    if state.idle > state.permits {
        state.permits += 1;
        shared.work.notify_one();
        return true;
    }
    if state.threads >= shared.max_threads {
        return false;
    }
    let pool = shared.clone();
    let spawned = thread::Builder::new()
        .name(format!("carafe-blocking-{}", state.threads + 1))
        .spawn(move || work(&pool));
    match spawned {
        Ok(_) => {
            state.threads += 1;
            state.starting += 1;
            true
        }
        Err(e) => {
            log::error!("could not start a blocking-pool thread: {e}");
            false
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Jobs run outside the lock, so a poisoned lock means nothing half-done.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A pool thread: run jobs until idle for [`IDLE_EXIT`] or the pool closes.
fn work(shared: &Arc<Shared>) {
    let mut state = lock(&shared.state);
    state.starting -= 1;
    loop {
        if let Some(job) = state.queue.pop_front() {
            // Jobs remain and no other thread is coming for them: bring the next.
            if !state.queue.is_empty() && state.coming() == 0 {
                summon(shared, &mut state);
            }
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
        let deadline = Instant::now() + IDLE_EXIT;
        // Only a permit (or closing) ends the wait: a spurious wake-up goes back to it.
        while state.permits == 0 && !state.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = shared
                .work
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        state.idle -= 1;
        if state.permits > 0 {
            state.permits -= 1;
        } else if !state.closed && state.queue.is_empty() {
            break; // a minute without work
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
