//! Raft and a linearizable replicated key-value store on it, written as sans-IO nodes.
//!
//! [`raft::Raft`] is the consensus core of the Raft paper's Figure 2 (spec "P2 — Raft"):
//! randomised elections, heartbeats at most 10 per second, log replication with fast
//! back-up, commit and in-order apply; and, beyond the course, durable term / vote / log in
//! the node's storage, synced before any answer that depends on them, so a crashed node
//! restarts from where it was. RPCs are checksummed datagrams ([`msg`]). On top,
//! [`server::KvServer`] runs a key-value store ([`kv`]) with Get / Put / Append whose
//! clients ([`client::KvClient`]) tag operations with ids and sequence numbers, so retries
//! apply once; clients record invoke and return events that
//! `faultline::linearizability` checks. [`node::RaftKvNode`] is the node type of a world.

pub mod client;
pub mod config;
pub mod kv;
pub mod msg;
pub mod node;
pub mod persist;
pub mod raft;
pub mod server;

pub use client::{ClientConfig, ClientEvent, ClientTimer, KvClient, Workload};
pub use config::Config;
pub use node::{Event, RaftKvNode};
pub use raft::{Raft, RaftEvent, RaftTimer, Role};
pub use server::KvServer;
