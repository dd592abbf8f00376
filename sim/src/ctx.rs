//! The context a node asks for effects, and the per-node I/O state behind it.
//!
//! [`NodeIo`] is owned by the runtime (the simulator or the real runtime) and outlives the
//! handler calls; [`Ctx`] is the node's view of it during one call. Effects are queued and
//! carried out by the runtime after the handler returns; queries answer at once.

use crate::node::{Addr, StreamId, TimerId};
use crate::storage::Storage;
use crate::time::Time;
use crate::timer::TimerTag;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// The RNG every node draws from: seeded per node from the run's master seed.
pub type NodeRng = ChaCha8Rng;

/// Default receive window of a stream, in bytes, per direction.
pub const DEFAULT_STREAM_WINDOW: usize = 64 * 1024;

/// An effect a node asked for, to be carried out by the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Send {
        to: Addr,
        data: Vec<u8>,
    },
    SetTimer {
        id: TimerId,
        after: Duration,
        tag: u64,
    },
    Connect {
        stream: StreamId,
        to: Addr,
    },
    Write {
        stream: StreamId,
        data: Vec<u8>,
    },
    Close {
        stream: StreamId,
    },
    PauseReading {
        stream: StreamId,
    },
    ResumeReading {
        stream: StreamId,
    },
}

/// Why a stream write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("stream is closed or unknown")]
    Closed,
}

/// The send side of one open stream, as the writing node sees it.
#[derive(Debug, Clone)]
struct SendWindow {
    /// Bytes the peer can still take (its receive window minus what is in flight or unread).
    credit: usize,
    /// Credit ran out: tell the node when it comes back.
    wants_writable: bool,
}

/// Which of a node's timers are still live. Ids are handed out in order, so the live ones
/// sit in a window from the oldest live timer to the newest, kept as bits: a lookup is an
/// index, not a hash (this was 5% of the simulator's time as a hash set). The window's
/// first 64 ids are a word kept inline, so a node with few timers in flight (most nodes,
/// most of the time) never touches memory outside its own state.
#[derive(Default)]
struct LiveTimers {
    /// The id of bit 0 of `first`; a multiple of nothing, just where the window starts.
    base: u64,
    /// Live flags of ids `base..base + 64`.
    first: u64,
    /// Live flags of the next ids, 64 to a word.
    rest: VecDeque<u64>,
    /// One past the newest id added: every id from here on is not live.
    end: u64,
}

impl LiveTimers {
    /// `id` is the next id after every id added before.
    fn add(&mut self, id: u64) {
        if self.first == 0 && self.rest.is_empty() {
            self.base = id;
        }
        debug_assert!(id >= self.end.max(self.base));
        self.end = id + 1;
        let offset = id - self.base;
        if offset < 64 {
            self.first |= 1 << offset;
            return;
        }
        let word = (offset / 64 - 1) as usize;
        if self.rest.len() <= word {
            self.rest.resize(word + 1, 0);
        }
        self.rest[word] |= 1 << (offset % 64);
    }

    /// Whether `id` was live; it is not any more.
    fn remove(&mut self, id: u64) -> bool {
        let Some(offset) = id.checked_sub(self.base).filter(|_| id < self.end) else {
            return false;
        };
        let (word, bit) = match offset {
            0..64 => (&mut self.first, offset),
            _ => match self.rest.get_mut((offset / 64 - 1) as usize) {
                Some(word) => (word, offset % 64),
                None => return false,
            },
        };
        let was_live = *word & (1 << bit) != 0;
        *word &= !(1 << bit);
        // Slide the window past whole words of dead timers.
        while self.first == 0 {
            match self.rest.pop_front() {
                Some(next) => {
                    self.first = next;
                    self.base += 64;
                }
                None => break,
            }
        }
        was_live
    }

    fn clear(&mut self) {
        self.first = 0;
        self.rest.clear();
    }
}

