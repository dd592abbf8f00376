//! The checker of every Raft run: it sees each recorded history event and checks Figure 3's
//! safety properties and the clients' bookkeeping as they happen.
//!
//! - election safety: at most one leader per term;
//! - leader completeness: a new leader of term T holds every entry committed in a term
//!   before T (commits are recorded by the leader that makes them);
//! - state machine safety: no two nodes apply different commands at one index;
//! - applies are contiguous: each node applies 1, 2, 3, ... with no gap or repeat (from 1
//!   again after a restart, which replays the log into a fresh state machine, SPEC.md §7);
//! - storage is intact: no node finds its durable state damaged at start.
//!
//! It keeps what the scenario reads after the run (leaders by term, what was applied, the
//! clients' operations); the scenario reaches it with `world.checker::<RaftChecker>()`.

use super::state::{input, output};
use super::{
    CLIENT_SEQ_UNIQUE, CONTIGUOUS_APPLY, LEADER_COMPLETENESS, ONE_LEADER_PER_TERM,
    RETURN_AFTER_INVOKE, RETURN_ONCE, SAME_COMMAND_PER_INDEX, STORAGE_INTACT,
};
use faultline::linearizability::{KvInput, KvOutput, Operation};
use faultline::{Addr, Checker, Failure, Time};
use raft::{ClientEvent, Event, RaftEvent};
use std::collections::BTreeMap;

/// The checker, and what it saw.
#[derive(Debug, Default)]
pub struct RaftChecker {
    /// Leader of each term, and when it was elected.
    pub leaders: BTreeMap<u64, (Addr, Time)>,
    /// The term each index was first committed in (by that term's leader).
    pub committed_in: BTreeMap<u64, u64>,
    /// (term, command) applied at each index, by whichever node applied it first.
    pub applied: BTreeMap<u64, (u64, Vec<u8>)>,
    /// Each node's last applied index in its current incarnation.
    pub apply_pos: BTreeMap<Addr, u64>,
    /// Client operations by (client, seq), in the checker's model.
    pub ops: BTreeMap<(u64, u64), Operation<KvInput, KvOutput>>,
    /// Raft starts and restarts seen.
    pub starts: u64,
    /// Starts seen per node (a restarted node is a new state machine).
    pub starts_of: BTreeMap<Addr, u64>,
}

impl RaftChecker {
    /// The latest election, if any: (term, leader, when).
    pub fn last_election(&self) -> Option<(u64, Addr, Time)> {
        self.leaders
            .iter()
            .next_back()
            .map(|(t, (a, at))| (*t, *a, *at))
    }

    /// Operations invoked before `t` that have not returned.
    pub fn pending_before(&self, t: Time) -> Vec<(u64, u64)> {
        self.ops
            .iter()
            .filter(|(_, op)| op.ret.is_none() && op.invoke < t.as_nanos())
            .map(|(k, _)| *k)
            .collect()
    }

    /// Operations that returned.
    pub fn returned(&self) -> usize {
        self.ops.values().filter(|o| o.ret.is_some()).count()
    }

    fn on_client(&mut self, now: Time, event: &ClientEvent) -> Result<(), Failure> {
        match event {
            ClientEvent::Invoke { client, seq, op } => {
                let op = Operation {
                    client: *client,
                    input: input(op),
                    invoke: now.as_nanos(),
                    ret: None,
                };
                if self.ops.insert((*client, *seq), op).is_some() {
                    return Err(CLIENT_SEQ_UNIQUE.fail(format!("client {client} reused seq {seq}")));
                }
            }
            ClientEvent::Return {
                client,
                seq,
                output: out,
            } => {
                let Some(op) = self.ops.get_mut(&(*client, *seq)) else {
                    return Err(RETURN_AFTER_INVOKE.fail(format!("client {client} seq {seq}")));
                };
                if op.ret.is_some() {
                    return Err(
                        RETURN_ONCE.fail(format!("client {client} seq {seq} returned twice"))
                    );
                }
                op.ret = Some((now.as_nanos(), output(out)));
            }
        }
        Ok(())
    }

    fn on_raft(&mut self, now: Time, node: Addr, event: &RaftEvent) -> Result<(), Failure> {
        match event {
            RaftEvent::Started { .. } => {
                self.starts += 1;
                *self.starts_of.entry(node).or_insert(0) += 1;
                self.apply_pos.insert(node, 0);
            }
            // The simulator injects no storage damage, so finding some is a bug in how Raft
            // writes or reads its storage (SPEC.md §7).
            RaftEvent::StorageDamaged { detail } => {
                return Err(
                    STORAGE_INTACT.fail(format!("{node} found its storage damaged: {detail}"))
                );
            }
            RaftEvent::BecameLeader { term, log_terms } => {
                if let Some((other, _)) = self.leaders.get(term) {
                    return Err(ONE_LEADER_PER_TERM.fail(format!(
                        "{node} and {other} both became leader of term {term}"
                    )));
                }
                self.leaders.insert(*term, (node, now));
                self.check_complete(node, *term, log_terms)?;
            }
            RaftEvent::Committed { term, upto } => {
                let from = self.committed_in.keys().next_back().map_or(1, |k| k + 1);
                for index in from..=*upto {
                    self.committed_in.insert(index, *term);
                }
            }
            RaftEvent::Applied {
                index,
                term,
                command,
            } => {
                let pos = self.apply_pos.entry(node).or_insert(0);
                if *index != *pos + 1 {
                    return Err(
                        CONTIGUOUS_APPLY.fail(format!("{node} applied index {index} after {pos}"))
                    );
                }
                *pos = *index;
                match self.applied.get(index) {
                    Some((t, c)) if (t, c) != (term, command) => {
                        return Err(SAME_COMMAND_PER_INDEX.fail(format!(
                            "{node} applied term {term} at index {index}, another applied term {t}"
                        )));
                    }
                    Some(_) => {}
                    None => {
                        self.applied.insert(*index, (*term, command.clone()));
                    }
                }
            }
        }
        Ok(())
    }

