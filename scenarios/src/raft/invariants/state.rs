//! Checks over the servers' state, which no single history event shows: log matching and
//! committed prefixes (every 250 ms of a run and at its end), and the linearizability of the
//! clients' history (at the end of a key-value run).
//!
//! The clients' operations are Raft's own types ([`raft::Op`], [`raft::Reply`]); here they
//! are mapped onto the linearizability checker's key-value model.

use super::{RaftChecker, COMMITTED_PREFIX, LINEARIZABLE, LOG_MATCHING};
use crate::raft::nodes::RaftNode;
use faultline::linearizability::{self, KvInput, KvModel, KvOutput, Operation, Verdict};
use faultline::{Addr, Failure, World};
use raft::{Op, Reply};
use std::collections::BTreeMap;

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
    check_server_logs(checker(world), &server_logs(world, servers))
}

/// The servers (nodes `0..servers`) that are up, with their Raft state.
pub fn server_logs(world: &World<RaftNode>, servers: u32) -> Vec<(Addr, &raft::Raft)> {
    (0..servers)
        .map(Addr)
        .filter_map(|a| {
            world
                .node(a)
                .and_then(|n| n.server())
                .map(|s| (a, s.raft()))
        })
        .collect()
}

/// Log matching and committed-prefix agreement over `logs` (the servers that are up), with
/// what the checker `seen` applied: the check of [`check_logs`] for any runtime that can
/// show the servers' Raft state.
pub fn check_server_logs(seen: &RaftChecker, logs: &[(Addr, &raft::Raft)]) -> Result<(), Failure> {
    for (a, ra) in logs {
        let log = ra.log();
        for index in 1..=ra.commit_index() {
            let entry = &log[index as usize - 1];
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
            let common = la.len().min(lb.len());
            // The highest index where both hold the same term: everything up to it must match.
            if let Some(top) = (0..common).rev().find(|&k| la[k].term == lb[k].term) {
                if let Some(k) = (0..=top).find(|&k| la[k] != lb[k]) {
                    return Err(LOG_MATCHING.fail(format!(
                        "{a} and {b} agree on term {} at index {} but differ at index {}",
                        la[top].term,
                        top + 1,
                        k + 1
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Which state machine a server's log belongs to and how often it was rewritten: while
/// this stays the same (and the log is no shorter), the log only grew at its end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct LogIdentity {
    starts: u64,
    rewrites: u64,
    len: usize,
}

impl LogIdentity {
    fn of(seen: &RaftChecker, a: Addr, r: &raft::Raft) -> LogIdentity {
        LogIdentity {
            starts: seen.starts_of.get(&a).copied().unwrap_or(0),
            rewrites: r.log_rewrites(),
            len: r.log().len(),
        }
    }

    /// Whether everything seen under `self` still stands under `now`.
    fn still(&self, now: &LogIdentity) -> bool {
        self.starts == now.starts && self.rewrites == now.rewrites && now.len >= self.len
    }
}

/// [`check_server_logs`] done incrementally: what earlier checks verified of logs that have
/// only grown since is not looked at again, so checking every 250 ms costs what changed,
/// not the whole logs each time. A log that was cut short or replaced (a restart) is
/// checked from the start again. The end of a run still checks everything once.
#[derive(Debug, Default)]
pub struct LogChecks {
    /// Per server: its log's identity, and the committed prefix verified against `applied`.
    servers: BTreeMap<Addr, (LogIdentity, u64)>,
    /// Per pair of servers: both identities, and how many leading entries they agree on.
    pairs: BTreeMap<(Addr, Addr), (LogIdentity, LogIdentity, usize)>,
}

impl LogChecks {
    /// The same verdict as [`check_server_logs`] on the same state.
    pub fn check(
        &mut self,
        seen: &RaftChecker,
        logs: &[(Addr, &raft::Raft)],
    ) -> Result<(), Failure> {
        let ids: Vec<LogIdentity> = logs
            .iter()
            .map(|(a, r)| LogIdentity::of(seen, *a, r))
            .collect();
        // `applied` holds 1, 2, 3, ... (each server applies contiguously), so the indices
        // checkable against it are those up to its last.
        let applied_max = seen.applied.keys().next_back().copied().unwrap_or(0);
        for ((a, ra), id) in logs.iter().zip(&ids) {
            let from = match self.servers.get(a) {
                Some((old, upto)) if old.still(id) => *upto,
                _ => 0,
            };
            let upto = ra.commit_index().min(applied_max);
            let log = ra.log();
            for index in from + 1..=upto {
                let entry = &log[index as usize - 1];
                if let Some((t, c)) = seen.applied.get(&index) {
                    if (entry.term, &entry.command) != (*t, c) {
                        return Err(COMMITTED_PREFIX.fail(format!(
                            "{a} holds term {} at committed index {index}, applied was term {t}",
                            entry.term
                        )));
                    }
                }
            }
            self.servers.insert(*a, (*id, upto.max(from)));
        }
        for (i, ((a, ra), ida)) in logs.iter().zip(&ids).enumerate() {
            for ((b, rb), idb) in logs[i + 1..].iter().zip(&ids[i + 1..]) {
                let (la, lb) = (ra.log(), rb.log());
                let mut agreed = match self.pairs.get(&(*a, *b)) {
                    Some((oa, ob, n)) if oa.still(ida) && ob.still(idb) => *n,
                    _ => 0,
                };
                let common = la.len().min(lb.len());
                // The highest index where both hold the same term: everything up to it must
                // match. Below `agreed` they were seen to match already.
                if let Some(top) = (agreed..common).rev().find(|&k| la[k].term == lb[k].term) {
                    if let Some(k) = (agreed..=top).find(|&k| la[k] != lb[k]) {
                        return Err(LOG_MATCHING.fail(format!(
                            "{a} and {b} agree on term {} at index {} but differ at index {}",
                            la[top].term,
                            top + 1,
                            k + 1
                        )));
                    }
                    agreed = top + 1;
                }
                self.pairs.insert((*a, *b), (*ida, *idb, agreed));
            }
        }
        Ok(())
    }
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
