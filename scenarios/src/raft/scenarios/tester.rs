//! The course tester's helpers over a running world (SPEC.md §3, §10): connect and
//! disconnect servers, find the one leader, propose and wait for agreement (`one`), count
//! RPCs. The course's tests are written with these, and so are ours; time advances only
//! through [`Tester::run_for`], which checks the logs every 250 ms on the way.

use crate::raft::invariants::{
    self, AGREEMENT, LEADER_ELECTED, NO_LEADER, ONE_LEADER_PER_TERM, SAME_COMMAND_PER_INDEX,
    TERMS_AGREE,
};
use crate::raft::nodes::RaftNode;
use crate::raft::world::RpcCounts;
use faultline::harness::run_checked;
use faultline::{Addr, Fault, Halt, Invariant, Time, World};
use raft::Role;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

/// How often the log checks run while a scenario advances time.
pub const LOG_CHECK_EVERY: Duration = Duration::from_millis(250);

/// The course tester's `RaftElectionTimeout`.
pub const ELECTION_TIMEOUT: Duration = Duration::from_millis(1000);

/// A script stops at the first failure: a checker's or its own.
pub type Step<T> = Result<T, Halt>;

/// The tester's view of a world of `n` servers (nodes `0..n`).
pub struct Tester<'w> {
    pub world: &'w mut World<RaftNode>,
    n: u32,
    pub rpcs: Rc<RpcCounts>,
    disconnected: BTreeSet<u32>,
}