    /// Leader completeness: `node`, new leader of `term` with a log of `log_terms`, holds
    /// every entry committed in an earlier term.
    fn check_complete(&self, node: Addr, term: u64, log_terms: &[u64]) -> Result<(), Failure> {
        for (&index, &commit_term) in self.committed_in.range(1..) {
            if commit_term >= term {
                continue;
            }
            let want = self.applied.get(&index).map(|(t, _)| *t);
            let have = log_terms.get(index as usize - 1).copied();
            if want.is_some() && have != want {
                return Err(LEADER_COMPLETENESS.fail(format!(
                    "{node} leads term {term} with term {have:?} at index {index}, \
                     committed in term {commit_term} with term {want:?}"
                )));
            }
        }
        Ok(())
    }
}

impl Checker<Event> for RaftChecker {
    fn on_event(&mut self, now: Time, node: Addr, event: &Event) -> Result<(), Failure> {
        match event {
            Event::Raft(e) => self.on_raft(now, node, e),
            Event::Client(e) => self.on_client(now, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::invariants::check_linearizable;
    use raft::{Op, Reply};

    fn feed(events: &[(u32, RaftEvent)]) -> Result<(), Failure> {
        let mut checker = RaftChecker::default();
        for (i, (node, e)) in events.iter().enumerate() {
            checker.on_event(Time(i as u64), Addr(*node), &Event::Raft(e.clone()))?;
        }
        Ok(())
    }
    fn leader(term: u64, log_terms: Vec<u64>) -> RaftEvent {
        RaftEvent::BecameLeader { term, log_terms }
    }
    fn applied(index: u64, term: u64, c: u8) -> RaftEvent {
        RaftEvent::Applied {
            index,
            term,
            command: vec![c],
        }
    }
    fn invariant(r: Result<(), Failure>) -> String {
        r.expect_err("should fail").invariant
    }

    #[test]
    fn a_correct_run_passes() {
        feed(&[
            (0, leader(1, vec![])),
            (0, RaftEvent::Committed { term: 1, upto: 1 }),
            (0, applied(1, 1, 7)),
            (1, applied(1, 1, 7)),
            (
                1,
                RaftEvent::Started {
                    term: 1,
                    log_len: 1,
                },
            ),
            (1, applied(1, 1, 7)),
            (1, leader(2, vec![1])),
        ])
        .expect("valid");
    }

    #[test]
    fn each_safety_violation_is_caught() {
        assert_eq!(
            invariant(feed(&[(0, leader(1, vec![])), (1, leader(1, vec![]))])),
            "one-leader-per-term"
        );
        assert_eq!(
            invariant(feed(&[(
                0,
                RaftEvent::StorageDamaged {
                    detail: "raft/meta: checksum".into()
                }
            )])),
            "storage-intact"
        );
        assert_eq!(
            invariant(feed(&[(0, applied(2, 1, 7))])),
            "contiguous-apply"
        );
        assert_eq!(
            invariant(feed(&[(0, applied(1, 1, 7)), (0, applied(1, 1, 7))])),
            "contiguous-apply"
        );
        assert_eq!(
            invariant(feed(&[(0, applied(1, 1, 7)), (1, applied(1, 1, 8))])),
            "same-command-per-index"
        );
        assert_eq!(
            invariant(feed(&[
                (0, leader(1, vec![])),
                (0, RaftEvent::Committed { term: 1, upto: 1 }),
                (0, applied(1, 1, 7)),
                (2, leader(2, vec![])),
            ])),
            "leader-completeness"
        );
        // An entry committed in a later term than the new leader's is not its concern.
        feed(&[
            (0, leader(3, vec![])),
            (0, RaftEvent::Committed { term: 3, upto: 1 }),
            (0, applied(1, 3, 7)),
            (2, leader(2, vec![])),
        ])
        .expect("a late leader of an older term need not hold newer commits");
    }

    #[test]
    fn client_history_is_checked() {
        let mut checker = RaftChecker::default();
        let put = Op::Put {
            key: "k".into(),
            value: "1".into(),
        };
        let get = Op::Get { key: "k".into() };
        let mut feed = |t: u64, node: u32, e: ClientEvent| {
            checker.on_event(Time(t), Addr(node), &Event::Client(e))
        };
        feed(
            0,
            5,
            ClientEvent::Invoke {
                client: 5,
                seq: 1,
                op: put,
            },
        )
        .unwrap();
        feed(
            5,
            5,
            ClientEvent::Return {
                client: 5,
                seq: 1,
                output: Reply::Done,
            },
        )
        .unwrap();
        feed(
            9,
            6,
            ClientEvent::Invoke {
                client: 6,
                seq: 1,
                op: get,
            },
        )
        .unwrap();
        let stale = ClientEvent::Return {
            client: 6,
            seq: 1,
            output: Reply::Value(String::new()),
        };
        feed(12, 6, stale.clone()).unwrap();
        assert_eq!(feed(13, 6, stale).unwrap_err().invariant, "return-once");
        assert_eq!(checker.pending_before(Time(100)), vec![]);
        assert_eq!(checker.returned(), 2);
        assert_eq!(
            check_linearizable(&checker).unwrap_err().invariant,
            "linearizable"
        );
    }
}
