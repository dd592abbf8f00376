//! The key-value server as a sans-IO node over streams (SPEC.md §3-§7).
//!
//! Per client it keeps a growing line reader and an outgoing queue of at most
//! [`QUEUE_MAX_MESSAGES`] messages and [`QUEUE_MAX_BYTES`] bytes, whose replies share their
//! bytes with the store (`crate::queue`). A reply goes straight to the stream when the queue is
//! empty and the client's receive window takes it whole; otherwise it waits in the queue,
//! which is drained on every `Writable`. When the queue is full a new message is dropped and
//! counted (§6): the server never waits for a client, so one that stops reading holds up
//! neither the others nor the store. Requests are applied in the order their lines are
//! completed, one event at a time, which serialises every store access (§2).
//!
//! Driving contract (as for every node): call the `on_*` handlers with each event; after
//! [`Server::close`] every client stream is closed and new ones are refused.

use crate::event::{KvEvent, QueueOutcome};
use crate::protocol::{encode_reply, parse_request, LineReader, ParseError, Request};
use crate::queue::{OutQueue, Reply};
use crate::store::Store;
use faultline::bugs::BugSet;
use faultline::{Addr, CloseReason, Ctx, StreamId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// SPEC.md §6: each client's outgoing queue holds at most this many messages.
pub const QUEUE_MAX_MESSAGES: usize = 500;

/// SPEC.md §6 (our choice): and at most this many bytes, counted as `crate::queue` says:
/// replies share their values with the store, so one value queued many times is charged
/// once. The bound stops a client that asks for many different big values (up to 1 MiB
/// each) without reading; the official workload (500 replies of about 4 KiB) stays under
/// half of it.
pub const QUEUE_MAX_BYTES: usize = 4 << 20;
faultline::planted_bugs! {
    /// Known-wrong behaviours that can be planted (see `faultline bugs`); none by default.
    pub enum Bug {
        /// While any client's queue holds replies, the server stops reading every client.
        SlowReaderBlocksAll = 0,
        /// A client's queue has no limit: nothing is ever dropped.
        QueueUnbounded = 1,
        /// A client that disconnects is not counted as dropped.
        DroppedNotCounted = 2,
    }
}

/// The server's counters (SPEC.md §3 `count_active` / `count_dropped`, plus ours).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStats {
    /// Clients connected now.
    pub active: u64,
    /// Clients that have disconnected since start.
    pub dropped: u64,
    /// Requests applied to the store.
    pub applied: u64,
    /// Lines ignored because they were not requests.
    pub malformed: u64,
    /// Reply messages dropped because a client's queue was full.
    pub messages_dropped: u64,
    /// Messages waiting in all queues now.
    pub queued_now: u64,
    /// The longest any one queue has been.
    pub queue_high_water: u64,
    /// Bytes held in line readers and queues now (what the clients cost in memory).
    pub buffered_bytes: u64,
}

/// One connected client.
#[derive(Debug)]
struct Conn {
    reader: LineReader,
    queue: OutQueue,
    /// Bytes counted as sent during this handler call, written to the stream in one
    /// piece at its end (one write per call instead of one per reply line).
    staged: Vec<u8>,
}

impl Conn {
    /// The client's window not yet used by staged bytes.
    fn room(&self, ctx: &Ctx<'_, KvEvent>, stream: StreamId) -> usize {
        ctx.writable_bytes(stream).saturating_sub(self.staged.len())
    }

    /// SPEC.md §6: a reply for a queue that admits it (see [`OutQueue::offer`]).
    fn offer(&mut self, ctx: &Ctx<'_, KvEvent>, stream: StreamId, reply: Reply) -> QueueOutcome {
        let room = self.room(ctx, stream);
        self.queue.offer(reply, room, &mut self.staged)
    }

    /// Move queued messages into the staging buffer while the window has room.
    fn drain_queue(&mut self, ctx: &Ctx<'_, KvEvent>, stream: StreamId) -> u64 {
        let room = self.room(ctx, stream);
        self.queue.drain(room, &mut self.staged)
    }

    /// Hand the staged bytes to the stream in one write. They were counted against the
    /// window as they were staged, so the stream takes them all; when the window is used
    /// up the node hears `Writable` once the client has read.
    fn push_staged(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId) {
        if !self.staged.is_empty() {
            let _ = ctx.write(stream, &self.staged);
            self.staged.clear();
        }
    }
}

