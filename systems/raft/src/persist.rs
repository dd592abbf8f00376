//! Raft's durable state (Figure 2 "Persistent state on all servers": current term, vote,
//! log) laid out in the node's [`Storage`] (SPEC.md §7).
//!
//! Keys: `raft/meta` holds (term, vote); `raft/len` the log length; `raft/log/<index>` one
//! entry each. Truncation only rewrites `raft/len`: entries past it are dead and are
//! overwritten by later appends. Callers sync before any reply or vote that depends on what
//! they wrote (the sync itself is the caller's, so one handler pays for one sync).
//!
//! Every record carries a checksum over its key and its bytes, so a flipped bit, a record
//! moved under another key, or garbage is seen. Damaged state is never used: [`load`]
//! names what is wrong and the node refuses to start. Nothing is repaired, because no
//! repair is safe here: an entry this node acknowledged may be what a majority counted on
//! to commit, and a forgotten vote lets the node vote twice in one term.

use crate::msg::{fnv1a, Entry};
use bincode::Options;
use faultline::Storage;
use std::fmt;

const META: &str = "raft/meta";
const LEN: &str = "raft/len";

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
    pub log: Vec<Entry>,
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
    let len = open::<u64>(storage, LEN)?.unwrap_or(0);
    let mut log = Vec::new();
    for index in 1..=len {
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
    Ok(Durable { term, vote, log })
}

/// Write term and vote (not yet synced).
pub fn save_meta(storage: &mut Storage, term: u64, vote: Option<u32>) {
    let bytes = options().serialize(&(term, vote)).expect("encodes");
    storage.put(META, seal(META, bytes));
}

/// Write the log from `from` (1-based) to its end, and its length (not yet synced).
pub fn save_log_from(storage: &mut Storage, log: &[Entry], from: u64) {
    for index in from.max(1)..=log.len() as u64 {
        let bytes = options()
            .serialize(&log[index as usize - 1])
            .expect("encodes");
        let key = entry_key(index);
        let sealed = seal(&key, bytes);
        storage.put(key, sealed);
    }
    let len = options().serialize(&(log.len() as u64)).expect("encodes");
    storage.put(LEN, seal(LEN, len));
}

#[cfg(test)]
mod tests {
    use super::*;

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
        save_meta(&mut s, 2, Some(1));
        save_log_from(&mut s, &log, 1);
        s.sync();
        // Truncate to one entry and append a different one, unsynced: a crash forgets it.
        let mut log2 = log[..1].to_vec();
        log2.push(Entry {
            term: 3,
            command: vec![9],
        });
        save_meta(&mut s, 3, None);
        save_log_from(&mut s, &log2, 2);
        assert_eq!(
            load(&s).unwrap(),
            Durable {
                term: 3,
                vote: None,
                log: log2.clone()
            }
        );
        s.crash();
        assert_eq!(
            load(&s).unwrap(),
            Durable {
                term: 2,
                vote: Some(1),
                log
            }
        );
        // Truncation shortens the log even though later keys remain.
        save_log_from(&mut s, &log2[..1], 2);
        s.sync();
        assert_eq!(load(&s).unwrap().log, log2[..1].to_vec());
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
        save_log_from(&mut s, &log, 1);
        s.sync();
        assert_eq!(load(&s).unwrap().log.len(), 3);
        s
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
