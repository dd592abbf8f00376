//! The nodes that own LSP endpoints, written once for the simulator and the real programs:
//! an echo (or sink) server and a client that either follows a scripted [`ClientPlan`] or
//! is fed by a program (`write` per message, `finish_input` at the end).
//!
//! Each node feeds its endpoint the datagrams and timers it gets, reacts to the endpoint's
//! events as the original tests' goroutines did (echo, write the next message, close),
//! records [`LspEvent`]s (the simulator's checkers read them; the real programs print
//! some), and keeps a log scenarios read through `World::node`. "Heard" marks every
//! datagram the endpoint accepted (its reject count did not move), which is what the loss
//! rule (systems/lsp/SPEC.md §8b) counts silence from.
//!
//! Long-running programs build the nodes [`without_log`](ServerNode::without_log): then
//! only counts are kept, not every event and payload.

use faultline::{Addr, Ctx, Node, Time, TimerId};
use lsp::{ClientEndpoint, ClientEvent, LspError, LspTimer, Params, ServerEndpoint, ServerEvent};
use std::collections::{BTreeMap, VecDeque};

faultline::timer_tags! {
    /// A client node's timers: its endpoint's epoch timer (under LSP's own number) and the
    /// pacing sleep between scripted writes.
    pub enum ClientTimer {
        Epoch = 0,
        Pace = 1,
    }
}

/// History events of an LSP run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LspEvent {
    /// A client's application wrote `payload`.
    ClientWrote { client: Addr, payload: Vec<u8> },
    /// A client's application read `payload`.
    ClientRead { client: Addr, payload: Vec<u8> },
    /// The server acknowledged the client's Connect.
    ClientConnected { client: Addr, conn: i64 },
    /// EpochLimit epochs passed without the connect Ack.
    ConnectFailed { client: Addr },
    /// The client's connection was lost, `silent_ns` after it last accepted a datagram.
    ClientLost { client: Addr, silent_ns: u64 },
    /// The client's Close completed (`lost`: the connection was lost first).
    ClientClosed { client: Addr, lost: bool },
    /// The server accepted a connection from `from`.
    ServerAccepted { conn: i64, from: Addr },
    /// The server's application wrote `payload` to `conn`.
    ServerWrote { conn: i64, payload: Vec<u8> },
    /// The server's application read `payload` from `conn`.
    ServerRead { conn: i64, payload: Vec<u8> },
    /// The server lost `conn`, `silent_ns` after it last accepted a datagram from it.
    ServerLost { conn: i64, silent_ns: u64 },
    /// A connection closed with CloseConn was flushed and dropped.
    ServerConnClosed { conn: i64 },
    /// The server's Close completed.
    ServerClosed { lost_any: bool },
}

/// What a client does once connected.
#[derive(Clone, Debug, Default)]
pub struct ClientPlan {
    /// Written in order once connected.
    pub messages: Vec<Vec<u8>>,
    /// Write one message, wait for its echo, then the next (else write them all at once).
    pub lockstep: bool,
    /// Close after this many reads (`Some(messages.len())` for an echo client), or right
    /// after writing everything with `Some(0)`.
    pub close_after_reads: Option<usize>,
    /// Sleep a random 0..=this many ms before each write (the original's random sleeps).
    pub pause_max_ms: u64,
}

/// How a client's run ended, as far as the program around it cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Closed with everything written acknowledged.
    Done,
    /// The connection was lost (before or during the close).
    Lost,
    /// The server never acknowledged the Connect.
    ConnectFailed,
}

/// A client node.
pub struct ClientNode {
    pub server: Addr,
    pub params: Params,
    /// `None`: draw one in 1..=256 from the node's RNG when it starts.
    pub isn: Option<i64>,
    pub plan: ClientPlan,
    pub endpoint: Option<ClientEndpoint>,
    next_write: usize,
    /// A pacing sleep is running; the next write waits for it.
    sleeping: bool,
    /// Messages written through [`ClientNode::write`].
    pub written: u64,
    /// Payloads read, in order (empty without a log; see `read_count`).
    pub reads: Vec<Vec<u8>>,
    /// Payloads read, counted even without a log.
    pub read_count: usize,
    /// Endpoint events with their times (empty without a log).
    pub log: Vec<(Time, ClientEvent)>,
    keep_log: bool,
    /// Set by the first event that ends the connection.
    pub outcome: Option<Outcome>,
    last_heard: Time,
}

