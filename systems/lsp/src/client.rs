//! The client end of LSP (SPEC.md §4, §9).

use crate::conn::{Conn, Epoch};
use crate::params::{Params, MAX_PAYLOAD};
use crate::stats::Stats;
use crate::wire::{Message, MsgType};
use crate::LspError;
use crate::LspTimer;
use faultline::{Addr, Ctx, TimerId};
use std::collections::VecDeque;

/// What the client's application learns, in order, from [`ClientEndpoint::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// The server acknowledged the Connect and gave this connection id.
    Connected { conn_id: i64 },
    /// EpochLimit epochs passed without the server's Ack (`NewClient` returns an error).
    ConnectFailed,
    /// The next payload from the server, in order.
    Message(Vec<u8>),
    /// The connection is lost (EpochLimit silent epochs). Comes after every payload that
    /// was already in order, so reads after loss return the remaining data, then this.
    Lost,
    /// [`ClientEndpoint::close`] completed: everything written was acknowledged, or the
    /// connection was lost first (`lost: true`, pending data discarded).
    Closed { lost: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Connecting,
    Connected,
    /// `close` was called: flushing, reads no longer delivered.
    Closing,
    /// Finished: connect failed, lost, or closed. Nothing more happens.
    Done,
}

/// An LSP client: one connection to one server.
#[derive(Debug)]
pub struct ClientEndpoint {
    params: Params,
    server: Addr,
    isn: i64,
    state: State,
    /// Set when the connection was lost (possibly while closing).
    lost: bool,
    conn: Conn,
    timer: Option<TimerId>,
    /// Epochs spent waiting for the connect Ack.
    connect_epochs: u32,
    /// `close` was called before the connection was up.
    close_requested: bool,
    events: VecDeque<ClientEvent>,
    stats: Stats,
    out: Vec<Message>,
    delivered: Vec<Vec<u8>>,
}

impl ClientEndpoint {
    /// Start connecting to `server` with initial sequence number `isn`: sends
    /// `(Connect, 0, isn)` now and again every epoch until the Ack (SPEC.md §4).
    pub fn connect<E>(ctx: &mut Ctx<'_, E>, server: Addr, isn: i64, params: Params) -> Self {
        let mut c = ClientEndpoint {
            params,
            server,
            isn,
            state: State::Connecting,
            lost: false,
            conn: Conn::new(0, isn),
            timer: None,
            connect_epochs: 0,
            close_requested: false,
            events: VecDeque::new(),
            stats: Stats::default(),
            out: Vec::new(),
            delivered: Vec::new(),
        };
        c.send_connect();
        c.timer = Some(ctx.set_timer(params.epoch(), LspTimer::Epoch));
        c.flush(ctx);
        c
    }

    /// The connection id the server assigned (0 until connected).
    pub fn conn_id(&self) -> i64 {
        self.conn.id
    }

    pub fn server(&self) -> Addr {
        self.server
    }

