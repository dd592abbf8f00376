//! Checks over the servers' state, which no single history event shows: log matching and
//! committed prefixes (every 250 ms of a run and at its end), and the linearizability of the
//! clients' history (at the end of a key-value run).
//!
//! The clients' operations are Raft's own types ([`raft::Op`], [`raft::Reply`]); here they
//! are mapped onto the linearizability checker's key-value model.

use super::{
    RaftChecker, COMMITTED_PREFIX, HIGHER_TERM_ADOPTED, LINEARIZABLE, LOG_BOUNDED, LOG_MATCHING,
};
use crate::raft::nodes::RaftNode;
use faultline::linearizability::{self, KvInput, KvModel, KvOutput, Operation, Verdict};
use faultline::{Addr, Failure, World};
use raft::{Op, Reply};

/// A Raft operation as the checker's model takes it.
pub fn input(op: &Op) -> KvInput {
    match op.clone() {
        Op::Get { key } => KvInput::Get { key },
        Op::Put { key, value } => KvInput::Put { key, value },
        Op::Append { key, value } => KvInput::Append { key, value },
    }
}

/// A Raft reply as the checker's model takes it.
pub fn output(reply: &Reply) -> KvOutput {
    match reply.clone() {
        Reply::Value(v) => KvOutput::Value(v),
        Reply::Done => KvOutput::Done,
    }
}

/// The checker of a world built by [`crate::raft::world::cluster`].
pub fn checker(world: &World<RaftNode>) -> &RaftChecker {
    world
        .checker::<RaftChecker>()
        .expect("a Raft world holds a RaftChecker")
}

/// Log matching and committed-prefix agreement over the servers (nodes `0..servers`) that
/// are up.
pub fn check_logs(world: &World<RaftNode>, servers: u32) -> Result<(), Failure> {
    let seen = checker(world);
    let logs: Vec<(Addr, &raft::Raft)> = (0..servers)
        .map(Addr)
        .filter_map(|a| {
            world
                .node(a)
                .and_then(|n| n.server())
                .map(|s| (a, s.raft()))
        })
        .collect();
    for (a, ra) in &logs {
        if ra.term() < ra.highest_term_heard() {
            return Err(HIGHER_TERM_ADOPTED.fail(format!(
                "{a} is at term {} though it received term {}",
                ra.term(),
                ra.highest_term_heard()
            )));
        }
        let log = ra.log();
        for index in log.base() + 1..=ra.commit_index() {
            let Some(entry) = log.entry(index) else {
                return Err(COMMITTED_PREFIX.fail(format!(
                    "{a} has committed {} but holds no entry {index}",
                    ra.commit_index()
                )));
            };
            if let Some((t, c)) = seen.applied.get(&index) {
                if (entry.term, &entry.command) != (*t, c) {
                    return Err(COMMITTED_PREFIX.fail(format!(
                        "{a} holds term {} at committed index {index}, applied was term {t}",
                        entry.term
                    )));
                }
            }
        }
    }
    for (i, (a, ra)) in logs.iter().enumerate() {
        for (b, rb) in &logs[i + 1..] {
            let (la, lb) = (ra.log(), rb.log());
            // Over the indices both still hold (past both snapshots): the highest where
            // both hold the same term, and everything from the first up to it must match.
            let first = la.base().max(lb.base()) + 1;
            let last = la.last_index().min(lb.last_index());
            let same_term = |k: u64| la.entry(k).map(|e| e.term) == lb.entry(k).map(|e| e.term);
            if let Some(top) = (first..=last).rev().find(|&k| same_term(k)) {
                if let Some(k) = (first..=top).find(|&k| la.entry(k) != lb.entry(k)) {
                    return Err(LOG_MATCHING.fail(format!(
                        "{a} and {b} agree on term {:?} at index {top} but differ at index {k}",
                        la.entry(top).map(|e| e.term),
                    )));
                }
            }
        }
    }
    Ok(())
}

/// With snapshots every `every` entries: no server up holds more applied entries than
/// that past its snapshot, and its storage holds exactly the entries it retains (so memory
/// and storage are bounded by the threshold, not by the history).
pub fn check_bounded(world: &World<RaftNode>, servers: u32, every: u64) -> Result<(), Failure> {
    for a in (0..servers).map(Addr) {
        let Some(raft) = world.node(a).and_then(|n| n.server()).map(|s| s.raft()) else {
            continue;
        };
        if raft.damaged().is_some() {
            continue;
        }
        let log = raft.log();
        let applied = raft.last_applied() - log.base();
        if applied > every {
            return Err(LOG_BOUNDED.fail(format!(
                "{a} holds {applied} applied entries past its snapshot at {}, threshold {every}",
                log.base()
            )));
        }
        let stored = raft::persist::stored_entries(world.storage(a));
        if stored != log.retained() {
            return Err(LOG_BOUNDED.fail(format!(
                "{a} retains {} entries but its storage holds {stored}",
                log.retained()
            )));
        }
    }
    Ok(())
}

/// The clients' history as the linearizability checker takes it.
pub fn history(seen: &RaftChecker) -> Vec<Operation<KvInput, KvOutput>> {
    seen.ops.values().cloned().collect()
}

/// The clients' history is linearizable (a budget overrun counts as a failure to report).
pub fn check_linearizable(seen: &RaftChecker) -> Result<(), Failure> {
    let ops = history(seen);
    match linearizability::check(&KvModel, &ops) {
        Verdict::Linearizable => Ok(()),
        Verdict::NotLinearizable { part } => {
            let shown: Vec<String> = part
                .iter()
                .take(40)
                .map(|&i| format!("{:?}", ops[i]))
                .collect();
            Err(LINEARIZABLE.fail(format!(
                "no linearization of {} operations on one key: {}",
                part.len(),
                shown.join("; ")
            )))
        }
        Verdict::Unknown => Err(LINEARIZABLE.fail("the checker ran out of its step budget")),
    }
}
