//! Building a simulated Raft world: `n` servers (nodes `0..n`) on a clean 1–2 ms network,
//! the invariant checker, an RPC counter, and optionally workload clients after the servers.

use super::invariants::RaftChecker;
use super::nodes::{RaftNode, Workload, WorkloadClient};
use faultline::harness::{Param, RunSpec};
use faultline::swarm::FaultProfile;
use faultline::{Addr, LinkFaults, World};
use raft::msg::Msg;
use raft::{Config, Event, KvServer, RaftEvent};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// The network when no fault is on: 1–2 ms latency, nothing lost.
pub fn clean_link() -> LinkFaults {
    LinkFaults::clean(1_000_000, 2_000_000)
}

/// Raft RPC requests sent to servers, by kind, counted as they leave their sender (the
/// course's RPC count, SPEC.md §10).
#[derive(Debug, Default)]
pub struct RpcCounts {
    pub vote_requests: Cell<u64>,
    pub appends: Cell<u64>,
    /// AppendEntries refused for a log mismatch (each is one back-up step, SPEC.md §6).
    pub mismatches: Cell<u64>,
}

impl RpcCounts {
    /// RequestVote and AppendEntries requests.
    pub fn requests(&self) -> u64 {
        self.vote_requests.get() + self.appends.get()
    }

    fn count(&self, data: &[u8]) {
        let bump = |c: &Cell<u64>| c.set(c.get() + 1);
        match Msg::decode(data) {
            Some(Msg::RequestVote { .. }) => bump(&self.vote_requests),
            Some(Msg::AppendEntries { .. }) => bump(&self.appends),
            Some(Msg::AppendReply {
                success: false,
                conflict: Some(_),
                ..
            }) => bump(&self.mismatches),
            _ => {}
        }
    }
}

/// A built world and what a scenario needs to drive it.
pub struct Cluster {
    pub world: World<RaftNode>,
    /// Servers are nodes `0..servers`.
    pub servers: u32,
    /// Clients, after the servers.
    pub clients: Vec<Addr>,
    /// Read by the RPC-count scenarios; the world's datagram sniffer writes it.
    pub rpcs: Rc<RpcCounts>,
}

/// What `--set` may change in any Raft scenario: the servers' timing (election range and
/// heartbeat, in ms) and the clean network's latency range (in µs).
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    pub cfg: Config,
    pub link: LinkFaults,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            cfg: Config::default(),
            link: clean_link(),
        }
    }
}

impl Timing {
    /// The parameters, with this timing as their defaults.
    pub fn params(&self) -> Vec<Param> {
        let ms = |d: Duration| d.as_millis() as u64;
        vec![
            Param::setting(
                "election_min",
                "shortest election timeout, ms (`--set election=A..B` sets both)",
                ms(self.cfg.election_min),
                1,
            ),
            Param::setting(
                "election_max",
                "longest election timeout, ms",
                ms(self.cfg.election_max),
                1,
            ),
            Param::setting(
                "heartbeat",
                "leader heartbeat interval, ms",
                ms(self.cfg.heartbeat),
                1,
            ),
            Param::setting(
                "latency_min",
                "shortest one-way latency of the clean network, µs (`--set latency=A..B`)",
                self.link.latency_min_ns / 1000,
                0,
            ),
            Param::setting(
                "latency_max",
                "longest one-way latency of the clean network, µs",
                self.link.latency_max_ns / 1000,
                0,
            ),
        ]
    }

    /// This timing with the parameters set in `params` over it; an error if it cannot work.
    pub fn with(&self, params: &BTreeMap<String, u64>) -> Result<Timing, String> {
        let get = |name: &str, default: u64| params.get(name).copied().unwrap_or(default);
        let ms = |name: &str, d: Duration| Duration::from_millis(get(name, d.as_millis() as u64));
        let cfg = Config {
            election_min: ms("election_min", self.cfg.election_min),
            election_max: ms("election_max", self.cfg.election_max),
            heartbeat: ms("heartbeat", self.cfg.heartbeat),
            ..self.cfg.clone()
        };
        cfg.validate()?;
        let (lo, hi) = (
            get("latency_min", self.link.latency_min_ns / 1000).saturating_mul(1000),
            get("latency_max", self.link.latency_max_ns / 1000).saturating_mul(1000),
        );
        if lo > hi {
            return Err(format!(
                "latency range {lo} ns..{hi} ns ends before it starts"
            ));
        }
        let link = LinkFaults {
            latency_min_ns: lo,
            latency_max_ns: hi,
            ..self.link.clone()
        };
        Ok(Timing { cfg, link })
    }
}

