//! The checker of every Raft run: it sees each recorded history event and checks Figure 3's
//! safety properties and the clients' bookkeeping as they happen.
//!
//! - election safety: at most one leader per term;
//! - leader completeness: a new leader of term T holds every entry committed in a term
//!   before T (commits are recorded by the leader that makes them);
//! - state machine safety: no two nodes apply different commands at one index;
//! - applies are contiguous: each node applies 1, 2, 3, ... with no gap or repeat (from 1
//!   again after a restart, which replays the log into a fresh state machine, SPEC.md §7);
//! - storage is intact: without storage faults no node finds its durable state damaged
//!   (or cut short) at start; with them ([`RaftChecker::storage_faults`]) a node that
//!   finds damage stays silent from then on, every life, and uses none of it (the other
//!   rules catch what damaged state would do: a vote forgotten breaks one vote per term, an
//!   entry changed breaks state machine safety);
//! - snapshots agree: two snapshots at one index hold the same state and end with the
//!   entry applied there; a snapshot is taken at the apply position, and one installed
//!   from a leader only moves it forward (SPEC.md §13).
//! - Figure 2's rules: a leader commits by counting only an entry of its own term (its log
//!   at election holds only older terms, so what it commits lies past it), and no server
//!   votes for two candidates in one term, whatever restarts in between.
//!
//! It keeps what the scenario reads after the run (leaders by term, what was applied, the
//! clients' operations); the scenario reaches it with `world.checker::<RaftChecker>()`.

