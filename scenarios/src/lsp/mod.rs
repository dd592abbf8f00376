//! Scenarios and the real-program commands for `lsp` (being written).

use crate::harness::Scenario;

pub mod cli;

/// This system's scenarios for the catalog.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![]
}
