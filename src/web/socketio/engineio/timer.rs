//! One thread of timers per Socket.IO server: heartbeats (engine.io-protocol README,
//! "Heartbeat": the server pings every `pingInterval` and gives up after `pingTimeout`
//! without a pong) and the timeouts of acknowledgements the server waits for.
//!
//! Sessions are not tied to one event loop (a long-polling session is served by
//! whichever loop its requests reach), so their timers cannot live in one loop's timer
//! list. A thread that sleeps until the earliest deadline costs nothing per message and
//! one wake-up per due timer: with the default 25 s interval, a thousand sessions wake
//! it forty times a second.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// What runs when a timer is due, on the timer thread. It may schedule more.
pub(crate) type Job = Box<dyn FnOnce(&Timer, Instant) + Send>;

/// A handle on the timer thread; clones share it. The thread starts with the first
/// timer and ends when [`Timer::stop`] is called.
#[derive(Clone, Default)]
pub(crate) struct Timer {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Reverse<Entry>>,
    /// Orders entries due at the same instant by when they were scheduled.
    seq: u64,
    started: bool,
    stopped: bool,
}

struct Entry {
    at: Instant,
    seq: u64,
    job: Job,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // Each critical section is one push or pop: a poisoned lock left nothing half-done.
    shared
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Timer {
    /// Runs `job` on the timer thread at `at` (or soon after).
    pub(crate) fn schedule(&self, at: Instant, job: impl FnOnce(&Timer, Instant) + Send + 'static) {
        let mut state = lock(&self.shared);
        if state.stopped {
            return;
        }
        state.seq += 1;
        let seq = state.seq;
        let earliest = state.heap.peek().is_none_or(|Reverse(e)| at < e.at);
        state.heap.push(Reverse(Entry {
            at,
            seq,
            job: Box::new(job),
        }));
        if !state.started {
            state.started = true;
            let timer = self.clone();
            let spawned = std::thread::Builder::new()
                .name("carafe-socketio-timer".into())
                .spawn(move || timer.run());
            if let Err(e) = spawned {
                log::error!("could not start the Socket.IO timer thread: {e}");
                state.started = false;
            }
        } else if earliest {
            self.shared.wake.notify_one();
        }
    }

    /// Ends the thread; timers not yet due never run.
    pub(crate) fn stop(&self) {
        let mut state = lock(&self.shared);
        state.stopped = true;
        state.heap.clear();
        self.shared.wake.notify_one();
    }

    fn run(&self) {
        let mut due = Vec::new();
        loop {
            {
                let mut state = lock(&self.shared);
                loop {
                    if state.stopped {
                        return;
                    }
                    let now = Instant::now();
                    match state.heap.peek() {
                        Some(Reverse(entry)) if entry.at <= now => {
                            if let Some(Reverse(entry)) = state.heap.pop() {
                                due.push(entry.job);
                            }
                        }
                        _ if !due.is_empty() => break,
                        Some(Reverse(entry)) => {
                            let wait = entry.at - now;
                            state = self
                                .shared
                                .wake
                                .wait_timeout(state, wait)
                                .unwrap_or_else(|p| p.into_inner())
                                .0;
                        }
                        None => {
                            state = self
                                .shared
                                .wake
                                .wait(state)
                                .unwrap_or_else(|p| p.into_inner());
                        }
                    }
                }
            }
            // Outside the lock: jobs schedule more, and user callbacks run here.
            let now = Instant::now();
            for job in due.drain(..) {
                if catch_unwind(AssertUnwindSafe(|| job(self, now))).is_err() {
                    log::error!("a Socket.IO timer callback panicked");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    #[test]
    fn jobs_run_in_deadline_order_and_may_schedule_more() {
        let timer = Timer::default();
        let (tx, rx) = channel();
        let start = Instant::now();
        for (n, ms) in [(2, 60), (1, 20), (3, 100)] {
            let tx = tx.clone();
            timer.schedule(start + Duration::from_millis(ms), move |timer, now| {
                tx.send(n).unwrap();
                if n == 3 {
                    let tx = tx.clone();
                    timer.schedule(now, move |_, _| tx.send(4).unwrap());
                }
            });
        }
        let got: Vec<i32> = (0..4)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got, [1, 2, 3, 4]);
        assert!(start.elapsed() >= Duration::from_millis(100));
        timer.stop();
    }

    #[test]
    fn a_panicking_job_does_not_stop_the_thread() {
        let timer = Timer::default();
        let (tx, rx) = channel();
        timer.schedule(Instant::now(), |_, _| panic!("boom"));
        timer.schedule(Instant::now() + Duration::from_millis(10), move |_, _| {
            tx.send(()).unwrap()
        });
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        timer.stop();
    }
}
