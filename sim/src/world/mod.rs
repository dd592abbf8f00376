//! The world: many nodes in one thread on virtual time, with faults.
//!
//! Events wait in one queue ordered by (true time in ns, sequence number); the loop pops the
//! next one and delivers it, so there are no ticks and ties keep the order they were made in.
//! Every random draw comes from a stream named under the master seed (see [`crate::rng`]),
//! every delivered event is folded into the trace hash, and every history event a node
//! records goes to the checker, which can stop the run.

mod faults;
mod streams;

use crate::budget::Budget;
use crate::check::{Checker, Failure, HeldChecker, NoChecks};
use crate::clock::Clock;
use crate::ctx::{Ctx, Effect, NodeIo};
use crate::faults::{Fault, LinkFaults, Schedule, Trigger};
use crate::network::{NetStats, Network};
use crate::node::{Addr, Node, StreamId, TimerId};
use crate::queue::EventQueue;
use crate::rng::derive_rng;
use crate::storage::{Storage, StorageFaults};
use crate::time::Time;
use crate::timer::decode;
use crate::trace::{Trace, TraceKind};
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use streams::{Notice, SimStream};

/// A call into a node, scheduled from outside (a workload step, a test's action).
pub type Call<N> = Box<dyn FnOnce(&mut N, &mut Ctx<'_, <N as Node>::Event>)>;

/// Why a run stopped early: a checker failed at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Halt {
    pub at: Time,
    pub failure: Failure,
}

enum Ev<N: Node> {
    Start {
        node: u32,
    },
    Datagram {
        from: u32,
        to: u32,
        /// The datagram's number among those sent (both copies of a duplicate share it).
        id: u64,
        data: Vec<u8>,
    },
    Timer {
        node: u32,
        inc: u32,
        id: TimerId,
        tag: u64,
    },
    /// Deliver what is due on one direction of a stream (`dir` 0: connector to acceptor).
    StreamDeliver {
        stream: StreamId,
        dir: u8,
    },
    /// The reader resumed: deliver what waited for it now, outside the delivery schedule.
    StreamFlush {
        stream: StreamId,
        dir: u8,
    },
    /// The reader of `dir` consumed `bytes`: credit travels back to the writer.
    StreamCredit {
        stream: StreamId,
        dir: u8,
        bytes: usize,
    },
    /// Accepted, Connected or Closed, for one incarnation of a node.
    StreamNotify {
        node: u32,
        inc: u32,
        notice: Notice,
    },
    Fault(Box<Fault>),
    Call {
        node: u32,
        call: Call<N>,
    },
}

impl<N: Node> Ev<N> {
    /// The node this event is for, if it waits while that node is paused.
    fn target(&self, streams: &BTreeMap<StreamId, SimStream>) -> Option<u32> {
        match self {
            Ev::Start { .. } | Ev::Fault(_) => None,
            Ev::Datagram { to, .. } => Some(*to),
            Ev::Timer { node, .. } | Ev::StreamNotify { node, .. } | Ev::Call { node, .. } => {
                Some(*node)
            }
            Ev::StreamDeliver { stream, dir } | Ev::StreamFlush { stream, dir } => {
                streams.get(stream).map(|s| s.ends[1 - *dir as usize])
            }
            Ev::StreamCredit { stream, dir, .. } => {
                streams.get(stream).map(|s| s.ends[*dir as usize])
            }
        }
    }
}

type Factory<N> = Box<dyn FnMut(Addr) -> N>;

/// Names a history event for triggers: (recording node, event) -> its label, if any.
type Labels<E> = Box<dyn Fn(Addr, &E) -> Option<&'static str>>;

/// Sees every datagram as it is sent: (time, from, to, bytes) -> deliver it?
type Middlebox = Box<dyn FnMut(Time, Addr, Addr, &mut Vec<u8>) -> bool>;

