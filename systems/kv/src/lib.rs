//! P0 of faultline: the key-value messaging server (behaviour reference: `SPEC.md` beside
//! this crate).
//!
//! One server, many clients, each on its own reliable ordered stream. Clients send
//! newline-terminated text requests (`Put`, `Get`, `Delete`, `Update`); only `Get` answers,
//! one `key:value` line per value. The server is a sans-IO [`faultline::Node`]: it serialises
//! every store access by construction (one event at a time), keeps a per-client outgoing
//! queue of at most 500 messages drained as the client's receive window allows, and drops
//! (and counts) messages for a client whose queue is full, so a client that stops reading
//! never holds anyone else up. It records what it applied, in order, as history events, so
//! checkers can compare the run with a sequential model.
//!
//! Decisions where the course is silent (SPEC.md §5, §6): a malformed line (or one over
//! 1 MiB) is ignored and counted, and the connection stays open ([`protocol`]); the queue
//! bound counts messages not yet wholly handed to the stream, a partly written one included
//! ([`server`]); queued replies share their values with the store, and the queue's byte
//! bound charges each shared value once (`queue`); the real program records only counts as history ([`History::Counts`]), so
//! its memory stays bounded. The same node runs in the simulator (the scenarios, with their
//! client nodes, are in `scenarios/src/kv`) and on real TCP (`faultline kv server`).
//!
//! Modules: [`store`] (the store's semantics), [`protocol`] (line format and reader),
//! `queue` (a client's outgoing queue), [`server`] (the server), [`node`] (the server as
//! a node), [`event`] (history events).

pub mod event;
pub mod node;
pub mod protocol;
mod queue;
pub mod server;
pub mod store;

pub use event::{KvEvent, QueueOutcome};
pub use node::{ServerNode, ServerTimer};
pub use server::{Bug, History, Server, ServerStats, QUEUE_MAX_BYTES, QUEUE_MAX_MESSAGES};
