//! The nodes of a simulated miner world (systems/miner/SPEC.md §9): the system's server,
//! and miner and client nodes that behave as a deployment around the programs would.
//!
//! - A [`SupervisedMiner`] runs the miner program at its hash rate and, when the program
//!   shuts down (it lost the server), starts a new one a while later, which joins as a new
//!   miner: the scheduler's pool survives long network faults.
//! - A [`DelayedClient`] or a restarted miner may wait before connecting: a crashed node
//!   restarts at the same address, and LSP keeps one connection per address, so the new
//!   incarnation waits until the server has given up the old one (a real restarted process
//!   gets a fresh port instead).
//! - [`workload`] draws the clients' requests from the seed.

use faultline::bugs::BugSet;
use faultline::{Addr, Ctx, Node, Time, TimerId};
use lsp::Params;
use miner::scheduler::Bug;
use miner::{ClientNode, MinerEvent, MinerTimer, ServerNode, Worker, WorkerNode};
use rand::Rng;
use std::time::Duration;

faultline::timer_tags! {
    /// The timers of the scenarios' miner and client nodes: the system's own (an LSP
    /// epoch, a miner's work; same numbers as [`MinerTimer`]) and a delayed start.
    pub enum SimTimer {
        Lsp = 0,
        Work = 1,
        Start = 2,
    }
}

/// Arm the start timer if the program is to start `delay` after its node; whether it
/// starts now instead.
fn starts_now(delay: Option<Duration>, ctx: &mut Ctx<'_, MinerEvent>) -> bool {
    match delay {
        Some(d) => {
            ctx.set_timer(d, SimTimer::Start);
            false
        }
        None => true,
    }
}

impl SimTimer {
    /// The system's tag this stands for; `None` for the scenario's own `Start`.
    fn system(self) -> Option<MinerTimer> {
        match self {
            SimTimer::Lsp => Some(MinerTimer::Lsp),
            SimTimer::Work => Some(MinerTimer::Work),
            SimTimer::Start => None,
        }
    }
}

/// A miner program with a supervisor that starts it again after it shuts down.
pub struct SupervisedMiner {
    server: Addr,
    params: Params,
    rate: u64,
    delay: Option<Duration>,
    respawn_after: Duration,
    respawn_pending: bool,
    program: Option<WorkerNode>,
    /// Miner programs started so far (1 + respawns).
    starts: u64,
    bugs: BugSet<Bug>,
}

impl SupervisedMiner {
    /// A miner of `rate` nonces per second of virtual time, started again `respawn_after`
    /// after each shutdown.
    pub fn new(server: Addr, params: Params, rate: u64, respawn_after: Duration) -> Self {
        SupervisedMiner {
            server,
            params,
            rate,
            delay: None,
            respawn_after,
            respawn_pending: false,
            program: None,
            starts: 0,
            bugs: BugSet::NONE,
        }
    }

    /// Every program it starts has `bugs` planted.
    pub fn with_bugs(mut self, bugs: BugSet<Bug>) -> Self {
        self.bugs = bugs;
        self
    }

    /// Start the first program only `delay` after the node starts.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The current program, once started.
    pub fn worker(&self) -> Option<&Worker> {
        self.program.as_ref().and_then(|p| p.worker())
    }

    /// Miner programs started so far.
    pub fn starts(&self) -> u64 {
        self.starts
    }

    fn stopped(&self) -> bool {
        self.worker().is_none_or(|w| w.is_stopped())
    }

    fn start(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        self.starts += 1;
        let mut program =
            WorkerNode::new(self.server, self.params, Some(self.rate)).with_bugs(self.bugs);
        program.on_start(ctx);
        self.program = Some(program);
    }

    /// After every event: schedule a respawn if the program has stopped.
    fn supervise(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        if self.program.is_some() && self.stopped() && !self.respawn_pending {
            self.respawn_pending = true;
            ctx.set_timer(self.respawn_after, SimTimer::Start);
        }
    }
}

impl Node for SupervisedMiner {
    type Event = MinerEvent;
    type Timer = SimTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        if starts_now(self.delay, ctx) {
            self.start(ctx);
        }
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, MinerEvent>, from: Addr, data: &[u8]) {
        if let Some(p) = &mut self.program {
            p.on_datagram(ctx, from, data);
        }
        self.supervise(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, MinerEvent>, timer: TimerId, tag: SimTimer) {
        if tag == SimTimer::Start && self.stopped() {
            self.respawn_pending = false;
            self.start(ctx);
        } else if let (Some(p), Some(tag)) = (&mut self.program, tag.system()) {
            p.on_timer(ctx, timer, tag);
        }
        self.supervise(ctx);
    }
}

/// A client program that connects only a while after its node starts (or at once).
pub struct DelayedClient {
    delay: Option<Duration>,
    program: ClientNode,
    started: bool,
}

impl DelayedClient {
    /// `program`, started `delay` after the node (at once for `None`).
    pub fn new(program: ClientNode, delay: Option<Duration>) -> DelayedClient {
        DelayedClient {
            delay,
            program,
            started: false,
        }
    }

    /// The client program.
    pub fn program(&self) -> &ClientNode {
        &self.program
    }
}

impl Node for DelayedClient {
    type Event = MinerEvent;
    type Timer = SimTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        if starts_now(self.delay, ctx) {
            self.started = true;
            self.program.on_start(ctx);
        }
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, MinerEvent>, from: Addr, data: &[u8]) {
        if self.started {
            self.program.on_datagram(ctx, from, data);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, MinerEvent>, timer: TimerId, tag: SimTimer) {
        match (self.started, tag.system()) {
            (true, Some(tag)) => self.program.on_timer(ctx, timer, tag),
            (false, None) => {
                self.started = true;
                self.program.on_start(ctx);
            }
            _ => {}
        }
    }
}

faultline::node_kinds! {
    /// A node of a simulated miner world: the server, a miner or a client.
    pub enum MinerSimNode: MinerEvent {
        Server(ServerNode),
        Miner(SupervisedMiner),
        Client(DelayedClient),
    }
}

/// A seeded workload: `n` clients starting in `[0, window)`, sizes in `sizes`.
pub fn workload(
    seed: u64,
    n: usize,
    window: Duration,
    sizes: std::ops::Range<u64>,
) -> Vec<(String, u64, Time)> {
    let mut rng = faultline::derive_rng(seed, "miner/workload");
    let mut clients: Vec<(String, u64, Time)> = (0..n)
        .map(|i| {
            let start = rng.gen_range(0..faultline::time::duration_nanos(window));
            let upper = rng.gen_range(sizes.clone());
            (format!("block {i} seed {seed}"), upper, Time(start))
        })
        .collect();
    clients.sort_by_key(|c| c.2);
    clients
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline::TimerTag;

    #[test]
    fn the_systems_timers_decode_under_their_own_numbers() {
        for t in [MinerTimer::Lsp, MinerTimer::Work] {
            assert_eq!(
                SimTimer::from_raw(t.to_raw()).and_then(SimTimer::system),
                Some(t)
            );
        }
        assert_eq!(
            SimTimer::from_raw(lsp::LspTimer::Epoch.to_raw()),
            Some(SimTimer::Lsp)
        );
    }
}