impl ClientNode {
    /// A client of `server` that follows `plan` once connected.
    pub fn new(server: Addr, params: Params, isn: Option<i64>, plan: ClientPlan) -> ClientNode {
        ClientNode {
            server,
            params,
            isn,
            plan,
            endpoint: None,
            next_write: 0,
            sleeping: false,
            written: 0,
            reads: Vec::new(),
            read_count: 0,
            log: Vec::new(),
            keep_log: true,
            outcome: None,
            last_heard: Time::ZERO,
        }
    }

    /// Keep no log of events and payloads, only counts (long-running programs).
    pub fn without_log(mut self) -> ClientNode {
        self.keep_log = false;
        self
    }

    /// Write through the endpoint and record it.
    pub fn write(&mut self, ctx: &mut Ctx<'_, LspEvent>, payload: Vec<u8>) -> Result<(), LspError> {
        let ep = self.endpoint.as_mut().ok_or(LspError::Closed)?;
        ep.write(ctx, payload.clone())?;
        self.written += 1;
        ctx.record(LspEvent::ClientWrote {
            client: ctx.me(),
            payload,
        });
        Ok(())
    }

    /// Close the endpoint now.
    pub fn close(&mut self, ctx: &mut Ctx<'_, LspEvent>) -> Result<(), LspError> {
        let r = self.endpoint.as_mut().ok_or(LspError::Closed)?.close(ctx);
        self.drain(ctx);
        r
    }

    /// The program has no more input: close once every message written so far has been
    /// read back (`wait_echoes`) or at once (the close itself waits for the acks).
    pub fn finish_input(&mut self, ctx: &mut Ctx<'_, LspEvent>, wait_echoes: bool) {
        let after = if wait_echoes {
            self.written as usize
        } else {
            0
        };
        self.plan.close_after_reads = Some(after);
        self.maybe_close(ctx);
        self.drain(ctx);
    }

    /// Append `more` to the plan and go on writing them, in lockstep or all at once.
    pub fn extend_plan(&mut self, ctx: &mut Ctx<'_, LspEvent>, more: Vec<Vec<u8>>, lockstep: bool) {
        self.plan.messages.extend(more);
        self.plan.lockstep = lockstep;
        self.write_next(ctx);
    }

    fn write_next(&mut self, ctx: &mut Ctx<'_, LspEvent>) {
        if self.plan.pause_max_ms > 0 {
            if !self.sleeping && self.next_write < self.plan.messages.len() {
                self.sleeping = true;
                let ms = rand::Rng::gen_range(ctx.rng(), 0..=self.plan.pause_max_ms);
                ctx.set_timer(std::time::Duration::from_millis(ms), ClientTimer::Pace);
            }
            return;
        }
        while self.next_write < self.plan.messages.len() {
            let m = self.plan.messages[self.next_write].clone();
            self.next_write += 1;
            if self.write(ctx, m).is_err() || self.plan.lockstep {
                return;
            }
        }
    }

    /// The pacing sleep ended: write one message, and in batch mode sleep again.
    fn on_pace(&mut self, ctx: &mut Ctx<'_, LspEvent>) {
        self.sleeping = false;
        if self.next_write < self.plan.messages.len() {
            let m = self.plan.messages[self.next_write].clone();
            self.next_write += 1;
            if self.write(ctx, m).is_err() {
                return;
            }
        }
        if !self.plan.lockstep {
            self.write_next(ctx);
        }
        self.maybe_close(ctx);
    }

    fn maybe_close(&mut self, ctx: &mut Ctx<'_, LspEvent>) {
        let Some(after) = self.plan.close_after_reads else {
            return;
        };
        let all_written = self.next_write == self.plan.messages.len();
        if all_written && self.read_count >= after {
            self.plan.close_after_reads = None;
            let _ = self.endpoint.as_mut().map(|e| e.close(ctx));
        }
    }

    fn end(&mut self, outcome: Outcome) {
        self.outcome.get_or_insert(outcome);
    }

