//! The event queue: events ordered by (true time, sequence number), earliest first.
//!
//! Events wait in a slab; the binary heap orders only 16-byte keys that pack the time (64
//! bits), the sequence number (36 bits) and the slab slot (28 bits) into one `u128`, so a
//! sift moves 16 bytes and compares once. Sequence numbers are unique and grow, so ties in
//! time keep the order the events were made in. (A radix heap was tried: it ran the same
//! instruction count on the benchmark workload, so the simpler heap stayed.)

use std::cmp::Reverse;
use std::collections::BinaryHeap;

const SLOT_BITS: u32 = 28;
const SEQ_BITS: u32 = 36;
/// At most this many events may wait at once (268 million).
pub const MAX_QUEUED: usize = 1 << SLOT_BITS;

/// The world's event queue. Values are popped in (time, push order) order.
pub struct EventQueue<V> {
    heap: BinaryHeap<Reverse<u128>>,
    slab: Vec<Option<V>>,
    free: Vec<u32>,
    seq: u64,
}

impl<V> Default for EventQueue<V> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            seq: 0,
        }
    }
}

impl<V> EventQueue<V> {
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Queue `value` at time `at`, after everything already queued at that time.
    pub fn push(&mut self, at: u64, value: V) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(value);
                slot
            }
            None => {
                assert!(
                    self.slab.len() < MAX_QUEUED,
                    "more than {MAX_QUEUED} events queued at once"
                );
                self.slab.push(Some(value));
                (self.slab.len() - 1) as u32
            }
        };
        // Sequence numbers wrap only after 2^36 (68 billion) pushes in one run.
        self.seq = (self.seq + 1) & ((1 << SEQ_BITS) - 1);
        let key = (at as u128) << 64 | (self.seq as u128) << SLOT_BITS | slot as u128;
        self.heap.push(Reverse(key));
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse(key)| (key >> 64) as u64)
    }

    /// Remove the earliest event: its time and value.
    pub fn pop(&mut self) -> Option<(u64, V)> {
        let Reverse(key) = self.heap.pop()?;
        let slot = (key as u32) & ((1 << SLOT_BITS) - 1);
        self.free.push(slot);
        let value = self.slab[slot as usize]
            .take()
            .expect("a queued slot holds its value");
        Some(((key >> 64) as u64, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn pops_by_time_then_push_order() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut q = EventQueue::default();
        let mut reference = std::collections::BTreeMap::new();
        let (mut now, mut pushed) = (0u64, 0u64);
        for _ in 0..20_000 {
            if rng.gen_bool(0.55) || q.is_empty() {
                pushed += 1;
                let at = now
                    + if rng.gen_bool(0.3) {
                        0
                    } else {
                        rng.gen_range(0..1_000)
                    };
                q.push(at, pushed);
                reference.insert((at, pushed), pushed);
            } else {
                let (at, v) = q.pop().unwrap();
                let ((rat, _), rv) = reference.pop_first().unwrap();
                assert_eq!((at, v), (rat, rv));
                now = at;
            }
            assert_eq!(q.len(), reference.len());
        }
    }
}