impl<'w> Tester<'w> {
    pub fn new(world: &'w mut World<RaftNode>, n: u32, rpcs: Rc<RpcCounts>) -> Tester<'w> {
        Tester {
            world,
            n,
            rpcs,
            disconnected: BTreeSet::new(),
        }
    }

    pub fn n(&self) -> u32 {
        self.n
    }

    pub fn now(&self) -> Time {
        self.world.now()
    }

    /// `invariant` failed now.
    pub fn fail(&self, invariant: Invariant, detail: impl Into<String>) -> Halt {
        Halt {
            at: self.world.now(),
            failure: invariant.fail(detail),
        }
    }

    /// Advance virtual time by `d`, checking the logs along the way.
    pub fn run_for(&mut self, d: Duration) -> Step<()> {
        let until = self.world.now() + d;
        let n = self.n;
        run_checked(self.world, until, LOG_CHECK_EVERY, |w| {
            invariants::check_logs(w, n)
        })
    }

    /// Cut server `i` off from everyone (the course's `disconnect`).
    pub fn disconnect(&mut self, i: u32) {
        self.disconnected.insert(i);
        self.apply_connectivity();
    }

    /// Undo [`Tester::disconnect`] for server `i`.
    pub fn connect(&mut self, i: u32) {
        self.disconnected.remove(&i);
        self.apply_connectivity();
    }

    pub fn is_connected(&self, i: u32) -> bool {
        !self.disconnected.contains(&i)
    }

    fn apply_connectivity(&mut self) {
        self.world.apply(Fault::Repair);
        if !self.disconnected.is_empty() {
            let group: Vec<u32> = (0..self.world.node_count() as u32)
                .filter(|i| !self.disconnected.contains(i))
                .collect();
            self.world.apply(Fault::Partition {
                groups: vec![group],
            });
        }
    }

    /// Split the nodes into `groups` (nodes in none are cut off from all), replacing any
    /// connectivity set before; [`Tester::disconnect`]'s bookkeeping is left alone.
    pub fn partition(&mut self, groups: Vec<Vec<u32>>) {
        self.world.apply(Fault::Repair);
        self.world.apply(Fault::Partition { groups });
    }

    /// Wait up to `within` for one of `among` to lead a term above `above`; its index.
    pub fn leader_among(&mut self, among: &[u32], above: u64, within: Duration) -> Step<u32> {
        let give_up = self.now() + within;
        while self.now() < give_up {
            self.run_for(Duration::from_millis(50))?;
            let found = among.iter().copied().find(|&i| {
                self.raft(i)
                    .is_some_and(|r| r.role() == Role::Leader && r.term() > above)
            });
            if let Some(i) = found {
                return Ok(i);
            }
        }
        Err(self.fail(
            LEADER_ELECTED,
            format!("none of {among:?} led a term above {above} within {within:?}"),
        ))
    }

    /// The term of server `i` (0 if it is down).
    pub fn term(&self, i: u32) -> u64 {
        self.raft(i).map_or(0, |r| r.term())
    }

    /// Set every link to `link`.
    pub fn set_link(&mut self, link: faultline::LinkFaults) {
        self.world.apply(Fault::Link {
            from: None,
            to: None,
            faults: link,
        });
    }

    /// The Raft state of server `i`, if it is up.
    pub fn raft(&self, i: u32) -> Option<&raft::Raft> {
        self.world
            .node(Addr(i))
            .and_then(|n| n.server())
            .map(|s| s.raft())
    }

    /// Connected, running servers that believe they lead, by term.
    pub fn leaders(&self) -> BTreeMap<u64, Vec<u32>> {
        let mut by_term: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for i in 0..self.n {
            if let Some(r) = self.raft(i) {
                if self.is_connected(i) && r.role() == Role::Leader {
                    by_term.entry(r.term()).or_default().push(i);
                }
            }
        }
        by_term
    }

    /// The course's `checkOneLeader`: poll up to 10 times, 500 ms apart, for a leader among
    /// the connected servers; two leaders in one term fail.
    pub fn check_one_leader(&mut self) -> Step<u32> {
        for _ in 0..10 {
            self.run_for(Duration::from_millis(500))?;
            let leaders = self.leaders();
            if let Some((term, ls)) = leaders.iter().find(|(_, ls)| ls.len() > 1) {
                return Err(self.fail(
                    ONE_LEADER_PER_TERM,
                    format!("term {term} has leaders {ls:?}"),
                ));
            }
            if let Some((_, ls)) = leaders.iter().next_back() {
                return Ok(ls[0]);
            }
        }
        Err(self.fail(
            LEADER_ELECTED,
            "no leader among the connected servers after 5 s",
        ))
    }

    /// The course's `checkNoLeader`: no connected server thinks it leads.
    pub fn check_no_leader(&self) -> Step<()> {
        match self.leaders().into_iter().next_back() {
            None => Ok(()),
            Some((term, ls)) => Err(self.fail(
                NO_LEADER,
                format!("{ls:?} lead term {term} without a majority"),
            )),
        }
    }

    /// The course's `checkTerms`: every connected server agrees on the term.
    pub fn check_terms(&self) -> Step<u64> {
        let terms: BTreeSet<u64> = (0..self.n)
            .filter(|&i| self.is_connected(i))
            .filter_map(|i| self.raft(i).map(|r| r.term()))
            .collect();
        match terms.len() {
            1 => Ok(*terms.iter().next().expect("one term")),
            _ => Err(self.fail(
                TERMS_AGREE,
                format!("connected servers disagree on the term: {terms:?}"),
            )),
        }
    }

    /// Propose raw command `cmd` at server `i` (the course's `PutCommand`).
    pub fn propose(&mut self, i: u32, cmd: u64) -> Option<(u64, u64)> {
        self.world
            .with_node(Addr(i), |node, ctx| {
                node.server_mut().and_then(|s| s.propose_raw(ctx, cmd))
            })
            .flatten()
    }

    /// How many servers have committed `index`, and the raw command there. Servers that
    /// committed different commands at one index fail.
    pub fn n_committed(&self, index: u64) -> Step<(usize, Option<u64>)> {
        let mut count = 0;
        let mut cmd: Option<Vec<u8>> = None;
        for i in 0..self.n {
            let Some(r) = self.raft(i) else { continue };
            if r.commit_index() < index {
                continue;
            }
            let Some(here) = r.log().entry(index).map(|e| e.command.clone()) else {
                count += 1; // compacted into a snapshot, so committed
                continue;
            };
            if let Some(c) = &cmd {
                if *c != here {
                    return Err(self.fail(
                        SAME_COMMAND_PER_INDEX,
                        format!("servers committed different commands at {index}"),
                    ));
                }
            }
            cmd = Some(here);
            count += 1;
        }
        let raw = cmd.and_then(|c| match raft::kv::Command::decode(&c) {
            Some(raft::kv::Command::Raw(n)) => Some(n),
            _ => None,
        });
        Ok((count, raw))
    }

    /// The course's `one(cmd, expected, retry)`: offer `cmd` to connected servers until a
    /// leader takes it, then wait up to 2 s for `expected` servers to commit it; give up
    /// after 10 s. Returns the index.
    pub fn one(&mut self, cmd: u64, expected: usize, retry: bool) -> Step<u64> {
        let give_up = self.now() + Duration::from_secs(10);
        let mut start = 0;
        while self.now() < give_up {
            let mut index = None;
            for k in 0..self.n {
                let i = (start + k) % self.n;
                if self.is_connected(i) {
                    if let Some((ix, _)) = self.propose(i, cmd) {
                        index = Some(ix);
                        break;
                    }
                }
            }
            start = (start + 1) % self.n;
            if let Some(index) = index {
                let wait_until = self.now() + Duration::from_secs(2);
                while self.now() < wait_until {
                    let (count, got) = self.n_committed(index)?;
                    if count > 0 && count >= expected && got == Some(cmd) {
                        return Ok(index);
                    }
                    self.run_for(Duration::from_millis(20))?;
                }
                if !retry {
                    return Err(self.fail(
                        AGREEMENT,
                        format!("cmd {cmd} at index {index} did not reach {expected} servers"),
                    ));
                }
            } else {
                self.run_for(Duration::from_millis(50))?;
            }
        }
        Err(self.fail(AGREEMENT, format!("cmd {cmd} reached no agreement in 10 s")))
    }

    /// Crash server `i` (it loses what it did not sync).
    pub fn crash(&mut self, i: u32) {
        self.world.apply(Fault::Crash { node: i });
    }

    /// Restart a crashed server `i` from its storage.
    pub fn restart(&mut self, i: u32) {
        self.world.apply(Fault::Restart { node: i });
    }

    pub fn is_up(&self, i: u32) -> bool {
        self.world.is_up(Addr(i))
    }

    /// Raft starts and restarts the checker has seen.
    pub fn starts(&self) -> u64 {
        invariants::state::checker(self.world).starts
    }
}
