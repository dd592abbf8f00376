//! The Raft log after compaction: the entries past the latest snapshot, addressed by their
//! absolute (1-based) index (SPEC.md §13).
//!
//! Entries up to `base` were discarded into a snapshot; only the index and term of the last
//! of them are kept, because the consistency check of the next AppendEntries and the
//! election restriction need them (Raft paper §7). Without a snapshot `base` is 0 and this
//! is the whole log.

use crate::msg::Entry;

/// The retained suffix of a log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    /// Index of the last entry discarded into the snapshot (0: none).
    base: u64,
    /// Term of that entry (0 if none).
    base_term: u64,
    /// Entries `base + 1 ..= last_index()`, in order.
    entries: Vec<Entry>,
}

impl Log {
    /// A log whose entries up to `base` (of term `base_term`) are in a snapshot, followed by
    /// `entries`.
    pub fn new(base: u64, base_term: u64, entries: Vec<Entry>) -> Log {
        Log {
            base,
            base_term,
            entries,
        }
    }

    /// Index of the last entry covered by the snapshot (0 without one).
    pub fn base(&self) -> u64 {
        self.base
    }
    /// Term of the entry at [`Log::base`].
    pub fn base_term(&self) -> u64 {
        self.base_term
    }
    /// Index of the last entry (the snapshot's if no entry follows it).
    pub fn last_index(&self) -> u64 {
        self.base + self.entries.len() as u64
    }
    /// Entries held in memory (those past the snapshot).
    pub fn retained(&self) -> usize {
        self.entries.len()
    }
    /// The retained entries, from `base + 1` on.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
    /// The term of the entry at `index`, if this log knows it: the snapshot's last entry,
    /// or a retained one (index 0 has term 0).
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.base {
            Some(self.base_term)
        } else {
            self.entry(index).map(|e| e.term)
        }
    }
    /// The retained entry at `index`.
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        let k = index.checked_sub(self.base + 1)?;
        self.entries.get(usize::try_from(k).ok()?)
    }
    /// Retained entries `from ..= upto` (both past `base`).
    pub fn slice(&self, from: u64, upto: u64) -> &[Entry] {
        let lo = (from.max(self.base + 1) - self.base - 1) as usize;
        let hi = (upto.min(self.last_index()) - self.base) as usize;
        &self.entries[lo.min(hi)..hi]
    }
    /// Append one entry at `last_index() + 1`.
    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }
    /// Drop the entries from `index` on (never below the snapshot).
    pub fn truncate_from(&mut self, index: u64) {
        assert!(index > self.base, "entries in a snapshot cannot be dropped");
        self.entries.truncate((index - self.base - 1) as usize);
    }
    /// The highest retained index whose entry has `term`.
    pub fn last_of_term(&self, term: u64) -> Option<u64> {
        self.entries
            .iter()
            .rposition(|e| e.term == term)
            .map(|k| self.base + 1 + k as u64)
    }
    /// Discard every entry up to `index` into a snapshot whose last entry has `term`. If the
    /// log does not hold that entry with that term, nothing after it can be trusted either,
    /// and the whole log goes (Raft paper §7, "InstallSnapshot RPC", steps 6-7).
    pub fn compact_to(&mut self, index: u64, term: u64) {
        if index <= self.base {
            return;
        }
        if self.term_at(index) == Some(term) {
            self.entries.drain(..(index - self.base) as usize);
        } else {
            self.entries.clear();
        }
        self.base = index;
        self.base_term = term;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(term: u64) -> Entry {
        Entry {
            term,
            command: vec![term as u8],
        }
    }

    #[test]
    fn indices_stay_absolute_across_compaction() {
        let mut log = Log::default();
        for t in [1, 1, 2, 2, 3] {
            log.push(e(t));
        }
        assert_eq!((log.last_index(), log.term_at(0)), (5, Some(0)));
        log.compact_to(3, 2);
        assert_eq!((log.base(), log.base_term(), log.retained()), (3, 2, 2));
        assert_eq!(log.term_at(3), Some(2));
        assert_eq!(log.term_at(2), None, "compacted away");
        assert_eq!(log.entry(4), Some(&e(2)));
        assert_eq!(log.entry(5), Some(&e(3)));
        assert_eq!(log.entry(6), None);
        assert_eq!(log.slice(1, 5), &[e(2), e(3)][..]);
        assert_eq!(log.slice(5, 4), &[][..]);
        assert_eq!(log.last_of_term(2), Some(4));
        assert_eq!(log.last_of_term(1), None);
        log.truncate_from(5);
        assert_eq!(log.last_index(), 4);
        // A snapshot past the end, or one that disagrees with the log, clears it.
        let mut other = log.clone();
        other.compact_to(9, 4);
        assert_eq!(
            (other.base(), other.last_index(), other.retained()),
            (9, 9, 0)
        );
        log.compact_to(4, 3);
        assert_eq!((log.base(), log.base_term(), log.retained()), (4, 3, 0));
        // An older snapshot changes nothing.
        log.compact_to(2, 1);
        assert_eq!(log.base(), 4);
    }
}
