//! The P0 key-value server on madsim (`kv-swarm`): the catalog scenario's server, its 14
//! clients (6 workers with bursts, reconnects and malformed lines, 2 intermittent slow
//! readers, 6 that join during the fault phase and half of which leave), and its
//! invariants: the same [`KvChecker`] on every history event (every Get equals the
//! sequential model, counts exact, queues at most 500, deliveries in order, clients'
//! expectations), its `finish`, and the same end checks after the heal (the store equals
//! the model, every client's namespace applied, every workload done and every reply not
//! dropped delivered, counts true).
//!
//! Faults: the catalog's stream faults as drawn from the seed, restricted to what madsim can
//! express (partitions, one-way cuts, isolation, pauses, client crashes, and the stream
//! delay episodes as whole-network latency); injected stream resets are left out (madsim
//! breaks a connection only when a node is killed, which the client crashes still do).

use crate::drive::run_schedule;
use crate::faults::latency_range;
use crate::lsp::madsim_kinds;
use crate::runtime::{Sim, View};
use crate::MadsimRun;
use faultline::bugs::BugSet;
use faultline::{Addr, Schedule};
use scenarios::kv::invariants::{EndChecks, KvChecker};
use scenarios::kv::nodes::KvNode;
use scenarios::kv::scenarios::Swarm;

/// The scenario's name, as in faultline's catalog.
pub const NAME: &str = "kv-swarm";

/// The server and the clients (node 0, then 1..=14).
const NODES: u32 = 15;

/// The seed's schedule: the catalog's draw over the madsim subset of its faults.
pub fn schedule(seed: u64) -> (Schedule, faultline::LinkFaults) {
    let mut profile = Swarm::profile((0..NODES).collect());
    profile.kinds = madsim_kinds(&profile.kinds);
    (Swarm::schedule(seed, &profile), profile.base_link)
}

/// Run `kv-swarm` with `seed` under `schedule` on the current madsim runtime.
pub async fn drive(seed: u64, schedule: &Schedule, base: faultline::LinkFaults) -> MadsimRun {
    let sim = Sim::<KvNode>::new();
    let server = sim.add_node(|_| KvNode::server(BugSet::NONE));
    sim.set_checker(KvChecker::new(server));
    let mut clients = Vec::new();
    for c in Swarm::clients(seed, server) {
        let cfg = c.cfg;
        let addr = sim.add_node_at(c.join, move |_| KvNode::client(cfg.clone()));
        if let Some(leave) = c.leave {
            sim.call_at(leave, addr, |node, ctx| node.disconnect(ctx));
        }
        clients.push(addr);
    }
    let halt = run_schedule(&sim, schedule, base, |sim| {
        end_checks(sim, server, &clients)
    })
    .await;
    let digest = sim.view(|v| {
        let seen = checker(v);
        crate::raft::digest(&format!("{:?} {:?}", seen.model(), seen.stats))
    });
    MadsimRun {
        halt,
        events: sim.outcome().events,
        digest,
    }
}

fn checker<'a>(v: &'a View<'_, KvNode>) -> &'a KvChecker {
    v.checker::<KvChecker>()
        .expect("a kv run holds a KvChecker")
}

fn end_checks(sim: &Sim<KvNode>, server: Addr, clients: &[Addr]) -> Result<(), faultline::Failure> {
    sim.with_checker::<KvChecker, _>(|c| c.expect("a kv run holds a KvChecker").finish())?;
    let checks = EndChecks {
        settled: true,
        ..EndChecks::default()
    };
    sim.view(|v| checks.check(|a| v.node(a), checker(v), server, clients))
}

/// Run `kv-swarm` with `seed` on a fresh madsim runtime seeded with `seed`.
pub fn run(seed: u64) -> MadsimRun {
    let (schedule, base) = schedule(seed);
    crate::run_on_madsim(seed, latency_range(&base), || async move {
        drive(seed, &schedule, base).await
    })
}

/// madsim's own determinism check of `kv-swarm` under `seed`; the run's digest.
pub fn check_determinism(seed: u64) -> u64 {
    let (_, base) = schedule(seed);
    let mut config = madsim::Config::default();
    config.net.send_latency = latency_range(&base);
    madsim::runtime::Runtime::check_determinism(seed, config, || async {
        let seed = madsim::runtime::Handle::current().seed();
        let (schedule, base) = schedule(seed);
        drive(seed, &schedule, base).await
    })
    .digest
}