/// `n` servers with `cfg`, the checker and the RPC counter, no clients yet.
pub fn cluster(seed: u64, n: u32, cfg: Config) -> Cluster {
    cluster_on(seed, n, cfg, clean_link())
}

/// [`cluster`] on a network whose clean links are `link`.
pub fn cluster_on(seed: u64, n: u32, cfg: Config, link: LinkFaults) -> Cluster {
    let mut world = World::new(seed);
    world.set_base_link(link);
    let peers = server_addrs(n);
    for i in 0..n {
        let (cfg, peers) = (cfg.clone(), peers.clone());
        let addr = world.add_node(move |_| KvServer::new(cfg.clone(), i, peers.clone()).into());
        assert_eq!(addr, Addr(i), "servers are the first nodes");
    }
    world.set_checker(RaftChecker::default());
    world.set_history_labels(label);
    let rpcs = Rc::new(RpcCounts::default());
    let counts = rpcs.clone();
    world.set_middlebox(move |_, _, to, data| {
        if to.0 < n {
            counts.count(data);
        }
        true
    });
    Cluster {
        world,
        servers: n,
        clients: Vec::new(),
        rpcs,
    }
}

impl Cluster {
    /// Add `m` clients, each running `workload` from the start.
    pub fn add_clients(&mut self, m: u32, workload: &Workload) {
        for _ in 0..m {
            let (servers, w) = (server_addrs(self.servers), workload.clone());
            let addr = self.world.add_node(move |a| {
                WorkloadClient::new(a.0 as u64, servers.clone(), w.clone()).into()
            });
            self.clients.push(addr);
        }
    }
}

/// Trigger labels of the Raft events (see `faultline::Trigger`): `vote_granted` (a server
/// voted for another), `became_leader`.
pub const TRIGGER_LABELS: &[&str] = &["vote_granted", "became_leader"];

fn label(node: Addr, event: &Event) -> Option<&'static str> {
    match event {
        Event::Raft(RaftEvent::Voted { candidate, .. }) if *candidate != node.0 => {
            Some("vote_granted")
        }
        Event::Raft(RaftEvent::BecameLeader { .. }) => Some("became_leader"),
        _ => None,
    }
}

/// The addresses of servers `0..n`.
pub fn server_addrs(n: u32) -> Vec<Addr> {
    (0..n).map(Addr).collect()
}

/// A profile for a world of `nodes` nodes on the clean network; its kinds of faults are the
/// scenario's to set.
pub fn profile(nodes: u32, fault_phase: Duration, heal_phase: Duration) -> FaultProfile {
    let mut p = FaultProfile::new((0..nodes).collect(), fault_phase, heal_phase);
    p.base_link = clean_link();
    p
}

/// What a scripted scenario (one that makes its own faults) starts from: the cluster of `n`
/// servers under `timing`, the spec with an empty schedule unless one was given (it runs
/// alongside the script), and the profile on the same network.
pub fn scripted(spec: &RunSpec, n: u32, timing: &Timing) -> (Cluster, RunSpec, FaultProfile) {
    let cluster = cluster_on(spec.seed, n, timing.cfg.clone(), timing.link.clone());
    let spec = RunSpec {
        schedule: Some(
            spec.schedule
                .clone()
                .unwrap_or(faultline::Schedule::quiet(0, 0)),
        ),
        ..spec.clone()
    };
    let mut profile = profile(n, Duration::ZERO, Duration::ZERO);
    profile.base_link = timing.link.clone();
    (cluster, spec, profile)
}
