//! Building a simulated Raft world: `n` servers (nodes `0..n`) on a clean 1–2 ms network,
//! the invariant checker, an RPC counter, and optionally workload clients after the servers.

use super::invariants::RaftChecker;
use super::nodes::{RaftNode, Workload, WorkloadClient};
use faultline::swarm::FaultProfile;
use faultline::{Addr, LinkFaults, World};
use raft::msg::Msg;
use raft::{Config, Event, KvServer, RaftEvent};
use std::cell::Cell;
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

/// `n` servers with `cfg`, the checker and the RPC counter, no clients yet.
pub fn cluster(seed: u64, n: u32, cfg: Config) -> Cluster {
    let mut world = World::new(seed);
    world.set_base_link(clean_link());
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
