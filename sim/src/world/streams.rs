//! Reliable ordered streams between simulated nodes, with flow control.
//!
//! A stream has two directions. Each carries segments in order over its link's latency
//! (a later segment never overtakes an earlier one). The writer's credit is the reader's
//! receive window minus what is in flight or waiting unread; it comes back only when the
//! reader's node has consumed the bytes and the window update has crossed the link back.
//! A partition stalls delivery (retried every [`STALL_RETRY_NS`]) but loses nothing; a crash
//! or an injected reset closes the stream and tells both ends.
//!
//! With trace notes on, each write is noted when written (`stream_send`), when the reader
//! takes it (`stream_recv`) and when it is lost instead (`stream_lost`, with why), paired
//! by the write's number, so a report can draw stream writes as messages.

use super::{Ev, World};
use crate::node::Addr;
use crate::node::{CloseReason, Node, StreamEvent, StreamId};
use crate::trace::TraceKind;
use std::collections::VecDeque;

/// How often a stalled stream (cut by a partition) retries, like a TCP retransmission timer.
pub const STALL_RETRY_NS: u64 = 200_000_000;
/// How long `connect` to an unreachable peer takes to fail.
pub const CONNECT_TIMEOUT_NS: u64 = 1_000_000_000;

enum Segment {
    /// `id`: the write's number (for the notes only).
    Data {
        ready: u64,
        id: u64,
        bytes: Vec<u8>,
    },
    Fin {
        ready: u64,
    },
}

impl Segment {
    fn ready(&self) -> u64 {
        match self {
            Segment::Data { ready, .. } | Segment::Fin { ready } => *ready,
        }
    }
}

/// One direction of a stream.
#[derive(Default)]
struct Flow {
    in_flight: VecDeque<Segment>,
    /// Arrived while the reader had paused reading (with each write's number).
    unread: VecDeque<(u64, Vec<u8>)>,
    /// No segment may be ready before this (keeps order, and waits for the accept).
    last_ready: u64,
    delivery_queued: bool,
    reading_paused: bool,
    /// The writer closed this direction.
    finished: bool,
}

/// What the world tells one end of a stream outside its data flow: the stream events that
/// carry no bytes.
pub(super) enum Notice {
    Accepted {
        stream: StreamId,
        from: Addr,
    },
    Connected {
        stream: StreamId,
    },
    Closed {
        stream: StreamId,
        reason: CloseReason,
    },
}

/// A stream: `ends[0]` connected to `ends[1]`; `flows[d]` runs from `ends[d]` to the other.
pub(super) struct SimStream {
    pub(super) ends: [u32; 2],
    incs: [u32; 2],
    flows: [Flow; 2],
}