use super::state::{input, output};
use super::{
    CLIENT_SEQ_UNIQUE, COMMIT_CURRENT_TERM, CONTIGUOUS_APPLY, LEADER_COMPLETENESS,
    ONE_LEADER_PER_TERM, ONE_VOTE_PER_TERM, RETURN_AFTER_INVOKE, RETURN_ONCE,
    SAME_COMMAND_PER_INDEX, SAME_SNAPSHOT_PER_INDEX, STORAGE_INTACT,
};
use faultline::linearizability::{KvInput, KvOutput, Operation};
use faultline::{Addr, Checker, Failure, Time};
use raft::{ClientEvent, Event, RaftEvent, SnapshotHow};
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
    /// (term, state digest) of the first snapshot seen at each index.
    pub snapshots: BTreeMap<u64, (u64, u64)>,
    /// Snapshots taken, installed from a leader, and loaded at a restart.
    pub snapshots_taken: u64,
    pub snapshots_installed: u64,
    pub snapshots_loaded: u64,
    /// The length of each term's leader's log when it was elected.
    pub elected_log_len: BTreeMap<u64, u64>,
    /// The vote each server granted in each term.
    pub votes: BTreeMap<(Addr, u64), u32>,
    /// Each server's last event was a vote for another (cleared by any other event).
    just_voted: BTreeMap<Addr, bool>,
    /// The first server that stood for election in each term.
    stood: BTreeMap<u64, u32>,
    /// Which of [`super::SOMETIMES`] this run reached.
    pub reached: std::collections::BTreeSet<&'static str>,
    /// Starts seen per node (a restarted node is a new state machine).
    pub starts_of: BTreeMap<Addr, u64>,
    /// The run has a storage fault model (`storage_faults` schedule entries): finding
    /// damage, or a write cut short, is then the simulator's doing, not a bug. The scenario
    /// sets it, and checks at the end that every damaged node's storage was damaged.
    pub storage_faults: bool,
    /// Nodes that found their storage damaged (silent from then on).
    pub damaged: std::collections::BTreeSet<Addr>,
    /// Starts that recovered a write cut short by a crash.
    pub recovered: u64,
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
        if let RaftEvent::BecameFollower { .. } = event {
            // For reports only; invisible here, so "just voted" still means the last event
            // the checkers look at.
            return Ok(());
        }
        let voted_other =
            matches!(event, RaftEvent::Voted { candidate, .. } if *candidate != node.0);
        let just_voted = self.just_voted.insert(node, voted_other).unwrap_or(false);
        if self.damaged.contains(&node) && !matches!(event, RaftEvent::StorageDamaged { .. }) {
            return Err(STORAGE_INTACT.fail(format!(
                "{node} found its storage damaged and then took part again: {event:?}"
            )));
        }
        match event {
            RaftEvent::Started { .. } => {
                if just_voted {
                    self.reached.insert("crash-after-vote");
                }
                if self
                    .last_election()
                    .is_some_and(|(_, leader, _)| leader == node)
                {
                    self.reached.insert("leader-restarted");
                }
                self.starts += 1;
                *self.starts_of.entry(node).or_insert(0) += 1;
                self.apply_pos.insert(node, 0);
            }
            // Without storage faults the simulator damages nothing, so finding damage is a
            // bug in how Raft writes or reads its storage (SPEC.md §7).
            RaftEvent::StorageDamaged { detail } => {
                if !self.storage_faults {
                    return Err(
                        STORAGE_INTACT.fail(format!("{node} found its storage damaged: {detail}"))
                    );
                }
                self.damaged.insert(node);
            }
            RaftEvent::StorageRecovered { detail } => {
                if !self.storage_faults {
                    return Err(STORAGE_INTACT.fail(format!(
                        "{node} found a write cut short with no storage faults: {detail}"
                    )));
                }
                self.recovered += 1;
            }
            RaftEvent::BecameLeader {
                term,
                log_terms,
                snapshot_index,
            } => {
                if let Some((other, _)) = self.leaders.get(term) {
                    return Err(ONE_LEADER_PER_TERM.fail(format!(
                        "{node} and {other} both became leader of term {term}"
                    )));
                }
                let committed = self.committed_in.keys().next_back().copied().unwrap_or(0);
                if log_terms.len() as u64 > committed {
                    self.reached.insert("leader-with-old-uncommitted");
                }
                self.leaders.insert(*term, (node, now));
                self.elected_log_len
                    .insert(*term, *snapshot_index + log_terms.len() as u64);
                self.check_complete(node, *term, log_terms, *snapshot_index)?;
            }
            RaftEvent::Snapshot {
                how,
                index,
                term,
                digest,
            } => self.on_snapshot(node, *how, *index, *term, *digest)?,
            RaftEvent::BecameFollower { .. } => {} // returned above
            RaftEvent::Truncated { .. } => {
                self.reached.insert("suffix-truncated");
            }
            RaftEvent::Voted { term, candidate } => {
                if *candidate == node.0 && *self.stood.entry(*term).or_insert(node.0) != node.0 {
                    self.reached.insert("split-vote");
                }
                match self.votes.insert((node, *term), *candidate) {
                    Some(earlier) if earlier != *candidate => {
                        return Err(ONE_VOTE_PER_TERM.fail(format!(
                            "{node} voted for {earlier} and then for {candidate} in term {term}"
                        )));
                    }
                    _ => {}
                }
            }
            RaftEvent::Committed { term, upto } => {
                if let Some(&len) = self.elected_log_len.get(term) {
                    if *upto <= len {
                        return Err(COMMIT_CURRENT_TERM.fail(format!(
                            "{node}, leader of term {term}, committed index {upto} by counting, \
                             an entry it held from an older term when elected (log of {len})"
                        )));
                    }
                }
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

    /// A snapshot at `index`: it agrees with every other snapshot there and with what was
    /// applied there, and moves the apply position as SPEC.md §13 says.
    fn on_snapshot(
        &mut self,
        node: Addr,
        how: SnapshotHow,
        index: u64,
        term: u64,
        digest: u64,
    ) -> Result<(), Failure> {
        let pos = self.apply_pos.entry(node).or_insert(0);
        match how {
            SnapshotHow::Taken if index != *pos => {
                return Err(CONTIGUOUS_APPLY.fail(format!(
                    "{node} took a snapshot at {index} with {pos} applied"
                )));
            }
            SnapshotHow::Installed | SnapshotHow::Loaded if index <= *pos => {
                return Err(CONTIGUOUS_APPLY.fail(format!(
                    "{node} {how:?} a snapshot at {index} with {pos} applied already"
                )));
            }
            SnapshotHow::Taken => self.snapshots_taken += 1,
            SnapshotHow::Installed => self.snapshots_installed += 1,
            SnapshotHow::Loaded => self.snapshots_loaded += 1,
        }
        *pos = index;
        if let Some((t, _)) = self.applied.get(&index) {
            if *t != term {
                return Err(SAME_SNAPSHOT_PER_INDEX.fail(format!(
                    "{node} holds a snapshot ending at {index} in term {term}; term {t} was applied there"
                )));
            }
        }
        match self.snapshots.get(&index) {
            Some(&(t, d)) if (t, d) != (term, digest) => Err(SAME_SNAPSHOT_PER_INDEX.fail(format!(
                "{node} holds a snapshot at {index} (term {term}, state {digest:016x}); another holds term {t}, state {d:016x}"
            ))),
            Some(_) => Ok(()),
            None => {
                self.snapshots.insert(index, (term, digest));
                Ok(())
            }
        }
    }

    /// Leader completeness: `node`, new leader of `term` with a snapshot up to
    /// `snapshot_index` and after it a log of `log_terms`, holds every entry committed in an
    /// earlier term (those in its snapshot it holds as state).
    fn check_complete(
        &self,
        node: Addr,
        term: u64,
        log_terms: &[u64],
        snapshot_index: u64,
    ) -> Result<(), Failure> {
        for (&index, &commit_term) in self.committed_in.range(snapshot_index + 1..) {
            if commit_term >= term {
                continue;
            }
            let want = self.applied.get(&index).map(|(t, _)| *t);
            let have = log_terms
                .get((index - snapshot_index) as usize - 1)
                .copied();
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
        RaftEvent::BecameLeader {
            term,
            log_terms,
            snapshot_index: 0,
        }
    }
    fn snap(how: SnapshotHow, index: u64, term: u64, digest: u64) -> RaftEvent {
        RaftEvent::Snapshot {
            how,
            index,
            term,
            digest,
        }
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
        let damaged = RaftEvent::StorageDamaged {
            detail: "raft/meta: checksum".into(),
        };
        let mut with_faults = RaftChecker {
            storage_faults: true,
            ..RaftChecker::default()
        };
        let mut feed_faulty = |node: u32, e: &RaftEvent| {
            with_faults.on_event(Time(0), Addr(node), &Event::Raft(e.clone()))
        };
        feed_faulty(0, &damaged).expect("damage the simulator made may be found");
        feed_faulty(0, &damaged).expect("and found again at the next restart");
        assert_eq!(
            feed_faulty(
                0,
                &RaftEvent::Started {
                    term: 0,
                    log_len: 0
                }
            )
            .unwrap_err()
            .invariant,
            "storage-intact",
            "a node that found damage never starts on it"
        );
        feed_faulty(1, &leader(1, vec![])).expect("the other nodes go on");
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
    fn snapshots_are_checked() {
        let started = RaftEvent::Started {
            term: 1,
            log_len: 2,
        };
        let good = [
            (0, applied(1, 1, 7)),
            (0, applied(2, 1, 8)),
            (0, snap(SnapshotHow::Taken, 2, 1, 42)),
            (1, snap(SnapshotHow::Installed, 2, 1, 42)),
            (1, applied(3, 1, 9)),
            (1, started.clone()),
            (1, snap(SnapshotHow::Loaded, 2, 1, 42)),
            (1, applied(3, 1, 9)),
            (
                1,
                RaftEvent::BecameLeader {
                    term: 2,
                    log_terms: vec![1],
                    snapshot_index: 2,
                },
            ),
        ];
        feed(&good).expect("valid");
        let mut other_state = good.to_vec();
        other_state[3] = (1, snap(SnapshotHow::Installed, 2, 1, 43));
        assert_eq!(invariant(feed(&other_state)), "same-snapshot-per-index");
        let mut other_term = good.to_vec();
        other_term[2] = (0, snap(SnapshotHow::Taken, 2, 3, 42));
        assert_eq!(invariant(feed(&other_term)), "same-snapshot-per-index");
        // A snapshot taken ahead of what was applied, or installed behind it.
        assert_eq!(
            invariant(feed(&[
                (0, applied(1, 1, 7)),
                (0, snap(SnapshotHow::Taken, 2, 1, 1))
            ])),
            "contiguous-apply"
        );
        assert_eq!(
            invariant(feed(&[
                (0, applied(1, 1, 7)),
                (0, applied(2, 1, 7)),
                (0, snap(SnapshotHow::Installed, 2, 1, 1))
            ])),
            "contiguous-apply"
        );
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
