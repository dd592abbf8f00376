//! The real runtime's timer queue: deadlines on the runtime's clock, fired in order.
//!
//! Timers are ordered by (deadline, order of setting), so two timers due at the same
//! nanosecond fire in the order the node set them, as in the simulator's event queue. A
//! cancelled timer stays queued until its deadline and is then skipped:
//! [`NodeIo::take_timer`](crate::NodeIo::take_timer) knows which are still live, so
//! cancelling costs nothing here.

use crate::node::TimerId;
use crate::time::Time;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Pending timers of one node.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Time, u64, TimerId, u64)>>,
    seq: u64,
}

impl Timers {
    /// Queue timer `id` with `tag`, due at `deadline`.
    pub(crate) fn set(&mut self, deadline: Time, id: TimerId, tag: u64) {
        self.heap.push(Reverse((deadline, self.seq, id, tag)));
        self.seq += 1;
    }

    /// The earliest deadline, if any timer is queued.
    pub(crate) fn next_deadline(&self) -> Option<Time> {
        self.heap.peek().map(|Reverse((t, ..))| *t)
    }

    /// The earliest timer due at or before `now`, removed from the queue. The caller still
    /// checks that it was not cancelled.
    pub(crate) fn pop_due(&mut self, now: Time) -> Option<(TimerId, u64)> {
        match self.heap.peek() {
            Some(Reverse((deadline, ..))) if *deadline <= now => {
                let Reverse((_, _, id, tag)) = self.heap.pop()?;
                Some((id, tag))
            }
            _ => None,
        }
    }

    /// Queued timers, cancelled ones included until their deadline passes.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_timers_pop_by_deadline_then_setting_order() {
        let mut t = Timers::default();
        t.set(Time(30), TimerId(0), 0);
        t.set(Time(10), TimerId(1), 1);
        t.set(Time(10), TimerId(2), 2);
        t.set(Time(50), TimerId(3), 3);
        assert_eq!(t.next_deadline(), Some(Time(10)));
        assert_eq!(t.pop_due(Time(5)), None);
        assert_eq!(t.pop_due(Time(40)), Some((TimerId(1), 1)));
        assert_eq!(t.pop_due(Time(40)), Some((TimerId(2), 2)));
        assert_eq!(t.pop_due(Time(40)), Some((TimerId(0), 0)));
        assert_eq!(t.pop_due(Time(40)), None);
        assert_eq!(t.len(), 1);
    }
}
