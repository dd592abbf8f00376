//! Scenarios and the real-program commands for `kv` (spec P0).
//!
//! - `kv-basic1..6`, `kv-count1..2`, `kv-slowclient1..2`: the official tests' intents with
//!   the spec's parameters ([`official`]).
//! - `kv-swarm`, `kv-slow-readers`: many clients, slow readers, churn, and (swarm) stream
//!   faults ([`swarm`]).
//!
//! Every run is checked on every event by [`check::KvChecker`] and at the end by
//! [`rig::EndChecks`].

use faultline::harness::Scenario;

// Benchmarks time themselves on the wall clock and may use threads: they run outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod bench;
pub mod check;
// The real programs run on the OS clock and sockets, outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod cli;
pub mod official;
pub mod rig;
pub mod swarm;

/// This system's scenarios for the catalog.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    let mut all = official::scenarios();
    all.push(Box::new(swarm::Swarm));
    all.push(Box::new(swarm::SlowReaders));
    all
}
