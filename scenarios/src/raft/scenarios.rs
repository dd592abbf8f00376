//! The Raft scenarios: the course's tests as scripts over a tester ([`course`], written
//! with the helpers of [`tester`]), and the replicated key-value store under swarm and
//! scripted faults ([`kv`]). systems/raft/SPEC.md §11 maps each course test onto its
//! scenario; §12 describes the key-value ones.

pub mod course;
pub mod downtime;
pub mod durability;
pub mod kv;
pub mod snapshots;
pub mod tester;

use super::invariants::state::checker;
use super::nodes::RaftNode;
use super::world::RpcCounts;
use faultline::harness::Report;
use faultline::World;

/// The figures every Raft run reports: terms elected, indices applied, client operations
/// invoked and returned, Raft RPC requests sent.
fn add_metrics(report: &mut Report, world: &World<RaftNode>, rpcs: &RpcCounts) {
    let seen = checker(world);
    let mut put = |key: &str, value: u64| {
        report.metrics.insert(key.to_string(), value.into());
    };
    put("terms", seen.leaders.len() as u64);
    put("committed", seen.applied.len() as u64);
    put("client_ops", seen.ops.len() as u64);
    put("client_ops_returned", seen.returned() as u64);
    put("rpc_requests", rpcs.requests());
    faultline::harness::record_reached(report, seen.reached.iter().copied());
}
