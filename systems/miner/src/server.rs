//! The server's node logic (SPEC.md §5, §6) over an LSP
//! [`ServerEndpoint`]: it tells miners from clients by their first message, feeds the
//! [`Scheduler`], sends its jobs to miners and its answers to clients.
//!
//! Roles: a connection whose first message is Join is a miner, one whose first message
//! is a Request is a client (it may send more requests). Anything else, or a message that
//! does not fit the role (a client's Result, a miner's Request, a second Join), is dropped
//! and counted, never a panic.

use crate::event::MinerEvent;
use crate::hash::Best;
use crate::message::Message;
use crate::scheduler::{self, ResultOutcome, Scheduler};
use crate::worker::MinerTimer;
use faultline::{Addr, Ctx, Node, Time, TimerId};
use lsp::{Params, ServerEndpoint, ServerEvent};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Unknown,
    Miner,
    Client,
}

/// Counters for reports and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    pub requests: u64,
    pub answers: u64,
    pub miners_joined: u64,
    pub miners_lost: u64,
    pub clients_lost: u64,
    /// Payloads that are not miner messages.
    pub malformed: u64,
    /// Messages that do not fit the sender's role.
    pub unexpected: u64,
    /// Requests whose message is too long to send to a miner in one LSP payload.
    pub too_large: u64,
    /// Miners caught sending a wrong result, and so never given work again.
    pub miners_quarantined: u64,
    /// Clients disconnected because no honest miner was left to answer them.
    pub clients_without_miners: u64,
}

/// Whether every job of a request for `data` fits one LSP payload (the widest range
/// numbers are 20 digits each; the client's own request may have had shorter ones).
fn fits_a_job(data: &str) -> bool {
    let widest = Message::Request {
        data: data.to_string(),
        lower: u64::MAX,
        upper: u64::MAX,
    };
    widest.encode().len() <= lsp::MAX_PAYLOAD
}

/// The server: one LSP endpoint and the scheduler.
pub struct Server {
    lsp: ServerEndpoint,
    sched: Scheduler<i64, i64>,
    roles: BTreeMap<i64, Role>,
    stats: ServerStats,
    /// When the last miner was quarantined, if no miner has joined since.
    orphaned_since: Option<Time>,
}

impl Server {
    /// Start listening (the owning node routes every datagram here).
    pub fn new(ctx: &mut Ctx<'_, MinerEvent>, params: Params, cfg: scheduler::Config) -> Server {
        Server {
            lsp: ServerEndpoint::new(ctx, params),
            sched: Scheduler::new(cfg),
            roles: BTreeMap::new(),
            stats: ServerStats::default(),
            orphaned_since: None,
        }
    }

    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    pub fn scheduler(&self) -> &Scheduler<i64, i64> {
        &self.sched
    }

    pub fn lsp(&self) -> &ServerEndpoint {
        &self.lsp
    }

    pub fn on_datagram(&mut self, ctx: &mut Ctx<'_, MinerEvent>, from: Addr, bytes: &[u8]) {
        self.lsp.on_datagram(ctx, from, bytes);
        self.pump(ctx);
    }

