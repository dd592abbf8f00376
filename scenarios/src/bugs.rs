//! The catalog of planted bugs: classic mistakes that can be switched on, one at a time, in
//! the real systems' code, each with the scenarios meant to catch it.
//!
//! A bug is planted through the system's configuration (a `BugSet` field: Raft's `Config`,
//! LSP's `Params`, the miner scheduler's `Config` and its `WorkerNode`, the kv `Server`,
//! CMUD's `ServerConfig`), never through global state. A run asks for one with
//! `RunSpec::bug` (`--bug NAME` on the command line); each scenario hands the set for its
//! systems to the code it builds with [`raft`], [`lsp`], [`miner`], [`kv`] and [`cmud`]. Without a bug every set is empty and the systems run as written.
//!
//! [`hunt`] sweeps a bug's scenarios with it planted until one fails, then runs the same
//! seeds unplanted to show the failure is the bug's.

use faultline::bugs::{BugId, BugSet};
use faultline::finding::Finding;
use faultline::harness::{Param, Report, RunSpec, Scenario};
use faultline::sweep::{self, Options};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

/// Which system a bug lives in, and which of its bugs it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plant {
    Lsp(lsp::Bug),
    Kv(kv::Bug),
    Miner(miner::scheduler::Bug),
    Raft(raft::Bug),
    Cmud(cmud::Bug),
}

impl Plant {
    /// The system's name, as the catalog groups scenarios.
    pub fn system(self) -> &'static str {
        match self {
            Plant::Lsp(_) => "lsp",
            Plant::Kv(_) => "kv",
            Plant::Miner(_) => "miner",
            Plant::Raft(_) => "raft",
            Plant::Cmud(_) => "cmud",
        }
    }
}

/// One planted bug.
#[derive(Clone, Copy, Debug)]
pub struct PlantedBug {
    /// Its name on the command line.
    pub name: &'static str,
    pub plant: Plant,
    /// What the bug is and why it is a classic.
    pub about: &'static str,
    /// Where it lives in the system's code.
    pub location: &'static str,
    /// The scenarios meant to catch it, swept interleaved by `hunt`.
    pub scenarios: &'static [&'static str],
    /// Seconds a hunt may take (on 2 cores) before the bug counts as not caught.
    pub budget_s: u64,
}