/// What the server records as history (see [`crate::event`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum History {
    /// Every applied request and every reply message: what the checkers need. Its cost
    /// is a copy of every reply, held until the handler returns.
    #[default]
    Full,
    /// Connects, leaves, malformed lines and stats only: for the real program, whose
    /// memory must stay bounded however many replies one read of a socket asks for.
    Counts,
}

/// The server's state.
#[derive(Debug, Default)]
pub struct Server {
    store: Store,
    clients: BTreeMap<StreamId, Conn>,
    stats: ServerStats,
    closed: bool,
    history: History,
    bugs: BugSet<Bug>,
    /// Streams whose reading the server paused (only under `SlowReaderBlocksAll`).
    blocked: Vec<StreamId>,
}

impl Server {
    pub fn new() -> Server {
        Server::default()
    }

    /// A server that records only `history` (see [`History`]).
    pub fn with_history(history: History) -> Server {
        Server {
            history,
            ..Server::default()
        }
    }

    /// This server with `bugs` planted.
    pub fn with_bugs(self, bugs: BugSet<Bug>) -> Server {
        Server { bugs, ..self }
    }

    /// A server over an existing store (SPEC.md §2: the tests keep a raw view of it).
    pub fn with_store(store: Store) -> Server {
        Server {
            store,
            ..Server::default()
        }
    }

    /// SPEC.md §3 `count_active`: clients connected now.
    pub fn count_active(&self) -> u64 {
        self.stats.active
    }

    /// SPEC.md §3 `count_dropped`: clients disconnected since the start.
    pub fn count_dropped(&self) -> u64 {
        self.stats.dropped
    }

    pub fn stats(&self) -> ServerStats {
        let mut stats = self.stats;
        stats.queued_now = self.clients.values().map(|c| c.queue.len() as u64).sum();
        stats.buffered_bytes = self
            .clients
            .values()
            .map(|c| (c.reader.buffered() + c.queue.unsent_bytes()) as u64)
            .sum();
        stats
    }

