//! Storage faults: what a real disk may do to a node's storage on a crash, as TigerBeetle's
//! VOPR, FoundationDB's simulator and turmoil model it. Off by default: without a model a
//! crash drops every unsynced write and synced data never changes.
//!
//! With a [`StorageFaults`] model, each crash of the node draws, from the node's own named
//! random stream (`storage/<node>`), integers only:
//!
//! - **lost**: by default every write since the last sync is gone (legal: nothing was
//!   promised for it);
//! - **partly applied** (`partial_per_mille` of crashes): a prefix of the unsynced writes,
//!   *in the order they were made*, landed and the rest did not. In order, because the real
//!   runtime's storage is an append-only file, and a crash of an append-only file keeps a
//!   prefix of what was appended; a key written twice since the sync counts twice;
//! - **torn** (`torn_per_mille` of crashes that lose a write): the first write that did not
//!   land is torn instead, a prefix of its bytes under its key, replacing what was there (a
//!   record half rewritten); deletes are never torn;
//! - **rot** (`rot_per_mille` of crashes): one bit of one synced record flips while the
//!   node is down (a latent sector error found at the next read).
//!
//! A crash can also land *inside* a sync ([`Storage::arm_crash_in_sync`], the schedule's
//! `crash_in_sync`): the sync does not happen, the node dies, and what it wrote since the
//! previous sync meets the model. The simulator drops everything the handler that called
//! the sync did (messages, timers, history), as a process that dies in `fsync` sends
//! nothing after it; a system that sends before it syncs is not modelled more finely.
//!
//! Torn writes and rot are damage: [`CrashDamage::damaged`] counts them, so a checker can
//! tell damage the simulator made from damage a system's own bug made.

use super::{Change, Storage, SyncCrash};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// How a node's storage misbehaves on a crash. Rates are per mille (0..=1000), so schedules
/// stay integers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageFaults {
    /// Crashes that keep a prefix (in write order) of the unsynced writes.
    pub partial_per_mille: u32,
    /// Crashes whose first write not kept is torn (a prefix of its bytes lands).
    pub torn_per_mille: u32,
    /// Crashes after which one bit of one synced record is flipped.
    pub rot_per_mille: u32,
}

impl StorageFaults {
    /// Whether the model does anything (a crash with it off just drops unsynced writes).
    pub fn is_on(&self) -> bool {
        self.partial_per_mille > 0 || self.torn_per_mille > 0 || self.rot_per_mille > 0
    }

    /// Whether the model can damage records (torn writes or rot), not only lose writes.
    pub fn can_damage(&self) -> bool {
        self.torn_per_mille > 0 || self.rot_per_mille > 0
    }

    /// An error if a rate is above 1000 per mille.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("partial_per_mille", self.partial_per_mille),
            ("torn_per_mille", self.torn_per_mille),
            ("rot_per_mille", self.rot_per_mille),
        ] {
            if rate > 1000 {
                return Err(format!(
                    "storage fault `{name}` is {rate}, above 1000 per mille"
                ));
            }
        }
        Ok(())
    }
}

/// What the fault model did to one storage, added up over its crashes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CrashDamage {
    /// Crashes under the model, and those that found unsynced writes.
    pub crashes: u64,
    pub crashes_with_unsynced: u64,
    /// Unsynced writes that landed anyway, and those lost.
    pub writes_kept: u64,
    pub writes_lost: u64,
    /// Torn writes and rotted records (damage).
    pub torn: u64,
    pub rotted: u64,
    /// Crashes inside a sync.
    pub died_in_sync: u64,
}

impl CrashDamage {
    /// Records the model damaged (torn or rotted).
    pub fn damaged(&self) -> u64 {
        self.torn + self.rotted
    }
}

/// What one crash did: how many unsynced writes landed, and which key was torn or rotted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrashOutcome {
    pub unsynced: usize,
    pub kept: usize,
    pub torn: Option<String>,
    pub rotted: Option<String>,
}

impl CrashOutcome {
    /// Whether the crash did more than drop every unsynced write.
    pub fn is_notable(&self) -> bool {
        self.kept > 0 || self.torn.is_some() || self.rotted.is_some()
    }
}

fn roll(rng: &mut impl Rng, per_mille: u32) -> bool {
    per_mille > 0 && rng.gen_range(0..1000) < per_mille
}

impl Storage {
    /// Keep the order of unsynced writes from now on, which partial application needs.
    /// Writes already pending count as made in key order.
    pub fn track_write_order(&mut self) {
        if self.order.is_none() {
            let pending = self.pending.iter().map(|(k, v)| (k.clone(), v.clone()));
            self.order = Some(pending.collect());
        }
    }