/// Every planted bug, in a fixed order.
pub const ALL: &[PlantedBug] = &[
    // LSP (also under the miner, which runs on it).
    PlantedBug {
        name: "lsp-no-retransmit",
        plant: Plant::Lsp(lsp::Bug::NoRetransmit),
        about: "unacknowledged Data is never resent at an epoch: the first lost datagram \
                stalls the stream forever, the bug of every first reliable-transport attempt",
        location: "systems/lsp/src/conn.rs Conn::on_epoch",
        scenarios: &["lsp-robust1", "lsp-echo"],
        budget_s: 5,
    },
    PlantedBug {
        name: "lsp-deliver-out-of-order",
        plant: Plant::Lsp(lsp::Bug::DeliverOutOfOrder),
        about: "Data arriving ahead of a gap is handed to Read at once instead of waiting for \
                the gap to fill: in-order delivery confused with acknowledging each message",
        location: "systems/lsp/src/conn.rs Conn::on_data",
        scenarios: &["lsp-window4", "lsp-out-of-order-msg1", "lsp-stream"],
        budget_s: 5,
    },
    PlantedBug {
        name: "lsp-window-off-by-one",
        plant: Plant::Lsp(lsp::Bug::WindowOffByOne),
        about: "the sliding window admits oldest-unacked + w instead of + w - 1: the classic \
                fencepost error of window arithmetic",
        location: "systems/lsp/src/conn.rs Conn::pump",
        scenarios: &["lsp-window1", "lsp-stream"],
        budget_s: 5,
    },
    PlantedBug {
        name: "lsp-checksum-unchecked",
        plant: Plant::Lsp(lsp::Bug::ChecksumUnchecked),
        about: "a Data's checksum is computed by the sender but never compared by the \
                receiver, so corrupted payloads are delivered",
        location: "systems/lsp/src/conn.rs validate_data",
        scenarios: &["lsp-corrupted-msg-server", "lsp-stream"],
        budget_s: 5,
    },
    PlantedBug {
        name: "lsp-deliver-duplicates",
        plant: Plant::Lsp(lsp::Bug::DeliverDuplicates),
        about: "a retransmitted Data that was already delivered is delivered again: acking \
                duplicates is right, delivering them is not (exactly-once lost)",
        location: "systems/lsp/src/conn.rs Conn::on_data",
        scenarios: &["lsp-echo", "lsp-robust2"],
        budget_s: 5,
    },
    PlantedBug {
        name: "lsp-lost-one-epoch-early",
        plant: Plant::Lsp(lsp::Bug::LostOneEpochEarly),
        about: "a connection is declared lost after K-1 silent epochs instead of K: an \
                off-by-one in a timeout counter",
        location: "systems/lsp/src/conn.rs Conn::on_epoch",
        scenarios: &["lsp-loss", "lsp-echo"],
        budget_s: 5,
    },
    // kv (P0).
    PlantedBug {
        name: "kv-slow-reader-blocks",
        plant: Plant::Kv(kv::Bug::SlowReaderBlocksAll),
        about: "while one client's replies wait in its queue the server stops reading every \
                client: one slow reader holds up all, the bug the assignment's queues exist for",
        location: "systems/kv/src/server.rs Server::block_while_queued",
        scenarios: &["kv-slowclient1", "kv-slow-readers"],
        budget_s: 10,
    },
    PlantedBug {
        name: "kv-queue-unbounded",
        plant: Plant::Kv(kv::Bug::QueueUnbounded),
        about: "a client's outgoing queue has no limit: a client that never reads makes the \
                server's memory grow without bound instead of dropping",
        location: "systems/kv/src/server.rs Server::answer_get",
        scenarios: &["kv-slowclient1", "kv-swarm"],
        budget_s: 10,
    },
    PlantedBug {
        name: "kv-dropped-not-counted",
        plant: Plant::Kv(kv::Bug::DroppedNotCounted),
        about: "a client that disconnects is taken off the active count but not added to the \
                dropped count: counters updated on one path and not the other",
        location: "systems/kv/src/server.rs Server::forget",
        scenarios: &["kv-count1", "kv-swarm"],
        budget_s: 10,
    },
    // miner.
    PlantedBug {
        name: "miner-upper-exclusive",
        plant: Plant::Miner(miner::scheduler::Bug::UpperBoundExclusive),
        about: "chunks are handed out as [lo, hi) where the range is [lo, hi]: every chunk's \
                upper bound is never tried, so a minimum sitting there is missed",
        location: "systems/miner/src/scheduler.rs sent_upper",
        scenarios: &["miner-tiny", "miner-ctest"],
        budget_s: 10,
    },
    PlantedBug {
        name: "miner-no-requeue",
        plant: Plant::Miner(miner::scheduler::Bug::NoRequeue),
        about: "a lost miner's chunk is forgotten instead of going back to its request, so \
                the request completes without that range: work lost with a worker",
        location: "systems/miner/src/scheduler.rs Scheduler::drop_holder",
        scenarios: &["miner-churn", "miner-faults"],
        budget_s: 20,
    },
    PlantedBug {
        name: "miner-keep-latest",
        plant: Plant::Miner(miner::scheduler::Bug::KeepLatestResult),
        about: "a request keeps the latest chunk's result instead of the minimum over all its \
                chunks: a reduction that overwrites instead of merging",
        location: "systems/miner/src/scheduler.rs Scheduler::on_result",
        scenarios: &["miner-ctest", "miner-churn"],
        budget_s: 10,
    },
    PlantedBug {
        name: "miner-target-or-last",
        plant: Plant::Miner(miner::scheduler::Bug::MinerTargetOrLast),
        about: "a miner searches for a hash below a fixed target (proof of work) instead of \
                the minimum, and reports the last nonce when none beats it: the request's \
                answer stays right whenever its best chunk beats the target, so only a check \
                of each chunk's result sees it",
        location: "systems/miner/src/worker.rs Worker::work",
        scenarios: &["miner-faults", "miner-churn"],
        budget_s: 20,
    },
    // Raft.
    PlantedBug {
        name: "raft-commit-old-term",
        plant: Plant::Raft(raft::Bug::CommitOldTerm),
        about: "a leader commits an entry of an older term once a majority holds it, the \
                Figure 8 bug: such an entry can still be overwritten by another leader",
        location: "systems/raft/src/raft.rs Raft::advance_commit",
        scenarios: &["raft-figure8-paper", "raft-figure8", "raft-kv-swarm"],
        budget_s: 10,
    },
    PlantedBug {
        name: "raft-vote-not-synced",
        plant: Plant::Raft(raft::Bug::VoteNotSynced),
        about: "a granted vote is written but not synced before the reply: a crash before \
                the next sync forgets it, and the restarted server votes again in that term",
        location: "systems/raft/src/raft.rs Raft::on_request_vote",
        scenarios: &["raft-kv-vote-crash", "raft-figure8"],
        budget_s: 30,
    },
    PlantedBug {
        name: "raft-ignore-higher-term-reply",
        plant: Plant::Raft(raft::Bug::IgnoreHigherTermInReply),
        about: "a leader or candidate ignores the higher term in a Vote or AppendEntries \
                reply: stale leaders keep leading when they hear the new term only in replies",
        location: "systems/raft/src/raft.rs Raft::on_vote, Raft::on_append_reply",
        scenarios: &["raft-stale-leader-replies", "raft-kv-partitions"],
        budget_s: 10,
    },
    PlantedBug {
        name: "raft-log-not-synced",
        plant: Plant::Raft(raft::Bug::LogNotSynced),
        about: "appended entries are not synced before the AppendEntries success reply: the \
                leader counts a replica that a crash then loses, and a committed entry vanishes",
        location: "systems/raft/src/raft.rs Raft::on_append",
        scenarios: &["raft-restart-all", "raft-kv-crash-restart"],
        budget_s: 20,
    },
    PlantedBug {
        name: "raft-no-checksum-check",
        plant: Plant::Raft(raft::Bug::NoChecksumCheck),
        about: "stored records are loaded without comparing their checksums, so a rotted \
                record is used as if it were what was written: the check every storage \
                format has and a fast path skips",
        location: "systems/raft/src/persist.rs open",
        scenarios: &["raft-kv-storage-faults"],
        budget_s: 5,
    },
    PlantedBug {
        name: "raft-vote-twice",
        plant: Plant::Raft(raft::Bug::VoteTwice),
        about: "a follower grants its vote to every candidate that asks in a term, not just \
                the first: two leaders in one term",
        location: "systems/raft/src/raft.rs Raft::on_request_vote",
        scenarios: &["raft-figure8", "raft-kv-swarm"],
        budget_s: 15,
    },
    PlantedBug {
        name: "raft-no-election-restriction",
        plant: Plant::Raft(raft::Bug::NoElectionRestriction),
        about: "votes are granted without checking that the candidate's log is at least as up \
                to date (§5.4.1): a server missing committed entries can win and erase them",
        location: "systems/raft/src/raft.rs Raft::on_request_vote",
        scenarios: &["raft-figure8", "raft-kv-swarm", "raft-fail-agree"],
        budget_s: 15,
    },
    PlantedBug {
        name: "raft-stale-read",
        plant: Plant::Raft(raft::Bug::LocalReads),
        about: "a leader answers a Get from its own state without committing it or checking \
                it still leads: a deposed leader cut off with its clients serves stale reads",
        location: "systems/raft/src/server.rs KvServer::on_client",
        scenarios: &["raft-kv-partitions", "raft-kv-swarm"],
        budget_s: 15,
    },
    PlantedBug {
        name: "raft-truncate-always",
        plant: Plant::Raft(raft::Bug::TruncateAlways),
        about: "a follower truncates its log after prev_index on every AppendEntries with \
                entries, even where they match: a delayed request erases newer acked entries",
        location: "systems/raft/src/raft.rs Raft::on_append",
        scenarios: &["raft-kv-unreliable", "raft-unreliable-agree"],
        budget_s: 15,
    },
    PlantedBug {
        name: "raft-apply-twice",
        plant: Plant::Raft(raft::Bug::ApplyTwice),
        about: "the duplicate table is not consulted when applying: a client's retry that was \
                committed twice (across a leader change) applies twice",
        location: "systems/raft/src/server.rs KvServer::apply_committed",
        scenarios: &["raft-kv-unreliable", "raft-kv-swarm", "raft-kv-partitions"],
        budget_s: 30,
    },
    // CMUD (P3).
    PlantedBug {
        name: "cmud-lww-by-value",
        plant: Plant::Cmud(cmud::Bug::LwwByValue),
        about: "last-writer-wins compares the values instead of the (timestamp, uid) stamps: \
                replicas still agree, on the greatest string, and a later Put loses to an \
                older one; merging on the data instead of its version",
        location: "systems/cmud/src/store.rs Entry::beats_with",
        scenarios: &["cmud-local-sync-stress", "cmud-local-sync-lww"],
        budget_s: 4,
    },
    PlantedBug {
        name: "cmud-lww-tie-no-uid",
        plant: Plant::Cmud(cmud::Bug::LwwTieNoUid),
        about: "two Puts stamped in the same millisecond are not ordered by their uids, so \
                each replica keeps the one it saw first and they never agree: a comparison \
                that is not a total order",
        location: "systems/cmud/src/store.rs Entry::beats_with",
        scenarios: &["cmud-local-sync-lww", "cmud-remote-sync-lww"],
        budget_s: 4,
    },
    PlantedBug {
        name: "cmud-sync-skips-relay",
        plant: Plant::Cmud(cmud::Bug::SyncSkipsRelay),
        about: "the representative applies what other servers send but does not relay it \
                to its local actors: with more than one actor per server, remote Puts reach \
                one replica of each server and never the rest",
        location: "systems/cmud/src/store.rs QueryActor::on_message (Remote)",
        scenarios: &["cmud-remote-sync-local", "cmud-swarm"],
        budget_s: 4,
    },
    PlantedBug {
        name: "cmud-no-resync-on-reconnect",
        plant: Plant::Cmud(cmud::Bug::NoResyncOnReconnect),
        about: "after a broken stream reconnects, the full-state exchange is skipped and \
                only new deltas flow: what was in flight when it broke is lost for good, the \
                anti-entropy that reliable-looking links still need",
        location: "systems/cmud/src/store.rs QueryActor::on_message (Resync)",
        scenarios: &["cmud-link-reset", "cmud-swarm"],
        budget_s: 4,
    },
    PlantedBug {
        name: "cmud-reply-before-sync",
        plant: Plant::Cmud(cmud::Bug::ReplyBeforeSync),
        about: "the reply to a Put leaves before its entry is synced to storage (the sync \
                waits for the next timer): a crash in between loses a Put the client was \
                told is done, the ack-before-fsync bug",
        location: "systems/cmud/src/server.rs ServerNode::settle",
        scenarios: &["cmud-crash-after-put", "cmud-swarm"],
        budget_s: 4,
    },
];

