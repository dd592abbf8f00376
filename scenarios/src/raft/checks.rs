//! Raft's safety invariants, checked as history events happen, plus the state checks the
//! scenarios run between steps and at the end.
//!
//! Continuously (from recorded events, the Raft paper's Figure 3):
//! - election safety: at most one leader per term;
//! - leader completeness: a new leader of term T holds every entry committed in a term
//!   before T (commits are recorded by the leader that makes them);
//! - state machine safety: no two nodes apply different commands at one index;
//! - applies are contiguous: each node applies 1, 2, 3, ... with no gap or repeat (from 1
//!   again after a restart, which replays the log into a fresh state machine).
//!
//! On the nodes' state ([`check_logs`], every few hundred milliseconds and at the end):
//! - log matching: two logs with an entry of the same index and term agree up to it;
//! - every server's committed prefix is what was applied.
//!
//! At the end: the client history is linearizable ([`check_linearizable`]).

use faultline::linearizability::{self, KvInput, KvModel, KvOutput, Operation, Verdict};
use faultline::{Addr, Failure, Time, World};
use raft::{ClientEvent, Event, RaftEvent, RaftKvNode};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// What the checker saw, shared with the scenario that reads it afterwards.
#[derive(Debug, Default)]
pub struct Observed {
    /// Leader of each term, and when it was elected.
    pub leaders: BTreeMap<u64, (Addr, Time)>,
    /// The term each index was first committed in (by that term's leader).
    pub committed_in: BTreeMap<u64, u64>,
    /// (term, command) applied at each index, by whichever node applied it first.
    pub applied: BTreeMap<u64, (u64, Vec<u8>)>,
    /// Each node's last applied index in its current incarnation.
    pub apply_pos: BTreeMap<Addr, u64>,
    /// Client operations by (client, seq).
    pub ops: BTreeMap<(u64, u64), Operation<KvInput, KvOutput>>,
    /// Raft starts and restarts seen.
    pub starts: u64,
}

impl Observed {
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

    fn on_event(&mut self, now: Time, node: Addr, event: &Event) -> Result<(), Failure> {
        match event {
            Event::Raft(e) => self.on_raft(now, node, e),
            Event::Client(ClientEvent::Invoke { client, seq, op }) => {
                let op = Operation {
                    client: *client,
                    input: op.clone(),
                    invoke: now.as_nanos(),
                    ret: None,
                };
                if self.ops.insert((*client, *seq), op).is_some() {
                    return Err(Failure::new(
                        "client-seq-unique",
                        format!("client {client} reused seq {seq}"),
                    ));
                }
                Ok(())
            }
            Event::Client(ClientEvent::Return {
                client,
                seq,
                output,
            }) => {
                let Some(op) = self.ops.get_mut(&(*client, *seq)) else {
                    return Err(Failure::new(
                        "return-after-invoke",
                        format!("client {client} seq {seq}"),
                    ));
                };
                if op.ret.is_some() {
                    return Err(Failure::new(
                        "return-once",
                        format!("client {client} seq {seq} returned twice"),
                    ));
                }
                op.ret = Some((now.as_nanos(), output.clone()));
                Ok(())
            }
        }
    }

