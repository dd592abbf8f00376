//! Snapshots of the state machine, and their assembly from InstallSnapshot chunks
//! (Raft paper §7 and Figure 13; SPEC.md §13).
//!
//! The core treats a snapshot's bytes as opaque: its owner (the key-value server) encodes
//! its state, duplicate table included, when the log has grown past the threshold, and
//! decodes the bytes again when a snapshot is loaded at start or installed from a leader.

use crate::msg::fnv1a;
use serde::{Deserialize, Serialize};

/// The state machine after applying every entry up to `index` (whose term is `term`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub index: u64,
    pub term: u64,
    pub data: Vec<u8>,
}

impl Snapshot {
    /// A short fingerprint of the state, so checkers can compare two servers' snapshots
    /// at one index without holding them.
    pub fn digest(&self) -> u64 {
        fnv1a(&self.data)
    }
}

/// How a server came to hold a snapshot (recorded for checkers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnapshotHow {
    /// It compacted its own log.
    Taken,
    /// A leader sent it, because the entries this server lacked were compacted away.
    Installed,
    /// It found it in its storage when it started.
    Loaded,
}

/// A snapshot being received, chunk by chunk, in order.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub index: u64,
    pub term: u64,
    pub data: Vec<u8>,
}

/// Largest snapshot a follower will assemble: a peer that never says `done` cannot make it
/// hold more than this.
pub const MAX_SNAPSHOT: usize = 256 << 20;

impl Incoming {
    /// Take the chunk `data` at `offset` of the snapshot ending at (`index`, `term`).
    /// Chunks come in order: one at the end of what is held extends it; a repeat or one
    /// from further on is ignored (the reply says where to resume). A chunk of another
    /// snapshot starts over only at offset 0. Returns the bytes held, and whether they
    /// are the whole snapshot (`done` came with a chunk that ended exactly there).
    pub fn accept(
        slot: &mut Option<Incoming>,
        index: u64,
        term: u64,
        offset: u64,
        data: &[u8],
        done: bool,
    ) -> (u64, bool) {
        let same = slot
            .as_ref()
            .is_some_and(|i| i.index == index && i.term == term);
        if !same {
            if offset != 0 {
                return (0, false);
            }
            *slot = Some(Incoming {
                index,
                term,
                data: Vec::new(),
            });
        }
        let inc = slot.as_mut().expect("set just above");
        let held = inc.data.len() as u64;
        if offset == held && inc.data.len() + data.len() <= MAX_SNAPSHOT {
            inc.data.extend_from_slice(data);
            let held = inc.data.len() as u64;
            return (held, done);
        }
        (held, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_assemble_in_order_whatever_the_network_does() {
        let mut slot = None;
        // A chunk from the middle first: nothing held yet.
        assert_eq!(
            Incoming::accept(&mut slot, 9, 2, 3, b"def", true),
            (0, false)
        );
        assert!(slot.is_none());
        assert_eq!(
            Incoming::accept(&mut slot, 9, 2, 0, b"abc", false),
            (3, false)
        );
        // A duplicate of the first chunk changes nothing.
        assert_eq!(
            Incoming::accept(&mut slot, 9, 2, 0, b"abc", false),
            (3, false)
        );
        // A chunk past a gap is ignored.
        assert_eq!(
            Incoming::accept(&mut slot, 9, 2, 6, b"ghi", true),
            (3, false)
        );
        assert_eq!(
            Incoming::accept(&mut slot, 9, 2, 3, b"def", true),
            (6, true)
        );
        assert_eq!(slot.as_ref().unwrap().data, b"abcdef");
        // A newer snapshot starts over at offset 0 only.
        assert_eq!(
            Incoming::accept(&mut slot, 12, 3, 2, b"zz", true),
            (0, false)
        );
        assert_eq!(slot.as_ref().unwrap().index, 9, "the old one is kept");
        assert_eq!(
            Incoming::accept(&mut slot, 12, 3, 0, b"xy", true),
            (2, true)
        );
        assert_eq!(slot.as_ref().unwrap().data, b"xy");
    }
}
