//! LSP in the simulator: nodes that own the endpoints, the invariants, the catalog
//! scenarios, and the real programs (`faultline lsp ...`).

use faultline::harness::Scenario;

// Benchmarks time themselves on the wall clock and may use threads: they run outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod bench;
pub mod check;
// The real programs run on the OS clock and sockets, outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod cli;
pub mod lab;
pub mod node;
pub mod real;
// Benchmarks time themselves on the wall clock and may use threads: they run outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod realbench;
pub mod scenario;

/// This system's scenarios for the catalog.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    scenario::all()
        .into_iter()
        .map(|s| Box::new(s) as Box<dyn Scenario>)
        .collect()
}
