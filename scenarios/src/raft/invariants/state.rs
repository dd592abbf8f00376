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

/// Every server that found its storage damaged had damage made by the simulator's storage
/// faults (a torn write or rot): damage Raft made itself is a bug (SPEC.md §7).
pub fn check_damage_was_made(world: &World<RaftNode>) -> Result<(), Failure> {
    for &addr in &checker(world).damaged {
        let made = world.storage(addr).damage();
        if made.damaged() == 0 {
            return Err(super::STORAGE_INTACT.fail(format!(
                "{addr} found its storage damaged, but the simulator damaged none of it ({made:?})"
            )));
        }
    }
    Ok(())
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
/// show the servers' Raft state. A server also must have adopted every term it heard.
pub fn check_server_logs(seen: &RaftChecker, logs: &[(Addr, &raft::Raft)]) -> Result<(), Failure> {
    check_terms_adopted(logs)?;
    for (a, ra) in logs {
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

/// Every server up is at least at the highest term it received in any message.
fn check_terms_adopted(logs: &[(Addr, &raft::Raft)]) -> Result<(), Failure> {
    for (a, ra) in logs {
        if ra.term() < ra.highest_term_heard() {
            return Err(HIGHER_TERM_ADOPTED.fail(format!(
                "{a} is at term {} though it received term {}",
                ra.term(),
                ra.highest_term_heard()
            )));
        }
    }
    Ok(())
}

/// Which state machine a server's log belongs to and how often it was rewritten: while
/// this stays the same (and the log ends no earlier), the log only grew at its end or lost
/// a prefix to compaction, so what was verified of the entries it still holds stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct LogIdentity {
    starts: u64,
    rewrites: u64,
    last: u64,
}

impl LogIdentity {
    fn of(seen: &RaftChecker, a: Addr, r: &raft::Raft) -> LogIdentity {
        LogIdentity {
            starts: seen.starts_of.get(&a).copied().unwrap_or(0),
            rewrites: r.log_rewrites(),
            last: r.log().last_index(),
        }
    }

    /// Whether everything seen under `self` still stands under `now`.
    fn still(&self, now: &LogIdentity) -> bool {
        self.starts == now.starts && self.rewrites == now.rewrites && now.last >= self.last
    }
}

/// [`check_server_logs`] done incrementally: what earlier checks verified of logs that have
/// only grown since is not looked at again, so checking every 250 ms costs what changed,
/// not the whole logs each time. A log that was cut short or replaced (a restart, an
/// installed snapshot) is checked from the start again. The end of a run still checks
/// everything once. Indices are absolute, so compaction moves nothing.
#[derive(Debug, Default)]
pub struct LogChecks {
    /// Per server: its log's identity, and the committed index verified against `applied`.
    servers: BTreeMap<Addr, (LogIdentity, u64)>,
    /// Per pair of servers: both identities, and the index up to which they were seen to agree.
    pairs: BTreeMap<(Addr, Addr), (LogIdentity, LogIdentity, u64)>,
}

impl LogChecks {
    /// The same verdict as [`check_server_logs`] on the same state.
    pub fn check(
        &mut self,
        seen: &RaftChecker,
        logs: &[(Addr, &raft::Raft)],
    ) -> Result<(), Failure> {
        check_terms_adopted(logs)?;
        let ids: Vec<LogIdentity> = logs
            .iter()
            .map(|(a, r)| LogIdentity::of(seen, *a, r))
            .collect();
        for ((a, ra), id) in logs.iter().zip(&ids) {
            let from = match self.servers.get(a) {
                Some((old, upto)) if old.still(id) => *upto,
                _ => 0,
            };
            let log = ra.log();
            let upto = ra.commit_index();
            for index in from.max(log.base()) + 1..=upto {
                let Some(entry) = log.entry(index) else {
                    return Err(COMMITTED_PREFIX.fail(format!(
                        "{a} has committed {upto} but holds no entry {index}"
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
            // Indices past what was applied so far are checked again next time.
            let applied_max = seen.applied.keys().next_back().copied().unwrap_or(0);
            self.servers
                .insert(*a, (*id, upto.min(applied_max).max(from)));
        }
        for (i, ((a, ra), ida)) in logs.iter().zip(&ids).enumerate() {
            for ((b, rb), idb) in logs[i + 1..].iter().zip(&ids[i + 1..]) {
                let (la, lb) = (ra.log(), rb.log());
                let agreed = match self.pairs.get(&(*a, *b)) {
                    Some((oa, ob, n)) if oa.still(ida) && ob.still(idb) => *n,
                    _ => 0,
                };
                let first = (la.base().max(lb.base()) + 1).max(agreed + 1);
                let last = la.last_index().min(lb.last_index());
                let same_term = |k: u64| la.entry(k).map(|e| e.term) == lb.entry(k).map(|e| e.term);
                let mut now_agreed = agreed;
                // The highest index where both hold the same term: everything up to it must
                // match. Up to `agreed` they were seen to match already.
                if let Some(top) = (first..=last).rev().find(|&k| same_term(k)) {
                    if let Some(k) = (first..=top).find(|&k| la.entry(k) != lb.entry(k)) {
                        return Err(LOG_MATCHING.fail(format!(
                            "{a} and {b} agree on term {:?} at index {top} but differ at index {k}",
                            la.entry(top).map(|e| e.term),
                        )));
                    }
                    now_agreed = top;
                }
                self.pairs.insert((*a, *b), (*ida, *idb, now_agreed));
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
/// Search steps spent explaining a failing part (the check itself has its own budget).
const EXPLAIN_STEPS: u64 = 200_000;

/// One operation, short: client, input, output and times.
fn show(o: &faultline::linearizability::Operation<KvInput, KvOutput>) -> String {
    let ret = match &o.ret {
        Some((t, out)) => format!("{out:?} at {}", faultline::Time(*t)),
        None => "no answer".to_string(),
    };
    format!(
        "client {}'s {:?} (invoked at {}, {ret})",
        o.client,
        o.input,
        faultline::Time(o.invoke)
    )
}

pub fn check_linearizable(seen: &RaftChecker) -> Result<(), Failure> {
    let ops = history(seen);
    match linearizability::check(&KvModel, &ops) {
        Verdict::Linearizable => Ok(()),
        Verdict::NotLinearizable { part } => {
            let why = faultline::explain::explain(&KvModel, &ops, &part, EXPLAIN_STEPS);
            let key = part.first().map_or("", |&i| ops[i].input.key());
            let stuck = why
                .stuck
                .map_or("none found".to_string(), |j| show(&ops[part[j]]));
            let evidence = serde_json::json!({
                "kind": "linearizability",
                "key": key,
                "ops": part.iter().map(|&i| {
                    let o = &ops[i];
                    serde_json::json!({
                        "client": o.client,
                        "input": format!("{:?}", o.input),
                        "invoke_ns": o.invoke,
                        "return_ns": o.ret.as_ref().map(|(t, _)| *t),
                        "output": o.ret.as_ref().map(|(_, out)| format!("{out:?}")),
                    })
                }).collect::<Vec<_>>(),
                "prefix": why.order,
                "stuck": why.stuck,
                "complete": why.complete,
            });
            Err(LINEARIZABLE
                .fail(format!(
                    "no linearization of the {} operations on key {key:?}: the longest \
                     linearizable prefix{} has {} of them, then {stuck} cannot be placed",
                    part.len(),
                    if why.complete { "" } else { " found" },
                    why.order.len(),
                ))
                .with_evidence(evidence))
        }
        Verdict::Unknown => Err(LINEARIZABLE.fail("the checker ran out of its step budget")),
    }
}
