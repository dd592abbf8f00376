//! The Raft scenarios (systems/raft/SPEC.md §11, §12): the course's tests as scripts, and the
//! replicated key-value store under swarm and scripted faults with a linearizability check;
//! plus the real programs ([`cli`]) and the benchmark ([`bench`]).
//!
//! [`world`] builds a cluster, [`nodes`] has the workload clients, [`invariants`] declares
//! every invariant with its checker, [`scenarios`] defines the scenarios.

use faultline::harness::Scenario;

// Benchmarks time themselves on the wall clock and may use threads, and the snapshot
// benchmark drives real processes: they run outside the simulator.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod bench;
// The real programs run on the OS clock and sockets, outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod cli;
pub mod invariants;
pub mod nodes;
pub mod scenarios;
pub mod world;

/// This system's scenarios for the catalog: the course's tests, then the key-value store.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    let mut all: Vec<Box<dyn Scenario>> = Vec::new();
    for s in scenarios::course::scenarios() {
        all.push(Box::new(s));
    }
    for s in scenarios::kv::scenarios() {
        all.push(Box::new(s));
    }
    all.push(Box::new(scenarios::downtime::Downtime));
    all
}