/// The bug called `name`.
pub fn find(name: &str) -> Option<&'static PlantedBug> {
    ALL.iter().find(|b| b.name == name)
}

/// The planted bug a spec asks for. Scenarios that build more than one system call this
/// once per system; a name that is not in the catalog plants nothing (the command line
/// refuses it first).
fn planted(spec: &RunSpec) -> Option<Plant> {
    spec.bug.as_deref().and_then(find).map(|b| b.plant)
}

fn set_of<B: BugId>(bug: Option<B>) -> BugSet<B> {
    bug.map_or(BugSet::NONE, BugSet::one)
}

/// The Raft bugs `spec` plants.
pub fn raft(spec: &RunSpec) -> BugSet<raft::Bug> {
    set_of(match planted(spec) {
        Some(Plant::Raft(b)) => Some(b),
        _ => None,
    })
}

/// The LSP bugs `spec` plants.
pub fn lsp(spec: &RunSpec) -> BugSet<lsp::Bug> {
    set_of(match planted(spec) {
        Some(Plant::Lsp(b)) => Some(b),
        _ => None,
    })
}

/// The miner bugs `spec` plants.
pub fn miner(spec: &RunSpec) -> BugSet<miner::scheduler::Bug> {
    set_of(match planted(spec) {
        Some(Plant::Miner(b)) => Some(b),
        _ => None,
    })
}

