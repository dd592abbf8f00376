//! The miner program's node logic (SPEC.md §4: `miner <host:port>`) over an LSP
//! [`ClientEndpoint`]: join, then answer each Request with the minimum over its range;
//! shut down when the connection is lost.
//!
//! In the simulator a miner has a hash rate (SPEC.md §9): it computes the real answer at
//! once but sends it only after `nonces / rate` of virtual time (a timer), so scheduling is
//! exercised on miners of different speeds without burning real time. Without a rate (the
//! real program) it answers as soon as it has computed.

use crate::event::MinerEvent;
use crate::hash::{Best, Hasher};
use crate::message::Message;
use crate::scheduler::Bug;
use faultline::bugs::BugSet;
use faultline::{Addr, Ctx, Node, TimerId};
use lsp::{ClientEndpoint, ClientEvent, Params};
use rand::Rng;
use std::collections::VecDeque;
use std::time::Duration;

faultline::timer_tags! {
    /// The timers of the miner's nodes: an LSP endpoint's epoch (under LSP's own number,
    /// so the endpoint's timers decode as `Lsp`) and a miner's simulated work. A node that
    /// embeds these gives its own tag enum variants with the same numbers.
    pub enum MinerTimer {
        Lsp = 0,
        Work = 1,
    }
}

/// A miner's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub jobs: u64,
    pub nonces: u128,
    pub malformed: u64,
}

/// Nonces a real miner hashes in one handler call before it lets its event loop run:
/// under a millisecond at tens of millions of hashes per second, about 15 ms on a machine
/// so loaded that it does one million, so the miner never falls silent for an epoch.
pub const SLICE_NONCES: u64 = 1 << 14;

/// A request being mined for real, one slice per handler call.
struct Mining {
    data: String,
    lower: u64,
    upper: u64,
    /// The first nonce not yet hashed.
    next: u64,
    best: Option<Best>,
}

/// A miner: one LSP connection to the server.
pub struct Worker {
    lsp: ClientEndpoint,
    /// Nonces per second of virtual time; `None` mines for real.
    rate: Option<u64>,
    queue: VecDeque<(String, u64, u64)>,
    /// The answer waiting for its work timer (simulated rate), or the slice timer of the
    /// request being mined (real).
    busy: Option<(TimerId, Best, u64, u64)>,
    mining: Option<(TimerId, Mining)>,
    stopped: bool,
    stats: WorkerStats,
    bugs: BugSet<Bug>,
}

/// The hash a nonce must beat under [`Bug::MinerTargetOrLast`]: about one nonce in 2^12.
const PLANTED_TARGET: u64 = u64::MAX >> 12;

impl Worker {
    /// Connect (random ISN in 0..=255, as the original) and send Join at once.
    pub fn start(
        ctx: &mut Ctx<'_, MinerEvent>,
        server: Addr,
        params: Params,
        rate: Option<u64>,
        bugs: BugSet<Bug>,
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
            mining: None,
            stopped: false,
            stats: WorkerStats::default(),
            bugs,
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
            if self.mining.as_ref().is_some_and(|(id, _)| *id == timer) {
                if let Some((_, m)) = self.mining.take() {
                    self.mine_slice(ctx, m);
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
        if let Some((id, _)) = self.mining.take() {
            ctx.cancel_timer(id);
        }
        ctx.record(MinerEvent::MinerStopped);
    }

    /// Mine queued requests while not waiting on a work timer.
    fn work(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        while !self.stopped && self.busy.is_none() && self.mining.is_none() {
            let Some((data, lo, hi)) = self.queue.pop_front() else {
                return;
            };
            let nonces = hi as u128 - lo as u128 + 1;
            self.stats.jobs += 1;
            self.stats.nonces += nonces;
            let Some(rate) = self.rate else {
                let m = Mining {
                    data,
                    lower: lo,
                    upper: hi,
                    next: lo,
                    best: None,
                };
                self.mine_slice(ctx, m);
                continue;
            };
            let mut best = Hasher::new(&data)
                .min_over(lo, hi)
                .expect("decoded requests have lower <= upper");
            if self.bugs.has(Bug::MinerTargetOrLast) && best.hash > PLANTED_TARGET {
                best = Best {
                    hash: crate::hash::hash(&data, hi),
                    nonce: hi,
                };
            }
            let ns =
                (nonces * 1_000_000_000 / rate.max(1) as u128).clamp(1, u64::MAX as u128) as u64;
            let id = ctx.set_timer(Duration::from_nanos(ns), MinerTimer::Work);
            self.busy = Some((id, best, lo, hi));
        }
    }

    /// Hash one slice of a real request; answer if it is done, else come back on a timer
    /// due at once. Between slices the event loop runs: LSP acknowledges, heartbeats and
    /// notices loss while a long chunk is mined, so the server never sees a busy miner
    /// fall silent for the length of a chunk (which, on a loaded machine, can pass the
    /// epoch limit and get a healthy miner dropped).
    fn mine_slice(&mut self, ctx: &mut Ctx<'_, MinerEvent>, mut m: Mining) {
        let end = m.next.saturating_add(SLICE_NONCES - 1).min(m.upper);
        let slice = Hasher::new(&m.data)
            .min_over(m.next, end)
            .expect("slices have lower <= upper");
        m.best = Some(m.best.map_or(slice, |b| b.merge(slice)));
        if end == m.upper {
            let best = m.best.expect("set above");
            self.reply(ctx, best, m.lower, m.upper);
        } else {
            m.next = end + 1;
            let id = ctx.set_timer(Duration::ZERO, MinerTimer::Work);
            self.mining = Some((id, m));
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

/// A miner as a node of its own (the real `faultline miner miner`): it starts its program
/// at once and stops for good when the program shuts down.
pub struct WorkerNode {
    server: Addr,
    params: Params,
    rate: Option<u64>,
    worker: Option<Worker>,
    bugs: BugSet<Bug>,
}

impl WorkerNode {
    pub fn new(server: Addr, params: Params, rate: Option<u64>) -> WorkerNode {
        WorkerNode {
            server,
            params,
            rate,
            worker: None,
            bugs: BugSet::NONE,
        }
    }

    /// The same miner with `bugs` planted (only the miner's own take effect).
    pub fn with_bugs(mut self, bugs: BugSet<Bug>) -> WorkerNode {
        self.bugs = bugs;
        self
    }

    /// The running program (None before start).
    pub fn worker(&self) -> Option<&Worker> {
        self.worker.as_ref()
    }
}

impl Node for WorkerNode {
    type Event = MinerEvent;
    type Timer = MinerTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        self.worker = Some(Worker::start(
            ctx,
            self.server,
            self.params,
            self.rate,
            self.bugs,
        ));
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, MinerEvent>, from: Addr, data: &[u8]) {
        if let Some(w) = &mut self.worker {
            w.on_datagram(ctx, from, data);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, MinerEvent>, timer: TimerId, tag: MinerTimer) {
        if let Some(w) = &mut self.worker {
            w.on_timer(ctx, timer, tag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MinerTimer;
    use faultline::TimerTag;

    #[test]
    fn lsp_timers_decode_as_the_lsp_tag() {
        assert_eq!(
            MinerTimer::from_raw(lsp::LspTimer::Epoch.to_raw()),
            Some(MinerTimer::Lsp)
        );
    }
}