/// In declaration order (`repr(C)`): what every event reads first and together, so that
/// an event touches few cache lines of its node (a world of 1,000 nodes does not fit in
/// the first-level cache, and every event is for a node picked anew).
#[repr(C)]
struct Slot<N: Node> {
    paused: bool,
    /// Bumped on every crash, so the dead incarnation's timers and notices are dropped.
    inc: u32,
    clock: Clock,
    node: Option<N>,
    io: NodeIo<N::Event>,
    backlog: VecDeque<Ev<N>>,
    factory: Factory<N>,
    /// The storage fault model crashes of this node follow, and its random stream
    /// (`storage/<node>`, made when a model is first set); `None`: unsynced writes are lost
    /// whole and nothing rots.
    storage_faults: Option<(StorageFaults, rand_chacha::ChaCha8Rng)>,
}

/// The simulated world. See the module docs.
pub struct World<N: Node> {
    seed: u64,
    now: u64,
    queue: EventQueue<Ev<N>>,
    slots: Vec<Slot<N>>,
    net: Network,
    streams: BTreeMap<StreamId, SimStream>,
    stream_window: usize,
    /// Stream writes so far: each write's number pairs it with its delivery in the notes.
    stream_writes: u64,
    checker: Box<dyn HeldChecker<N::Event>>,
    middlebox: Option<Middlebox>,
    trace: Trace,
    events: u64,
    halt: Option<Halt>,
    budget: Budget,
    effects: Vec<Effect>,
    /// The schedule's triggers, each with the matching events seen so far.
    triggers: Vec<(Trigger, u32)>,
    labels: Option<Labels<N::Event>>,
    /// Triggers fire only before this time (the heal phase).
    heal_at: u64,
}