/// The CMUD bugs `spec` plants.
pub fn cmud(spec: &RunSpec) -> BugSet<cmud::Bug> {
    set_of(match planted(spec) {
        Some(Plant::Cmud(b)) => Some(b),
        _ => None,
    })
}

/// The kv bugs `spec` plants.
pub fn kv(spec: &RunSpec) -> BugSet<kv::Bug> {
    set_of(match planted(spec) {
        Some(Plant::Kv(b)) => Some(b),
        _ => None,
    })
}

/// A scenario with a bug planted in every run: sweeps, shrinks and runs it as they would
/// the scenario, and every replay command it reports carries `--bug`.
pub struct Planted {
    pub inner: Box<dyn Scenario>,
    pub bug: &'static str,
}

impl Scenario for Planted {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn about(&self) -> &'static str {
        self.inner.about()
    }
    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let spec = RunSpec {
            bug: Some(self.bug.to_string()),
            ..spec.clone()
        };
        self.inner.run(&spec)
    }
    fn budget(&self) -> faultline::Budget {
        self.inner.budget()
    }
    fn params(&self) -> Vec<Param> {
        self.inner.params()
    }
    fn sometimes(&self) -> Vec<faultline::harness::Sometimes> {
        self.inner.sometimes()
    }
}

/// `scenario` with `bug` planted, or as it is without one.
pub fn plant(scenario: Box<dyn Scenario>, bug: Option<&'static str>) -> Box<dyn Scenario> {
    match bug {
        Some(bug) => Box::new(Planted {
            inner: scenario,
            bug,
        }),
        None => scenario,
    }
}