    /// Returns false if the timer is not the server's.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, MinerEvent>, timer: TimerId) -> bool {
        let mine = self.lsp.on_timer(ctx, timer);
        self.pump(ctx);
        if mine {
            self.fail_orphans(ctx);
        }
        mine
    }

    /// Handle every LSP event, then hand out work.
    fn pump(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        while let Some(event) = self.lsp.poll_event() {
            self.handle(ctx, event);
        }
        self.dispatch(ctx);
    }

    fn handle(&mut self, ctx: &mut Ctx<'_, MinerEvent>, event: ServerEvent) {
        match event {
            ServerEvent::Accepted { conn, from } => {
                self.roles.insert(conn, Role::Unknown);
                ctx.record(MinerEvent::Accepted { conn, from });
            }
            ServerEvent::Message { conn, data } => self.on_message(ctx, conn, &data),
            ServerEvent::Lost { conn } | ServerEvent::ConnClosed { conn } => {
                self.on_lost(ctx, conn)
            }
            ServerEvent::Closed { .. } => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, MinerEvent>, conn: i64, data: &[u8]) {
        let Ok(msg) = Message::decode(data) else {
            self.stats.malformed += 1;
            return;
        };
        let role = self.roles.get(&conn).copied().unwrap_or(Role::Unknown);
        match (role, msg) {
            (Role::Unknown, Message::Join) => {
                self.roles.insert(conn, Role::Miner);
                self.sched.add_miner(conn);
                self.orphaned_since = None;
                self.stats.miners_joined += 1;
                ctx.record(MinerEvent::MinerJoined { conn });
            }
            (Role::Unknown | Role::Client, Message::Request { data, .. }) if !fits_a_job(&data) => {
                // Its jobs would not fit one LSP payload, so no miner could be asked;
                // the client is told by losing its connection (it prints Disconnected).
                self.stats.too_large += 1;
                self.roles.remove(&conn);
                let _ = self.lsp.close_conn(ctx, conn);
            }
            (Role::Unknown | Role::Client, Message::Request { data, lower, upper }) => {
                self.roles.insert(conn, Role::Client);
                let req = self.sched.add_request(conn, data.clone(), lower, upper);
                self.stats.requests += 1;
                ctx.record(MinerEvent::RequestIn {
                    conn,
                    req,
                    data,
                    lower,
                    upper,
                });
            }
            (Role::Miner, Message::Result { hash, nonce }) => {
                match self.sched.on_result(ctx.now(), conn, Best { hash, nonce }) {
                    ResultOutcome::Folded { req, lower, upper } => {
                        ctx.record(MinerEvent::ChunkFolded {
                            conn,
                            req,
                            lower,
                            upper,
                            hash,
                            nonce,
                        });
                    }
                    ResultOutcome::Answer(answer) => {
                        self.answer(ctx, answer, (conn, Best { hash, nonce }))
                    }
                    ResultOutcome::Stale => {}
                    ResultOutcome::Rejected => self.stats.unexpected += 1,
                    ResultOutcome::Wrong => {
                        self.stats.unexpected += 1;
                        self.quarantine(ctx, conn);
                    }
                }
            }
            _ => self.stats.unexpected += 1,
        }
    }

    /// Send `answer`, completed by the result `(miner, last)` of its last chunk.
    fn answer(
        &mut self,
        ctx: &mut Ctx<'_, MinerEvent>,
        answer: scheduler::Answer<i64>,
        (miner, last): (i64, Best),
    ) {
        let scheduler::Answer {
            client,
            req,
            best,
            lower,
            upper,
        } = answer;
        ctx.record(MinerEvent::ChunkFolded {
            conn: miner,
            req,
            lower,
            upper,
            hash: last.hash,
            nonce: last.nonce,
        });
        let payload = Message::Result {
            hash: best.hash,
            nonce: best.nonce,
        }
        .encode();
        // A failed write means the client is lost; its Lost event follows.
        if self.lsp.write(ctx, client, payload).is_ok() {
            self.stats.answers += 1;
            ctx.record(MinerEvent::Answered {
                conn: client,
                req,
                hash: best.hash,
                nonce: best.nonce,
            });
        }
    }

    /// A miner whose result is wrong is lying or broken (SPEC.md §6): its chunks go back
    /// to their requests, it never gets work again, and its connection is closed. Were it
    /// kept, the same chunk would go back to it again and again. If that leaves no miner,
    /// and none joins within an LSP loss timeout, the clients still waiting are
    /// disconnected (they print `Disconnected`) rather than left waiting for an honest
    /// miner that may never come ([`Server::fail_orphans`]).
    ///
    /// A *valid* result that is not the minimum (a nonce inside the chunk, with that
    /// nonce's true hash, but not the smallest) cannot be told from an honest one without
    /// redoing the chunk's work; catching such a miner would take spot checks (re-mining a
    /// random sample of chunks on another miner), which this server does not do.
    fn quarantine(&mut self, ctx: &mut Ctx<'_, MinerEvent>, conn: i64) {
        self.roles.remove(&conn);
        self.sched.remove_miner(conn);
        self.stats.miners_quarantined += 1;
        ctx.record(MinerEvent::MinerQuarantined { conn });
        let _ = self.lsp.close_conn(ctx, conn);
        if self.sched.miner_count() == 0 {
            self.orphaned_since = Some(ctx.now());
        }
    }

    /// Every epoch: if the last miner was quarantined at least EpochLimit epochs ago and
    /// no miner has joined since, disconnect the clients still waiting.
    fn fail_orphans(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        let Some(since) = self.orphaned_since else {
            return;
        };
        let params = self.lsp.params();
        let grace = params.epoch().saturating_mul(params.epoch_limit.max(1));
        if ctx.now().since(since) < grace {
            return;
        }
        self.orphaned_since = None;
        for client in self.sched.waiting_clients() {
            self.sched.remove_client(client);
            self.roles.remove(&client);
            self.stats.clients_without_miners += 1;
            ctx.record(MinerEvent::NoHonestMiner { conn: client });
            let _ = self.lsp.close_conn(ctx, client);
        }
    }

    fn on_lost(&mut self, ctx: &mut Ctx<'_, MinerEvent>, conn: i64) {
        match self.roles.remove(&conn) {
            Some(Role::Miner) => {
                self.sched.remove_miner(conn);
                self.stats.miners_lost += 1;
                ctx.record(MinerEvent::MinerLost { conn });
            }
            Some(Role::Client) => {
                self.sched.remove_client(conn);
                self.stats.clients_lost += 1;
                ctx.record(MinerEvent::ClientLost { conn });
            }
            Some(Role::Unknown) | None => {}
        }
    }

    /// Send the scheduler's jobs. A miner whose connection is already gone is removed
    /// at once (its chunk goes back) and the scheduler asked again.
    fn dispatch(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        loop {
            let jobs = self.sched.assign(ctx.now());
            if jobs.is_empty() {
                return;
            }
            let mut failed = false;
            for (miner, job) in jobs {
                let payload = Message::Request {
                    data: job.data,
                    lower: job.lower,
                    upper: job.upper,
                }
                .encode();
                // Every job fits (checked when its request came in), so a failed write
                // means the miner's connection is gone.
                if self.lsp.write(ctx, miner, payload).is_ok() {
                    ctx.record(MinerEvent::ChunkSent {
                        conn: miner,
                        req: job.req,
                        lower: job.lower,
                        upper: job.upper,
                    });
                } else {
                    self.roles.remove(&miner);
                    self.sched.remove_miner(miner);
                    self.stats.miners_lost += 1;
                    ctx.record(MinerEvent::MinerLost { conn: miner });
                    failed = true;
                }
            }
            if !failed {
                return;
            }
        }
    }
}

/// The server as a node of its own (the real `faultline miner server`).
pub struct ServerNode {
    params: Params,
    cfg: scheduler::Config,
    server: Option<Server>,
}

impl ServerNode {
    pub fn new(params: Params, cfg: scheduler::Config) -> ServerNode {
        ServerNode {
            params,
            cfg,
            server: None,
        }
    }

    /// The running server (None before start).
    pub fn server(&self) -> Option<&Server> {
        self.server.as_ref()
    }
}

impl Node for ServerNode {
    type Event = MinerEvent;
    type Timer = MinerTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        self.server = Some(Server::new(ctx, self.params, self.cfg.clone()));
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, MinerEvent>, from: Addr, data: &[u8]) {
        if let Some(s) = &mut self.server {
            s.on_datagram(ctx, from, data);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, MinerEvent>, timer: TimerId, _tag: MinerTimer) {
        if let Some(s) = &mut self.server {
            s.on_timer(ctx, timer);
        }
    }
}
