//! `faultline raft bench`: how fast the linearizability checker and the simulator are on
//! the 5-server, 10-client Raft key-value scenario.
//!
//! - checker: the 1,000-operation history of a real run (10 clients), checked from scratch,
//!   on 5 keys and on one key (all 1,000 operations in one search);
//! - simulator: seeds per second of a whole scenario (build, run 20 s, check), and events
//!   per second and simulated seconds per wall second for an idle cluster and under load.

/// The checker on made-up histories (`faultline bench checker`).
pub mod checker;
/// A real cluster with and without snapshots (`faultline raft bench-snapshots`).
pub mod snapshots;

use super::invariants::{self, state};
use super::nodes::Workload;
use super::scenarios::kv::{self, KvScenario};
use super::world;
use faultline::harness::{RunSpec, Scenario};
use faultline::linearizability::{self, KvModel};
use faultline::Time;
use std::time::{Duration, Instant};

/// What one benchmark measured.
#[derive(Debug, serde::Serialize)]
pub struct RaftBench {
    pub checker: Vec<CheckerFigures>,
    pub seeds_per_second: f64,
    pub seeds: u64,
    pub idle: SimFigures,
    pub load: SimFigures,
}

/// The checker on one history.
#[derive(Debug, serde::Serialize)]
pub struct CheckerFigures {
    pub scenario: String,
    pub ops: usize,
    pub clients: usize,
    pub keys: usize,
    pub linearizable: bool,
    /// Best of 5 runs.
    pub check_seconds: f64,
}

/// The simulator on one run.
#[derive(Debug, serde::Serialize)]
pub struct SimFigures {
    pub sim_seconds: f64,
    pub wall_seconds: f64,
    pub events: u64,
    pub events_per_second: f64,
    pub sim_seconds_per_wall_second: f64,
    pub client_ops: usize,
}

fn scenario(name: &str) -> KvScenario {
    kv::scenarios()
        .into_iter()
        .find(|s| s.name == name)
        .expect("a raft kv scenario")
}

/// Run a scenario once and time the linearizability check of its history.
pub fn checker(s: &KvScenario, label: &str, seed: u64) -> CheckerFigures {
    let spec = RunSpec {
        seed,
        ..RunSpec::default()
    };
    let (report, world) = s.run_world(&spec).expect("builds");
    assert!(
        report.ok,
        "the run passes its checks: {:?}",
        report.violation
    );
    let ops = invariants::history(state::checker(&world));
    let mut best = f64::MAX;
    let mut verdict = false;
    for _ in 0..5 {
        let start = Instant::now();
        verdict = linearizability::check(&KvModel, &ops).is_linearizable();
        best = best.min(start.elapsed().as_secs_f64());
    }
    let clients = ops
        .iter()
        .map(|o| o.client)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let keys = ops
        .iter()
        .map(|o| o.input.key().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    CheckerFigures {
        scenario: label.into(),
        ops: ops.len(),
        clients,
        keys,
        linearizable: verdict,
        check_seconds: best,
    }
}

/// A 5-server cluster, with `clients` clients that never run out of work, for `secs`.
pub fn sim_run(clients: u32, secs: u64, seed: u64) -> SimFigures {
    let mut c = world::cluster(seed, 5, raft::Config::default());
    if clients > 0 {
        let w = Workload {
            ops: u64::MAX,
            keys: 5,
            think_max: Duration::from_millis(20),
            ..Workload::default()
        };
        c.add_clients(clients, &w);
    }
    let start = Instant::now();
    c.world
        .run_until(Time::from_secs(secs))
        .expect("no violation");
    let wall = start.elapsed().as_secs_f64();
    let events = c.world.events();
    let client_ops = state::checker(&c.world).ops.len();
    SimFigures {
        sim_seconds: secs as f64,
        wall_seconds: wall,
        events,
        events_per_second: events as f64 / wall,
        sim_seconds_per_wall_second: secs as f64 / wall,
        client_ops,
    }
}

/// Seeds per second of the whole `raft-kv-swarm` scenario.
pub fn seeds_per_second(seeds: u64) -> f64 {
    let s = scenario("raft-kv-swarm");
    let start = Instant::now();
    for seed in 0..seeds {
        let r = s
            .run(&RunSpec {
                seed,
                ..RunSpec::default()
            })
            .expect("runs");
        assert!(r.ok, "seed {seed} failed: {:?}", r.violation);
    }
    seeds as f64 / start.elapsed().as_secs_f64()
}

/// Everything.
pub fn run(seeds: u64) -> RaftBench {
    let ten_on_one_key = KvScenario {
        clients: 10,
        ops_per_client: 100,
        ..scenario("raft-kv-one-key")
    };
    RaftBench {
        checker: vec![
            checker(&scenario("raft-kv-swarm"), "raft-kv-swarm", 1),
            checker(
                &scenario("raft-kv-crash-restart"),
                "raft-kv-crash-restart",
                1,
            ),
            checker(&scenario("raft-kv-one-key"), "raft-kv-one-key", 1),
            checker(&ten_on_one_key, "one key, 10 clients", 1),
        ],
        seeds_per_second: seeds_per_second(seeds),
        seeds,
        idle: sim_run(0, 3600, 1),
        load: sim_run(10, 60, 1),
    }
}
