//! LSP (P1a) in faultline: the nodes that own the endpoints ([`nodes`]), the world they run
//! in ([`world`]), the invariants ([`invariants`]), the scenario definitions
//! ([`scenarios`]: swarm runs and every official test intent), the real programs
//! (`faultline lsp ...`, [`cli`]) and the benchmark ([`bench`]). The behaviour reference is
//! systems/lsp/SPEC.md.

use faultline::harness::Scenario;

// Benchmarks time themselves on the wall clock and use threads: they run outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod bench;
// The real programs run on the OS clock and sockets, outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod cli;
pub mod invariants;
pub mod nodes;
pub mod scenarios;
pub mod world;

/// This system's catalog entries: the swarm scenarios, then the official test intents in
/// the order of the original test files (SPEC.md §12).
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    fn boxed<S: Scenario + 'static>(list: Vec<S>) -> impl Iterator<Item = Box<dyn Scenario>> {
        list.into_iter().map(|s| Box::new(s) as Box<dyn Scenario>)
    }
    boxed(scenarios::swarm::all())
        .chain(boxed(scenarios::basic::intents()))
        .chain(boxed(scenarios::window::intents()))
        .chain(boxed(scenarios::close::intents()))
        .chain(boxed(scenarios::toggled::intents()))
        .chain(boxed(scenarios::isn_cack::intents()))
        .chain(boxed(scenarios::integrity::intents()))
        .collect()
}