/// One node's I/O state, kept by the runtime across handler calls.
///
/// Fields in declaration order (`repr(C)`), what every call touches first: the history's
/// length, the effects, the timers, the generator; storage and streams last.
#[repr(C)]
pub struct NodeIo<E> {
    history: Vec<E>,
    state: IoState,
}

/// Everything of [`NodeIo`] but the history, which is all that depends on the event type.
#[repr(C)]
struct IoState {
    effects: Vec<Effect>,
    live_timers: LiveTimers,
    next_timer: u64,
    me: Addr,
    rng: NodeRng,
    storage: Storage,
    next_stream: u32,
    streams: BTreeMap<StreamId, SendWindow>,
    stream_window: usize,
}

impl<E> NodeIo<E> {
    pub fn new(me: Addr, rng: NodeRng, storage: Storage) -> NodeIo<E> {
        NodeIo {
            state: IoState {
                me,
                rng,
                storage,
                effects: Vec::new(),
                live_timers: LiveTimers::default(),
                next_timer: 0,
                next_stream: 0,
                streams: BTreeMap::new(),
                stream_window: DEFAULT_STREAM_WINDOW,
            },
            history: Vec::new(),
        }
    }

    pub fn me(&self) -> Addr {
        self.state.me
    }

    /// The receive window every new stream starts with.
    pub fn set_stream_window(&mut self, bytes: usize) {
        self.state.stream_window = bytes.max(1);
    }

    pub fn stream_window(&self) -> usize {
        self.state.stream_window
    }

    pub fn storage(&self) -> &Storage {
        &self.state.storage
    }

    pub fn storage_mut(&mut self) -> &mut Storage {
        &mut self.state.storage
    }

    /// Lend the node `buf`'s storage for the effects of its next call (swapped in while both
    /// are empty; [`NodeIo::drain_effects`] hands it back). A runtime's one buffer stays
    /// warm in cache, where each of many nodes' own buffers would be a cold line per call.
    pub fn lend_effects(&mut self, buf: &mut Vec<Effect>) {
        if self.state.effects.is_empty() && buf.is_empty() {
            std::mem::swap(&mut self.state.effects, buf);
        }
    }

    /// The effects queued since the last call, in order. Reuse the vector to avoid
    /// allocating on every event.
    pub fn drain_effects(&mut self, into: &mut Vec<Effect>) {
        if into.is_empty() {
            std::mem::swap(into, &mut self.state.effects);
        } else {
            into.append(&mut self.state.effects);
        }
    }

    /// The history events recorded since the last call.
    pub fn drain_history(&mut self) -> std::vec::Drain<'_, E> {
        self.history.drain(..)
    }

    pub fn has_history(&self) -> bool {
        !self.history.is_empty()
    }

    /// A timer fired: true if it is still live (not cancelled); it is live no more.
    pub fn take_timer(&mut self, id: TimerId) -> bool {
        self.state.live_timers.remove(id.0)
    }

    /// A fresh stream id owned by this node (for streams it opens or, in the real runtime,
    /// accepts).
    pub fn alloc_stream_id(&mut self) -> StreamId {
        self.state.alloc_stream_id()
    }

    /// A stream is open at this end: the node may write up to `window` bytes before the
    /// first window update.
    pub fn open_stream(&mut self, stream: StreamId, window: usize) {
        self.state.open_stream(stream, window);
    }

    /// The stream is gone at this end.
    pub fn close_stream(&mut self, stream: StreamId) {
        self.state.streams.remove(&stream);
    }

    pub fn stream_is_open(&self, stream: StreamId) -> bool {
        self.state.streams.contains_key(&stream)
    }

    /// The peer consumed `bytes`: give them back as credit. Returns true if the node asked
    /// to be told when the stream is writable again (it then gets `Writable`).
    pub fn grant_credit(&mut self, stream: StreamId, bytes: usize) -> bool {
        match self.state.streams.get_mut(&stream) {
            Some(w) => {
                w.credit += bytes;
                std::mem::take(&mut w.wants_writable)
            }
            None => false,
        }
    }

    /// Forget everything but storage, for a crash. The node's next incarnation gets a
    /// fresh I/O state over the same storage (with unsynced writes dropped).
    pub fn crash(&mut self) {
        self.state.storage.crash();
        self.state.effects.clear();
        self.history.clear();
        self.state.live_timers.clear();
        self.state.streams.clear();
    }

    /// The context a handler call sees, at local time `now`.
    pub fn ctx(&mut self, now: Time) -> Ctx<'_, E> {
        Ctx {
            now,
            io: &mut self.state,
            sink: Sink::Vec(&mut self.history),
        }
    }
}