    fn record_lost(&mut self, ctx: &mut Ctx<'_, LspEvent>) {
        let silent_ns = ctx.now().since(self.last_heard).as_nanos() as u64;
        ctx.record(LspEvent::ClientLost {
            client: ctx.me(),
            silent_ns,
        });
        self.end(Outcome::Lost);
    }

    /// Act on everything the endpoint reported.
    pub fn drain(&mut self, ctx: &mut Ctx<'_, LspEvent>) {
        let me = ctx.me();
        let mut events = VecDeque::new();
        loop {
            while let Some(e) = self.endpoint.as_mut().and_then(|ep| ep.poll_event()) {
                events.push_back(e);
            }
            let Some(e) = events.pop_front() else { break };
            if self.keep_log {
                self.log.push((ctx.now(), e.clone()));
            }
            match e {
                ClientEvent::Connected { conn_id } => {
                    ctx.record(LspEvent::ClientConnected {
                        client: me,
                        conn: conn_id,
                    });
                    self.write_next(ctx);
                    self.maybe_close(ctx);
                }
                ClientEvent::Message(payload) => {
                    self.read_count += 1;
                    if self.keep_log {
                        self.reads.push(payload.clone());
                    }
                    ctx.record(LspEvent::ClientRead {
                        client: me,
                        payload,
                    });
                    if self.plan.lockstep {
                        self.write_next(ctx);
                    }
                    self.maybe_close(ctx);
                }
                ClientEvent::ConnectFailed => {
                    ctx.record(LspEvent::ConnectFailed { client: me });
                    self.end(Outcome::ConnectFailed);
                }
                ClientEvent::Lost => self.record_lost(ctx),
                ClientEvent::Closed { lost } => {
                    if lost {
                        self.record_lost(ctx);
                    }
                    ctx.record(LspEvent::ClientClosed { client: me, lost });
                    self.end(Outcome::Done);
                }
            }
        }
    }
}

impl Node for ClientNode {
    type Event = LspEvent;
    type Timer = ClientTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, LspEvent>) {
        let isn = match self.isn {
            Some(isn) => isn,
            None => rand::Rng::gen_range(ctx.rng(), 1..=256),
        };
        self.endpoint = Some(ClientEndpoint::connect(ctx, self.server, isn, self.params));
        self.last_heard = ctx.now();
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, LspEvent>, from: Addr, data: &[u8]) {
        let Some(ep) = self.endpoint.as_mut() else {
            return;
        };
        let before = ep.stats().rejects();
        ep.on_datagram(ctx, from, data);
        if ep.stats().rejects() == before {
            self.last_heard = ctx.now();
        }
        self.drain(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, LspEvent>, timer: TimerId, tag: ClientTimer) {
        match tag {
            ClientTimer::Pace => self.on_pace(ctx),
            ClientTimer::Epoch => {
                if let Some(ep) = self.endpoint.as_mut() {
                    ep.on_timer(ctx, timer);
                }
            }
        }
        self.drain(ctx);
    }
}

/// A server node. With `echo` it writes every message back to its sender; without, it is
/// a sink that only reads.
pub struct ServerNode {
    pub params: Params,
    pub echo: bool,
    pub endpoint: Option<ServerEndpoint>,
    /// Endpoint events with their times (empty without a log).
    pub log: Vec<(Time, ServerEvent)>,
    /// Payloads read from each connection, in order (empty without a log).
    pub reads: BTreeMap<i64, Vec<Vec<u8>>>,
    keep_log: bool,
    /// Payloads read, and their bytes, counted even without a log.
    pub messages: u64,
    pub bytes: u64,
    /// Client address of each live connection, for the silence of a lost one.
    peers: BTreeMap<i64, Addr>,
    last_heard: BTreeMap<Addr, Time>,
}

impl ServerNode {
    /// A server that starts listening when the node starts.
    pub fn new(params: Params, echo: bool) -> ServerNode {
        ServerNode {
            params,
            echo,
            endpoint: None,
            log: Vec::new(),
            reads: BTreeMap::new(),
            keep_log: true,
            messages: 0,
            bytes: 0,
            peers: BTreeMap::new(),
            last_heard: BTreeMap::new(),
        }
    }

