//! P1b, the distributed bitcoin miner (spec ../shared/spec/cmu440.md, "P1 Part B"): a
//! server splits each client's request (find the nonce in [0, N] whose hash of
//! "<message> <nonce>" is smallest) into chunks, hands them to miners that join at any
//! time, survives lost miners (their chunk goes to another miner) and lost clients (their
//! work is forgotten), and answers each client with the overall minimum. Everyone speaks
//! the original JSON messages ([`message`]) over LSP endpoints (the `lsp` crate).
//!
//! Modules: [`hash`] (the hash and the miner's fast loop), [`scheduler`] (the policy, a
//! pure module with no I/O), [`server`], [`worker`] (the miner program) and [`client`]
//! (sans-IO node logic over LSP; in the simulator a miner's work takes virtual time),
//! [`node`] (the three roles as one node type for a world), [`event`] (history events for
//! checkers).

pub mod client;
pub mod event;
pub mod hash;
pub mod message;
pub mod node;
pub mod scheduler;
pub mod server;
pub mod worker;

pub use client::{Client, ClientNode, Outcome};
pub use event::MinerEvent;
pub use hash::{hash, min_hash, Best};
pub use message::{DecodeError, Message};
pub use node::MinerNode;
pub use server::{Server, ServerNode};
pub use worker::{Worker, WorkerNode};