    /// The unsynced writes in the order they were made (empty unless
    /// [`Storage::track_write_order`] was called): what a crash keeps a prefix of.
    pub fn unsynced_in_order(&self) -> Vec<Change> {
        self.order.clone().unwrap_or_default()
    }

    /// The node dies inside its next [`Storage::sync`]; a crash or restart calls it off.
    pub fn arm_crash_in_sync(&mut self) {
        if self.sync_crash == SyncCrash::None {
            self.sync_crash = SyncCrash::Armed;
        }
    }

    /// Call off a crash armed for the next sync that has not happened.
    pub fn disarm_crash_in_sync(&mut self) {
        if self.sync_crash == SyncCrash::Armed {
            self.sync_crash = SyncCrash::None;
        }
    }

    /// Whether the node died inside a sync (the runtime must crash it now).
    pub fn died_in_sync(&self) -> bool {
        self.sync_crash == SyncCrash::Died
    }

    /// What the fault model has done to this storage so far.
    pub fn damage(&self) -> &CrashDamage {
        &self.damage
    }

    /// A crash under `faults`: rot may flip a synced bit, a prefix of the unsynced writes may
    /// land, the first one that does not may be torn; the rest are lost (module docs).
    pub fn crash_with(&mut self, faults: &StorageFaults, rng: &mut impl Rng) -> CrashOutcome {
        let writes: Vec<Change> = match self.order.take() {
            Some(order) => {
                self.order = Some(Vec::new());
                order
            }
            None => self
                .pending
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let mut out = CrashOutcome {
            unsynced: writes.len(),
            ..CrashOutcome::default()
        };
        self.damage.crashes += 1;
        self.damage.died_in_sync += u64::from(self.died_in_sync());
        if roll(rng, faults.rot_per_mille) {
            out.rotted = self.rot(rng);
        }
        if !writes.is_empty() {
            self.damage.crashes_with_unsynced += 1;
            if roll(rng, faults.partial_per_mille) {
                out.kept = rng.gen_range(0..=writes.len());
            }
            for (key, value) in &writes[..out.kept] {
                match value {
                    Some(v) => self.durable.insert(key.clone(), v.clone()),
                    None => self.durable.remove(key),
                };
            }
            if let Some((key, Some(value))) = writes.get(out.kept) {
                if !value.is_empty() && roll(rng, faults.torn_per_mille) {
                    let cut = rng.gen_range(0..value.len());
                    self.durable.insert(key.clone(), value[..cut].to_vec());
                    out.torn = Some(key.clone());
                }
            }
        }
        self.damage.writes_kept += out.kept as u64;
        self.damage.writes_lost += (out.unsynced - out.kept) as u64;
        self.damage.torn += u64::from(out.torn.is_some());
        self.damage.rotted += u64::from(out.rotted.is_some());
        self.crash();
        out
    }

    /// Flip one bit of one synced, non-empty record; its key, if there was one.
    fn rot(&mut self, rng: &mut impl Rng) -> Option<String> {
        let candidates: Vec<&String> = self
            .durable
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, _)| k)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let key = candidates[rng.gen_range(0..candidates.len())].clone();
        let value = self.durable.get_mut(&key)?;
        let byte = rng.gen_range(0..value.len());
        value[byte] ^= 1 << rng.gen_range(0..8u32);
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::derive_rng;

    fn always(partial: bool, torn: bool, rot: bool) -> StorageFaults {
        let rate = |on: bool| if on { 1000 } else { 0 };
        StorageFaults {
            partial_per_mille: rate(partial),
            torn_per_mille: rate(torn),
            rot_per_mille: rate(rot),
        }
    }

    /// Storage with "a" = 1 synced, then unsynced writes b, c, a=2, delete b, d (in order).
    fn with_unsynced() -> Storage {
        let mut s = Storage::default();
        s.track_write_order();
        s.put("a", b"1".to_vec());
        s.sync();
        s.put("b", b"bb".to_vec());
        s.put("c", b"cccc".to_vec());
        s.put("a", b"2".to_vec());
        s.delete("b");
        s.put("d", b"dddddddd".to_vec());
        s
    }

    #[test]
    fn lost_is_the_default_even_with_a_model() {
        let mut s = with_unsynced();
        let out = s.crash_with(&StorageFaults::default(), &mut derive_rng(1, "t"));
        assert_eq!((out.unsynced, out.kept), (5, 0));
        assert_eq!(s.keys(), vec!["a".to_string()]);
        assert_eq!(s.get("a"), Some(&b"1"[..]));
        assert_eq!(s.damage().writes_lost, 5);
        assert_eq!(s.damage().damaged(), 0);
    }

