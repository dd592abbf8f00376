//! The server end of LSP (SPEC.md §4, §10): many connections, one epoch timer.

use crate::conn::{Conn, Epoch};
use crate::params::{Params, MAX_ISN, MAX_PAYLOAD};
use crate::stats::Stats;
use crate::wire::{Message, MsgType};
use crate::LspError;
use crate::LspTimer;
use faultline::{Addr, Ctx, TimerId};
use std::collections::{BTreeMap, VecDeque};

/// What the server's application learns, in order, from [`ServerEndpoint::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// A client connected from `from` and got id `conn`.
    Accepted { conn: i64, from: Addr },
    /// The next payload from `conn`, in order for that connection.
    Message { conn: i64, data: Vec<u8> },
    /// `conn` is lost (EpochLimit silent epochs), after all of its in-order payloads.
    Lost { conn: i64 },
    /// A connection closed with [`ServerEndpoint::close_conn`] has been flushed and dropped.
    ConnClosed { conn: i64 },
    /// [`ServerEndpoint::close`] completed; `lost_any` if a client was lost meanwhile
    /// (the original's `Close` then returns an error).
    Closed { lost_any: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Closing,
    Closed,
}

#[derive(Debug)]
struct Peer {
    addr: Addr,
    conn: Conn,
    /// `close_conn` was called: flush, deliver nothing more, then drop it.
    closing: bool,
}

/// An LSP server: accepts connections from any address.
#[derive(Debug)]
pub struct ServerEndpoint {
    params: Params,
    state: State,
    peers: BTreeMap<i64, Peer>,
    by_addr: BTreeMap<Addr, (i64, i64)>,
    next_id: i64,
    lost_while_closing: bool,
    timer: Option<TimerId>,
    events: VecDeque<ServerEvent>,
    stats: Stats,
    out: Vec<Message>,
    delivered: Vec<Vec<u8>>,
}

impl ServerEndpoint {
    /// A listening server (the owner routes datagrams for it). Starts its epoch timer.
    pub fn new<E>(ctx: &mut Ctx<'_, E>, params: Params) -> Self {
        ServerEndpoint {
            params,
            state: State::Open,
            peers: BTreeMap::new(),
            by_addr: BTreeMap::new(),
            next_id: 1,
            lost_while_closing: false,
            timer: Some(ctx.set_timer(params.epoch(), LspTimer::Epoch)),
            events: VecDeque::new(),
            stats: Stats::default(),
            out: Vec::new(),
            delivered: Vec::new(),
        }
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Close has completed: nothing more happens.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Ids of the live connections (including ones being closed).
    pub fn conns(&self) -> impl Iterator<Item = i64> + '_ {
        self.peers.keys().copied()
    }

    /// The client address of a live connection.
    pub fn peer_addr(&self, conn: i64) -> Option<Addr> {
        self.peers.get(&conn).map(|p| p.addr)
    }

    /// Data sent on `conn` and not yet acknowledged.
    pub fn unacked_len(&self, conn: i64) -> usize {
        self.peers.get(&conn).map_or(0, |p| p.conn.unacked_len())
    }

    /// The window state of `conn`: oldest unacknowledged (or next) sequence number and the
    /// newest in flight.
    pub fn window_state(&self, conn: i64) -> Option<(i64, Option<i64>)> {
        self.peers
            .get(&conn)
            .map(|p| (p.conn.oldest(), p.conn.newest_unacked()))
    }

