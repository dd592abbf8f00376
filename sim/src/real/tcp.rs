//! Streams on real TCP connections, with the node interface's flow control.
//!
//! Each stream is one non-blocking TCP connection. What a node may write (its credit, kept
//! by [`NodeIo`]) is a user-space send buffer of `stream_window` bytes per stream: a write
//! lands in the buffer, the buffer is flushed to the socket whenever the socket takes bytes,
//! and every flushed byte is granted back as credit ([`NodeIo::grant_credit`]), which gives
//! the node `Writable` if a write of its was refused or partial. When the peer reads slowly,
//! TCP's own window fills, the socket stops taking bytes, the buffer stays full and the
//! writer's credit runs out: the same back-pressure the simulator models. `pause_reading`
//! simply stops reading the socket.
//!
//! Events for the node come out one at a time (`Streams::next_event`): first those
//! queued by I/O (`Accepted`, `Connected`, `Writable`, `Closed`), then one read from a
//! readable stream, round-robin so that one busy stream cannot starve the others.
//!
//! Closing: when the node closes a stream, its buffered bytes are still flushed, then our
//! side is shut down and the socket is kept, reading and dropping whatever arrives, until
//! the peer closes too; dropping it earlier could make the kernel reset the connection and
//! lose the tail of what we wrote. When the peer closes (end of stream), the node gets
//! `Closed { PeerClosed }` and the socket is dropped at once. Every socket error is a
//! `Closed { Reset }` (or `Refused` while connecting), never a panic. Errors surface when
//! the socket is next read or written, as in any TCP program: a reset on a paused stream
//! with nothing to write is seen once reading resumes (the simulator reports it at once).

use super::conn::{Conn, ReadOutcome};
use super::peers::Peers;
use crate::ctx::NodeIo;
use crate::node::{CloseReason, StreamEvent, StreamId};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::ops::Bound;

/// Largest chunk read from a socket for one `Data` event.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Counters of stream activity, for stats and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub connects: u64,
    pub refused: u64,
    pub accepted: u64,
    pub resets: u64,
    pub bytes_written: u64,
    pub bytes_read: u64,
}

/// All streams of one runtime, and its listening socket.
pub(crate) struct Streams {
    listener: Option<TcpListener>,
    listener_ready: bool,
    conns: BTreeMap<StreamId, Conn>,
    tokens: BTreeMap<Token, StreamId>,
    next_token: usize,
    /// Events waiting for the node, in order.
    events: VecDeque<StreamEvent>,
    /// The last stream read from, for round-robin.
    cursor: Option<StreamId>,
    buf: Vec<u8>,
    pub(crate) stats: StreamStats,
}

impl Streams {
    /// Streams over `listener` (if any); connection tokens start at `first_token`.
    pub(crate) fn new(listener: Option<TcpListener>, first_token: usize) -> Streams {
        Streams {
            listener_ready: listener.is_some(),
            listener,
            conns: BTreeMap::new(),
            tokens: BTreeMap::new(),
            next_token: first_token,
            events: VecDeque::new(),
            cursor: None,
            buf: vec![0; READ_CHUNK_BYTES],
            stats: StreamStats::default(),
        }
    }

    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub(crate) fn set_listener_ready(&mut self) {
        self.listener_ready = true;
    }

