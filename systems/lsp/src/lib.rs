//! The Live Sequence Protocol (CMU 15-440 P1 Part A; the behaviour reference is `SPEC.md`
//! beside this crate's manifest): reliable, ordered message streams over unreliable
//! datagrams, as sans-IO endpoints.
//!
//! A [`ClientEndpoint`] holds one connection to a server; a [`ServerEndpoint`] accepts
//! any number of clients. Neither touches a socket or a clock: an owning [`faultline::Node`]
//! hands them the datagrams and timers it receives and calls their application methods,
//! and they ask the node's [`faultline::Ctx`] to send datagrams and set timers. The same
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
//!   endpoint uses one timer at a time, tagged [`LspTimer::Epoch`].
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
//! # Example: a client and a server driven by hand
//!
//! An owning node would do the same from its `on_datagram` / `on_timer` handlers; here
//! the datagrams are carried between two [`faultline::NodeIo`]s directly.
//!
//! ```
//! use lsp::{ClientEndpoint, ClientEvent, Params, ServerEndpoint, ServerEvent};
//! use rand::SeedableRng;
//! use faultline::{Addr, Effect, NodeIo, Storage, Time};
//!
//! let io = |n| NodeIo::<()>::new(Addr(n), rand_chacha::ChaCha8Rng::seed_from_u64(n as u64), Storage::default());
//! let (mut sio, mut cio) = (io(0), io(1));
//! let mut server = ServerEndpoint::new(&mut sio.ctx(Time::ZERO), Params::default());
//! let mut client = ClientEndpoint::connect(&mut cio.ctx(Time::ZERO), Addr(0), 7, Params::default());
//! client.write(&mut cio.ctx(Time::ZERO), b"hello".to_vec()).unwrap(); // sent once connected
//!
//! // Carry datagrams both ways until nothing is left in flight.
//! loop {
//!     let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
//!     cio.drain_effects(&mut to_server);
//!     sio.drain_effects(&mut to_client);
//!     let sends = |effects: Vec<Effect>| effects.into_iter().filter_map(|e| match e {
//!         Effect::Send { data, .. } => Some(data),
//!         _ => None, // timers: a real owner would schedule them
//!     }).collect::<Vec<_>>();
//!     let (up, down) = (sends(to_server), sends(to_client));
//!     if up.is_empty() && down.is_empty() {
//!         break;
//!     }
//!     for d in up {
//!         server.on_datagram(&mut sio.ctx(Time::ZERO), Addr(1), &d);
//!     }
//!     for d in down {
//!         client.on_datagram(&mut cio.ctx(Time::ZERO), Addr(0), &d);
//!     }
//! }
//! assert_eq!(client.poll_event(), Some(ClientEvent::Connected { conn_id: 1 }));
//! assert_eq!(server.poll_event(), Some(ServerEvent::Accepted { conn: 1, from: Addr(1) }));
//! assert_eq!(server.poll_event(), Some(ServerEvent::Message { conn: 1, data: b"hello".to_vec() }));
//! assert_eq!(client.unacked_len(), 0);
//! ```
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
pub use params::{Bug, Codec, Params, MAX_ISN, MAX_PAYLOAD, MAX_QUEUED_BYTES, RECV_BUFFER};
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
    /// The connection already holds [`MAX_QUEUED_BYTES`] unacknowledged: the peer is not
    /// keeping up (or not acknowledging at all).
    #[error("the connection holds {0} bytes not yet acknowledged, the most allowed")]
    Full(usize),
}

faultline::timer_tags! {
    /// The tag of an endpoint's epoch timer (SPEC.md §8). A node that owns endpoints gives its
    /// own tag type a variant for it under the same number, and offers every such timer to
    /// its endpoints.
    pub enum LspTimer {
        Epoch = 0,
    }
}
