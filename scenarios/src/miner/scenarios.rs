//! The miner's scenarios (systems/miner/SPEC.md §10): the course's ctest and mtest intents
//! ([`course`]), miners and clients failing ([`faults`]), and the scheduler's response
//! times ([`scheduling`]).

pub mod course;
pub mod faults;
pub mod scheduling;

use super::invariants::{clients_finished, ClientRun, MinerChecker, Observed};
use super::nodes::MinerSimNode;
use super::world::{self, checker, Setup};
use faultline::harness::{drive, Report, RunSpec};
use faultline::swarm::FaultProfile;
use faultline::{Addr, Failure, World};
use std::time::Duration;

fn put(report: &mut Report, key: &str, value: impl Into<serde_json::Value>) {
    report.metrics.insert(key.to_string(), value.into());
}

fn add_observed(report: &mut Report, observed: &Observed) {
    put(report, "requests_sent", observed.runs.len() as u64);
    put(report, "answers", observed.answers);
    put(report, "disconnected", observed.disconnected);
    put(report, "chunks_folded", observed.chunks_folded);
    put(report, "miners_lost", observed.miners_lost);
    put(report, "clients_lost", observed.clients_lost);
    put(report, "chunks_checked", observed.chunks_checked);
    faultline::harness::record_reached(report, observed.reached.iter().copied());
}

/// Run a fault-free setup, demanding every client's answer and what `also` checks at the
/// end (given the clients' addresses); return the report and the clients' requests as the
/// checker saw them.
fn run_clean(
    name: &str,
    spec: &RunSpec,
    setup: &Setup,
    run_for: Duration,
    checks: MinerChecker,
    also: impl FnOnce(&World<MinerSimNode>, &[Addr]) -> Result<(), Failure>,
) -> Result<(Report, Vec<ClientRun>), String> {
    let profile = FaultProfile::new(
        (0..setup.node_count()).collect(),
        run_for,
        Duration::from_secs(1),
    );
    let mut built = world::build(spec, setup);
    built.world.set_checker(checks);
    let (clients, miners) = (built.clients.clone(), built.miners.clone());
    let (mut report, world) = drive(name, spec, &profile, built.world, |world| {
        let alive = world::live_miners(world, &miners);
        clients_finished(|a| world.node(a), &clients, alive, true)?;
        also(world, &clients)
    })?;
    let observed = &checker(&world).observed;
    add_observed(&mut report, observed);
    Ok((report, observed.runs.clone()))
}
