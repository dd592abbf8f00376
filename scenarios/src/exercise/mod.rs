//! The simulator's own exercise system (being written).

use crate::harness::Scenario;

pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![]
}