impl<N: Node + 'static> World<N> {
    pub(super) fn stream_connect(&mut self, node: u32, stream: StreamId, to: u32) {
        let reachable =
            (to as usize) < self.slots.len() && !self.net.is_cut(node as usize, to as usize);
        if !reachable || self.slots[to as usize].node.is_none() {
            let delay = if reachable {
                self.net.latency(node as usize, to as usize) * 2
            } else {
                CONNECT_TIMEOUT_NS
            };
            self.net.stats.streams_refused += 1;
            let inc = self.slots[node as usize].inc;
            let notice = Notice::Closed {
                stream,
                reason: CloseReason::Refused,
            };
            self.push(self.now + delay, Ev::StreamNotify { node, inc, notice });
            return;
        }
        let accept_at = self.now + self.net.latency(node as usize, to as usize);
        let mut flows: [Flow; 2] = Default::default();
        flows[0].last_ready = accept_at;
        let s = SimStream {
            ends: [node, to],
            incs: [self.slots[node as usize].inc, self.slots[to as usize].inc],
            flows,
        };
        self.streams.insert(stream, s);
        let notice = Notice::Accepted {
            stream,
            from: Addr(node),
        };
        let inc = self.slots[to as usize].inc;
        self.push(
            accept_at,
            Ev::StreamNotify {
                node: to,
                inc,
                notice,
            },
        );
    }

    /// Which end of `stream` `node` is, if the stream is still there.
    fn end_of(&self, stream: StreamId, node: u32) -> Option<usize> {
        self.streams
            .get(&stream)?
            .ends
            .iter()
            .position(|&e| e == node)
    }

    pub(super) fn stream_write(&mut self, node: u32, stream: StreamId, bytes: Vec<u8>) {
        let len = bytes.len() as u64;
        self.stream_writes += 1;
        let id = self.stream_writes;
        if self.send_segment(node, stream, |ready| Segment::Data { ready, id, bytes }) {
            self.net.stats.stream_bytes_written += len;
            if self.trace.noting() {
                let s = &self.streams[&stream];
                let to = s.ends.iter().copied().find(|&e| e != node).unwrap_or(node);
                self.trace.note(serde_json::json!({
                    "t_ns": self.now, "node": node, "kind": "stream_send", "a": to, "b": id,
                    "stream": stream.0, "len": len,
                }));
            }
        }
    }

    /// Note that write `id` from `writer` to `reader` will never be read, and why.
    fn note_lost(&mut self, writer: u32, reader: u32, id: u64, why: &str) {
        if self.trace.noting() {
            self.trace.note(serde_json::json!({
                "t_ns": self.now, "node": reader, "kind": "stream_lost", "a": writer, "b": id,
                "why": why,
            }));
        }
    }

    /// Note every write `s` still holds as lost, and why (the stream is going away).
    fn note_all_lost(&mut self, s: &SimStream, why: &str) {
        if !self.trace.noting() {
            return;
        }
        for d in 0..2 {
            let (writer, reader) = (s.ends[d], s.ends[1 - d]);
            let flow = &s.flows[d];
            let waiting = flow.unread.iter().map(|(id, _)| *id);
            let flying = flow.in_flight.iter().filter_map(|seg| match seg {
                Segment::Data { id, .. } => Some(*id),
                Segment::Fin { .. } => None,
            });
            for id in waiting.chain(flying).collect::<Vec<_>>() {
                self.note_lost(writer, reader, id, why);
            }
        }
    }

    pub(super) fn stream_close(&mut self, node: u32, stream: StreamId) {
        let Some(d) = self.end_of(stream, node) else {
            return;
        };
        if self.send_segment(node, stream, |ready| Segment::Fin { ready }) {
            let s = self.streams.get_mut(&stream).expect("found");
            s.flows[d].finished = true;
            // The closer reads no more: what it has not read, and what comes, is dropped.
            let dropped = std::mem::take(&mut s.flows[1 - d].unread);
            s.flows[1 - d].reading_paused = false;
            let writer = s.ends[1 - d];
            for (id, _) in dropped {
                self.note_lost(writer, node, id, "unread when the reader closed");
            }
        }
    }

    /// Put a segment on `node`'s outgoing direction of `stream`, after every earlier one and
    /// one link latency from now. False if the stream is gone or that direction is closed.
    fn send_segment(
        &mut self,
        node: u32,
        stream: StreamId,
        segment: impl FnOnce(u64) -> Segment,
    ) -> bool {
        let Some(d) = self.end_of(stream, node) else {
            return false;
        };
        let s = &self.streams[&stream];
        if s.flows[d].finished {
            return false;
        }
        let (from, to) = (s.ends[d] as usize, s.ends[1 - d] as usize);
        let latency = self.net.latency(from, to);
        let flow = &mut self.streams.get_mut(&stream).expect("found").flows[d];
        let ready = (self.now + latency).max(flow.last_ready);
        flow.last_ready = ready;
        flow.in_flight.push_back(segment(ready));
        self.queue_delivery(stream, d, ready);
        true
    }

    pub(super) fn stream_reading(&mut self, node: u32, stream: StreamId, reading: bool) {
        let Some(end) = self.end_of(stream, node) else {
            return;
        };
        // The node reads the direction that flows towards it.
        let d = 1 - end;
        let flow = &mut self.streams.get_mut(&stream).expect("found").flows[d];
        flow.reading_paused = !reading;
        // What waited: unread data, or a close held back while the reader was paused
        // (`stream_deliver` leaves a due Fin in flight without queueing a retry).
        // A flush, not a queued delivery: one may be queued already for a later segment,
        // and what waited should not wait for it.
        if reading && !(flow.unread.is_empty() && flow.in_flight.is_empty()) {
            let dir = d as u8;
            self.push(self.now, Ev::StreamFlush { stream, dir });
        }
    }

    fn queue_delivery(&mut self, stream: StreamId, d: usize, at: u64) {
        let flow = &mut self.streams.get_mut(&stream).expect("caller checked").flows[d];
        if !flow.delivery_queued {
            flow.delivery_queued = true;
            self.push(
                at,
                Ev::StreamDeliver {
                    stream,
                    dir: d as u8,
                },
            );
        }
    }

    /// Deliver what is due on direction `dir`. `scheduled` is false for a flush on resume,
    /// which leaves the queued delivery (if any) in place, so only one chain of deliveries
    /// ever runs per direction.
    pub(super) fn stream_deliver(&mut self, stream: StreamId, dir: u8, scheduled: bool) {
        let d = dir as usize;
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        if scheduled {
            s.flows[d].delivery_queued = false;
        }
        let (writer, reader) = (s.ends[d], s.ends[1 - d]);
        // First what already arrived and waited for the reader.
        while !self.streams[&stream].flows[d].reading_paused {
            let Some((id, bytes)) = self.streams.get_mut(&stream).expect("live").flows[d]
                .unread
                .pop_front()
            else {
                break;
            };
            self.consume(stream, d, (writer, reader), id, bytes);
            if !self.streams.contains_key(&stream) {
                return;
            }
        }
        if self.net.is_cut(writer as usize, reader as usize) {
            if !self.streams[&stream].flows[d].in_flight.is_empty() {
                self.net.stats.stream_stalls += 1;
                self.queue_delivery(stream, d, self.now + STALL_RETRY_NS);
            }
            return;
        }
        loop {
            let Some(s) = self.streams.get_mut(&stream) else {
                return;
            };
            let flow = &mut s.flows[d];
            match flow.in_flight.front() {
                Some(seg) if seg.ready() <= self.now => {}
                Some(seg) => {
                    let at = seg.ready();
                    self.queue_delivery(stream, d, at);
                    return;
                }
                None => return,
            }
            if matches!(flow.in_flight.front(), Some(Segment::Fin { .. }))
                && (flow.reading_paused || !flow.unread.is_empty())
            {
                // The close waits behind data the reader has not read yet.
                return;
            }
            match flow.in_flight.pop_front().expect("front") {
                Segment::Data { bytes, id, .. } if flow.reading_paused => {
                    flow.unread.push_back((id, bytes))
                }
                Segment::Data { bytes, id, .. } => {
                    self.consume(stream, d, (writer, reader), id, bytes)
                }
                Segment::Fin { .. } => {
                    self.close_end(stream, reader, CloseReason::PeerClosed);
                    return;
                }
            }
        }
    }

    /// The reader's node takes write `id`'s `bytes`; credit starts back to the writer.
    fn consume(
        &mut self,
        stream: StreamId,
        d: usize,
        (writer, reader): (u32, u32),
        id: u64,
        bytes: Vec<u8>,
    ) {
        let len = bytes.len();
        self.net.stats.stream_bytes_delivered += len as u64;
        let open = self.slots[reader as usize].io.stream_is_open(stream);
        if !open {
            self.note_lost(writer, reader, id, "the reader had closed");
        } else {
            if self.trace.noting() {
                self.trace.note(serde_json::json!({
                    "t_ns": self.now, "node": reader, "kind": "stream_recv", "a": writer, "b": id,
                }));
            }
            self.trace.record(
                self.now(),
                Addr(reader),
                TraceKind::StreamData,
                stream.0,
                0,
                &bytes,
            );
            self.dispatch(reader, |n, ctx| {
                n.on_stream(
                    ctx,
                    StreamEvent::Data {
                        stream,
                        data: bytes,
                    },
                )
            });
        }
        if self.streams.contains_key(&stream) {
            let at = self.now + self.net.latency(reader as usize, writer as usize);
            self.push(
                at,
                Ev::StreamCredit {
                    stream,
                    dir: d as u8,
                    bytes: len,
                },
            );
        }
    }

    pub(super) fn stream_credit(&mut self, stream: StreamId, dir: u8, bytes: usize) {
        let Some(s) = self.streams.get(&stream) else {
            return;
        };
        let d = dir as usize;
        let (writer, reader) = (s.ends[d], s.ends[1 - d]);
        if self.net.is_cut(reader as usize, writer as usize) {
            self.push(
                self.now + STALL_RETRY_NS,
                Ev::StreamCredit { stream, dir, bytes },
            );
            return;
        }
        let slot = &mut self.slots[writer as usize];
        if slot.node.is_some() && slot.io.grant_credit(stream, bytes) {
            self.trace.record(
                self.now(),
                Addr(writer),
                TraceKind::Writable,
                stream.0,
                0,
                &[],
            );
            self.dispatch(writer, |n, ctx| {
                n.on_stream(ctx, StreamEvent::Writable { stream })
            });
        }
    }

    /// Tell `node` that `stream` closed, and forget the stream once neither end has it.
    fn close_end(&mut self, stream: StreamId, node: u32, reason: CloseReason) {
        let slot = &mut self.slots[node as usize];
        let was_open = slot.io.stream_is_open(stream);
        slot.io.close_stream(stream);
        if let Some(s) = self.streams.get(&stream) {
            let other = s.ends.iter().copied().find(|&e| e != node).unwrap_or(node);
            if !self.slots[other as usize].io.stream_is_open(stream) {
                if let Some(s) = self.streams.remove(&stream) {
                    self.note_all_lost(&s, "the stream closed");
                }
            }
        }
        if was_open && self.slots[node as usize].node.is_some() {
            self.trace.record(
                self.now(),
                Addr(node),
                TraceKind::Closed,
                stream.0,
                reason as u64,
                &[],
            );
            self.dispatch(node, |n, ctx| {
                n.on_stream(ctx, StreamEvent::Closed { stream, reason })
            });
        }
    }

    pub(super) fn stream_notify(&mut self, node: u32, inc: u32, notice: Notice) {
        if self.slots[node as usize].inc != inc || self.slots[node as usize].node.is_none() {
            // The incarnation it was for is gone. A connect it accepted is refused.
            if let Notice::Accepted { stream, .. } = notice {
                self.refuse(stream);
            }
            return;
        }
        match notice {
            Notice::Accepted { stream, from } => {
                if !self.streams.contains_key(&stream) {
                    return;
                }
                self.net.stats.streams_opened += 1;
                let window = self.stream_window;
                self.slots[node as usize].io.open_stream(stream, window);
                self.trace.record(
                    self.now(),
                    Addr(node),
                    TraceKind::Accepted,
                    stream.0,
                    from.0 as u64,
                    &[],
                );
                self.dispatch(node, |n, ctx| {
                    n.on_stream(ctx, StreamEvent::Accepted { stream, from })
                });
                if let Some(s) = self.streams.get_mut(&stream) {
                    let connector = s.ends[0];
                    let back = self.net.latency(node as usize, connector as usize);
                    s.flows[1].last_ready = self.now + back;
                    let inc = s.incs[0];
                    self.push(
                        self.now + back,
                        Ev::StreamNotify {
                            node: connector,
                            inc,
                            notice: Notice::Connected { stream },
                        },
                    );
                }
            }
            Notice::Connected { stream } => {
                if self.slots[node as usize].io.stream_is_open(stream) {
                    self.trace.record(
                        self.now(),
                        Addr(node),
                        TraceKind::Connected,
                        stream.0,
                        0,
                        &[],
                    );
                    self.dispatch(node, |n, ctx| {
                        n.on_stream(ctx, StreamEvent::Connected { stream })
                    });
                }
            }
            Notice::Closed { stream, reason } => self.close_end(stream, node, reason),
        }
    }

    /// The acceptor vanished before the connect completed: the connector is refused.
    fn refuse(&mut self, stream: StreamId) {
        if let Some(s) = self.streams.remove(&stream) {
            self.note_all_lost(&s, "the connect was refused");
            self.net.stats.streams_refused += 1;
            let notice = Notice::Closed {
                stream,
                reason: CloseReason::Refused,
            };
            self.push(
                self.now,
                Ev::StreamNotify {
                    node: s.ends[0],
                    inc: s.incs[0],
                    notice,
                },
            );
        }
    }

    /// Reset every stream of `node`: in-flight data is lost and both ends are told (the
    /// node itself only if it is still up).
    pub(super) fn reset_streams(&mut self, node: u32) {
        let ids: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, s)| s.ends.contains(&node))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let s = self.streams.remove(&id).expect("listed");
            self.net.stats.streams_reset += 1;
            self.note_all_lost(&s, "stream reset");
            for (end, &peer) in s.ends.iter().enumerate() {
                let delay = if peer == node {
                    0
                } else {
                    self.net.latency(node as usize, peer as usize)
                };
                let notice = Notice::Closed {
                    stream: id,
                    reason: CloseReason::Reset,
                };
                self.push(
                    self.now + delay,
                    Ev::StreamNotify {
                        node: peer,
                        inc: s.incs[end],
                        notice,
                    },
                );
            }
        }
    }
}