impl<N: Node + 'static> World<N> {
    /// An empty world under `seed`, at time zero, with a clean 1-2 ms network.
    pub fn new(seed: u64) -> World<N> {
        World {
            seed,
            now: 0,
            queue: EventQueue::default(),
            slots: Vec::new(),
            net: Network::new(seed),
            streams: BTreeMap::new(),
            stream_window: crate::ctx::DEFAULT_STREAM_WINDOW,
            stream_writes: 0,
            checker: Box::new(NoChecks),
            middlebox: None,
            trace: Trace::default(),
            events: 0,
            halt: None,
            budget: Budget::UNLIMITED,
            effects: Vec::new(),
            triggers: Vec::new(),
            labels: None,
            heal_at: 0,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// True time now.
    pub fn now(&self) -> Time {
        Time(self.now)
    }

    /// Events delivered so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn node_count(&self) -> usize {
        self.slots.len()
    }

    /// The network's behaviour when no fault is on; `Heal` restores it.
    pub fn set_base_link(&mut self, link: LinkFaults) {
        self.net.set_base(link);
    }

    /// The receive window, in bytes, of streams opened from now on.
    pub fn set_stream_window(&mut self, bytes: usize) {
        self.stream_window = bytes.max(1);
        for slot in &mut self.slots {
            slot.io.set_stream_window(self.stream_window);
        }
    }

    /// Add a node that starts now. `factory` builds it, and builds it again on restart.
    pub fn add_node(&mut self, factory: impl FnMut(Addr) -> N + 'static) -> Addr {
        let now = self.now();
        self.add_node_at(now, factory)
    }

    /// Add a node that starts at `start`.
    pub fn add_node_at(&mut self, start: Time, factory: impl FnMut(Addr) -> N + 'static) -> Addr {
        let index = self.slots.len() as u32;
        let addr = Addr(index);
        let mut io = NodeIo::new(
            addr,
            derive_rng(self.seed, &format!("node/{index}")),
            Storage::default(),
        );
        io.set_stream_window(self.stream_window);
        self.slots.push(Slot {
            node: None,
            io,
            factory: Box::new(factory),
            inc: 0,
            paused: false,
            backlog: VecDeque::new(),
            clock: Clock::default(),
            storage_faults: None,
        });
        self.net.grow(self.slots.len());
        self.push(start.0.max(self.now), Ev::Start { node: index });
        addr
    }

    /// Stop the run, as a failure of kind budget, before an event that would go over
    /// `budget` (see [`crate::budget`]).
    pub fn set_budget(&mut self, budget: Budget) {
        self.budget = budget;
    }

    /// Check every history event with `checker`; the first failure stops the run.
    pub fn set_checker(&mut self, checker: impl Checker<N::Event> + 'static) {
        self.checker = Box::new(checker);
    }

    /// The checker, if it is a `C`: how a scenario reads what its checker saw (for end
    /// checks and metrics) after the run.
    pub fn checker<C: 'static>(&self) -> Option<&C> {
        self.checker.as_any().downcast_ref()
    }

    /// The checker, mutably, if it is a `C`.
    pub fn checker_mut<C: 'static>(&mut self) -> Option<&mut C> {
        self.checker.as_any_mut().downcast_mut()
    }

    /// See every datagram as it is sent, before link faults; return false to drop it. It may
    /// rewrite the bytes. This is how tests sniff, block acks or coalesce them.
    pub fn set_middlebox(
        &mut self,
        f: impl FnMut(Time, Addr, Addr, &mut Vec<u8>) -> bool + 'static,
    ) {
        self.middlebox = Some(Box::new(f));
    }

    /// Write every delivered event as a JSON line to `log`.
    pub fn set_trace_log(&mut self, log: Box<dyn Write>) {
        self.trace.set_log(log);
    }

    /// Also write notes to the trace log: every datagram sent with its fate (`"kind":
    /// "send"`), datagrams that reached a down node (`"undelivered"`), and every history
    /// event (`"history"`, its Debug form). Notes are never hashed.
    pub fn set_trace_notes(&mut self, on: bool) {
        self.trace.set_notes(on);
    }

    /// Flush the trace log; an error if writing it failed.
    pub fn finish_trace_log(&mut self) -> Result<(), String> {
        self.trace.finish_log()
    }

    /// SHA-256 over every event delivered so far, hex.
    pub fn trace_hash(&self) -> String {
        self.trace.hash_hex()
    }

    pub fn stats(&self) -> &NetStats {
        &self.net.stats
    }

    /// The node at `addr`, unless it is crashed or not started yet.
    pub fn node(&self, addr: Addr) -> Option<&N> {
        self.slots.get(addr.index())?.node.as_ref()
    }

    pub fn node_mut(&mut self, addr: Addr) -> Option<&mut N> {
        self.slots.get_mut(addr.index())?.node.as_mut()
    }

    /// Every node slot in order: `None` for a crashed or not yet started node.
    pub fn nodes(&self) -> impl Iterator<Item = (Addr, Option<&N>)> {
        self.slots
            .iter()
            .enumerate()
            .map(|(i, s)| (Addr(i as u32), s.node.as_ref()))
    }

    pub fn is_up(&self, addr: Addr) -> bool {
        self.node(addr).is_some()
    }

    pub fn is_paused(&self, addr: Addr) -> bool {
        self.slots.get(addr.index()).is_some_and(|s| s.paused)
    }

    /// A node's storage (what survives a crash is its synced part).
    pub fn storage(&self, addr: Addr) -> &Storage {
        self.slots[addr.index()].io.storage()
    }

    /// Crashes of `node` (every node when `None`) from now on follow `faults` (see
    /// [`crate::storage::faults`]). A scenario's setting: it is not traced, as the schedule's
    /// `storage_faults` entry is.
    pub fn set_storage_faults(&mut self, node: Option<u32>, faults: StorageFaults) {
        let seed = self.seed;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if node.is_some_and(|n| n as usize != i) {
                continue;
            }
            slot.io.storage_mut().track_write_order();
            let rng = match slot.storage_faults.take() {
                Some((_, rng)) => rng,
                None => derive_rng(seed, &format!("storage/{i}")),
            };
            slot.storage_faults = Some((faults.clone(), rng));
        }
    }

    /// The local clock reading of a node now.
    pub fn local_time(&self, addr: Addr) -> Time {
        self.slots[addr.index()].clock.local(self.now())
    }

    /// Call into a node now (its effects are carried out). `None` if it is down. It runs
    /// even on a paused node (the caller asked for now); use [`World::call_at`] for a call
    /// that waits for the node like any other event.
    pub fn with_node<R>(
        &mut self,
        addr: Addr,
        f: impl FnOnce(&mut N, &mut Ctx<'_, N::Event>) -> R,
    ) -> Option<R> {
        if !self.is_up(addr) {
            return None;
        }
        self.trace
            .record(self.now(), addr, TraceKind::Call, 0, 0, &[]);
        self.dispatch(addr.0, f)
    }

    /// Call into a node at `at` (delayed while it is paused, dropped if it is down).
    pub fn call_at(
        &mut self,
        at: Time,
        addr: Addr,
        f: impl FnOnce(&mut N, &mut Ctx<'_, N::Event>) + 'static,
    ) {
        self.push(
            at.0.max(self.now),
            Ev::Call {
                node: addr.0,
                call: Box::new(f),
            },
        );
    }

    /// Apply `fault` at `at`.
    pub fn fault_at(&mut self, at: Time, fault: Fault) {
        self.push(at.0.max(self.now), Ev::Fault(Box::new(fault)));
    }

    /// Queue every fault of `schedule`; an error (and nothing queued) if it does not fit.
    pub fn load_schedule(&mut self, schedule: &Schedule) -> Result<(), String> {
        schedule.validate(self.slots.len())?;
        for tf in &schedule.faults {
            self.fault_at(Time(tf.at_ns), tf.fault.clone());
        }
        self.fault_at(Time(schedule.heal_at_ns), Fault::Heal);
        self.triggers = schedule.triggers.iter().map(|t| (t.clone(), 0)).collect();
        self.heal_at = schedule.heal_at_ns;
        Ok(())
    }

    /// Name history events for the schedule's triggers: `labels` gives the label of an
    /// event recorded by a node, or `None` for events no trigger can name.
    pub fn set_history_labels(
        &mut self,
        labels: impl Fn(Addr, &N::Event) -> Option<&'static str> + 'static,
    ) {
        self.labels = Some(Box::new(labels));
    }

    /// Deliver every event due up to and including `until`, then stand at `until`.
    // Out of line (it is called once per run phase), so profiles show the loop apart from
    // its caller's work.
    #[inline(never)]
    pub fn run_until(&mut self, until: Time) -> Result<(), Halt> {
        while self.step(until)? {}
        Ok(())
    }

    /// Deliver events until `done` holds (checked after each) or `until` is reached.
    /// Returns whether `done` held.
    pub fn run_until_cond(
        &mut self,
        until: Time,
        mut done: impl FnMut(&World<N>) -> bool,
    ) -> Result<bool, Halt> {
        while !done(self) {
            if !self.step(until)? {
                return Ok(done(self));
            }
        }
        Ok(true)
    }

    /// Deliver the next event if it is due by `until` and say so; otherwise stand at `until`
    /// and return false. A checker's failure, or the budget, stops the run.
    fn step(&mut self, until: Time) -> Result<bool, Halt> {
        match self.queue.peek_time() {
            Some(next) if next <= until.0 => {
                if self.budget.exceeded(self.events, next) {
                    let failure = self.budget.failure(self.events, self.now(), next);
                    return Err(Halt {
                        at: self.now(),
                        failure,
                    });
                }
                let ev = self.pop();
                self.handle(ev);
                match &self.halt {
                    Some(halt) => Err(halt.clone()),
                    None => Ok(true),
                }
            }
            _ => {
                self.now = self.now.max(until.0);
                Ok(false)
            }
        }
    }

    /// The time of the next queued event, if any.
    pub fn next_event_time(&self) -> Option<Time> {
        self.queue.peek_time().map(Time)
    }

    fn push(&mut self, at: u64, ev: Ev<N>) {
        self.queue.push(at, ev);
    }

    /// Take the earliest event (the caller peeked that there is one) and move time to it.
    fn pop(&mut self) -> Ev<N> {
        let (at, ev) = self.queue.pop().expect("caller peeked");
        self.now = at;
        ev
    }

    fn handle(&mut self, ev: Ev<N>) {
        if let Some(node) = ev.target(&self.streams) {
            if let Some(slot) = self.slots.get_mut(node as usize) {
                if slot.paused {
                    slot.backlog.push_back(ev);
                    return;
                }
            }
        }
        match ev {
            Ev::Start { node } => self.start_node(node),
            Ev::Datagram { from, to, id, data } => self.deliver_datagram(from, to, id, data),
            Ev::Timer { node, inc, id, tag } => {
                let slot = &mut self.slots[node as usize];
                if slot.inc == inc && slot.node.is_some() && slot.io.take_timer(id) {
                    self.trace
                        .record(self.now(), Addr(node), TraceKind::Timer, id.0, tag, &[]);
                    self.dispatch(node, |n, ctx| n.on_timer(ctx, id, decode(tag)));
                }
            }
            Ev::StreamDeliver { stream, dir } => self.stream_deliver(stream, dir, true),
            Ev::StreamFlush { stream, dir } => self.stream_deliver(stream, dir, false),
            Ev::StreamCredit { stream, dir, bytes } => self.stream_credit(stream, dir, bytes),
            Ev::StreamNotify { node, inc, notice } => self.stream_notify(node, inc, notice),
            Ev::Fault(fault) => self.apply(*fault),
            Ev::Call { node, call } => {
                if self.slots[node as usize].node.is_some() {
                    self.trace
                        .record(self.now(), Addr(node), TraceKind::Call, 0, 0, &[]);
                    self.dispatch(node, call);
                }
            }
        }
    }

    fn start_node(&mut self, node: u32) {
        let now = self.now();
        let slot = &mut self.slots[node as usize];
        if slot.node.is_some() {
            return;
        }
        slot.node = Some((slot.factory)(Addr(node)));
        self.trace
            .record(now, Addr(node), TraceKind::Start, slot.inc as u64, 0, &[]);
        self.dispatch(node, |n, ctx| n.on_start(ctx));
    }

    fn deliver_datagram(&mut self, from: u32, to: u32, id: u64, data: Vec<u8>) {
        if self.slots.get(to as usize).is_none_or(|s| s.node.is_none()) {
            self.net.stats.datagrams_to_down_node += 1;
            self.trace.note(serde_json::json!({
                "t_ns": self.now, "node": to, "kind": "undelivered", "a": from, "b": id,
            }));
            return;
        }
        self.net.stats.datagrams_delivered += 1;
        // `b` (the datagram's number) is not hashed for datagrams: it only pairs the
        // delivery with its send note.
        self.trace.record(
            self.now(),
            Addr(to),
            TraceKind::Datagram,
            from as u64,
            id,
            &data,
        );
        self.dispatch(to, |n, ctx| n.on_datagram(ctx, Addr(from), &data));
    }

    /// Run one handler on a live node, then carry out its effects and check its history.
    fn dispatch<R>(
        &mut self,
        node: u32,
        f: impl FnOnce(&mut N, &mut Ctx<'_, N::Event>) -> R,
    ) -> Option<R> {
        let now = self.now();
        let slot = &mut self.slots[node as usize];
        let local = slot.clock.local(now);
        let n = slot.node.as_mut()?;
        self.events += 1;
        let mut effects = std::mem::take(&mut self.effects);
        slot.io.lend_effects(&mut effects);
        let result = f(n, &mut slot.io.ctx(local));
        if slot.io.storage().died_in_sync() {
            // The node died inside a sync: nothing it did in this handler is seen (the
            // crash drops its effects and history with it).
            self.effects = effects;
            self.apply(Fault::Crash { node });
            return Some(result);
        }
        slot.io.drain_effects(&mut effects);
        let mut fired = Vec::new();
        if slot.io.has_history() && self.halt.is_none() {
            for event in slot.io.drain_history() {
                if self.trace.noting() {
                    self.trace.note(serde_json::json!({
                        "t_ns": now.0, "node": node, "kind": "history", "data": format!("{event:?}"),
                    }));
                }
                if let Err(failure) = self.checker.on_event(now, Addr(node), &event) {
                    self.halt = Some(Halt { at: now, failure });
                    break;
                }
                if let (false, Some(labels)) = (self.triggers.is_empty(), &self.labels) {
                    if let Some(label) = labels(Addr(node), &event) {
                        for (t, seen) in &mut self.triggers {
                            if t.on == label && t.node.is_none_or(|n| n == node) {
                                *seen += 1;
                                if *seen == t.nth {
                                    fired.push(t.clone());
                                }
                            }
                        }
                    }
                }
            }
        }
        for t in fired {
            self.fire(node, &t);
        }
        for effect in effects.drain(..) {
            self.effect(node, effect);
        }
        self.effects = effects;
        Some(result)
    }

    /// Queue what trigger `t` does to `node`, if it falls in the fault phase.
    fn fire(&mut self, node: u32, t: &Trigger) {
        let at = self.now.saturating_add(t.delay_ns);
        if at >= self.heal_at {
            return;
        }
        let (fault, undo) = t.action.faults(node);
        self.fault_at(Time(at), fault);
        if let Some(after) = t.undo_after_ns {
            self.fault_at(Time(at.saturating_add(after).min(self.heal_at)), undo);
        }
    }

    fn effect(&mut self, node: u32, effect: Effect) {
        match effect {
            Effect::Send { to, data } => self.send(node, to.0, data),
            Effect::SetTimer { id, after, tag } => {
                let slot = &self.slots[node as usize];
                let at = self.now.saturating_add(slot.clock.to_true(after));
                let inc = slot.inc;
                self.push(at, Ev::Timer { node, inc, id, tag });
            }
            Effect::Connect { stream, to } => self.stream_connect(node, stream, to.0),
            Effect::Write { stream, data } => self.stream_write(node, stream, data),
            Effect::Close { stream } => self.stream_close(node, stream),
            Effect::PauseReading { stream } => self.stream_reading(node, stream, false),
            Effect::ResumeReading { stream } => self.stream_reading(node, stream, true),
        }
    }

    fn send(&mut self, from: u32, to: u32, mut data: Vec<u8>) {
        self.net.stats.datagrams_sent += 1;
        let id = self.net.stats.datagrams_sent;
        let note = |world: &mut World<N>, fate: &str, extra: serde_json::Value| {
            if world.trace.noting() {
                world.trace.note(serde_json::json!({
                    "t_ns": world.now, "node": from, "kind": "send", "a": to, "b": id,
                    "fate": fate, "more": extra,
                }));
            }
        };
        if to as usize >= self.slots.len() {
            self.net.stats.datagrams_to_down_node += 1;
            note(self, "nowhere", serde_json::Value::Null);
            return;
        }
        if let Some(middlebox) = self.middlebox.as_mut() {
            if !middlebox(Time(self.now), Addr(from), Addr(to), &mut data) {
                self.net.stats.datagrams_middlebox_dropped += 1;
                note(self, "middlebox", serde_json::Value::Null);
                return;
            }
        }
        let (f, t) = (from as usize, to as usize);
        if self.net.is_cut(f, t) {
            self.net.stats.datagrams_cut += 1;
            note(self, "cut", serde_json::Value::Null);
            return;
        }
        let fate = self.net.datagram_fate(f, t);
        if fate.truncate {
            self.net.truncate(f, t, &fate, &mut data);
        }
        if fate.corrupt {
            self.net.corrupt(f, t, &fate, &mut data);
        }
        if self.trace.noting() {
            let copies = fate.delays.iter().flatten().count();
            let extra = serde_json::json!({
                "copies": copies, "corrupt": fate.corrupt, "truncate": fate.truncate,
            });
            note(self, if copies == 0 { "lost" } else { "sent" }, extra);
        }
        match fate.delays {
            [Some(a), Some(b)] => {
                self.push(
                    self.now + a,
                    Ev::Datagram {
                        from,
                        to,
                        id,
                        data: data.clone(),
                    },
                );
                self.push(self.now + b, Ev::Datagram { from, to, id, data });
            }
            [Some(a), None] | [None, Some(a)] => {
                self.push(self.now + a, Ev::Datagram { from, to, id, data })
            }
            [None, None] => {}
        }
    }
}
