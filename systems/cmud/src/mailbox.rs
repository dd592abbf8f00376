//! The actor mailbox (SPEC.md §2): an unbounded FIFO.
//!
//! In a sans-IO node nothing blocks, so "Pop blocks until a message is available" becomes
//! "`pop` returns `None` now, and the system pops again when something was pushed". The
//! rest is the spec's: `push` never blocks and never fails, after `close` every `pop`
//! returns `None` and pending messages are discarded, and a push after close is dropped.

use std::collections::VecDeque;

/// An unbounded FIFO of messages.
#[derive(Debug, Clone)]
pub struct Mailbox<T> {
    queue: VecDeque<T>,
    closed: bool,
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox::new()
    }
}

impl<T> Mailbox<T> {
    pub fn new() -> Mailbox<T> {
        Mailbox {
            queue: VecDeque::new(),
            closed: false,
        }
    }

    /// Append a message. After [`Mailbox::close`] it is dropped (and false is returned).
    pub fn push(&mut self, msg: T) -> bool {
        if self.closed {
            return false;
        }
        self.queue.push_back(msg);
        true
    }

    /// The oldest message, or `None` if there is none or the mailbox is closed.
    pub fn pop(&mut self) -> Option<T> {
        if self.closed {
            return None;
        }
        self.queue.pop_front()
    }

    /// Close: pending messages are discarded, later pushes are dropped, pops return `None`.
    pub fn close(&mut self) {
        self.closed = true;
        self.queue.clear();
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_close_discards_pending() {
        let mut m = Mailbox::new();
        assert_eq!(m.pop(), None, "empty: nothing to pop");
        for i in 0..5 {
            m.push(i);
        }
        assert_eq!(m.pop(), Some(0));
        assert_eq!(m.pop(), Some(1));
        m.push(0);
        m.close();
        assert!(!m.push(1), "a push after close is dropped");
        assert_eq!(m.pop(), None);
        assert_eq!(m.pop(), None);
    }
}
