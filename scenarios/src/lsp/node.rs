//! Simulator nodes that own LSP endpoints: an echo server and scripted clients.
//!
//! Each node feeds its endpoint the datagrams and timers it gets, reacts to the endpoint's
//! events as the original tests' goroutines did (echo, write the next message, close),
//! keeps a log the tests can read through `World::node`, and records [`LspEvent`]s for
//! the checkers. "Heard" marks every datagram the endpoint accepted (its reject count did
//! not move), which is what the loss rule (spec §8b) counts silence from.

use faultline::{Addr, Ctx, Node, Time, TimerId};
use lsp::{ClientEndpoint, ClientEvent, Params, ServerEndpoint, ServerEvent};
use std::collections::VecDeque;

faultline::timer_tags! {
    /// The endpoint's epoch timer (under LSP's own number), and a client's pacing sleep.
    pub enum LspNodeTimer {
        Epoch = 0,
        Pace = 1,
    }
}

/// History events of an LSP run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LspEvent {
    /// A client's application wrote `payload`.
    ClientWrote {
        client: Addr,
        payload: Vec<u8>,
    },
    /// A client's application read `payload`.
    ClientRead {
        client: Addr,
        payload: Vec<u8>,
    },
    ClientConnected {
        client: Addr,
        conn: i64,
    },
    ConnectFailed {
        client: Addr,
    },
    /// The client's connection was lost, `silent_ns` after it last accepted a datagram.
    ClientLost {
        client: Addr,
        silent_ns: u64,
    },
    ClientClosed {
        client: Addr,
        lost: bool,
    },
    ServerAccepted {
        conn: i64,
        from: Addr,
    },
    ServerWrote {
        conn: i64,
        payload: Vec<u8>,
    },
    ServerRead {
        conn: i64,
        payload: Vec<u8>,
    },
    ServerLost {
        conn: i64,
        silent_ns: u64,
    },
    ServerConnClosed {
        conn: i64,
    },
    ServerClosed {
        lost_any: bool,
    },
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

/// A client node.
pub struct ClientNode {
    pub server: Addr,
    pub params: Params,
    /// `None`: draw one in 1..=256 from the node's RNG.
    pub isn: Option<i64>,
    pub plan: ClientPlan,
    pub endpoint: Option<ClientEndpoint>,
    next_write: usize,
    /// A pacing sleep is running; the next write waits for it.
    sleeping: bool,
    pub reads: Vec<Vec<u8>>,
    pub log: Vec<(Time, ClientEvent)>,
    last_heard: Time,
}

/// A server node. With `echo` it writes every message back to its sender.
pub struct ServerNode {
    pub params: Params,
    pub echo: bool,
    pub endpoint: Option<ServerEndpoint>,
    pub log: Vec<(Time, ServerEvent)>,
    last_heard: std::collections::BTreeMap<Addr, Time>,
}

/// An LSP node of either kind.
pub enum LspNode {
    Server(ServerNode),
    Client(ClientNode),
}

impl LspNode {
    pub fn server(params: Params, echo: bool) -> LspNode {
        LspNode::Server(ServerNode {
            params,
            echo,
            endpoint: None,
            log: Vec::new(),
            last_heard: Default::default(),
        })
    }

    pub fn client(server: Addr, params: Params, isn: Option<i64>, plan: ClientPlan) -> LspNode {
        LspNode::Client(ClientNode {
            server,
            params,
            isn,
            plan,
            endpoint: None,
            next_write: 0,
            sleeping: false,
            reads: Vec::new(),
            log: Vec::new(),
            last_heard: Time::ZERO,
        })
    }

    pub fn as_client(&self) -> &ClientNode {
        match self {
            LspNode::Client(c) => c,
            LspNode::Server(_) => panic!("not a client node"),
        }
    }

    pub fn as_client_mut(&mut self) -> &mut ClientNode {
        match self {
            LspNode::Client(c) => c,
            LspNode::Server(_) => panic!("not a client node"),
        }
    }

