//! The miner program's node logic (spec "P1 Part B — Programs": `miner <host:port>`) over
//! an LSP [`ClientEndpoint`]: join, then answer each Request with the minimum over its
//! range; shut down when the connection is lost.
//!
//! In the simulator a miner has a hash rate: it computes the real answer at once but
//! sends it only after `nonces / rate` of virtual time (a timer), so scheduling is
//! exercised on miners of different speeds without burning real time. Without a rate
//! (the real program) it answers as soon as it has computed.

use crate::event::MinerEvent;
use crate::hash::{Best, Hasher};
use crate::message::Message;
use faultline::{Addr, Ctx, Node, TimerId};
use lsp::{ClientEndpoint, ClientEvent, Params};
use rand::Rng;
use std::collections::VecDeque;
use std::time::Duration;

faultline::timer_tags! {
    /// The timers of the miner's nodes: an LSP endpoint's epoch (under LSP's own number,
    /// so the endpoint's timers decode as `Lsp`), a miner's simulated work, a delayed start
    /// (see [`WorkerNode::delayed`]).
    pub enum MinerTimer {
        Lsp = 0,
        Work = 1,
        Start = 2,
    }
}

/// A miner's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub jobs: u64,
    pub nonces: u128,
    pub malformed: u64,
}

/// A miner: one LSP connection to the server.
pub struct Worker {
    lsp: ClientEndpoint,
    /// Nonces per second of virtual time; `None` answers at once.
    rate: Option<u64>,
    queue: VecDeque<(String, u64, u64)>,
    /// The answer waiting for its work timer.
    busy: Option<(TimerId, Best, u64, u64)>,
    stopped: bool,
    stats: WorkerStats,
}

impl Worker {
    /// Connect (random ISN in 0..=255, as the original) and send Join at once.
    pub fn start(
        ctx: &mut Ctx<'_, MinerEvent>,
        server: Addr,
        params: Params,
        rate: Option<u64>,
    ) -> Worker {
        let isn = ctx.rng().gen_range(0..=255);
        let mut lsp = ClientEndpoint::connect(ctx, server, isn, params);
        // Writing while connecting is allowed; it goes out once connected.
        let _ = lsp.write(ctx, Message::Join.encode());
        Worker {
            lsp,
            rate,
            queue: VecDeque::new(),
            busy: None,
            stopped: false,
            stats: WorkerStats::default(),
        }
    }

    /// The connection is gone (or never came up): the miner has shut down.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    pub fn stats(&self) -> &WorkerStats {
        &self.stats
    }

    pub fn lsp(&self) -> &ClientEndpoint {
        &self.lsp
    }

    pub fn on_datagram(&mut self, ctx: &mut Ctx<'_, MinerEvent>, from: Addr, bytes: &[u8]) {
        self.lsp.on_datagram(ctx, from, bytes);
        self.pump(ctx);
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, MinerEvent>, timer: TimerId, tag: MinerTimer) {
        if tag == MinerTimer::Work {
            if let Some((id, best, lo, hi)) = self.busy {
                if id == timer {
                    self.busy = None;
                    self.reply(ctx, best, lo, hi);
                }
            }
        } else {
            self.lsp.on_timer(ctx, timer);
        }
        self.pump(ctx);
    }

    fn pump(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        while let Some(event) = self.lsp.poll_event() {
            match event {
                ClientEvent::Message(bytes) => match Message::decode(&bytes) {
                    Ok(Message::Request { data, lower, upper }) => {
                        self.queue.push_back((data, lower, upper))
                    }
                    _ => self.stats.malformed += 1,
                },
                ClientEvent::ConnectFailed | ClientEvent::Lost | ClientEvent::Closed { .. } => {
                    self.stop(ctx)
                }
                ClientEvent::Connected { .. } => {}
            }
        }
        self.work(ctx);
    }

    fn stop(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.queue.clear();
        if let Some((id, ..)) = self.busy.take() {
            ctx.cancel_timer(id);
        }
        ctx.record(MinerEvent::MinerStopped);
    }

    /// Mine queued requests while not waiting on a work timer.
    fn work(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        while !self.stopped && self.busy.is_none() {
            let Some((data, lo, hi)) = self.queue.pop_front() else {
                return;
            };
            let best = Hasher::new(&data)
                .min_over(lo, hi)
                .expect("decoded requests have lower <= upper");
            let nonces = hi as u128 - lo as u128 + 1;
            self.stats.jobs += 1;
            self.stats.nonces += nonces;
            match self.rate {
                Some(rate) => {
                    let ns = (nonces * 1_000_000_000 / rate.max(1) as u128)
                        .clamp(1, u64::MAX as u128) as u64;
                    let id = ctx.set_timer(Duration::from_nanos(ns), MinerTimer::Work);
                    self.busy = Some((id, best, lo, hi));
                }
                None => self.reply(ctx, best, lo, hi),
            }
        }
    }

    fn reply(&mut self, ctx: &mut Ctx<'_, MinerEvent>, best: Best, lo: u64, hi: u64) {
        ctx.record(MinerEvent::Mined {
            lower: lo,
            upper: hi,
            hash: best.hash,
            nonce: best.nonce,
        });
        if self
            .lsp
            .write(
                ctx,
                Message::Result {
                    hash: best.hash,
                    nonce: best.nonce,
                }
                .encode(),
            )
            .is_err()
        {
            self.stop(ctx);
        }
    }
}