    /// Keep no log of events, only counts (long-running programs).
    pub fn without_log(mut self) -> ServerNode {
        self.keep_log = false;
        self
    }

    /// Write to `conn` and record it.
    pub fn write(
        &mut self,
        ctx: &mut Ctx<'_, LspEvent>,
        conn: i64,
        payload: Vec<u8>,
    ) -> Result<(), LspError> {
        let ep = self.endpoint.as_mut().ok_or(LspError::Closed)?;
        ep.write(ctx, conn, payload.clone())?;
        ctx.record(LspEvent::ServerWrote { conn, payload });
        Ok(())
    }

    /// Close the server.
    pub fn close(&mut self, ctx: &mut Ctx<'_, LspEvent>) -> Result<(), LspError> {
        let r = self.endpoint.as_mut().ok_or(LspError::Closed)?.close(ctx);
        self.drain(ctx);
        r
    }

    /// Close one connection.
    pub fn close_conn(&mut self, ctx: &mut Ctx<'_, LspEvent>, conn: i64) -> Result<(), LspError> {
        let r = self
            .endpoint
            .as_mut()
            .ok_or(LspError::Closed)?
            .close_conn(ctx, conn);
        self.drain(ctx);
        r
    }

    /// Act on everything the endpoint reported.
    pub fn drain(&mut self, ctx: &mut Ctx<'_, LspEvent>) {
        while let Some(e) = self.endpoint.as_mut().and_then(|ep| ep.poll_event()) {
            if self.keep_log {
                self.log.push((ctx.now(), e.clone()));
            }
            match e {
                ServerEvent::Accepted { conn, from } => {
                    self.peers.insert(conn, from);
                    self.last_heard.insert(from, ctx.now());
                    ctx.record(LspEvent::ServerAccepted { conn, from });
                }
                ServerEvent::Message { conn, data } => {
                    self.messages += 1;
                    self.bytes += data.len() as u64;
                    if self.keep_log {
                        self.reads.entry(conn).or_default().push(data.clone());
                    }
                    ctx.record(LspEvent::ServerRead {
                        conn,
                        payload: data.clone(),
                    });
                    if self.echo {
                        // The connection may be gone by now; then there is no one to echo to.
                        // A peer that holds a megabyte of echoes unacknowledged is not
                        // reading them: stop serving it (systems/lsp/SPEC.md §6).
                        if let Err(LspError::Full(_)) = self.write(ctx, conn, data) {
                            if let Some(ep) = self.endpoint.as_mut() {
                                let _ = ep.close_conn(ctx, conn);
                            }
                        }
                    }
                }
                ServerEvent::Lost { conn } => {
                    let heard = self
                        .peers
                        .remove(&conn)
                        .and_then(|from| self.last_heard.get(&from))
                        .copied()
                        .unwrap_or(Time::ZERO);
                    let silent_ns = ctx.now().since(heard).as_nanos() as u64;
                    ctx.record(LspEvent::ServerLost { conn, silent_ns });
                }
                ServerEvent::ConnClosed { conn } => {
                    self.peers.remove(&conn);
                    ctx.record(LspEvent::ServerConnClosed { conn });
                }
                ServerEvent::Closed { lost_any } => ctx.record(LspEvent::ServerClosed { lost_any }),
            }
        }
    }
}

impl Node for ServerNode {
    type Event = LspEvent;
    type Timer = LspTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, LspEvent>) {
        self.endpoint = Some(ServerEndpoint::new(ctx, self.params));
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, LspEvent>, from: Addr, data: &[u8]) {
        let Some(ep) = self.endpoint.as_mut() else {
            return;
        };
        let before = ep.stats().rejects();
        ep.on_datagram(ctx, from, data);
        if ep.stats().rejects() == before {
            self.last_heard.insert(from, ctx.now());
        }
        self.drain(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, LspEvent>, timer: TimerId, _: LspTimer) {
        if let Some(ep) = self.endpoint.as_mut() {
            ep.on_timer(ctx, timer);
        }
        self.drain(ctx);
    }
}

faultline::node_kinds! {
    /// A node of an LSP world: the server or one of its clients.
    pub enum LspNode: LspEvent {
        Server(ServerNode),
        Client(ClientNode),
    }
}
