//! Raft and a linearizable replicated key-value store on it, written as sans-IO nodes. The
//! behaviour they implement is `SPEC.md` beside this crate; comments cite it as
//! `SPEC.md §N`, and the Raft paper by figure and section.
//!
//! [`raft::Raft`] is the consensus core of the Raft paper's Figure 2 (SPEC.md §2-§5):
//! randomised elections, heartbeats at most 10 per second, log replication with fast
//! back-up (§6), commit and in-order apply; and, beyond the course, durable term / vote /
//! log in the node's storage, synced before any answer that depends on them, so a crashed
//! node restarts from where it was (§7). RPCs are checksummed datagrams ([`msg`], §8). On
//! top, [`server::KvServer`] runs a key-value store ([`kv`], §9) with Get / Put / Append
//! whose clients ([`client::KvClient`]) tag operations with ids and sequence numbers, so
//! retries apply once; clients record invoke and return events ([`node::Event`]) for
//! checkers. Past a configurable number of applied entries the server snapshots its state
//! machine, duplicate table included, and the log before it is discarded; followers too
//! far behind get the snapshot by InstallSnapshot ([`snapshot`], §13).

pub mod client;
pub mod config;
pub mod kv;
pub mod log;
pub mod msg;
pub mod node;
pub mod persist;
pub mod raft;
pub mod server;
pub mod snapshot;

pub use client::{ClientConfig, ClientEvent, ClientTimer, KvClient};
pub use config::{Bug, Config};
pub use kv::{Op, Reply};
pub use node::Event;
pub use raft::{Raft, RaftEvent, RaftTimer, Role};
pub use server::KvServer;
pub use snapshot::{Snapshot, SnapshotHow};