    pub fn isn(&self) -> i64 {
        self.isn
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected | State::Closing)
    }

    /// The endpoint has finished (connect failed, lost or closed) and holds no timer.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Data sent and not yet acknowledged.
    pub fn unacked_len(&self) -> usize {
        self.conn.unacked_len()
    }

    /// The oldest unacknowledged (or next) sequence number and the newest in flight: what
    /// the window rule (SPEC.md §6) is about.
    pub fn window_state(&self) -> (i64, Option<i64>) {
        (self.conn.oldest(), self.conn.newest_unacked())
    }

    /// The next application event, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Queue `payload` for the server (never blocks). Allowed while connecting: it goes
    /// out once connected. Errors once lost, failed or closed, and
    /// [`LspError::Full`] while the connection holds [`crate::MAX_QUEUED_BYTES`]
    /// unacknowledged.
    pub fn write<E>(&mut self, ctx: &mut Ctx<'_, E>, payload: Vec<u8>) -> Result<(), LspError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(LspError::TooLarge(payload.len()));
        }
        match self.state {
            State::Connecting if self.close_requested => return Err(LspError::Closed),
            State::Connecting => self.conn.write(payload).map_err(LspError::Full)?,
            State::Connected => {
                self.conn.write(payload).map_err(LspError::Full)?;
                self.conn.pump(&self.params, &mut self.stats, &mut self.out);
                self.flush(ctx);
            }
            State::Closing => return Err(LspError::Closed),
            State::Done if self.lost => return Err(LspError::Lost),
            State::Done => return Err(LspError::Closed),
        }
        Ok(())
    }

    /// Close: stop delivering reads, and finish with [`ClientEvent::Closed`] once every
    /// written message is acknowledged or the connection is lost (SPEC.md §9). Called
    /// while still connecting, it first finishes connecting (a failed connect then reports
    /// `ConnectFailed` and `Closed { lost: true }`). Errors if already closing or finished.
    pub fn close<E>(&mut self, ctx: &mut Ctx<'_, E>) -> Result<(), LspError> {
        match self.state {
            State::Connected => {
                self.state = State::Closing;
                self.events
                    .retain(|e| !matches!(e, ClientEvent::Message(_)));
                self.maybe_closed(ctx);
                Ok(())
            }
            State::Connecting if !self.close_requested => {
                // Finish connecting, flush what was written, then close.
                self.close_requested = true;
                Ok(())
            }
            State::Connecting | State::Closing | State::Done => Err(LspError::Closed),
        }
    }

    /// A datagram arrived. Datagrams not from the server are counted and ignored.
    pub fn on_datagram<E>(&mut self, ctx: &mut Ctx<'_, E>, from: Addr, bytes: &[u8]) {
        self.stats.datagrams_in += 1;
        if self.state == State::Done {
            return;
        }
        if from != self.server {
            self.stats.unknown_conn += 1;
            return;
        }
        let msg = match self.params.codec.decode(bytes) {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        if self.state == State::Connecting {
            self.on_connecting(ctx, msg);
        } else {
            self.on_connected(msg);
        }
        self.flush(ctx);
        self.maybe_closed(ctx);
    }

    /// A timer fired. Returns false if it is not this endpoint's (the owner routes it on).
    pub fn on_timer<E>(&mut self, ctx: &mut Ctx<'_, E>, timer: TimerId) -> bool {
        if self.timer != Some(timer) {
            return false;
        }
        self.timer = Some(ctx.set_timer(self.params.epoch(), LspTimer::Epoch));
        match self.state {
            State::Connecting => {
                self.connect_epochs += 1;
                if self.connect_epochs >= self.params.epoch_limit.max(1) {
                    self.finish(ctx);
                    self.events.push_back(ClientEvent::ConnectFailed);
                    if self.close_requested {
                        self.events.push_back(ClientEvent::Closed { lost: true });
                    }
                } else {
                    self.send_connect();
                }
            }
            State::Connected | State::Closing => {
                if self
                    .conn
                    .on_epoch(&self.params, &mut self.stats, &mut self.out, true)
                    == Epoch::Lost
                {
                    self.on_lost(ctx);
                }
            }
            State::Done => {}
        }
        self.flush(ctx);
        true
    }

    fn on_connecting<E>(&mut self, ctx: &mut Ctx<'_, E>, msg: Message) {
        if msg.ty == MsgType::Ack && msg.seq_num == self.isn && msg.conn_id > 0 {
            self.conn.id = msg.conn_id;
            self.conn.heard();
            self.state = if self.close_requested {
                State::Closing
            } else {
                State::Connected
            };
            self.events.push_back(ClientEvent::Connected {
                conn_id: msg.conn_id,
            });
            self.conn.pump(&self.params, &mut self.stats, &mut self.out);
            // Epochs count from the connection, not from the first Connect.
            if let Some(t) = self.timer.take() {
                ctx.cancel_timer(t);
            }
            self.timer = Some(ctx.set_timer(self.params.epoch(), LspTimer::Epoch));
        } else {
            // Data or acks before the connection exists cannot be ours.
            self.stats.unexpected += 1;
        }
    }

    fn on_connected(&mut self, msg: Message) {
        if msg.conn_id != self.conn.id {
            self.stats.unknown_conn += 1;
            return;
        }
        if !self.conn.on_message(
            &self.params,
            msg,
            &mut self.stats,
            &mut self.out,
            &mut self.delivered,
        ) {
            return;
        }
        let deliver = self.state == State::Connected;
        for payload in self.delivered.drain(..) {
            if deliver {
                self.events.push_back(ClientEvent::Message(payload));
            }
        }
    }

    fn on_lost<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        self.lost = true;
        self.conn.discard_outgoing();
        let closing = self.state == State::Closing;
        self.finish(ctx);
        self.events.push_back(if closing {
            ClientEvent::Closed { lost: true }
        } else {
            ClientEvent::Lost
        });
    }

    fn maybe_closed<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        if self.state == State::Closing && self.conn.is_flushed() {
            self.finish(ctx);
            self.events.push_back(ClientEvent::Closed { lost: false });
        }
    }

    fn finish<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        self.state = State::Done;
        if let Some(t) = self.timer.take() {
            ctx.cancel_timer(t);
        }
    }

    fn send_connect(&mut self) {
        self.out.push(Message::connect(self.isn));
        self.stats.connects_sent += 1;
    }

    fn flush<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        for m in self.out.drain(..) {
            ctx.send(self.server, self.params.codec.encode(&m));
        }
    }
}
