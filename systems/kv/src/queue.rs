//! A client's outgoing queue (SPEC.md §6), whose replies share their bytes with the store.
//!
//! A queued reply `key:value\n` holds references to the store's key and value, not a copy
//! of them, so 500 queued Gets of one 1 MiB value keep one 1 MiB value alive, not 500.
//! Bytes are copied only into the staging buffer, as far as the client's window has room.
//!
//! How the byte bound counts (our choice, SPEC.md §6): a queue is charged for the bytes it
//! keeps alive, each distinct key and value it refers to once however many of its replies
//! share it, plus the two framing bytes (`:` and `\n`) of each reply. A value still in the
//! store is charged although it costs nothing extra while it stays there: the client may
//! delete it next, and then the queue alone holds it. Two clients queueing the same value
//! are each charged for it (an over-count, never an under-count). The fixed cost of a
//! queued reply (two pointers) is bounded by the 500-message rule, not by the byte bound.

use crate::event::QueueOutcome;
use crate::store::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// One Get reply, `key:value\n`, sharing its key and value with the store.
#[derive(Clone, Debug)]
pub struct Reply {
    key: Bytes,
    value: Bytes,
}

impl Reply {
    pub fn new(key: Bytes, value: Bytes) -> Reply {
        Reply { key, value }
    }

    /// The length of the reply line.
    pub fn len(&self) -> usize {
        self.key.len() + self.value.len() + 2
    }

    /// Append bytes `from..to` of the reply line to `out`.
    fn copy_range(&self, from: usize, to: usize, out: &mut Vec<u8>) {
        let mut start = 0;
        for part in [&self.key[..], b":", &self.value[..], b"\n"] {
            let end = start + part.len();
            let (lo, hi) = (from.max(start), to.min(end));
            if lo < hi {
                out.extend_from_slice(&part[lo - start..hi - start]);
            }
            start = end;
        }
    }

    /// The two shared allocations of this reply.
    fn shared(&self) -> [&Bytes; 2] {
        [&self.key, &self.value]
    }
}

/// Identifies a shared allocation while some reply holds it: no two live allocations have
/// one address. Addresses are only compared, never iterated in an order that matters or
/// shown, so they do not make a run depend on the allocator.
fn address(bytes: &Bytes) -> usize {
    Arc::as_ptr(bytes).cast::<u8>() as usize
}

/// The queue of one client.
#[derive(Debug, Default)]
pub struct OutQueue {
    replies: VecDeque<Reply>,
    /// For each allocation the queue refers to: how many references, and its length.
    refs: BTreeMap<usize, (usize, usize)>,
    /// Bytes charged to the queue (see the module comment).
    held: usize,
    /// Sum of the queued reply lines' lengths: what is still to be sent, plus `head_written`.
    line_bytes: usize,
    /// Bytes of the first reply already handed to the stream.
    head_written: usize,
}

