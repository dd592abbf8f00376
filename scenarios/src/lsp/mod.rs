//! LSP in the simulator: nodes that own the endpoints, the invariants, the catalog
//! scenarios, and the real programs (`faultline lsp ...`).

use crate::harness::Scenario;

pub mod bench;
pub mod check;
pub mod cli;
pub mod lab;
pub mod node;
pub mod real;
pub mod realbench;
pub mod scenario;

/// This system's scenarios for the catalog.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    scenario::all()
        .into_iter()
        .map(|s| Box::new(s) as Box<dyn Scenario>)
        .collect()
}
