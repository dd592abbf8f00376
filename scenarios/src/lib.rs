//! faultline's scenario catalog: workloads, fault profiles and invariants for each system,
//! and the harness that runs them in the simulator.

// Benchmarks time themselves on the wall clock and may use threads: they run outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod bench;
pub mod catalog;
pub mod exercise;
pub mod kv;
pub mod lsp;
pub mod miner;
pub mod raft;
