//! Raft's durable state (Figure 2 "Persistent state on all servers": current term, vote,
//! log) laid out in the node's [`Storage`] (SPEC.md §7).
//!
//! Keys: `raft/meta` holds (term, vote); `raft/len` the index of the last log entry;
//! `raft/log/<index>` one entry each; `raft/snapshot`, if there is one, the latest snapshot
//! (SPEC.md §13). Only the entries past the snapshot are kept: compaction writes the
//! snapshot and deletes the entries it covers, truncation deletes the entries it drops, in
//! one sync each, so storage holds exactly the retained log. Callers sync before any reply
//! or vote that depends on what they wrote (the sync itself is the caller's, so one handler
//! pays for one sync).
//!
//! Every record carries a checksum over its key and its bytes, so a flipped bit, a record
//! moved under another key, or garbage is seen. Damaged state is never used: [`load`]
//! names what is wrong and the node refuses to start. Nothing is repaired, because no
//! repair is safe here: an entry this node acknowledged may be what a majority counted on
//! to commit, and a forgotten vote lets the node vote twice in one term.

use crate::log::Log;
use crate::msg::fnv1a;
use crate::snapshot::Snapshot;
use bincode::Options;
use faultline::Storage;
use std::fmt;

const META: &str = "raft/meta";
const LEN: &str = "raft/len";
pub(crate) const SNAPSHOT: &str = "raft/snapshot";

fn entry_key(index: u64) -> String {
    format!("raft/log/{index:016x}")
}

fn options() -> impl Options {
    bincode::DefaultOptions::new()
}

/// What a node finds in its storage at start.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Durable {
    pub term: u64,
    pub vote: Option<u32>,
    /// The entries past the snapshot.
    pub log: Log,
    pub snapshot: Option<Snapshot>,
}

/// Durable state that cannot be used: which record, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub key: String,
    pub problem: &'static str,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Raft record `{}`: {}", self.key, self.problem)
    }
}

impl std::error::Error for Damage {}

/// `value` as stored under `key`: a checksum of both, then the bytes.
fn seal(key: &str, value: Vec<u8>) -> Vec<u8> {
    let mut out = check(key, &value).to_le_bytes().to_vec();
    out.extend_from_slice(&value);
    out
}

fn check(key: &str, value: &[u8]) -> u64 {
    fnv1a(&[key.as_bytes(), &[0], value].concat())
}

/// The record under `key` decoded, `None` if there is none, or what is wrong with it.
fn open<T: serde::de::DeserializeOwned>(storage: &Storage, key: &str) -> Result<Option<T>, Damage> {
    let Some(bytes) = storage.get(key) else {
        return Ok(None);
    };
    let damage = |problem| Damage {
        key: key.to_string(),
        problem,
    };
    let (sum, value) = bytes
        .split_at_checked(8)
        .ok_or(damage("shorter than its checksum"))?;
    if check(key, value).to_le_bytes() != sum {
        return Err(damage(
            "checksum does not match (damaged, or written under another key)",
        ));
    }
    options()
        .deserialize(value)
        .map(Some)
        .map_err(|_| damage("checksum matches but the record does not decode"))
}

/// Load the durable state; empty storage is a fresh node. Any damage is an error: see the
/// module docs for why nothing is repaired.
pub fn load(storage: &Storage) -> Result<Durable, Damage> {
    let (term, vote) = open::<(u64, Option<u32>)>(storage, META)?.unwrap_or((0, None));
    let snapshot = open::<Snapshot>(storage, SNAPSHOT)?;
    let (base, base_term) = snapshot.as_ref().map_or((0, 0), |s| (s.index, s.term));
    let len = open::<u64>(storage, LEN)?.unwrap_or(base);
    if len < base {
        return Err(Damage {
            key: LEN.to_string(),
            problem: "the log ends before the snapshot it follows",
        });
    }
    let mut log = Vec::new();
    for index in base + 1..=len {
        let key = entry_key(index);
        match open(storage, &key)? {
            Some(entry) => log.push(entry),
            None => {
                return Err(Damage {
                    key,
                    problem: "missing, though the log length counts it",
                })
            }
        }
    }
    Ok(Durable {
        term,
        vote,
        log: Log::new(base, base_term, log),
        snapshot,
    })
}

/// Write term and vote (not yet synced).
pub fn save_meta(storage: &mut Storage, term: u64, vote: Option<u32>) {
    let bytes = options().serialize(&(term, vote)).expect("encodes");
    storage.put(META, seal(META, bytes));
}

