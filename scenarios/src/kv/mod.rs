//! Scenarios and the real-program commands for `kv` (spec P0).

use crate::harness::Scenario;

pub mod check;
pub mod cli;

/// This system's scenarios for the catalog.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![]
}
