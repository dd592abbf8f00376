//! Building a simulated miner world: the server at node 0, then miners of given hash rates
//! (some joining late), then clients that each send one request at a given time, and the
//! invariant checker (systems/miner/SPEC.md §9, §11).

use super::invariants::MinerChecker;
use super::nodes::{DelayedClient, MinerSimNode, SupervisedMiner};
use faultline::harness::RunSpec;
use faultline::{Addr, Time, World};
use miner::{scheduler, ClientNode, ServerNode};
use std::time::Duration;

/// LSP parameters for simulated runs (SPEC.md §8): 100 ms epochs (a connection is lost
/// after 0.5 s of silence), a window of 8 messages.
pub fn sim_params() -> lsp::Params {
    lsp::Params::new(5, 100, 8, 0, 8)
}

/// A restarted miner or client waits this long before connecting, so the server has
/// dropped its previous incarnation's connection (same address; see [`super::nodes`]):
/// K + 2 epochs. A miner program that shut down is started again after as long.
pub fn restart_delay() -> Duration {
    let p = sim_params();
    p.epoch() * (p.epoch_limit + 2)
}

/// One world's cast.
#[derive(Clone, Debug)]
pub struct Setup {
    /// (hash rate in nonces per second, join time).
    pub miners: Vec<(u64, Time)>,
    /// (message, max nonce, start time).
    pub clients: Vec<(String, u64, Time)>,
}

impl Setup {
    /// Nodes in the world: the server, the miners, the clients.
    pub fn node_count(&self) -> u32 {
        (1 + self.miners.len() + self.clients.len()) as u32
    }

    /// The sum of the miners' hash rates.
    pub fn total_rate(&self) -> u64 {
        self.miners.iter().map(|m| m.0).sum()
    }
}

/// A built world with the addresses of its roles; its checker is a [`MinerChecker`].
pub struct Built {
    pub world: World<MinerSimNode>,
    pub miners: Vec<Addr>,
    pub clients: Vec<Addr>,
}

/// Build the world of `setup`: server at node 0, then miners, then clients.
pub fn build(spec: &RunSpec, setup: &Setup) -> Built {
    let mut world: World<MinerSimNode> = World::new(spec.seed);
    let params = lsp::Params {
        bugs: crate::bugs::lsp(spec),
        ..sim_params()
    };
    let cfg = scheduler::Config {
        bugs: crate::bugs::miner(spec),
        ..scheduler::Config::default()
    };
    let miner_bugs = cfg.bugs;
    let server = world.add_node(move |_| ServerNode::new(params, cfg.clone()).into());
    let mut miners = Vec::new();
    for &(rate, join) in &setup.miners {
        let mut incarnation = 0;
        miners.push(world.add_node_at(join, move |_| {
            incarnation += 1;
            let node =
                SupervisedMiner::new(server, params, rate, restart_delay()).with_bugs(miner_bugs);
            match incarnation {
                1 => node.into(),
                _ => node.delayed(restart_delay()).into(),
            }
        }));
    }
    let mut clients = Vec::new();
    for (data, upper, start) in setup.clients.iter().cloned() {
        let mut incarnation = 0;
        clients.push(world.add_node_at(start, move |_| {
            incarnation += 1;
            let program = ClientNode::new(server, params, data.clone(), upper);
            let delay = (incarnation > 1).then(restart_delay);
            DelayedClient::new(program, delay).into()
        }));
    }
    world.set_checker(MinerChecker::default());
    Built {
        world,
        miners,
        clients,
    }
}

/// The checker of a world built by [`build`].
pub fn checker(world: &World<MinerSimNode>) -> &MinerChecker {
    world
        .checker::<MinerChecker>()
        .expect("a miner world holds a MinerChecker")
}

/// Miners running now: up, started and still connected.
pub fn live_miners(world: &World<MinerSimNode>, miners: &[Addr]) -> usize {
    miners
        .iter()
        .filter(|&&a| {
            world
                .node(a)
                .and_then(|n| n.kind::<SupervisedMiner>())
                .and_then(|m| m.worker())
                .is_some_and(|w| !w.is_stopped())
        })
        .count()
}
