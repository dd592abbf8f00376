//! The real runtime: one [`Node`](crate::Node) on real UDP and TCP sockets and the OS clock.
//!
//! The same state machines that run in the simulator's world run here unchanged, as real
//! programs. A [`Runtime`] owns one node, its [`NodeIo`](crate::NodeIo) (the same per-node I/O state the
//! simulator keeps: timers, stream credit, storage, RNG), an optional UDP socket, an
//! optional TCP listener, and a [`mio::Poll`]. Everything runs on the calling thread.
//!
//! # The loop
//!
//! [`Runtime::run_until`] repeats rounds. In each round every source of events offers the
//! node at most one event, in this order:
//!
//! 1. the earliest due timer that was not cancelled ([`timers`]);
//! 2. a call queued from another thread through an [`External`] handle ([`external`]);
//! 3. a datagram from the UDP socket ([`udp`]);
//! 4. a stream event: one queued by I/O (`Accepted`, `Connected`, `Writable`, `Closed`),
//!    else a chunk read from the next readable stream, round-robin ([`tcp`]).
//!
//! Each event is one handler call. After it returns, the runtime (a) writes the durable
//! storage to disk if the node synced during the call, (b) carries out the effects the node
//! asked for, in order (send datagrams, queue timers, connect, write into stream buffers,
//! close, pause or resume reading), and (c) hands recorded history events to the
//! [`Runtime::on_history`] callbacks. Storage is written before any effect goes out, so a
//! reply that depends on synced state never leaves before that state is on disk. The
//! `done` predicate is checked after every event.
//!
//! Then the runtime polls the OS: without waiting if the round delivered anything (other
//! sockets may have become ready meanwhile), otherwise until the next timer deadline or the
//! run's timeout, whichever is first. Readiness from mio is edge-triggered, so each source
//! remembers that it is readable until a read says `WouldBlock`.
//!
//! # Addresses
//!
//! A node sees only [`Addr`](crate::Addr)s. Each distinct socket address gets one stable `Addr` for the
//! life of the runtime ([`Runtime::peer`]), including senders never named before: a
//! datagram from a new address gets a fresh `Addr`, and replying to it reaches that socket.
//! `Addr(0)` is the node itself. Datagrams and streams share one address space, keyed by
//! socket address: `ctx.connect(to)` opens a TCP connection to `to`'s socket address, so
//! `to` must be the peer's TCP *listen* address. A node's UDP and TCP ports may differ, and
//! then they are two different `Addr`s: register both with `peer()` if a node uses both.
//! An accepted stream's `from` is the connecting socket's (ephemeral) address, so each
//! accepted connection adds one entry to the address book.
//!
//! # What matches the simulator, and how
//!
//! - `ctx.now()` is the time since the runtime was created, in [`Time`](crate::Time) nanoseconds.
//! - Timers fire in deadline order, ties in the order they were set.
//! - Datagrams are real UDP: lossy like the simulator's links, but with the OS's delays.
//! - Streams are TCP with the node interface's flow control: a node's credit is a
//!   user-space send buffer of [`RealConfig::stream_window`] bytes per stream, refilled as
//!   the socket takes bytes; a slow or paused reader fills TCP's window and the writer's
//!   credit runs out. See [`tcp`].
//! - Storage is a file rewritten atomically after each call in which the node synced;
//!   unsynced writes die with the process. See [`persist`].
//! - No socket error panics: a failed stream is `Closed { Reset }` (`Refused` if it never
//!   connected), failed datagram sends are counted in [`RealStats`] and dropped.
//!
//! # Example: a UDP echo node, run for real
//!
//! ```
//! use faultline::real::{RealConfig, Runtime};
//! use faultline::{Addr, Ctx, Node};
//! use std::time::Duration;
//!
//! /// Sends every datagram back to where it came from.
//! struct Echo {
//!     echoed: usize,
//! }
//!
//! impl Node for Echo {
//!     type Event = ();
//!     type Timer = ();
//!     fn on_start(&mut self, _ctx: &mut Ctx<'_, ()>) {}
//!     fn on_datagram(&mut self, ctx: &mut Ctx<'_, ()>, from: Addr, data: &[u8]) {
//!         ctx.send(from, data);
//!         self.echoed += 1;
//!     }
//! }
//!
//! let config = RealConfig { udp_bind: Some("127.0.0.1:0".parse().unwrap()), ..RealConfig::default() };
//! let mut runtime = Runtime::new(config).unwrap();
//! let server = runtime.local_udp_addr().unwrap();
//! runtime.start(Echo { echoed: 0 });
//!
//! // An ordinary UDP client on another thread.
//! let client = std::thread::spawn(move || {
//!     let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
//!     socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
//!     socket.send_to(b"hello", server).unwrap();
//!     let mut buf = [0; 64];
//!     let (n, _) = socket.recv_from(&mut buf).unwrap();
//!     buf[..n].to_vec()
//! });
//!
//! let done = runtime.run_until(|echo| echo.echoed == 1, Some(Duration::from_secs(5))).unwrap();
//! assert!(done);
//! assert_eq!(client.join().unwrap(), b"hello");
//! ```

mod conn;
pub mod external;
mod peers;
pub mod persist;
mod runtime;
pub mod tcp;
pub mod timers;
pub mod udp;

pub use external::{External, ExternalCall};
pub use peers::MAX_SEEN_PEERS;
pub use runtime::{RealStats, Runtime};
pub use tcp::StreamStats;

use crate::ctx::DEFAULT_STREAM_WINDOW;
use std::net::SocketAddr;
use std::path::PathBuf;

/// How a [`Runtime`] binds and what it keeps.
#[derive(Clone, Debug)]
pub struct RealConfig {
    /// Bind a UDP socket here (port 0 picks a free port). None: no datagrams.
    pub udp_bind: Option<SocketAddr>,
    /// Listen for TCP connections here (port 0 picks a free port). None: the node can still
    /// connect out, but accepts nothing.
    pub tcp_listen: Option<SocketAddr>,
    /// Keep the node's durable storage in this directory, so a restarted process recovers
    /// it. None: storage lives in memory and dies with the process.
    pub storage_dir: Option<PathBuf>,
    /// Seeds the node's RNG (`ctx.rng()`).
    pub seed: u64,
    /// Per-stream send buffer, in bytes: the most a node can have written and not yet
    /// flushed to the socket.
    pub stream_window: usize,
}

impl Default for RealConfig {
    fn default() -> Self {
        RealConfig {
            udp_bind: None,
            tcp_listen: None,
            storage_dir: None,
            seed: 0,
            stream_window: DEFAULT_STREAM_WINDOW,
        }
    }
}

impl RealConfig {
    /// UDP and TCP both on 127.0.0.1 with OS-chosen ports.
    pub fn loopback() -> RealConfig {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        RealConfig {
            udp_bind: Some(any),
            tcp_listen: Some(any),
            ..RealConfig::default()
        }
    }
}