/// Write the log from `from` (1-based) to its end, and its last index, and delete the
/// entries past it up to `old_last` (those a truncation dropped) (not yet synced).
pub fn save_log_from(storage: &mut Storage, log: &Log, from: u64, old_last: u64) {
    for index in from.max(log.base() + 1)..=log.last_index() {
        let entry = log.entry(index).expect("a retained index");
        let bytes = options().serialize(entry).expect("encodes");
        let key = entry_key(index);
        let sealed = seal(&key, bytes);
        storage.put(key, sealed);
    }
    for index in log.last_index() + 1..=old_last {
        storage.delete(&entry_key(index));
    }
    let len = options().serialize(&log.last_index()).expect("encodes");
    storage.put(LEN, seal(LEN, len));
}

/// Write `snapshot` and delete the entries `first..=last` it made redundant; `log` is the
/// log as it is now, past the snapshot (not yet synced). Written in one sync, the snapshot
/// and the deletes land together or not at all.
pub fn save_snapshot(storage: &mut Storage, snapshot: &Snapshot, log: &Log, first: u64, last: u64) {
    let bytes = options().serialize(snapshot).expect("encodes");
    storage.put(SNAPSHOT, seal(SNAPSHOT, bytes));
    for index in first.max(1)..=last {
        if log.entry(index).is_none() {
            storage.delete(&entry_key(index));
        }
    }
    let len = options().serialize(&log.last_index()).expect("encodes");
    storage.put(LEN, seal(LEN, len));
}

