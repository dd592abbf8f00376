//! Raft's durable state (Figure 2 "Persistent state on all servers": current term, vote,
//! log) laid out in the node's [`Storage`] (SPEC.md §7).
//!
//! Keys: `raft/meta` holds (term, vote); `raft/len` the log length; `raft/log/<index>` one
//! entry each. Truncation only rewrites `raft/len`: entries past it are dead and are
//! overwritten by later appends. Callers sync before any reply or vote that depends on what
//! they wrote (the sync itself is the caller's, so one handler pays for one sync).

use crate::msg::Entry;
use bincode::Options;
use faultline::Storage;

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

/// Load the durable state; empty storage is a fresh node. Our own storage is trusted, but a
/// missing or unreadable entry ends the log there rather than panicking.
pub fn load(storage: &Storage) -> Durable {
    let (term, vote) = storage
        .get(META)
        .and_then(|b| options().deserialize::<(u64, Option<u32>)>(b).ok())
        .unwrap_or((0, None));
    let len = storage
        .get(LEN)
        .and_then(|b| options().deserialize::<u64>(b).ok())
        .unwrap_or(0);
    let mut log = Vec::with_capacity(len as usize);
    for index in 1..=len {
        match storage
            .get(&entry_key(index))
            .and_then(|b| options().deserialize(b).ok())
        {
            Some(entry) => log.push(entry),
            None => break,
        }
    }
    Durable { term, vote, log }
}

/// Write term and vote (not yet synced).
pub fn save_meta(storage: &mut Storage, term: u64, vote: Option<u32>) {
    storage.put(META, options().serialize(&(term, vote)).expect("encodes"));
}

/// Write the log from `from` (1-based) to its end, and its length (not yet synced).
pub fn save_log_from(storage: &mut Storage, log: &[Entry], from: u64) {
    for index in from.max(1)..=log.len() as u64 {
        let bytes = options()
            .serialize(&log[index as usize - 1])
            .expect("encodes");
        storage.put(entry_key(index), bytes);
    }
    storage.put(
        LEN,
        options().serialize(&(log.len() as u64)).expect("encodes"),
    );
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
            load(&s),
            Durable {
                term: 3,
                vote: None,
                log: log2.clone()
            }
        );
        s.crash();
        assert_eq!(
            load(&s),
            Durable {
                term: 2,
                vote: Some(1),
                log
            }
        );
        // Truncation shortens the log even though later keys remain.
        save_log_from(&mut s, &log2[..1], 2);
        s.sync();
        assert_eq!(load(&s).log, log2[..1].to_vec());
    }
}
