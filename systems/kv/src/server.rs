//! The key-value server as a sans-IO node over streams (spec P0 A.2-A.5).
//!
//! Per client it keeps a growing line reader and an outgoing queue of at most
//! [`QUEUE_MAX_MESSAGES`] messages. A reply goes straight to the stream when the queue is
//! empty and the client's receive window takes it whole; otherwise it waits in the queue,
//! which is drained on every `Writable`. When the queue is full a new message is dropped and
//! counted (A.4): the server never waits for a client, so one that stops reading holds up
//! neither the others nor the store. Requests are applied in the order their lines are
//! completed, one event at a time, which serialises every store access (A.1).
//!
//! Driving contract (as for every node): call the `on_*` handlers with each event; after
//! [`Server::close`] every client stream is closed and new ones are refused.

use crate::event::{KvEvent, QueueOutcome};
use crate::protocol::{encode_reply, parse_request, LineReader, ParseError, Request};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use sim::{Addr, CloseReason, Ctx, StreamId};
use std::collections::{BTreeMap, VecDeque};

/// Spec P0 A.4: each client's outgoing queue holds at most this many messages.
pub const QUEUE_MAX_MESSAGES: usize = 500;

/// The server's counters (spec P0 A.2 `CountActive` / `CountDropped`, plus ours).
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
    queue: VecDeque<Vec<u8>>,
    /// Bytes of the queue's first message already handed to the stream.
    head_written: usize,
}

/// The server's state.
#[derive(Debug, Default)]
pub struct Server {
    store: Store,
    clients: BTreeMap<StreamId, Conn>,
    stats: ServerStats,
    closed: bool,
}

impl Server {
    pub fn new() -> Server {
        Server::default()
    }

    /// A server over an existing store (the tests' `CreateWithBackdoor`).
    pub fn with_store(store: Store) -> Server {
        Server {
            store,
            ..Server::default()
        }
    }

    /// Spec P0 A.2 `CountActive`.
    pub fn count_active(&self) -> u64 {
        self.stats.active
    }

    /// Spec P0 A.2 `CountDropped`.
    pub fn count_dropped(&self) -> u64 {
        self.stats.dropped
    }

    pub fn stats(&self) -> ServerStats {
        let mut stats = self.stats;
        stats.queued_now = self.clients.values().map(|c| c.queue.len() as u64).sum();
        stats.buffered_bytes = self
            .clients
            .values()
            .map(|c| {
                let queued: usize = c.queue.iter().map(Vec::len).sum();
                (c.reader.buffered() + queued - c.head_written) as u64
            })
            .sum();
        stats
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Messages waiting in one client's queue.
    pub fn queue_len(&self, stream: StreamId) -> Option<usize> {
        self.clients.get(&stream).map(|c| c.queue.len())
    }

    /// Spec P0 A.2 `Close`: close every client connection now and refuse new ones.
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

    /// A client connected (spec P0 A.5: active from accept).
    pub fn on_accepted(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId, _from: Addr) {
        if self.closed {
            ctx.close(stream);
            return;
        }
        let conn = Conn {
            reader: LineReader::default(),
            queue: VecDeque::new(),
            head_written: 0,
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
        }
    }

    /// The client's window has room again: drain its queue.
    pub fn on_writable(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId) {
        self.flush(ctx, stream);
    }

    /// The connection ended (spec P0 A.5: EOF or error makes the client dropped).
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
            self.stats.dropped += 1;
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
            Request::Get { .. } => {}
        }
        let key = match &req {
            Request::Get { key } => Some(key.clone()),
            _ => None,
        };
        ctx.record(KvEvent::Applied { stream, req });
        if let Some(key) = key {
            // One message per value (spec P0 A.3). Cloning the list keeps the store
            // borrow short; values are small next to the socket work they cause.
            for value in self.store.get(&key).to_vec() {
                let line = encode_reply(&key, &value);
                self.enqueue(ctx, stream, line);
            }
        }
    }

    /// Spec P0 A.4: queue a message for a client, or drop it if its queue is full.
    fn enqueue(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId, line: Vec<u8>) {
        let Some(conn) = self.clients.get_mut(&stream) else {
            return;
        };
        let outcome = if conn.queue.len() >= QUEUE_MAX_MESSAGES {
            self.stats.messages_dropped += 1;
            QueueOutcome::Dropped
        } else {
            // Only an empty queue may write at once, or messages would overtake each other.
            // A refused write takes 0 bytes; what was not taken follows on `Writable`.
            let taken = if conn.queue.is_empty() {
                ctx.write(stream, &line).unwrap_or(0)
            } else {
                0
            };
            if taken == line.len() {
                QueueOutcome::Sent
            } else {
                if conn.queue.is_empty() {
                    conn.head_written = taken;
                }
                conn.queue.push_back(line.clone());
                let len = conn.queue.len();
                self.stats.queue_high_water = self.stats.queue_high_water.max(len as u64);
                QueueOutcome::Queued { len }
            }
        };
        ctx.record(KvEvent::Reply {
            stream,
            line,
            outcome,
        });
    }

    /// Hand queued messages to the stream while its window takes them.
    fn flush(&mut self, ctx: &mut Ctx<'_, KvEvent>, stream: StreamId) {
        let Some(conn) = self.clients.get_mut(&stream) else {
            return;
        };
        let mut written = 0;
        while let Some(head) = conn.queue.front() {
            let rest = &head[conn.head_written..];
            let taken = ctx.write(stream, rest).unwrap_or(0);
            if taken < rest.len() {
                conn.head_written += taken;
                break;
            }
            conn.queue.pop_front();
            conn.head_written = 0;
            written += 1;
        }
        if written > 0 {
            ctx.record(KvEvent::Written {
                stream,
                messages: written,
            });
        }
    }
}