    pub fn as_server(&self) -> &ServerNode {
        match self {
            LspNode::Server(s) => s,
            LspNode::Client(_) => panic!("not a server node"),
        }
    }

    pub fn as_server_mut(&mut self) -> &mut ServerNode {
        match self {
            LspNode::Server(s) => s,
            LspNode::Client(_) => panic!("not a server node"),
        }
    }
}

impl ClientNode {
    /// Write through the endpoint and record it (tests call this via `World::with_node`).
    pub fn write(
        &mut self,
        ctx: &mut Ctx<'_, LspEvent>,
        payload: Vec<u8>,
    ) -> Result<(), lsp::LspError> {
        let ep = self.endpoint.as_mut().ok_or(lsp::LspError::Closed)?;
        ep.write(ctx, payload.clone())?;
        ctx.record(LspEvent::ClientWrote {
            client: ctx.me(),
            payload,
        });
        Ok(())
    }

    /// Close the endpoint.
    pub fn close(&mut self, ctx: &mut Ctx<'_, LspEvent>) -> Result<(), lsp::LspError> {
        let r = self
            .endpoint
            .as_mut()
            .ok_or(lsp::LspError::Closed)?
            .close(ctx);
        self.drain(ctx);
        r
    }

    fn write_next(&mut self, ctx: &mut Ctx<'_, LspEvent>) {
        if self.plan.pause_max_ms > 0 {
            if !self.sleeping && self.next_write < self.plan.messages.len() {
                self.sleeping = true;
                let ms = rand::Rng::gen_range(ctx.rng(), 0..=self.plan.pause_max_ms);
                ctx.set_timer(std::time::Duration::from_millis(ms), LspNodeTimer::Pace);
            }
            return;
        }
        while self.next_write < self.plan.messages.len() {
            let m = self.plan.messages[self.next_write].clone();
            self.next_write += 1;
            if self.write(ctx, m).is_err() {
                return;
            }
            if self.plan.lockstep {
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
        if all_written && self.reads.len() >= after {
            self.plan.close_after_reads = None;
            let _ = self.endpoint.as_mut().map(|e| e.close(ctx));
        }
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
            self.log.push((ctx.now(), e.clone()));
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
                    ctx.record(LspEvent::ClientRead {
                        client: me,
                        payload: payload.clone(),
                    });
                    self.reads.push(payload);
                    if self.plan.lockstep {
                        self.write_next(ctx);
                    }
                    self.maybe_close(ctx);
                }
                ClientEvent::ConnectFailed => ctx.record(LspEvent::ConnectFailed { client: me }),
                ClientEvent::Lost => {
                    let silent_ns = ctx.now().since(self.last_heard).as_nanos() as u64;
                    ctx.record(LspEvent::ClientLost {
                        client: me,
                        silent_ns,
                    });
                }
                ClientEvent::Closed { lost } => {
                    if lost {
                        let silent_ns = ctx.now().since(self.last_heard).as_nanos() as u64;
                        ctx.record(LspEvent::ClientLost {
                            client: me,
                            silent_ns,
                        });
                    }
                    ctx.record(LspEvent::ClientClosed { client: me, lost });
                }
            }
        }
    }
}

impl ServerNode {
    /// Write to `conn` and record it.
    pub fn write(
        &mut self,
        ctx: &mut Ctx<'_, LspEvent>,
        conn: i64,
        payload: Vec<u8>,
    ) -> Result<(), lsp::LspError> {
        let ep = self.endpoint.as_mut().ok_or(lsp::LspError::Closed)?;
        ep.write(ctx, conn, payload.clone())?;
        ctx.record(LspEvent::ServerWrote { conn, payload });
        Ok(())
    }

    /// Close the server.
    pub fn close(&mut self, ctx: &mut Ctx<'_, LspEvent>) -> Result<(), lsp::LspError> {
        let r = self
            .endpoint
            .as_mut()
            .ok_or(lsp::LspError::Closed)?
            .close(ctx);
        self.drain(ctx);
        r
    }