    /// Bytes the clients' queues keep alive, each charged as the byte bound counts them
    /// (SPEC.md §6: shared values once per queue). What a slow reader costs in memory,
    /// where `ServerStats::buffered_bytes` counts what is still to be sent.
    pub fn queue_bytes_held(&self) -> u64 {
        self.clients
            .values()
            .map(|c| c.queue.held_bytes() as u64)
            .sum()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Messages waiting in one client's queue.
    pub fn queue_len(&self, stream: StreamId) -> Option<usize> {
        self.clients.get(&stream).map(|c| c.queue.len())
    }

    /// SPEC.md §3 `close`: close every client connection now and refuse new ones.
    pub fn close(&mut self, ctx: &mut Ctx<'_, KvEvent>) {
        self.closed = true;
        for stream in self.clients.keys().copied().collect::<Vec<_>>() {
            ctx.close(stream);
            self.forget(ctx, stream, CloseReason::PeerClosed);
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// A client connected (SPEC.md §7: active from accept).
    pub fn on_accepted(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId, _from: Addr) {
        if self.closed {
            ctx.close(stream);
            return;
        }
        let conn = Conn {
            reader: LineReader::default(),
            queue: OutQueue::default(),
            staged: Vec::new(),
        };
        if self.clients.insert(stream, conn).is_none() {
            self.stats.active += 1;
            ctx.record(KvEvent::Joined {
                stream,
                active: self.stats.active,
                dropped: self.stats.dropped,
            });
        }
    }

    /// Bytes from a client: apply every request they complete, in order.
    pub fn on_data(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId, data: &[u8]) {
        let Some(conn) = self.clients.get_mut(&stream) else {
            return;
        };
        // Take the reader out so the line callback can borrow the rest of the server.
        let mut reader = std::mem::take(&mut conn.reader);
        reader.feed(data, |line| self.handle_line(ctx, stream, line));
        if let Some(conn) = self.clients.get_mut(&stream) {
            conn.reader = reader;
            conn.push_staged(ctx, stream);
        }
        if self.bugs.has(Bug::SlowReaderBlocksAll) {
            self.block_while_queued(ctx);
        }
    }

    /// The planted `SlowReaderBlocksAll`: a server that waits on a full client stops
    /// reading every other client until that client's queue drains.
    fn block_while_queued(&mut self, ctx: &mut Ctx<'_, KvEvent>) {
        let waiting = self.clients.values().any(|c| !c.queue.is_empty());
        if waiting && self.blocked.is_empty() {
            for (&stream, conn) in &self.clients {
                if conn.queue.is_empty() {
                    ctx.pause_reading(stream);
                    self.blocked.push(stream);
                }
            }
        } else if !waiting {
            for stream in self.blocked.drain(..) {
                if self.clients.contains_key(&stream) {
                    ctx.resume_reading(stream);
                }
            }
        }
    }

    /// The client's window has room again: drain its queue.
    pub fn on_writable(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId) {
        self.flush(ctx, stream);
    }

    /// The connection ended (SPEC.md §7: EOF or error makes the client dropped).
    pub fn on_closed(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId, reason: CloseReason) {
        self.forget(ctx, stream, reason);
    }

    /// Record the counts (the real program's periodic log line).
    pub fn record_stats(&mut self, ctx: &mut Ctx<'_, KvEvent>) {
        ctx.record(KvEvent::Stats(self.stats()));
    }

    fn forget(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId, reason: CloseReason) {
        if self.clients.remove(&stream).is_some() {
            self.stats.active -= 1;
            if !self.bugs.has(Bug::DroppedNotCounted) {
                self.stats.dropped += 1;
            }
            ctx.record(KvEvent::Left {
                stream,
                reason,
                active: self.stats.active,
                dropped: self.stats.dropped,
            });
        }
    }

    fn handle_line(
        &mut self,
        ctx: &mut Ctx<'_, KvEvent>,
        stream: StreamId,
        line: Result<&[u8], ParseError>,
    ) {
        match line.and_then(parse_request) {
            Ok(req) => self.apply(ctx, stream, req),
            Err(error) => {
                // Recorded at every history level: the count alone would not say which
                // client sent it.
                self.stats.malformed += 1;
                ctx.record(KvEvent::Malformed { stream, error });
            }
        }
    }

    fn apply(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId, req: Request) {
        self.stats.applied += 1;
        match &req {
            Request::Put { key, value } => self.store.put(key, value),
            Request::Delete { key } => self.store.delete(key),
            Request::Update { key, old, new } => self.store.update(key, old, new),
            Request::Get { key } => self.answer_get(ctx, stream, key),
        }
        if self.history == History::Full && !matches!(req, Request::Get { .. }) {
            ctx.record(KvEvent::Applied { stream, req });
        }
    }

    /// One message per value (SPEC.md §4), each offered to the client's queue (§6).
    fn answer_get(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId, key: &[u8]) {
        let full = self.history == History::Full;
        if full {
            // The Get's `Applied` must come before its replies in the history.
            ctx.record(KvEvent::Applied {
                stream,
                req: Request::Get { key: key.to_vec() },
            });
        }
        let Server {
            store,
            clients,
            stats,
            ..
        } = self;
        let Some(conn) = clients.get_mut(&stream) else {
            return;
        };
        let (bound, byte_bound) = match self.bugs.has(Bug::QueueUnbounded) {
            true => (usize::MAX, usize::MAX),
            false => (QUEUE_MAX_MESSAGES, QUEUE_MAX_BYTES),
        };
        let Some((key, values)) = store.get_shared(key) else {
            return;
        };
        for value in values {
            let reply = Reply::new(key.clone(), value.clone());
            let outcome = if conn.queue.admits(&reply, bound, byte_bound) {
                let outcome = conn.offer(ctx, stream, reply);
                if let QueueOutcome::Queued { len } = outcome {
                    stats.queue_high_water = stats.queue_high_water.max(len as u64);
                }
                outcome
            } else {
                stats.messages_dropped += 1;
                QueueOutcome::Dropped
            };
            if full {
                ctx.record(KvEvent::Reply {
                    stream,
                    line: encode_reply(key, value),
                    outcome,
                });
            }
        }
    }

    /// Hand queued messages to the stream while its window takes them.
    fn flush(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId) {
        let Some(conn) = self.clients.get_mut(&stream) else {
            return;
        };
        let written = conn.drain_queue(ctx, stream);
        conn.push_staged(ctx, stream);
        if self.bugs.has(Bug::SlowReaderBlocksAll) {
            self.block_while_queued(ctx);
        }
        if written > 0 && self.history == History::Full {
            ctx.record(KvEvent::Written {
                stream,
                messages: written,
            });
        }
    }
}