/// A miner as a node of its own.
pub struct WorkerNode {
    server: Addr,
    params: Params,
    rate: Option<u64>,
    delay: Option<Duration>,
    respawn: Option<Duration>,
    respawn_pending: bool,
    worker: Option<Worker>,
    /// Miner programs this node has started (1 + respawns).
    starts: u64,
}

impl WorkerNode {
    pub fn new(server: Addr, params: Params, rate: Option<u64>) -> WorkerNode {
        WorkerNode {
            server,
            params,
            rate,
            delay: None,
            respawn: None,
            respawn_pending: false,
            worker: None,
            starts: 0,
        }
    }

    /// Act as a supervisor too: when the miner program shuts down (its connection was
    /// lost), start a new one `after` later, which joins as a new miner. The spec's miner
    /// exits on a lost connection; a simulated deployment that restarts it keeps the
    /// scheduler's miner pool alive through long network faults.
    pub fn respawning(mut self, after: Duration) -> WorkerNode {
        self.respawn = Some(after);
        self
    }

    /// Miner programs started so far.
    pub fn starts(&self) -> u64 {
        self.starts
    }

    fn start(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        self.starts += 1;
        self.worker = Some(Worker::start(ctx, self.server, self.params, self.rate));
    }

    /// After every event: schedule a respawn if the program has stopped.
    fn supervise(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        if let (Some(after), Some(w)) = (self.respawn, &self.worker) {
            if w.is_stopped() && !self.respawn_pending {
                self.respawn_pending = true;
                ctx.set_timer(after, MinerTimer::Start);
            }
        }
    }

    /// Connect only `delay` after the node starts. A simulated node restarted after a crash
    /// comes back at the same address; LSP keeps one connection per address, so the new
    /// incarnation waits until the server has given up the old one (a real restarted
    /// process gets a fresh port instead).
    pub fn delayed(mut self, delay: Duration) -> WorkerNode {
        self.delay = Some(delay);
        self
    }

    pub fn worker(&self) -> Option<&Worker> {
        self.worker.as_ref()
    }
}

impl Node for WorkerNode {
    type Event = MinerEvent;
    type Timer = MinerTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        match self.delay {
            Some(d) => {
                ctx.set_timer(d, MinerTimer::Start);
            }
            None => self.start(ctx),
        }
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, MinerEvent>, from: Addr, data: &[u8]) {
        if let Some(w) = &mut self.worker {
            w.on_datagram(ctx, from, data);
        }
        self.supervise(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, MinerEvent>, timer: TimerId, tag: MinerTimer) {
        let stopped = self.worker.as_ref().is_none_or(|w| w.is_stopped());
        if tag == MinerTimer::Start && stopped {
            self.respawn_pending = false;
            self.start(ctx);
        } else if let Some(w) = &mut self.worker {
            w.on_timer(ctx, timer, tag);
        }
        self.supervise(ctx);
    }
}
