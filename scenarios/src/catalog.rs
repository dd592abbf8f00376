//! Every scenario faultline knows, in one list.

use faultline::harness::Scenario;

/// All scenarios, in a fixed order.
pub fn all() -> Vec<Box<dyn Scenario>> {
    let mut all = Vec::new();
    all.extend(crate::exercise::scenarios());
    all.extend(crate::lsp::scenarios());
    all.extend(crate::miner::scenarios());
    all.extend(crate::raft::scenarios());
    all.extend(crate::kv::scenarios());
    all.extend(crate::cmud::scenarios());
    all
}

/// The scenario called `name`.
pub fn find(name: &str) -> Option<Box<dyn Scenario>> {
    all().into_iter().find(|s| s.name() == name)
}
