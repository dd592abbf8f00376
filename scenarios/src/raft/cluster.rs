//! A simulated Raft cluster and the tester's helpers of the course (spec "P2 — Raft",
//! "Public tests"): connect / disconnect servers, find the one leader, propose and wait for
//! agreement (`one`), count RPCs. Scenarios are written with these, as the course's tests
//! are, and every run is checked by the continuous safety checker of [`super::checks`].

use super::checks::{self, Observed};
use faultline::harness::{Report, RunSpec};
use faultline::{Addr, Failure, Fault, Halt, LinkFaults, Schedule, Time, World};
use raft::msg::Msg;
use raft::{ClientConfig, Config, KvClient, KvServer, RaftKvNode, Role, Workload};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

/// How often the log-matching checks run while a scenario advances time.
const LOG_CHECK_EVERY: Duration = Duration::from_millis(250);

/// The course tester's `RaftElectionTimeout`.
pub const ELECTION_TIMEOUT: Duration = Duration::from_millis(1000);

/// Raft RPC requests sent, by kind (the course's `rpcCount` counts requests a server gets).
#[derive(Debug, Default)]
pub struct RpcCounts {
    pub vote_requests: Cell<u64>,
    pub appends: Cell<u64>,
    /// AppendEntries refused for a log mismatch (each is one back-up step).
    pub mismatches: Cell<u64>,
}

impl RpcCounts {
    pub fn requests(&self) -> u64 {
        self.vote_requests.get() + self.appends.get()
    }
}

/// A run stops at the first failure: a checker's or the script's own.
pub type Step<T> = Result<T, Halt>;

/// A world of Raft servers (nodes 0..n) and key-value clients (after them).
pub struct Cluster {
    pub world: World<RaftKvNode>,
    pub servers: Vec<Addr>,
    pub clients: Vec<Addr>,
    pub observed: Rc<RefCell<Observed>>,
    pub rpcs: Rc<RpcCounts>,
    disconnected: BTreeSet<u32>,
    next_log_check: Time,
}

impl Cluster {
    /// `n` servers with `cfg` on a clean network of 1–2 ms latency.
    pub fn new(seed: u64, n: u32, cfg: Config) -> Cluster {
        let mut world = World::new(seed);
        world.set_base_link(LinkFaults::clean(1_000_000, 2_000_000));
        let servers: Vec<Addr> = (0..n).map(Addr).collect();
        for i in 0..n {
            let (cfg, peers) = (cfg.clone(), servers.clone());
            let addr = world.add_node(move |_| {
                RaftKvNode::Server(KvServer::new(cfg.clone(), i, peers.clone()))
            });
            assert_eq!(addr, Addr(i), "servers are the first nodes");
        }
        let observed = Rc::new(RefCell::new(Observed::default()));
        world.set_checker(checks::checker(observed.clone()));
        let rpcs = Rc::new(RpcCounts::default());
        let counts = rpcs.clone();
        world.set_middlebox(move |_, _, to, data| {
            if to.0 < n {
                match Msg::decode(data) {
                    Some(Msg::RequestVote { .. }) => {
                        counts.vote_requests.set(counts.vote_requests.get() + 1)
                    }
                    Some(Msg::AppendEntries { .. }) => counts.appends.set(counts.appends.get() + 1),
                    Some(Msg::AppendReply {
                        success: false,
                        conflict: Some(_),
                        ..
                    }) => counts.mismatches.set(counts.mismatches.get() + 1),
                    _ => {}
                }
            }
            true
        });
        Cluster {
            world,
            servers,
            clients: Vec::new(),
            observed,
            rpcs,
            disconnected: BTreeSet::new(),
            next_log_check: Time::ZERO,
        }
    }

    /// Add `m` clients; with a workload each runs it from the start.
    pub fn add_clients(&mut self, m: u32, workload: Option<Workload>) {
        for _ in 0..m {
            let (servers, w) = (self.servers.clone(), workload.clone());
            let addr = self.world.add_node(move |a| {
                RaftKvNode::Client(KvClient::new(
                    a.0 as u64,
                    ClientConfig::default(),
                    servers.clone(),
                    w.clone(),
                ))
            });
            self.clients.push(addr);
        }
    }

    pub fn n(&self) -> u32 {
        self.servers.len() as u32
    }

    pub fn now(&self) -> Time {
        self.world.now()
    }

    /// A failure of the script at the current time.
    pub fn fail(&self, invariant: &str, detail: impl Into<String>) -> Halt {
        Halt {
            at: self.world.now(),
            failure: Failure::new(invariant, detail),
        }
    }