/// What a hunt found.
#[derive(Clone, Debug, Serialize)]
pub struct Hunt {
    pub bug: String,
    pub system: String,
    pub caught: bool,
    /// The scenario, invariant and seed of the first failure, in plan order.
    pub scenario: Option<String>,
    pub invariant: Option<String>,
    pub kind: Option<String>,
    pub seed: Option<u64>,
    /// Runs done with the bug planted.
    pub runs: u64,
    /// Wall-clock seconds to the first failure (or of the whole hunt if none).
    pub seconds: f64,
    pub budget_s: u64,
    /// The runs up to and including the failure, run again without the bug: how many
    /// failed (0 means the failure is the bug's).
    pub control_runs: u64,
    pub control_failures: u64,
    /// The command that replays the failure.
    pub replay: Option<String>,
}

impl Hunt {
    /// Caught, within its budget, and the same seeds pass unplanted.
    pub fn passed(&self) -> bool {
        self.caught && self.control_failures == 0 && self.seconds <= self.budget_s as f64
    }
}

/// Sweep `bug`'s scenarios over seeds 0, 1, 2, ... with it planted until one fails or
/// `time_limit_s` of wall clock passes; then run the same plan prefix without it.
/// `clock` gives seconds since an arbitrary start (the wall clock, passed in).
pub fn hunt(
    bug: &'static PlantedBug,
    time_limit_s: f64,
    jobs: usize,
    clock: &(dyn Fn() -> f64 + Sync),
) -> Result<Hunt, String> {
    let mut planted = Vec::new();
    let mut plain = Vec::new();
    for name in bug.scenarios {
        let found = crate::catalog::find(name)
            .ok_or_else(|| format!("bug {} names no scenario `{name}`", bug.name))?;
        planted.push(plant(found, Some(bug.name)));
        plain.push(crate::catalog::find(name).expect("found above"));
    }
    let refs: Vec<&dyn Scenario> = planted.iter().map(|s| s.as_ref()).collect();
    let seeds: Vec<u64> = (0..1_000_000).collect();
    let plan = sweep::plan(refs.len(), &seeds);
    let start = clock();
    let found = AtomicBool::new(false);
    let first_at = std::sync::Mutex::new(None::<f64>);
    let stop = || found.load(Ordering::Relaxed) || clock() - start >= time_limit_s;
    let on_done = |_: usize, run: &sweep::SeedRun| {
        if run.outcome.kind().is_some() && !found.swap(true, Ordering::Relaxed) {
            *first_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(clock() - start);
        }
    };
    let options = Options {
        jobs,
        limits: Default::default(),
        check_determinism: false,
        stop: &stop,
        params: Vec::new(),
    };
    let swept = sweep::run_plan(&refs, &plan, &options, &on_done);
    let elapsed = clock() - start;
    let first = swept.runs.iter().position(|r| r.outcome.kind().is_some());
    let finding: Option<Finding> = first.and_then(|i| swept.runs[i].finding());
    let mut hunt = Hunt {
        bug: bug.name.to_string(),
        system: bug.plant.system().to_string(),
        caught: finding.is_some(),
        scenario: finding.as_ref().map(|f| f.scenario.clone()),
        invariant: finding.as_ref().map(|f| f.invariant.clone()),
        kind: finding.as_ref().map(|f| f.kind.as_str().to_string()),
        seed: finding.as_ref().map(|f| f.seed),
        runs: swept.runs.len() as u64,
        seconds: first_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(elapsed),
        budget_s: bug.budget_s,
        control_runs: 0,
        control_failures: 0,
        replay: finding.as_ref().map(|f| f.replay.clone()),
    };
    if let Some(i) = first {
        // The same runs, unplanted: they must all pass.
        let refs: Vec<&dyn Scenario> = plain.iter().map(|s| s.as_ref()).collect();
        let never = || false;
        let options = Options {
            stop: &never,
            ..options
        };
        let control = sweep::run_plan(&refs, &plan[..=i], &options, &|_, _| {});
        hunt.control_runs = control.runs.len() as u64;
        hunt.control_failures = control
            .runs
            .iter()
            .filter(|r| r.outcome.kind().is_some())
            .count() as u64;
    }
    Ok(hunt)
}
