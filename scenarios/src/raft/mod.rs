//! Raft scenarios: the course's tests as scripts ([`course`]), and the replicated key-value
//! store under swarm and scripted faults with a linearizability check ([`kv`]); plus the
//! real-program commands ([`cli`]).

use faultline::harness::Scenario;

// Benchmarks time themselves on the wall clock and may use threads: they run outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod bench;
pub mod checks;
// The real programs run on the OS clock and sockets, outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod cli;
pub mod cluster;
pub mod course;
pub mod kv;

/// This system's scenarios for the catalog.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    let mut all: Vec<Box<dyn Scenario>> = Vec::new();
    for s in course::scenarios() {
        all.push(Box::new(s));
    }
    for s in kv::scenarios() {
        all.push(Box::new(s));
    }
    all
}
