//! Connection deadlines: a min-heap keyed by instant, reset lazily.
//!
//! A connection's deadline moves on every request, so pushing an entry each time would
//! flood the heap. Instead a connection records the earliest entry it has in the heap;
//! a later deadline needs no push (the early entry fires, finds the deadline moved and
//! re-files it), and only an earlier one pushes. Stale entries are recognised and skipped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// One heap entry: when, which slab key, and which connection held that key then.
pub(crate) type Entry = (Instant, usize, u64);

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
}

impl Timers {
    /// Files `deadline` for a connection whose earliest entry is `*scheduled`.
    #[inline]
    pub(crate) fn schedule(
        &mut self,
        scheduled: &mut Option<Instant>,
        deadline: Instant,
        key: usize,
        serial: u64,
    ) {
        if scheduled.is_none_or(|at| deadline < at) {
            self.heap.push(Reverse((deadline, key, serial)));
            *scheduled = Some(deadline);
        }
    }

    /// The earliest entry, if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Entry> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// When the next entry is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn later_deadlines_do_not_push_earlier_ones_do() {
        let mut timers = Timers::default();
        let now = Instant::now();
        let mut scheduled = None;
        timers.schedule(&mut scheduled, now + Duration::from_secs(5), 1, 7);
        timers.schedule(&mut scheduled, now + Duration::from_secs(9), 1, 7);
        assert_eq!(timers.len(), 1);
        timers.schedule(&mut scheduled, now + Duration::from_secs(2), 1, 7);
        assert_eq!(timers.len(), 2);
        assert_eq!(scheduled, Some(now + Duration::from_secs(2)));
        assert_eq!(timers.next_due(), Some(now + Duration::from_secs(2)));
        assert_eq!(timers.pop_due(now), None);
        assert_eq!(
            timers.pop_due(now + Duration::from_secs(3)),
            Some((now + Duration::from_secs(2), 1, 7))
        );
        assert_eq!(timers.pop_due(now + Duration::from_secs(3)), None);
    }
}