    fn on_raft(&mut self, now: Time, node: Addr, event: &RaftEvent) -> Result<(), Failure> {
        match event {
            RaftEvent::Started { .. } => {
                self.starts += 1;
                self.apply_pos.insert(node, 0);
            }
            // The simulator injects no storage damage here, so finding some is a bug in how
            // Raft writes or reads its storage.
            RaftEvent::StorageDamaged { detail } => {
                return Err(Failure::new(
                    "storage-intact",
                    format!("{node} found its storage damaged: {detail}"),
                ));
            }
            RaftEvent::BecameLeader { term, log_terms } => {
                if let Some((other, _)) = self.leaders.get(term) {
                    return Err(Failure::new(
                        "one-leader-per-term",
                        format!("{node} and {other} both became leader of term {term}"),
                    ));
                }
                self.leaders.insert(*term, (node, now));
                for (&index, &commit_term) in self.committed_in.range(1..) {
                    if commit_term >= *term {
                        continue;
                    }
                    let want = self.applied.get(&index).map(|(t, _)| *t);
                    let have = log_terms.get(index as usize - 1).copied();
                    if want.is_some() && have != want {
                        return Err(Failure::new(
                            "leader-completeness",
                            format!(
                                "{node} leads term {term} with term {have:?} at index {index}, \
                                 committed in term {commit_term} with term {want:?}"
                            ),
                        ));
                    }
                }
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
                    return Err(Failure::new(
                        "contiguous-apply",
                        format!("{node} applied index {index} after {pos}"),
                    ));
                }
                *pos = *index;
                match self.applied.get(index) {
                    Some((t, c)) if (t, c) != (term, command) => {
                        return Err(Failure::new(
                            "same-command-per-index",
                            format!("{node} applied term {term} at index {index}, another applied term {t}"),
                        ));
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
}

/// A checker for the world that records into `observed`.
pub fn checker(
    observed: Rc<RefCell<Observed>>,
) -> impl FnMut(Time, Addr, &Event) -> Result<(), Failure> {
    move |now, node, event| observed.borrow_mut().on_event(now, node, event)
}

/// Log matching and committed-prefix agreement over the servers that are up.
pub fn check_logs(
    world: &World<RaftKvNode>,
    servers: &[Addr],
    observed: &Observed,
) -> Result<(), Failure> {
    let logs: Vec<(Addr, &raft::Raft)> = servers
        .iter()
        .filter_map(|&a| {
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
            if let Some((t, c)) = observed.applied.get(&index) {
                if (entry.term, &entry.command) != (*t, c) {
                    return Err(Failure::new(
                        "committed-prefix",
                        format!(
                            "{a} holds term {} at committed index {index}, applied was term {t}",
                            entry.term
                        ),
                    ));
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
                    return Err(Failure::new(
                        "log-matching",
                        format!(
                            "{a} and {b} agree on term {} at index {} but differ at index {}",
                            la[top].term,
                            top + 1,
                            k + 1
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The client history as the linearizability checker takes it.
pub fn history(observed: &Observed) -> Vec<Operation<KvInput, KvOutput>> {
    observed.ops.values().cloned().collect()
}

/// The client history is linearizable (a budget overrun counts as a failure to report).
pub fn check_linearizable(observed: &Observed) -> Result<(), Failure> {
    let ops = history(observed);
    match linearizability::check(&KvModel, &ops) {
        Verdict::Linearizable => Ok(()),
        Verdict::NotLinearizable { part } => {
            let shown: Vec<String> = part
                .iter()
                .take(40)
                .map(|&i| format!("{:?}", ops[i]))
                .collect();
            Err(Failure::new(
                "linearizable",
                format!(
                    "no linearization of {} operations on one key: {}",
                    part.len(),
                    shown.join("; ")
                ),
            ))
        }
        Verdict::Unknown => Err(Failure::new(
            "linearizable",
            "the checker ran out of its step budget",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(events: &[(u32, RaftEvent)]) -> Result<(), Failure> {
        let mut obs = Observed::default();
        for (i, (node, e)) in events.iter().enumerate() {
            obs.on_event(Time(i as u64), Addr(*node), &Event::Raft(e.clone()))?;
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
        let mut obs = Observed::default();
        let put = KvInput::Put {
            key: "k".into(),
            value: "1".into(),
        };
        let get = KvInput::Get { key: "k".into() };
        let ev = |e| Event::Client(e);
        obs.on_event(
            Time(0),
            Addr(5),
            &ev(ClientEvent::Invoke {
                client: 5,
                seq: 1,
                op: put,
            }),
        )
        .unwrap();
        obs.on_event(
            Time(5),
            Addr(5),
            &ev(ClientEvent::Return {
                client: 5,
                seq: 1,
                output: KvOutput::Done,
            }),
        )
        .unwrap();
        obs.on_event(
            Time(9),
            Addr(6),
            &ev(ClientEvent::Invoke {
                client: 6,
                seq: 1,
                op: get,
            }),
        )
        .unwrap();
        let stale = ClientEvent::Return {
            client: 6,
            seq: 1,
            output: KvOutput::Value(String::new()),
        };
        obs.on_event(Time(12), Addr(6), &ev(stale.clone())).unwrap();
        assert_eq!(obs.pending_before(Time(100)), vec![]);
        assert_eq!(
            check_linearizable(&obs).unwrap_err().invariant,
            "linearizable"
        );
        assert_eq!(
            obs.on_event(Time(13), Addr(6), &ev(stale))
                .unwrap_err()
                .invariant,
            "return-once"
        );
    }
}
