//! faultline's scenario catalog: workloads, fault profiles and invariants for each system,
//! and the harness that runs them in the simulator.

pub mod bugs;
pub mod catalog;
pub mod cmud;
pub mod exercise;
pub mod kv;
pub mod lsp;
pub mod miner;
pub mod out;
pub mod raft;
