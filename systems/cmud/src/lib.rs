//! P3 of faultline: CMUD, a multiplayer text game on a geo-distributed, eventually
//! consistent key-value store built on actors (behaviour reference: `SPEC.md` beside this
//! crate).
//!
//! - [`bugs`]: the planted bugs a bug hunt may switch on, none by default.
//! - [`mailbox`]: the actors' unbounded FIFO (SPEC.md §2).
//! - [`actor`]: the actor system inside one sans-IO node: refs, channel refs, local and
//!   pipelined remote tell, statistics (SPEC.md §2).
//! - [`store`]: the query actor, a full replica merging by last-writer-wins, and the sync
//!   strategy (local deltas, representatives between servers, start-up exchange,
//!   anti-entropy on broken links), documented there (SPEC.md §4-§5).
//! - [`server`]: the server node and its query receiver (SPEC.md §3).
//! - [`wire`]: the frames on a stream.
//! - [`game`]: the CMUD game, written purely on Get/Put/List (`GAME.md`).

pub mod actor;
pub mod bugs;
pub mod game;
pub mod mailbox;
pub mod server;
pub mod store;
pub mod wire;

pub use bugs::Bug;