    /// Advance virtual time by `d`, checking the logs along the way.
    pub fn run_for(&mut self, d: Duration) -> Step<()> {
        let until = self.world.now() + d;
        while self.world.now() < until {
            let step = until.min(
                self.next_log_check
                    .max(self.world.now() + Duration::from_millis(1)),
            );
            self.world.run_until(step)?;
            if self.world.now() >= self.next_log_check {
                self.check_logs()?;
                self.next_log_check = self.world.now() + LOG_CHECK_EVERY;
            }
        }
        Ok(())
    }

    /// Log matching and committed-prefix checks now.
    pub fn check_logs(&self) -> Step<()> {
        checks::check_logs(&self.world, &self.servers, &self.observed.borrow()).map_err(|failure| {
            Halt {
                at: self.world.now(),
                failure,
            }
        })
    }

    /// Cut server `i` off from everyone (the course's `disconnect`).
    pub fn disconnect(&mut self, i: u32) {
        self.disconnected.insert(i);
        self.apply_connectivity();
    }

    /// Undo [`Cluster::disconnect`] for server `i`.
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
        for i in 0..self.n() {
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
                    "one-leader-per-term",
                    format!("term {term} has leaders {ls:?}"),
                ));
            }
            if let Some((_, ls)) = leaders.iter().next_back() {
                return Ok(ls[0]);
            }
        }
        Err(self.fail(
            "leader-elected",
            "no leader among the connected servers after 5 s",
        ))
    }

    /// The course's `checkNoLeader`: no connected server thinks it leads.
    pub fn check_no_leader(&self) -> Step<()> {
        match self.leaders().into_iter().next_back() {
            None => Ok(()),
            Some((term, ls)) => Err(self.fail(
                "no-leader",
                format!("{ls:?} lead term {term} without a majority"),
            )),
        }
    }

    /// The course's `checkTerms`: every connected server agrees on the term.
    pub fn check_terms(&self) -> Step<u64> {
        let terms: BTreeSet<u64> = (0..self.n())
            .filter(|&i| self.is_connected(i))
            .filter_map(|i| self.raft(i).map(|r| r.term()))
            .collect();
        match terms.len() {
            1 => Ok(*terms.iter().next().expect("one term")),
            _ => Err(self.fail(
                "terms-agree",
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
        for i in 0..self.n() {
            let Some(r) = self.raft(i) else { continue };
            if r.commit_index() < index {
                continue;
            }
            let here = r.log()[index as usize - 1].command.clone();
            if let Some(c) = &cmd {
                if *c != here {
                    return Err(self.fail(
                        "same-command-per-index",
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
            for k in 0..self.n() {
                let i = (start + k) % self.n();
                if self.is_connected(i) {
                    if let Some((ix, _)) = self.propose(i, cmd) {
                        index = Some(ix);
                        break;
                    }
                }
            }
            start = (start + 1) % self.n();
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
                        "agreement",
                        format!("cmd {cmd} at index {index} did not reach {expected} servers"),
                    ));
                }
            } else {
                self.run_for(Duration::from_millis(50))?;
            }
        }
        Err(self.fail(
            "agreement",
            format!("cmd {cmd} reached no agreement in 10 s"),
        ))
    }

    /// Crash server `i` (it loses what it did not sync).
    pub fn crash(&mut self, i: u32) {
        self.world.apply(Fault::Crash { node: i });
    }

    /// Restart a crashed server `i` from its storage.
    pub fn restart(&mut self, i: u32) {
        self.world.apply(Fault::Restart { node: i });
    }

    /// Whether every client finished its workload.
    pub fn clients_done(&self) -> bool {
        self.clients.iter().all(|&c| {
            self.world
                .node(c)
                .and_then(|n| n.client())
                .is_some_and(|c| c.workload_done())
        })
    }

    /// End checks of every key-value run: the logs, then linearizability.
    pub fn end_checks(&self) -> Step<()> {
        self.check_logs()?;
        checks::check_linearizable(&self.observed.borrow()).map_err(|failure| Halt {
            at: self.world.now(),
            failure,
        })
    }

    /// Give the world what the spec asks of every run: its budget and trace log.
    pub fn trace_to(&mut self, spec: &RunSpec) -> Result<(), String> {
        spec.prepare(&mut self.world)
    }

    /// The report of a finished run.
    pub fn report(
        &mut self,
        scenario: &str,
        spec: &RunSpec,
        faults: Schedule,
        outcome: Step<()>,
        mut metrics: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Report, String> {
        let mut report =
            faultline::harness::finish(scenario, spec, &mut self.world, faults, outcome)?;
        let obs = self.observed.borrow();
        metrics.insert("terms".into(), obs.leaders.len().into());
        metrics.insert("committed".into(), obs.applied.len().into());
        metrics.insert("client_ops".into(), obs.ops.len().into());
        metrics.insert(
            "client_ops_returned".into(),
            obs.ops.values().filter(|o| o.ret.is_some()).count().into(),
        );
        metrics.insert("rpc_requests".into(), self.rpcs.requests().into());
        report.metrics = metrics;
        Ok(report)
    }
}