/// How many log entries `storage` holds (for checks that storage stays bounded).
pub fn stored_entries(storage: &Storage) -> usize {
    storage
        .keys()
        .iter()
        .filter(|k| k.starts_with("raft/log/"))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Entry;

    #[test]
    fn survives_a_crash_only_once_synced() {
        let mut s = Storage::default();
        let log = vec![
            Entry {
                term: 1,
                command: vec![1],
            },
            Entry {
                term: 2,
                command: vec![2],
            },
        ];
        let log = Log::new(0, 0, log);
        save_meta(&mut s, 2, Some(1));
        save_log_from(&mut s, &log, 1, 0);
        s.sync();
        // Truncate to one entry and append a different one, unsynced: a crash forgets it.
        let mut log2 = log.clone();
        log2.truncate_from(2);
        log2.push(Entry {
            term: 3,
            command: vec![9],
        });
        save_meta(&mut s, 3, None);
        save_log_from(&mut s, &log2, 2, 2);
        assert_eq!(
            load(&s).unwrap(),
            Durable {
                term: 3,
                vote: None,
                log: log2.clone(),
                snapshot: None,
            }
        );
        s.crash();
        assert_eq!(
            load(&s).unwrap(),
            Durable {
                term: 2,
                vote: Some(1),
                log,
                snapshot: None,
            }
        );
        // Truncation shortens the log and deletes what it dropped.
        let mut short = log2.clone();
        short.truncate_from(2);
        save_log_from(&mut s, &short, 2, 2);
        s.sync();
        assert_eq!(load(&s).unwrap().log, short);
        assert_eq!(stored_entries(&s), 1);
    }

    /// Storage holding a synced term 5, vote for 2, and three entries.
    fn stored() -> Storage {
        let mut s = Storage::default();
        let log: Vec<Entry> = (1..=3)
            .map(|t| Entry {
                term: t,
                command: vec![t as u8; 4],
            })
            .collect();
        save_meta(&mut s, 5, Some(2));
        save_log_from(&mut s, &Log::new(0, 0, log), 1, 0);
        s.sync();
        assert_eq!(load(&s).unwrap().log.last_index(), 3);
        s
    }

    /// Storage holding `stored()` compacted up to index 2 into a snapshot.
    fn with_snapshot() -> Storage {
        let mut s = stored();
        let mut log = load(&s).unwrap().log;
        let snapshot = Snapshot {
            index: 2,
            term: 2,
            data: b"state after 2".to_vec(),
        };
        log.compact_to(2, 2);
        save_snapshot(&mut s, &snapshot, &log, 1, 2);
        s.sync();
        s
    }

    #[test]
    fn a_snapshot_and_the_log_after_it_survive_a_restart() {
        let s = with_snapshot();
        let d = load(&s).unwrap();
        assert_eq!(d.snapshot.as_ref().map(|s| (s.index, s.term)), Some((2, 2)));
        assert_eq!(d.snapshot.unwrap().data, b"state after 2");
        assert_eq!(
            (d.log.base(), d.log.last_index(), d.log.retained()),
            (2, 3, 1)
        );
        assert_eq!(d.log.entry(3).map(|e| e.term), Some(3));
        assert_eq!(stored_entries(&s), 1, "the compacted entries are gone");
        assert_eq!((d.term, d.vote), (5, Some(2)));
    }

    #[test]
    fn an_unsynced_compaction_is_lost_whole() {
        let mut s = stored();
        let mut log = load(&s).unwrap().log;
        log.compact_to(3, 3);
        let snapshot = Snapshot {
            index: 3,
            term: 3,
            data: vec![1],
        };
        save_snapshot(&mut s, &snapshot, &log, 1, 3);
        s.crash();
        let d = load(&s).unwrap();
        assert_eq!(
            (d.snapshot, d.log.last_index(), stored_entries(&s)),
            (None, 3, 3)
        );
    }

    #[test]
    fn a_damaged_snapshot_is_refused() {
        let mut s = with_snapshot();
        let mut bytes = s.get(SNAPSHOT).unwrap().to_vec();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x10;
        s.put(SNAPSHOT, bytes.clone());
        let d = damage_of(&s);
        assert_eq!(d.key, SNAPSHOT);
        assert!(d.problem.contains("checksum"), "{d}");
        s.put(SNAPSHOT, bytes[..mid].to_vec());
        assert_eq!(damage_of(&s).key, SNAPSHOT);
        // A snapshot deleted from under its log: the log's first entries are missing.
        s.delete(SNAPSHOT);
        let d = damage_of(&s);
        assert_eq!(d.key, entry_key(1));
        assert!(d.problem.contains("missing"), "{d}");
    }

    #[test]
    fn a_log_that_ends_before_its_snapshot_is_refused() {
        let mut s = with_snapshot();
        s.put(LEN, seal(LEN, options().serialize(&1u64).unwrap()));
        let d = damage_of(&s);
        assert_eq!(d.key, LEN);
        assert!(d.problem.contains("before the snapshot"), "{d}");
    }

    fn damage_of(s: &Storage) -> Damage {
        load(s).expect_err("damage is refused")
    }

    #[test]
    fn a_flipped_bit_in_an_entry_is_refused() {
        let mut s = stored();
        let mut bytes = s.get(&entry_key(2)).unwrap().to_vec();
        bytes[10] ^= 0x01;
        s.put(entry_key(2), bytes);
        let d = damage_of(&s);
        assert_eq!(d.key, entry_key(2));
        assert!(d.problem.contains("checksum"), "{d}");
    }

    #[test]
    fn a_truncated_record_is_refused() {
        let mut s = stored();
        let bytes = s.get(&entry_key(3)).unwrap().to_vec();
        s.put(entry_key(3), bytes[..bytes.len() - 2].to_vec());
        assert_eq!(damage_of(&s).key, entry_key(3));
        s.put(entry_key(3), bytes[..5].to_vec());
        assert!(damage_of(&s).problem.contains("shorter"));
    }

    #[test]
    fn a_garbage_or_moved_entry_is_refused() {
        let mut s = stored();
        s.put(entry_key(1), b"not an entry at all".to_vec());
        assert_eq!(damage_of(&s).key, entry_key(1));
        // A valid record under the wrong key (entry 3's bytes where entry 1 belongs).
        let mut s = stored();
        let third = s.get(&entry_key(3)).unwrap().to_vec();
        s.put(entry_key(1), third);
        assert!(damage_of(&s).problem.contains("another key"));
    }

    #[test]
    fn a_deleted_entry_is_refused() {
        let mut s = stored();
        s.delete(&entry_key(2));
        let d = damage_of(&s);
        assert_eq!(d.key, entry_key(2));
        assert!(d.problem.contains("missing"), "{d}");
    }

    #[test]
    fn damaged_metadata_never_becomes_term_zero_without_a_vote() {
        let mut s = stored();
        let mut bytes = s.get(META).unwrap().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x80;
        s.put(META, bytes);
        assert_eq!(damage_of(&s).key, META);
        let mut s = stored();
        s.put(LEN, seal(LEN, vec![0xff; 3]));
        assert!(damage_of(&s).problem.contains("does not decode"));
    }
}
