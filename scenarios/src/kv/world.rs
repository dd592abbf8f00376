//! A kv world under construction: the server is node 0, clients follow; the checker is
//! the world's own. Also the figures every kv run reports.

use super::invariants::{EndChecks, KvChecker};
use super::nodes::{ClientConfig, KvNode, Reading};
use faultline::harness::{drive, Report, RunSpec};
use faultline::swarm::FaultProfile;
use faultline::{Addr, Failure, Time, World};
use serde_json::json;

/// The world of one kv run.
pub struct KvWorld {
    pub world: World<KvNode>,
    /// The server's address (node 0).
    pub server: Addr,
    /// Every client added, in order.
    pub clients: Vec<Addr>,
}

impl KvWorld {
    /// A world holding the server and its [`KvChecker`].
    pub fn new(spec: &RunSpec) -> KvWorld {
        let mut world: World<KvNode> = World::new(spec.seed);
        let bugs = crate::bugs::kv(spec);
        let server = world.add_node(move |_| KvNode::server(bugs));
        world.set_checker(KvChecker::new(server));
        KvWorld {
            world,
            server,
            clients: Vec::new(),
        }
    }

    /// A client that starts at `at` (and again, from its config, after a restart).
    pub fn add_client(&mut self, at: Time, cfg: ClientConfig) -> Addr {
        let addr = self
            .world
            .add_node_at(at, move |_| KvNode::client(cfg.clone()));
        self.clients.push(addr);
        addr
    }

    /// Every node index, for a fault profile.
    pub fn node_ids(&self) -> Vec<u32> {
        (0..self.world.node_count() as u32).collect()
    }

    /// At `at`, have the server record its counts, which must then be `expected` (active,
    /// dropped). Probes are asked for in the order of their times.
    pub fn probe_counts(&mut self, at: Time, label: String, expected: (u64, u64)) {
        checker_mut(&mut self.world).expect_counts(label, expected);
        self.world
            .call_at(at, self.server, |node, ctx| node.record_counts(ctx));
    }

    /// Run under `profile` (or the spec's schedule), then the shared end checks, then
    /// `extra` (given the clients); fill the report's figures.
    pub fn run(
        self,
        name: &str,
        spec: &RunSpec,
        profile: &FaultProfile,
        checks: EndChecks,
        extra: impl FnOnce(&World<KvNode>, &[Addr]) -> Result<(), Failure>,
    ) -> Result<Report, String> {
        let KvWorld {
            world,
            server,
            clients,
        } = self;
        let (mut report, world) = drive(name, spec, profile, world, |world| {
            checks.run(world, server, &clients)?;
            extra(world, &clients)
        })?;
        figures(&world, &clients, &mut report.metrics);
        Ok(report)
    }
}

/// The checker of a kv world (every [`KvWorld`] holds one).
pub fn checker(world: &World<KvNode>) -> &KvChecker {
    world.checker().expect("a kv world holds a KvChecker")
}

/// The checker of a kv world, mutably.
pub fn checker_mut(world: &mut World<KvNode>) -> &mut KvChecker {
    world.checker_mut().expect("a kv world holds a KvChecker")
}

/// Get latencies of every client that reads normally, sorted.
pub fn latencies(world: &World<KvNode>, clients: &[Addr]) -> Vec<u64> {
    latencies_of(|a| world.node(a), clients)
}

/// [`latencies`] over the nodes `node` looks up (in a world, or another simulator).
pub fn latencies_of<'a>(node: impl Fn(Addr) -> Option<&'a KvNode>, clients: &[Addr]) -> Vec<u64> {
    let mut all: Vec<u64> = clients
        .iter()
        .filter_map(|&a| node(a).and_then(KvNode::as_client))
        .filter(|c| c.config().reading == Reading::Normal)
        .flat_map(|c| c.stats().get_latencies_ns.iter().copied())
        .collect();
    all.sort_unstable();
    all
}

/// The `p` quantile (0..=1) of sorted figures; 0 if there are none.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The report's figures: what the checker counted, and the fast clients' Get latencies.
fn figures(
    world: &World<KvNode>,
    clients: &[Addr],
    m: &mut serde_json::Map<String, serde_json::Value>,
) {
    let s = &checker(world).stats;
    m.insert("ops_applied".into(), json!(s.applied));
    m.insert("gets".into(), json!(s.gets));
    m.insert(
        "replies_sent_or_queued".into(),
        json!(s.replies_sent_or_queued),
    );
    m.insert("replies_dropped".into(), json!(s.replies_dropped));
    let reached: &[&str] = match s.replies_dropped > 0 {
        true => &["full-queue-drop"],
        false => &[],
    };
    m.insert(faultline::harness::REACHED.into(), json!(reached));
    m.insert("replies_delivered".into(), json!(s.replies_delivered));
    m.insert("max_queue_len".into(), json!(s.max_queue_len));
    m.insert("connects".into(), json!(s.joins));
    m.insert("disconnects".into(), json!(s.leaves));
    m.insert("malformed".into(), json!(s.malformed));
    let lat = latencies(world, clients);
    m.insert("fast_get_count".into(), json!(lat.len()));
    m.insert(
        "fast_get_p50_us".into(),
        json!(percentile(&lat, 0.5) / 1000),
    );
    m.insert(
        "fast_get_p99_us".into(),
        json!(percentile(&lat, 0.99) / 1000),
    );
    m.insert(
        "fast_get_max_us".into(),
        json!(lat.last().copied().unwrap_or(0) / 1000),
    );
    let slow_received: Vec<u64> = clients
        .iter()
        .filter_map(|&a| world.node(a).and_then(KvNode::as_client))
        .filter(|c| c.config().reading != Reading::Normal)
        .map(|c| c.stats().replies_received)
        .collect();
    if !slow_received.is_empty() {
        m.insert("slow_replies_received".into(), json!(slow_received));
    }
}
