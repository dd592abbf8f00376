//! LSP echo on madsim (`lsp-echo`): the catalog scenario's server, 4 lockstep echo clients
//! (100 paced messages each, w = M = 1), and its invariants: the same [`LspChecker`] on
//! every history event (exactly-once in order, losses only after EpochLimit silent epochs,
//! clean closes only when all was read), the same wire monitor on every datagram sent
//! (window and MaxUnackedMessages), and the same end checks after the heal (every client
//! finished, the server let go of every connection).
//!
//! Faults: the catalog draws loss, duplication, reordering, truncation, partitions, one-way
//! cuts, isolation and pauses; madsim runs the same draw restricted to what it can express
//! (loss, partitions, one-way cuts, isolation, pauses), so duplication, reordering and
//! truncation are left out here.

use crate::drive::run_schedule;
use crate::faults::latency_range;
use crate::runtime::Sim;
use crate::MadsimRun;
use faultline::swarm::FaultKinds;
use faultline::{LinkFaults, Schedule};
use scenarios::lsp::invariants::end::{swarm_end, window_held};
use scenarios::lsp::invariants::{LspChecker, WireMonitor};
use scenarios::lsp::nodes::{ClientNode, LspNode, ServerNode};
use scenarios::lsp::scenarios::swarm::{self, LspScenario, LATENCY_MAX_NS};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The scenario's name, as in faultline's catalog.
pub const NAME: &str = "lsp-echo";

/// The catalog's `lsp-echo`.
pub fn scenario() -> LspScenario {
    swarm::all()
        .into_iter()
        .find(|s| s.name == NAME)
        .expect("the catalog has lsp-echo")
}

/// The faults of `kinds` madsim can express.
pub fn madsim_kinds(kinds: &FaultKinds) -> FaultKinds {
    FaultKinds {
        duplicate: false,
        reorder: false,
        corrupt: false,
        truncate: false,
        clock: false,
        stream_reset: false,
        ..kinds.clone()
    }
}

/// The seed's schedule: faultline's swarm draw over the madsim subset of the scenario's
/// faults.
pub fn schedule(s: &LspScenario, seed: u64) -> Schedule {
    let mut profile = s.profile();
    profile.kinds = madsim_kinds(&profile.kinds);
    faultline::swarm::generate(seed, &profile)
}

fn base_link() -> LinkFaults {
    LinkFaults::clean(1_000_000, LATENCY_MAX_NS)
}

/// Run `lsp-echo` under `schedule` on the current madsim runtime.
pub async fn drive(s: &LspScenario, schedule: &Schedule) -> MadsimRun {
    let sim = Sim::<LspNode>::new();
    let params = s.params;
    let server = sim.add_node(move |_| ServerNode::new(params, true).into());
    let clients: Vec<_> = s
        .client_plans()
        .into_iter()
        .map(|plan| {
            sim.add_node(move |_| ClientNode::new(server, params, None, plan.clone()).into())
        })
        .collect();
    sim.set_checker(LspChecker::new(params));
    let monitor = Arc::new(Mutex::new(WireMonitor::new(params)));
    let seen = monitor.clone();
    sim.set_tap(move |now, from, to, bytes| {
        seen.lock()
            .unwrap_or_else(|p| p.into_inner())
            .observe(now, from, to, bytes)
    });
    let halt = run_schedule(&sim, schedule, base_link(), |sim| {
        let violations = monitor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .violations
            .clone();
        window_held(&violations)?;
        sim.view(|v| {
            swarm_end(
                |a| v.node(a),
                &params,
                (server, &clients),
                s.msgs,
                None,
                Duration::from_nanos(LATENCY_MAX_NS),
            )
        })
    })
    .await;
    let digest = sim.view(|v| {
        let logs: Vec<_> = clients
            .iter()
            .map(|&a| match v.node(a) {
                Some(LspNode::Client(c)) => format!("{:?} {:?}", c.reads, c.log),
                _ => String::new(),
            })
            .collect();
        crate::raft::digest(&logs.join("\n"))
    });
    MadsimRun {
        halt,
        events: sim.outcome().events,
        digest,
    }
}

/// Run `lsp-echo` with `seed` on a fresh madsim runtime seeded with `seed`.
pub fn run(seed: u64) -> MadsimRun {
    let s = scenario();
    let schedule = schedule(&s, seed);
    crate::run_on_madsim(seed, latency_range(&base_link()), || async move {
        drive(&s, &schedule).await
    })
}

/// madsim's own determinism check of `lsp-echo` under `seed` (it panics where two runs'
/// random draws part); the run's digest.
pub fn check_determinism(seed: u64) -> u64 {
    let mut config = madsim::Config::default();
    config.net.send_latency = latency_range(&base_link());
    madsim::runtime::Runtime::check_determinism(seed, config, || async {
        let seed = madsim::runtime::Handle::current().seed();
        let s = scenario();
        let schedule = schedule(&s, seed);
        drive(&s, &schedule).await
    })
    .digest
}
