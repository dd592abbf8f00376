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
//! names what is wrong and the node refuses to start. Damage is not repaired, because no
//! repair is safe here: an entry this node acknowledged may be what a majority counted on
//! to commit, and a forgotten vote lets the node vote twice in one term.
//!
//! A crash may keep any prefix, in write order, of the writes since the last sync (an
//! append-only file keeps a prefix of its appends; the simulator's storage faults do the
//! same), so the writes of one sync are ordered for every prefix to load as a state Raft
//! may be in:
//! - entries are written before the length that counts them, so entries past the stored
//!   length are ignored (a later append overwrites them);
//! - an overwrite of a conflicting suffix first shortens the length to before it (those
//!   entries conflict with the leader, so were never committed and may go), so no prefix
//!   mixes the new entries with the old ones after them;
//! - a snapshot that drops a longer log shortens the length first, for the same reason.
//!
//! One prefix is recovered rather than refused, and [`Durable::recovered`] says so: a
//! snapshot that landed without the length written after it, over a log that ended before
//! the snapshot. Every entry of that log is covered by the snapshot (a snapshot from the
//! leader holds only committed state, and replaces what it covers), so the state is exactly
//! the one the completed write gives: the snapshot and no entries after it. No sequence of
//! completed syncs leaves a length below the snapshot, and rot of either record fails its
//! checksum, so nothing else is taken for this case.

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
    /// What was recovered rather than loaded as stored, if anything (module docs).
    pub recovered: Option<&'static str>,
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
/// `verify` false skips the checksum (the planted bug `raft-no-checksum-check`).
fn open<T: serde::de::DeserializeOwned>(
    storage: &Storage,
    key: &str,
    verify: bool,
) -> Result<Option<T>, Damage> {
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
    if verify && check(key, value).to_le_bytes() != sum {
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
    load_with(storage, true)
}

/// [`load`], with the checksums checked only if `verify` (false only for a planted bug).
pub fn load_with(storage: &Storage, verify: bool) -> Result<Durable, Damage> {
    let (term, vote) = open::<(u64, Option<u32>)>(storage, META, verify)?.unwrap_or((0, None));
    let snapshot = open::<Snapshot>(storage, SNAPSHOT, verify)?;
    let (base, base_term) = snapshot.as_ref().map_or((0, 0), |s| (s.index, s.term));
    let mut recovered = None;
    let mut len = open::<u64>(storage, LEN, verify)?.unwrap_or(base);
    if len < base {
        recovered = Some(
            "the snapshot landed without the log length written after it; the log it \
             replaced ended before it, so the snapshot covers it all (kept: the snapshot, \
             no entries after it)",
        );
        len = base;
    }
    let mut log = Vec::new();
    for index in base + 1..=len {
        let key = entry_key(index);
        match open(storage, &key, verify)? {
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
        recovered,
    })
}

/// Write term and vote (not yet synced).
pub fn save_meta(storage: &mut Storage, term: u64, vote: Option<u32>) {
    let bytes = options().serialize(&(term, vote)).expect("encodes");
    storage.put(META, seal(META, bytes));
}

/// Write the log from `from` (1-based) to its end, and its last index, and delete the
/// entries past it up to `old_last`, the last index before this change (those a
/// truncation dropped) (not yet synced). If `from` overwrites stored entries, the length is
/// first cut to before them (module docs: every prefix of these writes loads safely).
pub fn save_log_from(storage: &mut Storage, log: &Log, from: u64, old_last: u64) {
    if from <= old_last {
        save_len(storage, from - 1);
    }
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
    save_len(storage, log.last_index());
}

fn save_len(storage: &mut Storage, len: u64) {
    let bytes = options().serialize(&len).expect("encodes");
    storage.put(LEN, seal(LEN, bytes));
}

/// Write `snapshot` and delete the entries `first..=last` it made redundant; `log` is the
/// log as it is now, past the snapshot, and `last` at least the old log's last index (not
/// yet synced). Written in one sync, the snapshot and the deletes land together or not at
/// all; a crash that keeps only a prefix of them leaves a state [`load`] takes (module
/// docs): a log cut short is cut first.
pub fn save_snapshot(storage: &mut Storage, snapshot: &Snapshot, log: &Log, first: u64, last: u64) {
    if log.last_index() < last {
        save_len(storage, log.last_index().max(first - 1));
    }
    let bytes = options().serialize(snapshot).expect("encodes");
    storage.put(SNAPSHOT, seal(SNAPSHOT, bytes));
    for index in first.max(1)..=last {
        if log.entry(index).is_none() {
            storage.delete(&entry_key(index));
        }
    }
    save_len(storage, log.last_index());
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
                recovered: None,
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
                recovered: None,
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
    fn a_log_that_ends_before_its_snapshot_is_recovered_as_the_snapshot_alone() {
        let mut s = with_snapshot();
        s.put(LEN, seal(LEN, options().serialize(&1u64).unwrap()));
        let d = load(&s).expect("the snapshot covers a log that ends before it");
        assert!(d.recovered.unwrap().contains("snapshot covers"));
        assert_eq!((d.log.base(), d.log.last_index()), (2, 2));
        assert_eq!(load(&with_snapshot()).unwrap().recovered, None);
    }

    /// Every state a crash can leave by keeping a prefix, in write order, of the writes of
    /// one sync (what an append-only file keeps): `before` synced, then `change` written.
    fn every_prefix(before: &Storage, change: impl Fn(&mut Storage)) -> Vec<Storage> {
        let mut probe = before.clone();
        probe.track_write_order();
        change(&mut probe);
        let writes = probe.unsynced_in_order();
        (0..=writes.len())
            .map(|k| {
                let mut s = before.clone();
                for (key, value) in &writes[..k] {
                    match value {
                        Some(v) => s.put(key.clone(), v.clone()),
                        None => s.delete(key),
                    }
                }
                s.sync();
                s
            })
            .collect()
    }

    /// Entry terms of the log `storage` loads.
    fn terms(storage: &Storage) -> Vec<u64> {
        let d = load(storage).expect("every prefix loads");
        (d.log.base() + 1..=d.log.last_index())
            .map(|i| d.log.entry(i).unwrap().term)
            .collect()
    }

    #[test]
    fn every_prefix_of_an_overwrite_loads_the_old_log_a_cut_of_it_or_the_new_one() {
        // Stored: terms 1, 2, 3. The leader of term 4 overwrites from index 2 with 4, 4.
        let before = stored();
        let mut new = load(&before).unwrap().log;
        new.truncate_from(2);
        for _ in 0..2 {
            new.push(Entry {
                term: 4,
                command: vec![4],
            });
        }
        let states = every_prefix(&before, |s| save_log_from(s, &new, 2, 3));
        let seen: Vec<Vec<u64>> = states.iter().map(terms).collect();
        for t in &seen {
            // Never the new entries mixed with old ones after them (1, 4, 3 would be).
            assert!(
                [vec![1, 2, 3], vec![1], vec![1, 4, 4]].contains(t),
                "a prefix loads as {t:?}: {seen:?}"
            );
        }
        assert_eq!(seen.last(), Some(&vec![1, 4, 4]));
    }

    #[test]
    fn every_prefix_of_an_append_or_a_snapshot_loads() {
        let before = stored();
        let mut longer = load(&before).unwrap().log;
        longer.push(Entry {
            term: 5,
            command: vec![5],
        });
        for s in every_prefix(&before, |s| save_log_from(s, &longer, 4, 3)) {
            assert!([vec![1, 2, 3], vec![1, 2, 3, 5]].contains(&terms(&s)));
        }
        // A leader's snapshot at 5 installed over the 3-entry log: the log is dropped.
        let snapshot = Snapshot {
            index: 5,
            term: 5,
            data: vec![7],
        };
        let mut dropped = load(&before).unwrap().log;
        dropped.compact_to(5, 5);
        for s in every_prefix(&before, |s| save_snapshot(s, &snapshot, &dropped, 1, 5)) {
            let d = load(&s).expect("every prefix loads");
            let state = (d.log.base(), d.log.last_index());
            assert!(
                [(0, 3), (5, 5)].contains(&state),
                "a prefix loads as {state:?}"
            );
        }
        // A snapshot at 2 over a 3-entry log whose entry 2 has another term: dropped whole.
        let other = Snapshot {
            index: 2,
            term: 9,
            data: vec![8],
        };
        let mut cut = load(&before).unwrap().log;
        cut.compact_to(2, 9);
        assert_eq!(cut.last_index(), 2);
        for s in every_prefix(&before, |s| save_snapshot(s, &other, &cut, 1, 3)) {
            let d = load(&s).expect("every prefix loads");
            let state = (d.log.base(), d.log.last_index());
            assert!(
                [(0, 3), (0, 2), (2, 2)].contains(&state),
                "a prefix loads as {state:?}"
            );
        }
    }

    #[test]
    fn a_skipped_checksum_uses_a_rotted_entry() {
        let mut s = stored();
        let mut bytes = s.get(&entry_key(2)).unwrap().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        s.put(entry_key(2), bytes);
        assert!(load(&s).is_err());
        let used = load_with(&s, false).expect("the bug does not look");
        assert_ne!(used.log.entry(2).unwrap().command, vec![2u8; 4]);
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
