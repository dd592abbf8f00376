//! The bitcoin miner's scenarios (systems/miner/SPEC.md §10), its real programs ([`cli`])
//! and its benchmarks ([`bench`]).
//!
//! [`world`] builds a world (the server at node 0, miners of different hash rates, some
//! joining late, and clients that each send one request at a seeded time), [`nodes`] has
//! the supervised miners, the delayed clients and the seeded workload, [`invariants`]
//! declares every invariant with its checker, [`scenarios`] defines the scenarios.

use faultline::harness::Scenario;

// Benchmarks time themselves on the wall clock and may use threads: they run outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod bench;
// The real programs run on the OS clock and sockets, outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod cli;
pub mod invariants;
pub mod nodes;
pub mod scenarios;
pub mod world;

use scenarios::{course, faults, scheduling};

/// This system's scenarios for the catalog.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(faults::Churn {
            network_faults: false,
        }),
        Box::new(faults::Churn {
            network_faults: true,
        }),
        Box::new(scheduling::Response),
        Box::new(scheduling::SmallAfterHuge),
        Box::new(course::Ctest),
        Box::new(course::CtestServerFailure),
        Box::new(course::Mtest),
        Box::new(course::Tiny),
    ]
}