impl IoState {
    fn alloc_stream_id(&mut self) -> StreamId {
        let id = StreamId(((self.me.0 as u64) << 32) | self.next_stream as u64);
        self.next_stream = self.next_stream.wrapping_add(1);
        id
    }

    fn open_stream(&mut self, stream: StreamId, window: usize) {
        self.streams.insert(
            stream,
            SendWindow {
                credit: window,
                wants_writable: false,
            },
        );
    }
}

/// Where a context's history events go: the node's own list, or an outer context.
enum Sink<'a, E> {
    Vec(&'a mut Vec<E>),
    Forward(&'a mut dyn FnMut(E)),
}

impl<E> Sink<'_, E> {
    fn push(&mut self, event: E) {
        match self {
            Sink::Vec(v) => v.push(event),
            Sink::Forward(f) => f(event),
        }
    }
}

/// What a node sees during one handler call: its clock, its RNG, its storage, and the
/// effects it can ask for.
pub struct Ctx<'a, E> {
    now: Time,
    io: &'a mut IoState,
    sink: Sink<'a, E>,
}

impl<E> Ctx<'_, E> {
    /// This node's address.
    pub fn me(&self) -> Addr {
        self.io.me
    }

    /// The node's local clock. In the simulator it may be offset or drift from true time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// The node's own RNG, seeded from the run's seed.
    pub fn rng(&mut self) -> &mut NodeRng {
        &mut self.io.rng
    }

    /// Send a datagram. It may be lost, duplicated, delayed, reordered or corrupted.
    pub fn send(&mut self, to: Addr, data: impl Into<Vec<u8>>) {
        self.io.effects.push(Effect::Send {
            to,
            data: data.into(),
        });
    }

    /// Fire `on_timer(id, tag)` after `after` has passed on this node's clock.
    pub fn set_timer(&mut self, after: Duration, tag: impl TimerTag) -> TimerId {
        let tag = tag.to_raw();
        let id = TimerId(self.io.next_timer);
        self.io.next_timer += 1;
        self.io.live_timers.add(id.0);
        self.io.effects.push(Effect::SetTimer { id, after, tag });
        id
    }

    /// Cancel a timer. Cancelling one that fired or was cancelled already does nothing.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.io.live_timers.remove(id.0);
    }

    /// Open a reliable ordered stream to `to`. The node gets `Connected` or, if the peer
    /// cannot be reached, `Closed { reason: Refused }`. Writes before `Connected` are queued.
    pub fn connect(&mut self, to: Addr) -> StreamId {
        let stream = self.io.alloc_stream_id();
        let window = self.io.stream_window;
        self.io.open_stream(stream, window);
        self.io.effects.push(Effect::Connect { stream, to });
        stream
    }

    /// Write as much of `data` as the peer's receive window allows; returns how many bytes
    /// were taken (possibly 0). Whenever a write leaves no credit (taken short, or exactly
    /// used up), the node gets `Writable` once the peer has read enough to make room.
    pub fn write(&mut self, stream: StreamId, data: &[u8]) -> Result<usize, StreamError> {
        let window = self
            .io
            .streams
            .get_mut(&stream)
            .ok_or(StreamError::Closed)?;
        let taken = data.len().min(window.credit);
        window.credit -= taken;
        // Out of credit, whether this write was cut short or just used the last byte: the
        // node hears `Writable` when room comes back, so it never has to poll.
        if window.credit == 0 {
            window.wants_writable = true;
        }
        if taken > 0 {
            self.io.effects.push(Effect::Write {
                stream,
                data: data[..taken].to_vec(),
            });
        }
        Ok(taken)
    }

    /// Bytes the peer can take right now without refusing.
    pub fn writable_bytes(&self, stream: StreamId) -> usize {
        self.io.streams.get(&stream).map_or(0, |w| w.credit)
    }

    /// Close a stream gracefully: the peer gets what was written, then `Closed`.
    pub fn close(&mut self, stream: StreamId) {
        if self.io.streams.remove(&stream).is_some() {
            self.io.effects.push(Effect::Close { stream });
        }
    }

    /// Stop reading a stream: incoming data waits in the receive buffer, and once the
    /// window is full the peer's writes are refused. This is how a slow reader looks.
    pub fn pause_reading(&mut self, stream: StreamId) {
        self.io.effects.push(Effect::PauseReading { stream });
    }

    /// Read a stream again: what waited is delivered.
    pub fn resume_reading(&mut self, stream: StreamId) {
        self.io.effects.push(Effect::ResumeReading { stream });
    }

    /// This node's durable storage.
    pub fn storage(&mut self) -> &mut Storage {
        &mut self.io.storage
    }

    /// Record a history event for the run's checkers.
    pub fn record(&mut self, event: E) {
        self.sink.push(event);
    }

    /// Run `f` with a context for a part of this node whose history events are of another
    /// type: they are wrapped by `wrap` and recorded here. Everything else is shared. This is
    /// how a node embeds another state machine (an LSP endpoint inside a miner, say).
    pub fn nest<E2, R>(
        &mut self,
        wrap: impl Fn(E2) -> E,
        f: impl FnOnce(&mut Ctx<'_, E2>) -> R,
    ) -> R {
        let sink = &mut self.sink;
        let mut forward = |event: E2| sink.push(wrap(event));
        let mut inner = Ctx {
            now: self.now,
            io: &mut *self.io,
            sink: Sink::Forward(&mut forward),
        };
        f(&mut inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_timers_track_out_of_order_fires_and_cancels() {
        let mut live = LiveTimers::default();
        for id in 10..15 {
            live.add(id);
        }
        assert!(live.remove(12), "a middle timer fires");
        assert!(!live.remove(12), "and only once");
        assert!(live.remove(10));
        assert!(!live.remove(9), "below the window");
        assert!(!live.remove(99), "above the window");
        assert!(live.remove(11) && live.remove(13) && live.remove(14));
        assert!(live.first == 0 && live.rest.is_empty());
        live.add(15);
        assert!(live.remove(15));
        live.add(16);
        live.clear();
        assert!(!live.remove(16), "a crash forgets every timer");
    }

    #[test]
    fn live_timers_agree_with_a_set_over_wide_windows() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut live = LiveTimers::default();
        let mut reference = std::collections::BTreeSet::new();
        let mut next = 0u64;
        for step in 0..50_000 {
            // One long-lived timer now and then keeps the window hundreds of ids wide.
            if rng.gen_bool(0.5) || reference.is_empty() {
                live.add(next);
                reference.insert(next);
                next += rng.gen_range(1..3);
            } else {
                let id = match rng.gen_range(0..4) {
                    0 => rng.gen_range(0..next + 10),
                    1 => *reference.iter().next().unwrap(),
                    _ => *reference
                        .iter()
                        .nth(rng.gen_range(0..reference.len().min(8)))
                        .unwrap(),
                };
                assert_eq!(
                    live.remove(id),
                    reference.remove(&id),
                    "step {step}: id {id}"
                );
            }
            if step % 10_000 == 9_999 {
                live.clear();
                reference.clear();
            }
        }
        assert!(
            live.rest.capacity() > 0,
            "the window grew past its inline word"
        );
    }
}