    /// Open connections (including those closing in the background).
    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }

    fn add(
        &mut self,
        registry: &Registry,
        stream: StreamId,
        mut socket: TcpStream,
        connecting: bool,
    ) -> io::Result<()> {
        let token = Token(self.next_token);
        registry.register(&mut socket, token, Interest::READABLE | Interest::WRITABLE)?;
        self.next_token += 1;
        // Small request/response messages should not wait for Nagle's algorithm; failing to
        // set it costs latency only.
        let _ = socket.set_nodelay(true);
        self.tokens.insert(token, stream);
        self.conns
            .insert(stream, Conn::new(socket, token, connecting));
        Ok(())
    }

    /// Drop a connection's socket.
    fn remove(&mut self, registry: &Registry, stream: StreamId) {
        if let Some(mut conn) = self.conns.remove(&stream) {
            self.tokens.remove(&conn.token);
            let _ = registry.deregister(&mut conn.socket);
        }
    }

    /// The stream failed or ended: tell the node (unless it closed the stream itself).
    fn end<E>(
        &mut self,
        registry: &Registry,
        io: &mut NodeIo<E>,
        stream: StreamId,
        reason: CloseReason,
    ) -> Option<StreamEvent> {
        let told = self.conns.get(&stream).is_none_or(|c| !c.closing);
        self.remove(registry, stream);
        match reason {
            CloseReason::Refused => self.stats.refused += 1,
            CloseReason::Reset => self.stats.resets += 1,
            CloseReason::PeerClosed => {}
        }
        if !told {
            return None;
        }
        io.close_stream(stream);
        Some(StreamEvent::Closed { stream, reason })
    }

    /// Carry out the node's `connect`: `to` is the peer's socket address, if known.
    pub(crate) fn connect<E>(
        &mut self,
        registry: &Registry,
        io: &mut NodeIo<E>,
        stream: StreamId,
        to: Option<SocketAddr>,
    ) {
        self.stats.connects += 1;
        let opened = match to.map(TcpStream::connect) {
            Some(Ok(socket)) => self.add(registry, stream, socket, true).is_ok(),
            _ => false,
        };
        if !opened {
            self.stats.refused += 1;
            io.close_stream(stream);
            self.events.push_back(StreamEvent::Closed {
                stream,
                reason: CloseReason::Refused,
            });
        }
    }

    /// Carry out the node's `write`: the bytes fit in the buffer, since the node's credit
    /// never exceeds the room left in it.
    pub(crate) fn write<E>(
        &mut self,
        registry: &Registry,
        io: &mut NodeIo<E>,
        stream: StreamId,
        data: &[u8],
    ) {
        if let Some(conn) = self.conns.get_mut(&stream) {
            conn.out.extend(data);
            self.flush(registry, io, stream);
        }
    }

    /// Carry out the node's `close`: no more events for this stream reach the node.
    pub(crate) fn close<E>(&mut self, registry: &Registry, io: &mut NodeIo<E>, stream: StreamId) {
        self.events.retain(|e| e.stream() != stream);
        if let Some(conn) = self.conns.get_mut(&stream) {
            conn.closing = true;
            self.flush(registry, io, stream);
            self.drain_closing(registry, stream);
        }
    }

    pub(crate) fn set_paused(&mut self, stream: StreamId, paused: bool) {
        if let Some(conn) = self.conns.get_mut(&stream) {
            conn.paused = paused;
        }
    }

    /// mio reported readiness for `token`: finish connecting, flush, drain as needed.
    pub(crate) fn on_ready<E>(
        &mut self,
        registry: &Registry,
        io: &mut NodeIo<E>,
        token: Token,
        readable: bool,
    ) {
        let Some(&stream) = self.tokens.get(&token) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(&stream) else {
            return;
        };
        conn.readable |= readable;
        if conn.connecting && !self.finish_connect(registry, io, stream) {
            return;
        }
        self.flush(registry, io, stream);
        self.drain_closing(registry, stream);
    }

    /// Check an outbound connection after an event; true once it is established.
    fn finish_connect<E>(
        &mut self,
        registry: &Registry,
        io: &mut NodeIo<E>,
        stream: StreamId,
    ) -> bool {
        let Some(conn) = self.conns.get_mut(&stream) else {
            return false;
        };
        match conn.check_connected() {
            Ok(true) => {
                if !conn.closing {
                    self.events.push_back(StreamEvent::Connected { stream });
                }
                true
            }
            Ok(false) => false,
            Err(()) => {
                if let Some(ev) = self.end(registry, io, stream, CloseReason::Refused) {
                    self.events.push_back(ev);
                }
                false
            }
        }
    }

    /// Write as much of the stream's buffer as the socket takes; grant the flushed bytes
    /// back as credit.
    fn flush<E>(&mut self, registry: &Registry, io: &mut NodeIo<E>, stream: StreamId) {
        let Some(conn) = self.conns.get_mut(&stream) else {
            return;
        };
        let result = conn.flush();
        let (Ok(flushed) | Err(flushed)) = result;
        self.stats.bytes_written += flushed as u64;
        if result.is_err() {
            if let Some(ev) = self.end(registry, io, stream, CloseReason::Reset) {
                self.events.push_back(ev);
            }
        } else if flushed > 0 && io.grant_credit(stream, flushed) {
            self.events.push_back(StreamEvent::Writable { stream });
        }
    }

    /// A stream the node closed: forget the socket once the peer has closed too.
    fn drain_closing(&mut self, registry: &Registry, stream: StreamId) {
        let gone = match self.conns.get_mut(&stream) {
            Some(conn) => conn.drain_closing(&mut self.buf),
            None => false,
        };
        if gone {
            self.remove(registry, stream);
        }
    }

    /// The next stream event for the node, if one is ready.
    pub(crate) fn next_event<E>(
        &mut self,
        registry: &Registry,
        io: &mut NodeIo<E>,
        peers: &mut Peers,
    ) -> Option<StreamEvent> {
        if let Some(ev) = self.events.pop_front() {
            return Some(ev);
        }
        if let Some(ev) = self.accept(registry, io, peers) {
            return Some(ev);
        }
        self.read_one(registry, io)
    }

    /// Accept one waiting connection, if any.
    fn accept<E>(
        &mut self,
        registry: &Registry,
        io: &mut NodeIo<E>,
        peers: &mut Peers,
    ) -> Option<StreamEvent> {
        // Errors such as a connection aborted before we took it are skipped; a bound keeps
        // a persistent one (out of file descriptors) from spinning the loop.
        for _ in 0..16 {
            if !self.listener_ready {
                return None;
            }
            let listener = self.listener.as_ref()?;
            match listener.accept() {
                Ok((socket, from)) => {
                    let stream = io.alloc_stream_id();
                    if self.add(registry, stream, socket, false).is_err() {
                        continue;
                    }
                    io.open_stream(stream, io.stream_window());
                    self.stats.accepted += 1;
                    return Some(StreamEvent::Accepted {
                        stream,
                        from: peers.seen(from),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.listener_ready = false,
                Err(_) => {}
            }
        }
        self.listener_ready = false;
        None
    }

    /// Read one chunk from the next readable, unpaused stream after the last one read.
    fn read_one<E>(&mut self, registry: &Registry, io: &mut NodeIo<E>) -> Option<StreamEvent> {
        // Streams after the cursor first, then from the start up to and including it.
        let (after, upto) = match self.cursor {
            Some(c) => (Bound::Excluded(c), Bound::Included(c)),
            None => (Bound::Unbounded, Bound::Excluded(StreamId(0))),
        };
        let order: Vec<StreamId> = (self.conns.range((after, Bound::Unbounded)))
            .chain(self.conns.range((Bound::Unbounded, upto)))
            .filter(|(_, c)| c.wants_read())
            .map(|(s, _)| *s)
            .collect();
        for stream in order {
            let Some(conn) = self.conns.get_mut(&stream) else {
                continue;
            };
            let reason = match conn.read(&mut self.buf) {
                ReadOutcome::Bytes(n) => {
                    self.cursor = Some(stream);
                    self.stats.bytes_read += n as u64;
                    let data = self.buf[..n].to_vec();
                    return Some(StreamEvent::Data { stream, data });
                }
                ReadOutcome::Blocked => continue,
                ReadOutcome::Eof => CloseReason::PeerClosed,
                ReadOutcome::Failed => CloseReason::Reset,
            };
            return self.end(registry, io, stream, reason);
        }
        None
    }
}
