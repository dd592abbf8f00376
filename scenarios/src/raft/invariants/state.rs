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
