//! The node interface: what every node of every system implements, and the context it
//! asks for effects.
//!
//! A node is a deterministic state machine. It reacts to events (`on_*` methods) and asks
//! its [`Ctx`] for effects. It never touches a socket, a clock, a thread or a global RNG,
//! which is what lets the same code run in the simulator and on real sockets.
//!
//! The contract between a runtime (the simulator's world, or the real runtime) and a node:
//! 1. `on_start` is called once per incarnation, before any other event (again after a
//!    restart, with a fresh node built over the same [`Storage`](crate::Storage)).
//! 2. Every other event is delivered one at a time, never concurrently, in the order the
//!    runtime decides; the node's handlers run to completion.
//! 3. Effects asked of the context inside a handler take effect after it returns, in the
//!    order they were asked. Calls that answer at once (`now`, `rng`, `set_timer`'s id,
//!    `connect`'s id, `write`'s accepted count, `storage`) answer from the node's own state.

use crate::ctx::Ctx;
use crate::timer::TimerTag;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The address of a node (or, in the real runtime, of a remote peer socket).
///
/// In the simulator it is the node's index in the world. In the real runtime each distinct
/// socket address gets one `Addr` for the life of the process, so an `Addr` is always cheap
/// to copy, compare and use as a map key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Addr(pub u32);

impl Addr {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A timer, as returned by [`Ctx::set_timer`]. Unique within one node's lifetime.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct TimerId(pub u64);

/// A reliable ordered stream between two nodes. The same id names it at both ends.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StreamId(pub u64);

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}.{}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

/// Why a stream closed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum CloseReason {
    /// The peer closed it gracefully, after everything it wrote was delivered.
    PeerClosed,
    /// The connection was reset: the peer crashed, or a reset was injected. Data in flight
    /// is lost.
    Reset,
    /// `connect` failed: the peer is down or unreachable.
    Refused,
}

/// What happened on a stream.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum StreamEvent {
    /// A peer opened a stream to this node.
    Accepted { stream: StreamId, from: Addr },
    /// A stream this node opened with [`Ctx::connect`] is established.
    Connected { stream: StreamId },
    /// Bytes arrived, in order. Boundaries between `Data` events carry no meaning.
    Data { stream: StreamId, data: Vec<u8> },
    /// A write used up the stream's credit earlier; the peer's window has room again.
    Writable { stream: StreamId },
    /// The stream is gone; no more events come for it and writes to it fail.
    Closed {
        stream: StreamId,
        reason: CloseReason,
    },
}

impl StreamEvent {
    pub fn stream(&self) -> StreamId {
        match self {
            StreamEvent::Accepted { stream, .. }
            | StreamEvent::Connected { stream }
            | StreamEvent::Data { stream, .. }
            | StreamEvent::Writable { stream }
            | StreamEvent::Closed { stream, .. } => *stream,
        }
    }
}

/// A deterministic, sans-IO state machine: one node of a system.
///
/// `Event` is the type of history events the node records for checkers (see
/// [`Ctx::record`]); use `()` if it records none. `Timer` names what its timers are for
/// (see [`crate::timer`]); use `()` if it has one kind of timer or none.
pub trait Node {
    /// History events this node records for checkers.
    type Event: std::fmt::Debug;
    /// The tags of this node's timers.
    type Timer: TimerTag;

    /// The node starts (or restarts after a crash: its storage holds what was synced).
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self::Event>);

    /// A datagram arrived. It may be a duplicate, late, corrupted or truncated.
    fn on_datagram(&mut self, ctx: &mut Ctx<'_, Self::Event>, from: Addr, data: &[u8]) {
        let _ = (ctx, from, data);
    }

    /// A timer set with [`Ctx::set_timer`] fired (and was not cancelled).
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self::Event>, timer: TimerId, tag: Self::Timer) {
        let _ = (ctx, timer, tag);
    }

    /// Something happened on a stream.
    fn on_stream(&mut self, ctx: &mut Ctx<'_, Self::Event>, event: StreamEvent) {
        let _ = (ctx, event);
    }
}

/// A boxed node is a node: a world of kinds can box a large one to keep the enum small.
impl<N: Node> Node for Box<N> {
    type Event = N::Event;
    type Timer = N::Timer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self::Event>) {
        (**self).on_start(ctx)
    }
    fn on_datagram(&mut self, ctx: &mut Ctx<'_, Self::Event>, from: Addr, data: &[u8]) {
        (**self).on_datagram(ctx, from, data)
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self::Event>, timer: TimerId, tag: Self::Timer) {
        (**self).on_timer(ctx, timer, tag)
    }
    fn on_stream(&mut self, ctx: &mut Ctx<'_, Self::Event>, event: StreamEvent) {
        (**self).on_stream(ctx, event)
    }
}