    /// The next application event, if any.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Queue `payload` for `conn` (never blocks). [`LspError::Full`] while `conn` holds
    /// [`crate::MAX_QUEUED_BYTES`] unacknowledged: the peer is not keeping up, and the
    /// application chooses what to do (our echo server closes the connection).
    pub fn write<E>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        conn: i64,
        payload: Vec<u8>,
    ) -> Result<(), LspError> {
        if self.state != State::Open {
            return Err(LspError::Closed);
        }
        if payload.len() > MAX_PAYLOAD {
            return Err(LspError::TooLarge(payload.len()));
        }
        let peer = match self.peers.get_mut(&conn) {
            Some(p) if !p.closing => p,
            Some(_) => return Err(LspError::Closed),
            None => return Err(LspError::UnknownConn(conn)),
        };
        peer.conn.write(payload).map_err(LspError::Full)?;
        peer.conn.pump(&self.params, &mut self.stats, &mut self.out);
        let to = peer.addr;
        self.flush(ctx, to);
        Ok(())
    }

    /// Stop serving `conn`: pending data is still sent and acknowledged, then the
    /// connection is dropped silently ([`ServerEvent::ConnClosed`]) and its client detects
    /// the loss. Its undelivered payloads are discarded.
    pub fn close_conn<E>(&mut self, ctx: &mut Ctx<'_, E>, conn: i64) -> Result<(), LspError> {
        if self.state == State::Closed {
            return Err(LspError::Closed);
        }
        match self.peers.get_mut(&conn) {
            Some(p) if !p.closing => p.closing = true,
            _ => return Err(LspError::UnknownConn(conn)),
        }
        self.events
            .retain(|e| !matches!(e, ServerEvent::Message { conn: c, .. } if *c == conn));
        self.retire_flushed(ctx);
        Ok(())
    }

    /// Close the server: deliver nothing more, and finish with [`ServerEvent::Closed`]
    /// once every connection is flushed or lost.
    pub fn close<E>(&mut self, ctx: &mut Ctx<'_, E>) -> Result<(), LspError> {
        if self.state != State::Open {
            return Err(LspError::Closed);
        }
        self.state = State::Closing;
        self.events
            .retain(|e| !matches!(e, ServerEvent::Message { .. }));
        self.retire_flushed(ctx);
        Ok(())
    }

    /// A datagram arrived from `from`.
    pub fn on_datagram<E>(&mut self, ctx: &mut Ctx<'_, E>, from: Addr, bytes: &[u8]) {
        self.stats.datagrams_in += 1;
        if self.state == State::Closed {
            return;
        }
        let msg = match self.params.codec.decode(bytes) {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        if msg.ty == MsgType::Connect {
            self.on_connect(from, msg.seq_num);
        } else {
            self.on_conn_msg(from, msg);
        }
        self.flush(ctx, from);
        self.retire_flushed(ctx);
    }

    /// A timer fired. Returns false if it is not this endpoint's.
    pub fn on_timer<E>(&mut self, ctx: &mut Ctx<'_, E>, timer: TimerId) -> bool {
        if self.timer != Some(timer) {
            return false;
        }
        self.timer = Some(ctx.set_timer(self.params.epoch(), LspTimer::Epoch));
        let ids: Vec<i64> = self.peers.keys().copied().collect();
        for id in ids {
            let peer = self.peers.get_mut(&id).expect("listed above");
            // A connection closed by CloseConn gets no heartbeats (SPEC.md §10).
            let heartbeat = !peer.closing;
            if peer
                .conn
                .on_epoch(&self.params, &mut self.stats, &mut self.out, heartbeat)
                == Epoch::Lost
            {
                self.drop_peer(id);
                if self.state == State::Closing {
                    self.lost_while_closing = true;
                }
                self.events.push_back(ServerEvent::Lost { conn: id });
            } else {
                let to = peer.addr;
                self.flush(ctx, to);
            }
        }
        self.retire_flushed(ctx);
        true
    }

    fn on_connect(&mut self, from: Addr, isn: i64) {
        if !(0..=MAX_ISN).contains(&isn) {
            // Its data would be numbered from 0 (the heartbeat's number) or overflow.
            self.stats.malformed += 1;
            return;
        }
        if let Some(&(id, first_isn)) = self.by_addr.get(&from) {
            // Never a second connection per address; re-ack in case the Ack was lost
            // (SPEC.md §4). The repeat is also a message from the peer: it is alive (§8b).
            if let Some(p) = self.peers.get_mut(&id) {
                p.conn.heard();
            }
            self.out.push(Message::ack(id, first_isn));
            self.stats.connects_sent += 1;
            return;
        }
        if self.state != State::Open {
            self.stats.unexpected += 1;
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.peers.insert(
            id,
            Peer {
                addr: from,
                conn: Conn::new(id, isn),
                closing: false,
            },
        );
        self.by_addr.insert(from, (id, isn));
        self.out.push(Message::ack(id, isn));
        self.stats.connects_sent += 1;
        self.events
            .push_back(ServerEvent::Accepted { conn: id, from });
    }

    fn on_conn_msg(&mut self, from: Addr, msg: Message) {
        let peer = match self.peers.get_mut(&msg.conn_id) {
            Some(p) if p.addr == from => p,
            _ => {
                self.stats.unknown_conn += 1;
                return;
            }
        };
        if !peer.conn.on_message(
            &self.params,
            msg,
            &mut self.stats,
            &mut self.out,
            &mut self.delivered,
        ) {
            return;
        }
        let deliver = self.state == State::Open && !peer.closing;
        let conn = peer.conn.id;
        for data in self.delivered.drain(..) {
            if deliver {
                self.events.push_back(ServerEvent::Message { conn, data });
            }
        }
    }

    /// Drop connections closed with `close_conn` once flushed; finish `close` once every
    /// connection is flushed or lost.
    fn retire_flushed<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        let done: Vec<i64> = self
            .peers
            .iter()
            .filter(|(_, p)| p.closing && p.conn.is_flushed())
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            self.drop_peer(id);
            self.events.push_back(ServerEvent::ConnClosed { conn: id });
        }
        if self.state == State::Closing && self.peers.values().all(|p| p.conn.is_flushed()) {
            self.state = State::Closed;
            self.peers.clear();
            self.by_addr.clear();
            if let Some(t) = self.timer.take() {
                ctx.cancel_timer(t);
            }
            self.events.push_back(ServerEvent::Closed {
                lost_any: self.lost_while_closing,
            });
        }
    }

    fn drop_peer(&mut self, id: i64) {
        if let Some(p) = self.peers.remove(&id) {
            self.by_addr.remove(&p.addr);
        }
    }

    fn flush<E>(&mut self, ctx: &mut Ctx<'_, E>, to: Addr) {
        for m in self.out.drain(..) {
            ctx.send(to, self.params.codec.encode(&m));
        }
    }
}
