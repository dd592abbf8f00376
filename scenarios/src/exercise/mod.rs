//! The simulator's own exercise system: not one of the five systems, but a small one
//! written to exercise every part of the simulator (datagrams, timers, storage, crashes,
//! clocks, streams and flow control). Its nodes live here, beside its scenarios, since it
//! has no crate in `systems/`. The world is built in [`world`], the nodes are in
//! [`nodes`], every invariant in [`invariants`], the scenarios in [`scenarios`]; [`bench`]
//! is `faultline bench sim`, the simulator's own speed; [`cli`] runs the stream echo as
//! real programs (`faultline exercise echo-server / echo-client`).

use faultline::harness::Scenario;

// Benchmarks time themselves on the wall clock: they run outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod bench;
// The real programs run on the OS clock and sockets, outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod cli;
pub mod invariants;
pub mod nodes;
pub mod scenarios;
pub mod world;

/// This system's scenarios for the catalog.
///
/// - `exercise-counter`: five replicas of a gossiped grow-only counter under datagram
///   faults, crashes, pauses and clock faults.
/// - `exercise-echo`: clients echoing through a server over streams, with slow readers,
///   under partitions, pauses, stream resets and client crashes.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(scenarios::CounterScenario),
        Box::new(scenarios::EchoScenario),
    ]
}
