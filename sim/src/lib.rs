//! faultline's simulator and the sans-IO node interface every system is written against.
//!
//! A node ([`Node`]) is a deterministic state machine: it reacts to start, datagram, timer
//! and stream events and asks its context ([`Ctx`]) for effects: datagrams, timers, its
//! clock and RNG, reliable flow-controlled streams, durable [`Storage`], and history events
//! for checkers. The [`World`] runs many nodes in one thread on virtual time, driven by one
//! master seed, and injects the faults of a [`Schedule`] (loss, duplication, reordering,
//! corruption, truncation, partitions, crashes, restarts, pauses, clock offset and drift,
//! stream resets, and storage faults: unsynced writes partly applied or torn on a crash,
//! synced records rotting, crashes inside a sync; see [`storage::faults`]). Every delivered event is folded into a SHA-256 trace hash: the same seed
//! and schedule give the same hash, every time. No system code lives here.
//!
//! Around the world sits what a test of a system needs: typed timer tags ([`timer`]),
//! worlds of several node kinds ([`node_kinds!`]), named safety and liveness
//! [`Invariant`]s checked by a [`Checker`] the scenario reaches again after the run
//! ([`World::checker`]), generated fault schedules ([`swarm`]), the [`harness`] that turns a
//! scenario and a seed into a [`harness::Report`], and what turns a failing seed into an
//! understood bug: runs that lose nothing ([`finding`]: panics and [`budget`] overruns are
//! findings, each of a [`FindingKind`]), seed [`sweep`]s over many scenarios and machines,
//! a [`shrink`]er, a [`determinism`] check that names the first diverging event, and a
//! [`linearizability`] checker. The same nodes run on real sockets through [`real`].
//!
//! # How the five systems use the interface
//!
//! - **P0, key-value server** (`systems/kv`): the server gets `StreamEvent::Accepted` per
//!   client and parses newline-terminated requests from `Data`. Replies go out with
//!   [`Ctx::write`], which takes only what the client's receive window allows; the rest
//!   waits in a per-client queue of at most 500 messages, drained on `Writable`. A slow
//!   client is a client node that calls [`Ctx::pause_reading`]. `Closed` events drive the
//!   active and dropped counts.
//! - **P1a, LSP** (`systems/lsp`): client and server are datagram nodes. Each epoch is a
//!   timer ([`Ctx::set_timer`]); the ISN is drawn from [`Ctx::rng`]; messages are the
//!   original JSON bytes, so corruption and truncation hit real payloads. Application reads
//!   and writes are methods on the endpoint called by the node that owns it.
//! - **P1b, bitcoin miner** (`systems/miner`): server, miners and clients each own an LSP
//!   endpoint and speak JSON over it. A miner's work takes virtual time: it computes the
//!   hashes at once and sets a timer for nonces / hash rate before it answers.
//! - **P2, Raft** (`systems/raft`): RPCs are datagrams; election and heartbeat timeouts are
//!   timers with randomised lengths from [`Ctx::rng`]; term, vote and log go to
//!   [`Ctx::storage`] and are synced before any reply that depends on them, so a crash and
//!   restart (a new node over the same storage) recovers them. Clients record invoke and
//!   return events with [`Ctx::record`] for the linearizability checker.
//! - **P3, CMUD** (`systems/cmud`): each actor system is a node; actor messages between
//!   nodes ride streams (ordered per sender and receiver, as the original's RPC
//!   connections); sync ticks are timers; last-writer-wins timestamps come from
//!   [`Ctx::now`], which the world can offset and drift per node.
//!
//! # The runtime contract
//!
//! See the [`node`] module: `on_start` first, then one event at a time; effects are carried
//! out in order after the handler returns. The simulator and the real runtime keep the same
//! contract.

pub mod budget;
pub mod bugs;
pub mod check;
pub mod clock;
pub mod ctx;
pub mod determinism;
pub mod explain;
pub mod faults;
pub mod finding;
pub mod harness;
pub mod kinds;
pub mod linearizability;
pub mod network;
pub mod node;
pub mod queue;
// The real runtime runs nodes on the OS clock and sockets, and takes calls from other
// threads: the wall clock is its job, not a leak.
#[allow(clippy::disallowed_methods)]
pub mod real;
pub mod rng;
pub mod shrink;
pub mod storage;
pub mod swarm;
pub mod sweep;
pub mod time;
pub mod timer;
pub mod trace;
pub mod world;

pub use budget::Budget;
pub use check::{Checker, Failure, FindingKind, Invariant, NoChecks, Property, Violation};
pub use ctx::{Ctx, Effect, NodeIo, NodeRng, StreamError};
pub use faults::{
    Fault, LinkFaults, Schedule, TimedFault, Trigger, TriggerAction, MAX_DRIFT_PPM, MAX_SCHEDULE_NS,
};
pub use kinds::Kind;
pub use network::NetStats;
pub use node::{Addr, CloseReason, Node, StreamEvent, StreamId, TimerId};
pub use rng::derive_rng;
pub use storage::{Storage, StorageFaults};
pub use time::Time;
pub use timer::{RawTimer, TimerTag};
pub use world::{Halt, World};
