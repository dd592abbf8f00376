//! The Live Sequence Protocol (CMU 15-440 P1 Part A, spec `../shared/spec/cmu440.md`):
//! reliable, ordered message streams over unreliable datagrams, as sans-IO endpoints.
//!
//! A [`ClientEndpoint`] holds one connection to a server; a [`ServerEndpoint`] accepts
//! any number of clients. Neither touches a socket or a clock: an owning [`sim::Node`]
//! hands them the datagrams and timers it receives and calls their application methods,
//! and they ask the node's [`sim::Ctx`] to send datagrams and set timers. The same
//! endpoints therefore run in the simulator and on real UDP, and several can live in one
//! node (the bitcoin miner builds its server, miners and clients on them).
//!
//! # Embedding contract
//!
//! - Create: [`ClientEndpoint::connect`]`(ctx, server, isn, params)` sends the first
//!   Connect and starts the epoch timer; [`ServerEndpoint::new`]`(ctx, params)` starts
//!   listening (the owner decides which datagrams are the server's).
//! - Feed: pass every datagram meant for the endpoint to `on_datagram(ctx, from, bytes)`,
//!   and every fired timer to `on_timer(ctx, id)`; it returns `false` if the timer is not
//!   the endpoint's, so an owner with several endpoints offers it to each in turn. An
//!   endpoint uses one timer at a time, with tag 0.
//! - Act: `write`, `close`, and on the server `close_conn`, at any time; they never block.
//! - Drain: after every call above, call `poll_event()` until it returns `None`. Events
//!   are what the original's blocking calls returned: [`ClientEvent::Connected`] (for
//!   `NewClient`), `Message` (for `Read`), `Lost` (a `Read` error once the in-order data
//!   before it has been read), `Closed` (for `Close`). Undrained events simply wait.
//! - Inspect: `stats()` counts sends and every rejected datagram (malformed JSON, bad
//!   checksum, short payload, unknown connection, unexpected sequence numbers).
//!
//! Peer input never panics an endpoint: anything wrong is dropped and counted.
//!
//! # Modules
//! [`wire`] (JSON messages), [`checksum`](checksum()) (the original's 16-bit checksum),
//! [`params`] (K, δ, ω, back-off cap, M), `conn` (one connection's window, back-off,
//! receive buffer and epochs, shared by both ends), [`client`], [`server`], [`stats`].

mod checksum;
pub mod client;
mod conn;
pub mod params;
pub mod server;
pub mod stats;
pub mod wire;

pub use checksum::checksum;
pub use client::{ClientEndpoint, ClientEvent};
pub use params::{Params, MAX_PAYLOAD, RECV_BUFFER};
pub use server::{ServerEndpoint, ServerEvent};
pub use stats::Stats;
pub use wire::{Message, MsgType};

/// Why an application call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LspError {
    #[error("the connection is closed")]
    Closed,
    #[error("the connection was lost")]
    Lost,
    #[error("no connection with id {0}")]
    UnknownConn(i64),
    #[error("payload of {0} bytes is larger than the {MAX_PAYLOAD}-byte limit")]
    TooLarge(usize),
}
