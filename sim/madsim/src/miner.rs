//! The bitcoin miner on madsim (`miner-churn` and `miner-faults`): the catalog scenarios'
//! server, 6 miners of different speeds (2 joining late), 10 clients with one request each,
//! and their invariants: the same [`MinerChecker`] on every history event (every answer is
//! the exact minimum over the request's range, sent once, never to a lost client, no range
//! lost) and the same end check (while a miner lives, every live client finished; in
//! `miner-churn` with its result).
//!
//! Faults: `miner-churn`'s miner and client crashes are all in madsim's reach. For
//! `miner-faults` madsim runs the catalog's draw restricted to what it can express (loss,
//! partitions, one-way cuts, isolation, pauses, crashes): duplication, reordering,
//! corruption and truncation are left out.

use crate::drive::run_schedule;
use crate::faults::latency_range;
use crate::lsp::madsim_kinds;
use crate::runtime::Sim;
use crate::MadsimRun;
use faultline::Schedule;
use scenarios::miner::invariants::{clients_finished, MinerChecker};
use scenarios::miner::nodes::MinerSimNode;
use scenarios::miner::scenarios::faults::Churn;
use scenarios::miner::world::{cast, live_miners_of, sim_params, Setup};

/// The miner scenarios that run on madsim.
pub const SCENARIOS: &[&str] = &["miner-churn", "miner-faults"];

fn churn(name: &str) -> Option<Churn> {
    match name {
        "miner-churn" => Some(Churn {
            network_faults: false,
        }),
        "miner-faults" => Some(Churn {
            network_faults: true,
        }),
        _ => None,
    }
}

/// The catalog's cast (4 miners on time, 2 late, 10 clients) and the seed's schedule over
/// the madsim subset of its faults.
pub fn plan(network_faults: bool, seed: u64) -> (Setup, Schedule, faultline::LinkFaults) {
    let setup = Churn::setup(seed, 4, 2, Churn::CLIENTS);
    let mut profile = Churn::profile(&setup, network_faults);
    profile.kinds = madsim_kinds(&profile.kinds);
    let schedule = faultline::swarm::generate(seed, &profile);
    (setup, schedule, profile.base_link)
}

/// Run one miner scenario on the current madsim runtime.
pub async fn drive(
    network_faults: bool,
    setup: &Setup,
    schedule: &Schedule,
    base: faultline::LinkFaults,
) -> MadsimRun {
    let sim = Sim::<MinerSimNode>::new();
    let nodes = cast(sim_params(), miner::scheduler::Config::default(), setup);
    sim.add_node(nodes.server);
    let miners: Vec<_> = nodes
        .miners
        .into_iter()
        .map(|(join, f)| sim.add_node_at(join, f))
        .collect();
    let clients: Vec<_> = nodes
        .clients
        .into_iter()
        .map(|(start, f)| sim.add_node_at(start, f))
        .collect();
    sim.set_checker(MinerChecker::default());
    let halt = run_schedule(&sim, schedule, base, |sim| {
        sim.view(|v| {
            let alive = live_miners_of(|a| v.node(a), &miners);
            clients_finished(|a| v.node(a), &clients, alive, !network_faults)
        })
    })
    .await;
    let digest = sim.view(|v| {
        let seen = v
            .checker::<MinerChecker>()
            .expect("a miner run holds a MinerChecker");
        crate::raft::digest(&format!("{:?}", seen.observed.runs))
    });
    MadsimRun {
        halt,
        events: sim.outcome().events,
        digest,
    }
}

/// Run the miner scenario `name` with `seed` on a fresh madsim runtime.
pub fn run(name: &str, seed: u64) -> Result<MadsimRun, String> {
    let c = churn(name).ok_or_else(|| format!("no miner scenario {name}"))?;
    let (setup, schedule, base) = plan(c.network_faults, seed);
    Ok(crate::run_on_madsim(
        seed,
        latency_range(&base),
        || async move { drive(c.network_faults, &setup, &schedule, base).await },
    ))
}

async fn drive_current(network_faults: bool) -> MadsimRun {
    let seed = madsim::runtime::Handle::current().seed();
    let (setup, schedule, base) = plan(network_faults, seed);
    drive(network_faults, &setup, &schedule, base).await
}

/// madsim's own determinism check of the miner scenario `name` under `seed`; the digest.
pub fn check_determinism(name: &str, seed: u64) -> Result<u64, String> {
    let c = churn(name).ok_or_else(|| format!("no miner scenario {name}"))?;
    let (_, _, base) = plan(c.network_faults, seed);
    let mut config = madsim::Config::default();
    config.net.send_latency = latency_range(&base);
    let run = if c.network_faults {
        madsim::runtime::Runtime::check_determinism(seed, config, || drive_current(true))
    } else {
        madsim::runtime::Runtime::check_determinism(seed, config, || drive_current(false))
    };
    Ok(run.digest)
}