    #[test]
    fn partial_application_keeps_a_prefix_in_write_order() {
        let mut kept_counts = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let mut s = with_unsynced();
            let out = s.crash_with(&always(true, false, false), &mut derive_rng(seed, "t"));
            kept_counts.insert(out.kept);
            // What a prefix of the writes in order leaves, written out by hand.
            let want: &[(&str, &[u8])] = match out.kept {
                0 => &[("a", b"1")],
                1 => &[("a", b"1"), ("b", b"bb")],
                2 => &[("a", b"1"), ("b", b"bb"), ("c", b"cccc")],
                3 => &[("a", b"2"), ("b", b"bb"), ("c", b"cccc")],
                4 => &[("a", b"2"), ("c", b"cccc")],
                _ => &[("a", b"2"), ("c", b"cccc"), ("d", b"dddddddd")],
            };
            let have: Vec<(String, Vec<u8>)> = s
                .durable()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let want: Vec<(String, Vec<u8>)> = want
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_vec()))
                .collect();
            assert_eq!(have, want, "kept {}", out.kept);
            assert!(!s.has_unsynced());
        }
        assert_eq!(
            kept_counts.len(),
            6,
            "every prefix length is drawn: {kept_counts:?}"
        );
    }

    #[test]
    fn a_torn_write_is_a_strict_prefix_of_the_first_write_not_kept() {
        let mut torn_seen = 0;
        for seed in 0..64 {
            let mut s = with_unsynced();
            let out = s.crash_with(&always(true, true, false), &mut derive_rng(seed, "t"));
            let writes = with_unsynced().order.unwrap();
            match writes.get(out.kept) {
                Some((key, Some(value))) => {
                    assert_eq!(out.torn.as_ref(), Some(key));
                    let landed = s.get(key).unwrap();
                    assert!(landed.len() < value.len() && value.starts_with(landed));
                    torn_seen += 1;
                }
                // A delete is never torn, and nothing is torn when every write landed.
                _ => assert_eq!(out.torn, None),
            }
        }
        assert!(torn_seen > 0);
        let mut s = with_unsynced();
        s.crash_with(&always(true, true, false), &mut derive_rng(3, "t"));
        assert_eq!(s.damage().damaged(), s.damage().torn);
    }

    #[test]
    fn rot_flips_exactly_one_bit_of_a_synced_record() {
        let mut s = Storage::default();
        s.put("k", vec![0u8; 16]);
        s.put("j", vec![0xffu8; 16]);
        s.sync();
        let before = s.durable().clone();
        let out = s.crash_with(&always(false, false, true), &mut derive_rng(9, "t"));
        let key = out.rotted.expect("rot is on at 1000 per mille");
        let flipped: u32 = before[&key]
            .iter()
            .zip(&s.durable()[&key])
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!(flipped, 1);
        let other = if key == "k" { "j" } else { "k" };
        assert_eq!(before[other], s.durable()[other]);
        assert_eq!(s.damage().rotted, 1);
    }

    #[test]
    fn a_crash_inside_a_sync_leaves_the_writes_unsynced_and_ignores_later_ones() {
        let mut s = Storage::default();
        s.put("a", b"1".to_vec());
        s.arm_crash_in_sync();
        s.sync();
        assert!(s.died_in_sync());
        s.put("b", b"2".to_vec());
        s.sync();
        assert_eq!(s.get("b"), None, "a dead process writes nothing");
        s.crash();
        assert!(!s.died_in_sync());
        assert_eq!(s.get("a"), None);
        s.arm_crash_in_sync();
        s.disarm_crash_in_sync();
        s.put("a", b"1".to_vec());
        s.sync();
        s.crash();
        assert_eq!(s.get("a"), Some(&b"1"[..]));
    }

    #[test]
    fn the_same_rng_gives_the_same_damage() {
        let run = || {
            let mut s = with_unsynced();
            let out = s.crash_with(&always(true, true, true), &mut derive_rng(5, "t"));
            (out, s.durable().clone())
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn rates_above_a_thousand_are_refused() {
        let bad = StorageFaults {
            rot_per_mille: 1001,
            ..StorageFaults::default()
        };
        assert!(bad.validate().unwrap_err().contains("rot_per_mille"));
        assert!(always(true, true, true).validate().is_ok());
    }
}
