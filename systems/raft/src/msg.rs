//! The wire: every Raft RPC and client request is one datagram (SPEC.md §8).
//!
//! A datagram is a bincode-encoded [`Msg`] followed by an 8-byte FNV-1a checksum of it. The
//! network may corrupt, truncate or duplicate datagrams; a checksum mismatch or a decode
//! error (including a length prefix above [`MAX_DATAGRAM`]) drops the datagram, and the
//! receiver counts it. Without the checksum a flipped bit inside a log entry would be
//! accepted as a different command and break safety.

use crate::kv::{Op, Reply};
use bincode::Options;
use serde::{Deserialize, Serialize};

/// Largest datagram we encode or accept.
pub const MAX_DATAGRAM: u64 = 60 * 1024;

/// One log entry: the term it was created in and an opaque command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: u64,
    pub command: Vec<u8>,
}

/// Where a follower's log disagrees with the leader's `prev` entry, for fast back-up
/// (skip a whole conflicting term instead of one entry per round trip; SPEC.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The term of the follower's entry at `prev_index`, if it has one there.
    pub term: Option<u64>,
    /// The first index of that term in the follower's log, or, when `term` is `None`, one
    /// past the follower's last index.
    pub index: u64,
}

/// What a client request got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientResult {
    Ok(Reply),
    /// This server is not the leader; `hint` is the index of the one it follows, if known.
    NotLeader {
        hint: Option<u32>,
    },
}

/// Every message. Servers are named by their index in the cluster list (stable across
/// runtimes), never by transport address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    RequestVote {
        term: u64,
        last_index: u64,
        last_term: u64,
    },
    Vote {
        term: u64,
        granted: bool,
    },
    AppendEntries {
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
    },
    /// `matched` is `prev_index + entries` on success; `conflict` is set on a log mismatch
    /// (and absent when the request was refused for its stale term).
    AppendReply {
        term: u64,
        success: bool,
        matched: u64,
        conflict: Option<Conflict>,
    },
    ClientRequest {
        client: u64,
        seq: u64,
        op: Op,
    },
    ClientReply {
        client: u64,
        seq: u64,
        result: ClientResult,
    },
    /// One chunk of the leader's snapshot, whose last entry is `last_index` of `last_term`
    /// (Raft paper Figure 13; SPEC.md §13): the snapshot's bytes `offset..offset + data.len()`,
    /// `done` on the last chunk.
    InstallSnapshot {
        term: u64,
        last_index: u64,
        last_term: u64,
        offset: u64,
        data: Vec<u8>,
        done: bool,
    },
    /// How much of the snapshot ending at `last_index` the follower holds: `received` bytes,
    /// or all of it and installed (`done`).
    SnapshotReply {
        term: u64,
        last_index: u64,
        received: u64,
        done: bool,
    },
}

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MAX_DATAGRAM)
}

pub(crate) fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Msg {
    /// The datagram for this message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = options()
            .serialize(self)
            .expect("our own messages always encode");
        let sum = fnv1a(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// The message in `data`, or `None` if it is corrupt, truncated or not ours.
    pub fn decode(data: &[u8]) -> Option<Msg> {
        let split = data.len().checked_sub(8)?;
        let (body, sum) = data.split_at(split);
        if fnv1a(body).to_le_bytes() != sum {
            return None;
        }
        options().deserialize(body).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_is_rejected() {
        let m = Msg::AppendEntries {
            term: 3,
            prev_index: 7,
            prev_term: 2,
            entries: vec![Entry {
                term: 3,
                command: b"hello".to_vec(),
            }],
            commit: 6,
        };
        let bytes = m.encode();
        assert_eq!(Msg::decode(&bytes), Some(m));
        for cut in 0..bytes.len() {
            assert_eq!(Msg::decode(&bytes[..cut]), None, "truncated at {cut}");
        }
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Msg::decode(&b), None, "bit {bit} flipped");
        }
    }
}
