//! `faultline lsp bench`: how fast LSP runs, in the simulator and on real sockets.
//!
//! - Simulator: a fault-free streaming world (clients write at once, the server echoes)
//!   and a sweep of the `lsp-stream` catalog scenario (faults on): events per wall second
//!   and simulated seconds per wall second.
//! - Real: see [`super::realbench`].

use super::lab::{echo_plan, Lab, LabSpec};
use faultline::harness::RunSpec;
use lsp::Params;
use serde::Serialize;
use std::time::Instant;

/// One simulator measurement.
#[derive(Debug, Serialize)]
pub struct SimFigures {
    pub workload: String,
    pub events: u64,
    pub sim_seconds: f64,
    pub wall_seconds: f64,
    pub events_per_second: f64,
    pub sim_seconds_per_wall_second: f64,
}

impl SimFigures {
    fn new(workload: String, events: u64, sim_ns: u64, wall: f64) -> SimFigures {
        let sim_seconds = sim_ns as f64 / 1e9;
        SimFigures {
            workload,
            events,
            sim_seconds,
            wall_seconds: wall,
            events_per_second: events as f64 / wall,
            sim_seconds_per_wall_second: sim_seconds / wall,
        }
    }
}

/// `clients` clients stream `msgs` echoed messages each with window and M = `window`.
pub fn sim_stream(clients: usize, msgs: usize, window: u64) -> SimFigures {
    let params = Params::new(5, 100, window, 0, window);
    let mut lab =
        Lab::new(LabSpec::new(1, params).clients(clients, |i| echo_plan(i, msgs, false, true)));
    let start = Instant::now();
    let limit = faultline::Time::from_secs(3600);
    let done = lab.run_until(limit, |l| {
        (0..clients).all(|i| l.client(i).reads.len() == msgs)
    });
    assert!(done, "the benchmark workload did not finish");
    let wall = start.elapsed().as_secs_f64();
    SimFigures::new(
        format!("{clients} clients x {msgs} echoed msgs, w=M={window}, no faults"),
        lab.world.events(),
        lab.world.now().as_nanos(),
        wall,
    )
}

/// The `lsp-stream` scenario over `seeds` seeds (faults on).
pub fn sim_catalog(seeds: u64) -> SimFigures {
    let scenario = crate::catalog::find("lsp-stream").expect("lsp-stream is in the catalog");
    let start = Instant::now();
    let (mut events, mut sim_ns) = (0, 0);
    for seed in 0..seeds {
        let r = scenario
            .run(&RunSpec {
                seed,
                ..RunSpec::default()
            })
            .expect("runs");
        events += r.events;
        sim_ns += r.sim_time_ns;
    }
    let wall = start.elapsed().as_secs_f64();
    SimFigures::new(
        format!("lsp-stream catalog scenario, seeds 0..{seeds}"),
        events,
        sim_ns,
        wall,
    )
}
