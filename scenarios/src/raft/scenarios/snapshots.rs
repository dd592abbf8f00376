//! The key-value store with snapshots and log compaction (SPEC.md §13): the scenarios of
//! [`super::kv`] with a low threshold, so servers compact every few dozen entries, crash and
//! restart across snapshots, and fall far enough behind to need InstallSnapshot.
//!
//! Besides every key-value check, each run checks every 250 ms that memory and storage stay
//! bounded by the threshold ([`crate::raft::invariants::LOG_BOUNDED`]), and at its end
//! that the run did what it is for: a snapshot was taken, one was installed from a leader,
//! and where the scenario crashes servers, one was loaded at a restart. A run without them
//! would pass vacuously.

use super::kv::{Faults, KvScenario};
use crate::raft::invariants::{RaftChecker, SNAPSHOT_INSTALLED, SNAPSHOT_TAKEN};
use faultline::harness::Report;
use faultline::{Failure, Fault, TimedFault};
use rand::Rng;

/// How a scenario snapshots, and what it must have seen by its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshots {
    /// Snapshot every this many applied entries.
    pub every: u64,
    /// Bytes per InstallSnapshot chunk (small, so installs take several).
    pub chunk: usize,
    /// The run must install a snapshot from a leader at least once.
    pub must_install: bool,
    /// The run must restart a server from a stored snapshot at least once.
    pub must_load: bool,
}

impl Snapshots {
    /// The servers' configuration.
    pub fn config(&self) -> raft::Config {
        raft::Config {
            snapshot_every: self.every,
            snapshot_chunk: self.chunk,
            ..raft::Config::default()
        }
    }

    /// The run took a snapshot, and installed and loaded one if it must.
    pub fn end_checks(&self, seen: &RaftChecker) -> Result<(), Failure> {
        if seen.snapshots_taken == 0 {
            return Err(SNAPSHOT_TAKEN.fail("no server took a snapshot"));
        }
        if (self.must_install && seen.snapshots_installed == 0)
            || (self.must_load && seen.snapshots_loaded == 0)
        {
            return Err(SNAPSHOT_INSTALLED.fail(format!(
                "{} snapshots installed from a leader and {} loaded at a restart",
                seen.snapshots_installed, seen.snapshots_loaded
            )));
        }
        Ok(())
    }
}

/// The snapshot figures of a run.
pub fn add_metrics(report: &mut Report, seen: &RaftChecker) {
    for (key, value) in [
        ("snapshots_taken", seen.snapshots_taken),
        ("snapshots_installed", seen.snapshots_installed),
        ("snapshots_loaded", seen.snapshots_loaded),
    ] {
        report.metrics.insert(key.to_string(), value.into());
    }
}

/// Every snapshot scenario, from the key-value scenarios' common shape.
pub fn scenarios(
    base: impl Fn(&'static str, &'static str, Faults) -> KvScenario,
) -> Vec<KvScenario> {
    let low = |must_load| {
        Some(Snapshots {
            every: 20,
            chunk: 256,
            must_install: true,
            must_load,
        })
    };
    vec![
        KvScenario {
            snapshots: low(false),
            ..base(
                "raft-kv-snapshot-swarm",
                "KV store snapshotting every 20 entries under swarm faults incl. crashes; linearizable, bounded log",
                Faults::Swarm,
            )
        },
        KvScenario {
            snapshots: low(true),
            ..base(
                "raft-kv-snapshot-install",
                "servers cut off or crashed past snapshots catch up by chunked InstallSnapshot or restart from one; linearizable",
                Faults::SnapshotChurn,
            )
        },
        KvScenario {
            snapshots: low(true),
            ..base(
                "raft-kv-snapshot-restart",
                "random servers crash and restart (twice all at once) across snapshots every 20 entries; linearizable",
                Faults::CrashRestart,
            )
        },
    ]
}

/// The faults of `raft-kv-snapshot-install` until `heal` (ns), drawn from `rng`: one
/// server at a time is cut off (isolated) or crashed for 1-2.5 s, long enough for the
/// others to commit and compact past its log, then rejoins or restarts; and once, halfway,
/// every server crashes and restarts from its snapshot.
pub fn churn(servers: u32, heal: u64, rng: &mut impl Rng) -> Vec<TimedFault> {
    let ms = |x: u64| x * 1_000_000;
    let mut faults = Vec::new();
    let mut at = |at_ns: u64, fault: Fault| faults.push(TimedFault { at_ns, fault });
    let mut t = ms(rng.gen_range(300..800));
    let mut all_crashed = false;
    while t + ms(1000) < heal {
        if !all_crashed && t >= heal / 2 {
            for node in 0..servers {
                at(t, Fault::Crash { node });
                at(t + ms(rng.gen_range(100..600)), Fault::Restart { node });
            }
            all_crashed = true;
            t += ms(1500);
            continue;
        }
        let node = rng.gen_range(0..servers);
        let end = (t + ms(rng.gen_range(1000..2500))).min(heal);
        if rng.gen_bool(0.5) {
            at(t, Fault::Isolate { node });
            at(end, Fault::Rejoin { node });
        } else {
            at(t, Fault::Crash { node });
            at(end, Fault::Restart { node });
        }
        t = end + ms(rng.gen_range(200..600));
    }
    faults
}
