//! Building a simulated miner world: the server at node 0, then miners of given hash rates
//! (some joining late), then clients that each send one request at a given time, and the
//! invariant checker (systems/miner/SPEC.md §9, §11).

use super::invariants::MinerChecker;
use super::nodes::{DelayedClient, MinerSimNode, SupervisedMiner};
use faultline::harness::RunSpec;
use faultline::{Addr, Time, World};
use miner::{scheduler, ClientNode, ServerNode};
use std::sync::atomic::{AtomicU32, Ordering};
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

/// A node's factory: it builds the node at its start and again at every restart.
pub type Factory = Box<dyn Fn(Addr) -> MinerSimNode + Send + Sync>;

/// The nodes of a setup, each a factory with its start time.
pub struct Cast {
    pub server: Factory,
    pub miners: Vec<(Time, Factory)>,
    pub clients: Vec<(Time, Factory)>,
}

/// The nodes of `setup` as factories, with their start times: the server (node 0), then
/// the miners, then the clients. Each miner and client counts its incarnations: restarted,
/// it waits [`restart_delay`] before connecting.
pub fn cast(params: lsp::Params, cfg: scheduler::Config, setup: &Setup) -> Cast {
    let server = Addr(0);
    let miner_bugs = cfg.bugs;
    let server_node: Factory = Box::new(move |_| ServerNode::new(params, cfg.clone()).into());
    let miners = setup
        .miners
        .iter()
        .map(|&(rate, join)| {
            let incarnation = AtomicU32::new(0);
            let f: Factory = Box::new(move |_| {
                let node = SupervisedMiner::new(server, params, rate, restart_delay())
                    .with_bugs(miner_bugs);
                match incarnation.fetch_add(1, Ordering::Relaxed) {
                    0 => node.into(),
                    _ => node.delayed(restart_delay()).into(),
                }
            });
            (join, f)
        })
        .collect();
    let clients = setup
        .clients
        .iter()
        .cloned()
        .map(|(data, upper, start)| {
            let incarnation = AtomicU32::new(0);
            let f: Factory = Box::new(move |_| {
                let program = ClientNode::new(server, params, data.clone(), upper);
                let delay = (incarnation.fetch_add(1, Ordering::Relaxed) > 0).then(restart_delay);
                DelayedClient::new(program, delay).into()
            });
            (start, f)
        })
        .collect();
    Cast {
        server: server_node,
        miners,
        clients,
    }
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
    let nodes = cast(params, cfg, setup);
    world.add_node(nodes.server);
    let miners = nodes
        .miners
        .into_iter()
        .map(|(join, f)| world.add_node_at(join, f))
        .collect();
    let clients = nodes
        .clients
        .into_iter()
        .map(|(start, f)| world.add_node_at(start, f))
        .collect();
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
    live_miners_of(|a| world.node(a), miners)
}

/// [`live_miners`] over the nodes `node` looks up (in a world, or another simulator).
pub fn live_miners_of<'a>(
    node: impl Fn(Addr) -> Option<&'a MinerSimNode>,
    miners: &[Addr],
) -> usize {
    miners
        .iter()
        .filter(|&&a| {
            node(a)
                .and_then(|n| n.kind::<SupervisedMiner>())
                .and_then(|m| m.worker())
                .is_some_and(|w| !w.is_stopped())
        })
        .count()
}
