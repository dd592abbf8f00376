//! Durable storage: a small key-value store per node whose writes survive a crash only
//! once synced.
//!
//! Writes land in a pending overlay; [`Storage::sync`] folds them into the durable map. A
//! crash keeps the durable map and drops the overlay, so a restarted node sees exactly what
//! was synced. Reads see the node's own pending writes, as a file system's page cache would.
//!
//! That is the default, fault-free disk. [`faults`] adds what real disks do on a crash
//! (unsynced writes partly applied or torn, synced records rotting), off unless a scenario
//! or schedule turns it on.

pub mod faults;

pub use faults::{CrashDamage, StorageFaults};

use std::collections::BTreeMap;

/// One node's durable storage. Keys are strings, values are bytes.
#[derive(Debug, Clone, Default)]
pub struct Storage {
    durable: BTreeMap<String, Vec<u8>>,
    /// Writes since the last sync; `None` is a pending delete.
    pending: BTreeMap<String, Option<Vec<u8>>>,
    syncs: u64,
    /// Every synced change not yet taken by the real runtime, so it can append just those to
    /// its file. `None` (the simulator) keeps no journal.
    journal: Option<Vec<Change>>,
    /// The unsynced writes in the order they were made (repeats included), kept only while
    /// a storage fault model needs it (see [`faults`]): `None` costs nothing.
    order: Option<Vec<Change>>,
    /// The node is to die inside its next sync, or died inside one (see [`faults`]).
    sync_crash: SyncCrash,
    /// What the fault model has done to this storage, for checkers and reports.
    damage: CrashDamage,
}

/// Whether a crash waits in the next [`Storage::sync`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum SyncCrash {
    #[default]
    None,
    Armed,
    /// The sync did not happen; writes and syncs after it are ignored (the process is gone).
    Died,
}

/// One synced change: a key and its new value (`None`: deleted).
pub type Change = (String, Option<Vec<u8>>);

impl Storage {
    /// The current value of `key`, including unsynced writes.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        match self.pending.get(key) {
            Some(pending) => pending.as_deref(),
            None => self.durable.get(key).map(Vec::as_slice),
        }
    }

    /// Write `value` under `key`. It is lost in a crash until [`Storage::sync`].
    pub fn put(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.write(key.into(), Some(value.into()));
    }

    /// Delete `key`. The delete is lost in a crash until [`Storage::sync`].
    pub fn delete(&mut self, key: &str) {
        self.write(key.to_string(), None);
    }

    fn write(&mut self, key: String, value: Option<Vec<u8>>) {
        if self.sync_crash == SyncCrash::Died {
            return;
        }
        if let Some(order) = &mut self.order {
            order.push((key.clone(), value.clone()));
        }
        self.pending.insert(key, value);
    }

    /// Make every write so far durable (unless the node dies inside this sync: see
    /// [`Storage::arm_crash_in_sync`]).
    pub fn sync(&mut self) {
        match self.sync_crash {
            SyncCrash::Died => return,
            SyncCrash::Armed => {
                self.sync_crash = SyncCrash::Died;
                return;
            }
            SyncCrash::None => {}
        }
        if let Some(order) = &mut self.order {
            order.clear();
        }
        for (key, value) in std::mem::take(&mut self.pending) {
            if let Some(journal) = &mut self.journal {
                journal.push((key.clone(), value.clone()));
            }
            match value {
                Some(v) => self.durable.insert(key, v),
                None => self.durable.remove(&key),
            };
        }
        self.syncs += 1;
    }

    /// The changes synced since the last call, in order (empty without a journal).
    pub fn take_journal(&mut self) -> Vec<Change> {
        self.journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Whether there are writes a crash would lose.
    pub fn has_unsynced(&self) -> bool {
        !self.pending.is_empty()
    }

    /// How many times [`Storage::sync`] was called (for checkers and tests).
    pub fn sync_count(&self) -> u64 {
        self.syncs
    }

    /// Keys in order, including unsynced writes.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .durable
            .keys()
            .filter(|k| !matches!(self.pending.get(*k), Some(None)))
            .cloned()
            .collect();
        for (k, v) in &self.pending {
            if v.is_some() && !self.durable.contains_key(k) {
                keys.push(k.clone());
            }
        }
        keys.sort();
        keys
    }

    /// What a crash leaves: the synced state only.
    pub fn crash(&mut self) {
        self.pending.clear();
        if let Some(order) = &mut self.order {
            order.clear();
        }
        self.sync_crash = SyncCrash::None;
    }

    /// The durable state, for the real runtime to persist.
    pub fn durable(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.durable
    }

    /// Storage holding `durable` as already synced (the real runtime loads it from disk),
    /// keeping a journal of later synced changes for [`Storage::take_journal`].
    pub fn from_durable(durable: BTreeMap<String, Vec<u8>>) -> Storage {
        Storage {
            durable,
            journal: Some(Vec::new()),
            ..Storage::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_keeps_synced_and_drops_unsynced() {
        let mut s = Storage::default();
        s.put("a", b"1".to_vec());
        s.sync();
        s.put("a", b"2".to_vec());
        s.put("b", b"3".to_vec());
        assert_eq!(s.get("a"), Some(&b"2"[..]));
        s.crash();
        assert_eq!(s.get("a"), Some(&b"1"[..]));
        assert_eq!(s.get("b"), None);
    }

    #[test]
    fn delete_is_pending_until_sync() {
        let mut s = Storage::default();
        s.put("a", b"1".to_vec());
        s.sync();
        s.delete("a");
        assert_eq!(s.get("a"), None);
        assert!(s.keys().is_empty());
        s.crash();
        assert_eq!(s.get("a"), Some(&b"1"[..]));
        s.delete("a");
        s.sync();
        s.crash();
        assert_eq!(s.get("a"), None);
    }
}