    /// Close one connection.
    pub fn close_conn(
        &mut self,
        ctx: &mut Ctx<'_, LspEvent>,
        conn: i64,
    ) -> Result<(), lsp::LspError> {
        let r = self
            .endpoint
            .as_mut()
            .ok_or(lsp::LspError::Closed)?
            .close_conn(ctx, conn);
        self.drain(ctx);
        r
    }

    /// Act on everything the endpoint reported.
    pub fn drain(&mut self, ctx: &mut Ctx<'_, LspEvent>) {
        while let Some(e) = self.endpoint.as_mut().and_then(|ep| ep.poll_event()) {
            self.log.push((ctx.now(), e.clone()));
            match e {
                ServerEvent::Accepted { conn, from } => {
                    self.last_heard.insert(from, ctx.now());
                    ctx.record(LspEvent::ServerAccepted { conn, from });
                }
                ServerEvent::Message { conn, data } => {
                    ctx.record(LspEvent::ServerRead {
                        conn,
                        payload: data.clone(),
                    });
                    if self.echo {
                        let _ = self.write(ctx, conn, data);
                    }
                }
                ServerEvent::Lost { conn } => {
                    // The endpoint dropped the connection; its address is in the log.
                    let from = self.log.iter().rev().find_map(|(_, e)| match e {
                        ServerEvent::Accepted { conn: c, from } if *c == conn => Some(*from),
                        _ => None,
                    });
                    let heard = from
                        .and_then(|f| self.last_heard.get(&f))
                        .copied()
                        .unwrap_or(Time::ZERO);
                    let silent_ns = ctx.now().since(heard).as_nanos() as u64;
                    ctx.record(LspEvent::ServerLost { conn, silent_ns });
                }
                ServerEvent::ConnClosed { conn } => ctx.record(LspEvent::ServerConnClosed { conn }),
                ServerEvent::Closed { lost_any } => ctx.record(LspEvent::ServerClosed { lost_any }),
            }
        }
    }
}

impl Node for LspNode {
    type Event = LspEvent;
    type Timer = LspNodeTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, LspEvent>) {
        match self {
            LspNode::Server(s) => s.endpoint = Some(ServerEndpoint::new(ctx, s.params)),
            LspNode::Client(c) => {
                let isn = match c.isn {
                    Some(isn) => isn,
                    None => rand::Rng::gen_range(ctx.rng(), 1..=256),
                };
                c.endpoint = Some(ClientEndpoint::connect(ctx, c.server, isn, c.params));
                c.last_heard = ctx.now();
            }
        }
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, LspEvent>, from: Addr, data: &[u8]) {
        match self {
            LspNode::Server(s) => {
                let Some(ep) = s.endpoint.as_mut() else {
                    return;
                };
                let before = ep.stats().rejects();
                ep.on_datagram(ctx, from, data);
                if ep.stats().rejects() == before {
                    s.last_heard.insert(from, ctx.now());
                }
                s.drain(ctx);
            }
            LspNode::Client(c) => {
                let Some(ep) = c.endpoint.as_mut() else {
                    return;
                };
                let before = ep.stats().rejects();
                ep.on_datagram(ctx, from, data);
                if ep.stats().rejects() == before {
                    c.last_heard = ctx.now();
                }
                c.drain(ctx);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, LspEvent>, timer: TimerId, tag: LspNodeTimer) {
        match self {
            LspNode::Server(s) => {
                if let Some(ep) = s.endpoint.as_mut() {
                    ep.on_timer(ctx, timer);
                }
                s.drain(ctx);
            }
            LspNode::Client(c) => {
                if tag == LspNodeTimer::Pace {
                    c.on_pace(ctx);
                } else if let Some(ep) = c.endpoint.as_mut() {
                    ep.on_timer(ctx, timer);
                }
                c.drain(ctx);
            }
        }
    }
}