impl OutQueue {
    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }

    pub fn len(&self) -> usize {
        self.replies.len()
    }

    /// Bytes charged to the queue: what it keeps alive (see the module comment).
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// Bytes of the queued replies not yet handed to the stream, as if each were a copy.
    pub fn unsent_bytes(&self) -> usize {
        self.line_bytes - self.head_written
    }

    /// SPEC.md §6: whether the queue takes `reply`. An empty queue takes anything;
    /// otherwise it must hold fewer than `max_messages` replies and stay within `max_bytes`
    /// with it.
    pub fn admits(&self, reply: &Reply, max_messages: usize, max_bytes: usize) -> bool {
        let new_bytes: usize = reply
            .shared()
            .into_iter()
            .filter(|b| !self.refs.contains_key(&address(b)))
            .map(|b| b.len())
            .sum();
        self.is_empty() || (self.len() < max_messages && self.held + new_bytes + 2 <= max_bytes)
    }

    /// A reply the queue admits. It goes whole to `out` if the queue is empty and `room`
    /// takes it; otherwise it waits its turn, with as much of it as fits in `out` already
    /// when the queue was empty (only an empty queue may send at once, or replies would
    /// overtake each other).
    pub fn offer(&mut self, reply: Reply, room: usize, out: &mut Vec<u8>) -> QueueOutcome {
        if self.is_empty() {
            if room >= reply.len() {
                reply.copy_range(0, reply.len(), out);
                return QueueOutcome::Sent;
            }
            reply.copy_range(0, room, out);
            self.head_written = room;
        }
        for bytes in reply.shared() {
            let entry = self.refs.entry(address(bytes)).or_insert((0, bytes.len()));
            if entry.0 == 0 {
                self.held += bytes.len();
            }
            entry.0 += 1;
        }
        self.held += 2;
        self.line_bytes += reply.len();
        self.replies.push_back(reply);
        QueueOutcome::Queued {
            len: self.replies.len(),
        }
    }

    /// Move queued bytes into `out` while `room` lasts; the number of replies handed over
    /// in full.
    pub fn drain(&mut self, mut room: usize, out: &mut Vec<u8>) -> u64 {
        let mut written = 0;
        while let Some(head) = self.replies.front() {
            let rest = head.len() - self.head_written;
            if rest > room {
                head.copy_range(self.head_written, self.head_written + room, out);
                self.head_written += room;
                break;
            }
            head.copy_range(self.head_written, head.len(), out);
            room -= rest;
            self.head_written = 0;
            self.pop_head();
            written += 1;
        }
        written
    }

    fn pop_head(&mut self) {
        let Some(head) = self.replies.pop_front() else {
            return;
        };
        for bytes in head.shared() {
            let key = address(bytes);
            if let Some(entry) = self.refs.get_mut(&key) {
                entry.0 -= 1;
                if entry.0 == 0 {
                    self.held -= entry.1;
                    self.refs.remove(&key);
                }
            }
        }
        self.held -= 2;
        self.line_bytes -= head.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::encode_reply;

    fn bytes(s: &str) -> Bytes {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn any_split_of_a_reply_copies_the_encoded_line() {
        let reply = Reply::new(bytes("key"), bytes("val:ue"));
        let line = encode_reply(b"key", b"val:ue");
        for from in 0..=line.len() {
            for to in from..=line.len() {
                let mut out = Vec::new();
                reply.copy_range(from, to, &mut out);
                assert_eq!(out, &line[from..to], "{from}..{to}");
            }
        }
    }

    #[test]
    fn shared_values_are_charged_once_and_released_with_their_last_reply() {
        let (key, value) = (bytes("k"), bytes("0123456789"));
        let other = bytes("abc");
        let mut q = OutQueue::default();
        let mut out = Vec::new();
        for _ in 0..3 {
            q.offer(Reply::new(key.clone(), value.clone()), 0, &mut out);
        }
        q.offer(Reply::new(key.clone(), other.clone()), 0, &mut out);
        // k and the value once, "abc" once, and 2 framing bytes per reply.
        assert_eq!(q.held_bytes(), 1 + 10 + 3 + 4 * 2);
        assert_eq!(q.unsent_bytes(), 3 * 13 + 6);
        // A reply of the shared value costs only its framing; a new value costs itself.
        assert!(q.admits(&Reply::new(key.clone(), value.clone()), 10, 22 + 2));
        assert!(!q.admits(&Reply::new(key.clone(), bytes("x")), 10, 22 + 2));
        assert!(!q.admits(&Reply::new(key.clone(), value.clone()), 4, 1000));
        // Drain the three shared replies and half of the fourth.
        assert_eq!(q.drain(3 * 13 + 2, &mut out), 3);
        assert_eq!(q.held_bytes(), 1 + 3 + 2);
        assert_eq!(q.drain(100, &mut out), 1);
        assert_eq!((q.held_bytes(), q.unsent_bytes(), q.len()), (0, 0, 0));
        let expected = [&b"k:0123456789\n".repeat(3)[..], b"k:abc\n"].concat();
        assert_eq!(out, expected);
    }
}
