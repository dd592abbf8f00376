//! The actor system (SPEC.md §2): actors with FIFO mailboxes, refs, channel refs, local
//! and remote tell, and the per-system statistics, inside one sans-IO node.
//!
//! Nothing here blocks or spawns. Sends are queued as they are made; [`ActorSystem::run`]
//! (called by the node after each event) routes them and lets every actor with mail
//! process its messages one at a time, until no mail is left. Every message is marshalled
//! with bincode when it is sent, local ones too, and unmarshalled by its receiver, so no
//! actor can share memory with another.
//!
//! Order: a local tell goes into the receiver's mailbox at once, and a remote one into the
//! destination system's outbox, a FIFO drained in order into one stream (one per
//! destination system). So messages from one sender to one receiver arrive in the order
//! sent (SPEC.md §2 "Delivery"). Remote tells never wait for an answer: the outbox is
//! written as fast as the stream takes it (pipelined). A stream that breaks loses what was
//! in it (at most once); the system notes the destination as *lossy*, reconnects, and
//! reports it through [`ActorSystem::take_reconnected`] so the application can repair.

use crate::mailbox::Mailbox;
use crate::wire::{self, Frame};
use faultline::{Addr, CloseReason, Ctx, StreamId, Time, TimerTag};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// How long a broken or refused connection waits before the system dials again.
pub const RECONNECT_AFTER: Duration = Duration::from_millis(500);
/// At most this many messages are processed per [`ActorSystem::run`]; the rest wait for a
/// timer, so an actor that tells itself in a loop cannot stall the node.
pub const MAX_MESSAGES_PER_RUN: usize = 100_000;

/// A reference to an actor or a channel: the address of its system and a counter.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ActorRef {
    pub address: String,
    pub counter: u64,
}

impl ActorRef {
    /// `"<address>/<counter>"`: unique, and ordered for tie-breaks.
    pub fn uid(&self) -> String {
        format!("{}/{}", self.address, self.counter)
    }
}

/// An actor: it processes one message at a time. An error is reported and counted, never
/// fatal (SPEC.md §2).
pub trait Actor {
    type Msg: Serialize + DeserializeOwned;
    fn on_message(&mut self, ctx: &mut ActorCtx<'_>, msg: Self::Msg) -> Result<(), String>;
}

/// A send asked for by an actor or by outside code, already marshalled.
#[derive(Debug, Clone)]
struct Outgoing {
    from: Option<u64>,
    to: ActorRef,
    bytes: Vec<u8>,
    after: Option<Duration>,
}

/// What an actor sees while it handles a message.
pub struct ActorCtx<'a> {
    me: &'a ActorRef,
    now_ms: u64,
    out: &'a mut Vec<Outgoing>,
}

impl ActorCtx<'_> {
    pub fn me(&self) -> &ActorRef {
        self.me
    }

    /// The system's clock in milliseconds (the wall clock on a real server).
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Send `msg` to `to`; never blocks.
    pub fn tell<M: Serialize>(&mut self, to: &ActorRef, msg: &M) {
        self.push(to, msg, None);
    }

    /// Send `msg` to `to` after `after`. It counts as a send to `to` now, also to oneself.
    pub fn tell_after<M: Serialize>(&mut self, to: &ActorRef, msg: &M, after: Duration) {
        self.push(to, msg, Some(after));
    }

    /// Whether `r` lives in this actor's own system.
    pub fn is_local(&self, r: &ActorRef) -> bool {
        r.address == self.me.address
    }

    fn push<M: Serialize>(&mut self, to: &ActorRef, msg: &M, after: Option<Duration>) {
        self.out.push(Outgoing {
            from: Some(self.me.counter),
            to: to.clone(),
            bytes: bincode::serialize(msg).expect("actor messages serialise"),
            after,
        });
    }
}

/// The counts of one actor system (SPEC.md §6).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Tells from outside any actor (`ActorSystem::tell`).
    pub messages_sent_external: u64,
    /// Tells (and tell_afters) by actors.
    pub messages_sent_actor: u64,
    /// Marshalled bytes of every message sent.
    pub bytes_sent: u64,
    /// Marshalled bytes of every message received from another system.
    pub remote_bytes_received: u64,
    pub channel_refs_used: u64,
    /// Messages to a channel ref that had its reply already (or to no one): dropped.
    pub dropped_messages: u64,
    /// Errors returned by actors, and messages that would not unmarshal.
    pub errors: u64,
    /// Sends per ordered (sender actor counter, receiver) pair.
    pub pair_counts: BTreeMap<(u64, ActorRef), u64>,
}

impl Stats {
    /// All messages sent.
    pub fn messages_sent(&self) -> u64 {
        self.messages_sent_external + self.messages_sent_actor
    }

    /// The busiest pair and its count.
    pub fn busiest_pair(&self) -> Option<(&(u64, ActorRef), u64)> {
        self.pair_counts
            .iter()
            .max_by_key(|(_, &c)| c)
            .map(|(k, &c)| (k, c))
    }

    /// SPEC.md §5's MaxMessageRate, times 1000 to stay in integers:
    /// `max count / floor(lifetime_s + 1.1)` over the pairs.
    pub fn max_message_rate_milli(&self, lifetime: Duration) -> u64 {
        let ns = lifetime.as_nanos() as u64;
        let divisor = (ns + 1_100_000_000) / 1_000_000_000;
        self.busiest_pair()
            .map_or(0, |(_, c)| c * 1000 / divisor.max(1))
    }
}

/// What the node's timers of an actor system are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemTimer {
    /// A `tell_after` is due.
    Delayed(u64),
    /// The outbox of a destination has messages whose latency has passed.
    Release(u32),
    /// Dial a destination again.
    Redial(u32),
}

impl TimerTag for SystemTimer {
    fn to_raw(self) -> u64 {
        match self {
            SystemTimer::Delayed(id) => (1 << 48) | (id & 0xffff_ffff_ffff),
            SystemTimer::Release(i) => (2 << 48) | i as u64,
            SystemTimer::Redial(i) => (3 << 48) | i as u64,
        }
    }

    fn from_raw(raw: u64) -> Option<Self> {
        let low = raw & 0xffff_ffff_ffff;
        match raw >> 48 {
            1 => Some(SystemTimer::Delayed(low)),
            2 => Some(SystemTimer::Release(low as u32)),
            3 => Some(SystemTimer::Redial(low as u32)),
            _ => None,
        }
    }
}

/// How the system turns an address into a node [`Addr`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolve {
    /// Addresses are `n<index>`, the simulator's node numbers.
    Sim,
    /// Socket addresses: unknown ones wait for [`ActorSystem::set_addr`] from the runtime's
    /// owner (see [`ActorSystem::take_unresolved`]).
    Book,
}

/// The simulator's address of node `a`.
pub fn sim_address(a: Addr) -> String {
    format!("n{}", a.0)
}

/// The send side of one destination system.
#[derive(Debug, Default)]
struct Outbox {
    address: String,
    addr: Option<Addr>,
    stream: Option<StreamId>,
    /// Frames waiting for their latency to pass: (release time ns, frame bytes).
    waiting: VecDeque<(u64, Vec<u8>)>,
    /// Bytes released but not yet taken by the stream.
    unsent: VecDeque<u8>,
    release_armed: bool,
    redial_armed: bool,
    /// A stream to it broke: what was in flight may be lost.
    lossy: bool,
    /// No dialing before this time (after a refusal or reset).
    quiet_until: u64,
}

struct Slot<A> {
    actor: A,
    me: ActorRef,
    mailbox: Mailbox<Vec<u8>>,
}

/// One actor system. See the module docs.
pub struct ActorSystem<A: Actor> {
    address: String,
    resolve: Resolve,
    book: BTreeMap<String, Addr>,
    unresolved: Vec<String>,
    next_counter: u64,
    actors: BTreeMap<u64, Slot<A>>,
    channels: BTreeMap<u64, Option<A::Msg>>,
    answered: Vec<u64>,
    ready: VecDeque<u64>,
    pending: Vec<Outgoing>,
    delayed: BTreeMap<u64, Outgoing>,
    next_delayed: u64,
    outboxes: Vec<Outbox>,
    outbox_of: BTreeMap<String, u32>,
    streams: BTreeMap<StreamId, u32>,
    /// Sender-side latency per destination address (the course's latency wrapper).
    latency: BTreeMap<String, Duration>,
    default_latency: Duration,
    reconnected: Vec<String>,
    stats: Stats,
    error_log: Vec<String>,
    closed: bool,
    started: Time,
    epoch_ms: u64,
}

impl<A: Actor> ActorSystem<A> {
    /// A system at `address` whose clock reads `epoch_ms` plus the node's time.
    pub fn new(address: String, resolve: Resolve, epoch_ms: u64) -> ActorSystem<A> {
        ActorSystem {
            address,
            resolve,
            book: BTreeMap::new(),
            unresolved: Vec::new(),
            next_counter: 1,
            actors: BTreeMap::new(),
            channels: BTreeMap::new(),
            answered: Vec::new(),
            ready: VecDeque::new(),
            pending: Vec::new(),
            delayed: BTreeMap::new(),
            next_delayed: 0,
            outboxes: Vec::new(),
            outbox_of: BTreeMap::new(),
            streams: BTreeMap::new(),
            latency: BTreeMap::new(),
            default_latency: Duration::ZERO,
            reconnected: Vec::new(),
            stats: Stats::default(),
            error_log: Vec::new(),
            closed: false,
            started: Time::ZERO,
            epoch_ms,
        }
    }

    /// Sender-side delay on every remote tell to `address` (as the course's test wrapper).
    pub fn set_latency(&mut self, address: &str, latency: Duration) {
        self.latency.insert(address.to_string(), latency);
    }

    /// Sender-side delay to destinations with no latency of their own.
    pub fn set_default_latency(&mut self, latency: Duration) {
        self.default_latency = latency;
    }

    /// The node started at `now`: the lifetime of the stats counts from here.
    pub fn set_started(&mut self, now: Time) {
        self.started = now;
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// How long the system has been up, at node time `now`.
    pub fn lifetime(&self, now: Time) -> Duration {
        now.since(self.started)
    }

    /// Errors reported by actors (the most recent 100).
    pub fn errors(&self) -> &[String] {
        &self.error_log
    }

    /// The system's clock in ms at node time `now`.
    pub fn clock_ms(&self, now: Time) -> u64 {
        self.epoch_ms + now.as_millis()
    }

    pub fn is_local(&self, r: &ActorRef) -> bool {
        r.address == self.address
    }

    /// Start an actor built from its own ref (initial data must come in a message).
    pub fn start_actor(&mut self, ctor: impl FnOnce(&ActorRef) -> A) -> ActorRef {
        let me = self.fresh_ref();
        let actor = ctor(&me);
        self.actors.insert(
            me.counter,
            Slot {
                actor,
                me: me.clone(),
                mailbox: Mailbox::new(),
            },
        );
        me
    }

    /// The actor with this counter, to read its state.
    pub fn actor(&self, counter: u64) -> Option<&A> {
        self.actors.get(&counter).map(|s| &s.actor)
    }

    pub fn actor_mut(&mut self, counter: u64) -> Option<&mut A> {
        self.actors.get_mut(&counter).map(|s| &mut s.actor)
    }

    /// A fresh channel ref: its first message is kept for [`ActorSystem::take_reply`],
    /// later ones are dropped and counted.
    pub fn new_channel(&mut self) -> ActorRef {
        let r = self.fresh_ref();
        self.channels.insert(r.counter, None);
        self.stats.channel_refs_used += 1;
        r
    }

    /// The reply a channel got, once; the channel is then spent.
    pub fn take_reply(&mut self, channel: u64) -> Option<A::Msg> {
        match self.channels.get(&channel) {
            Some(Some(_)) => self.channels.remove(&channel).flatten(),
            _ => None,
        }
    }

    /// Forget a channel nobody waits on any more (its reply, if one comes, is dropped).
    pub fn drop_channel(&mut self, channel: u64) {
        self.channels.remove(&channel);
    }

    /// Channels that got their reply since the last call.
    pub fn take_answered(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.answered)
    }

    /// An external tell (from non-actor code). Routed at the next [`ActorSystem::run`].
    pub fn tell<M: Serialize>(&mut self, to: &ActorRef, msg: &M) {
        self.pending.push(Outgoing {
            from: None,
            to: to.clone(),
            bytes: bincode::serialize(msg).expect("actor messages serialise"),
            after: None,
        });
    }

    /// Close: mailboxes are closed, outboxes dropped; later messages are dropped.
    pub fn close<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        self.closed = true;
        for slot in self.actors.values_mut() {
            slot.mailbox.close();
        }
        for ob in &mut self.outboxes {
            ob.waiting.clear();
            ob.unsent.clear();
            if let Some(s) = ob.stream.take() {
                ctx.close(s);
            }
        }
        self.pending.clear();
        self.delayed.clear();
    }

    /// Destinations whose stream broke and that are connected again since the last call:
    /// what was sent to them may have been lost.
    pub fn take_reconnected(&mut self) -> Vec<String> {
        std::mem::take(&mut self.reconnected)
    }

    /// Whether some address waits to be resolved ([`Resolve::Book`]).
    pub fn has_unresolved(&self) -> bool {
        !self.unresolved.is_empty()
    }

    /// Addresses the system must send to but cannot resolve ([`Resolve::Book`]).
    pub fn take_unresolved(&mut self) -> Vec<String> {
        std::mem::take(&mut self.unresolved)
    }

    /// The node address of `address`, from the runtime's owner; waiting sends go out.
    pub fn set_addr<E>(&mut self, ctx: &mut Ctx<'_, E>, address: &str, addr: Addr) {
        self.book.insert(address.to_string(), addr);
        if let Some(&i) = self.outbox_of.get(address) {
            self.outboxes[i as usize].addr = Some(addr);
            self.flush(ctx, i);
        }
    }

    /// Whether `stream` is one of this system's outgoing streams.
    pub fn owns_stream(&self, stream: StreamId) -> bool {
        self.streams.contains_key(&stream)
    }

    /// A `Tell` frame arrived from another system.
    pub fn tell_from_remote(&mut self, to: u64, payload: Vec<u8>) {
        self.stats.remote_bytes_received += payload.len() as u64;
        self.deliver(to, payload);
    }

    /// Route what was sent and let actors process their mail until none is left.
    pub fn run<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        let now_ms = self.clock_ms(ctx.now());
        let mut processed = 0;
        let mut out = Vec::new();
        loop {
            for o in std::mem::take(&mut self.pending) {
                self.route(ctx, o);
            }
            if processed >= MAX_MESSAGES_PER_RUN {
                if !self.ready.is_empty() {
                    // Go on after a tick of the node's own clock.
                    let id = self.next_delayed;
                    self.next_delayed += 1;
                    ctx.set_timer(Duration::from_millis(1), SystemTimer::Delayed(id));
                }
                return;
            }
            let Some(counter) = self.ready.pop_front() else {
                return;
            };
            let Some(slot) = self.actors.get_mut(&counter) else {
                continue;
            };
            let Some(bytes) = slot.mailbox.pop() else {
                continue;
            };
            processed += 1;
            let result = match bincode::deserialize::<A::Msg>(&bytes) {
                Ok(msg) => {
                    let mut actx = ActorCtx {
                        me: &slot.me,
                        now_ms,
                        out: &mut out,
                    };
                    slot.actor.on_message(&mut actx, msg)
                }
                Err(e) => Err(format!("message does not unmarshal: {e}")),
            };
            if let Err(e) = result {
                let uid = slot.me.uid();
                self.report(format!("actor {uid}: {e}"));
            }
            self.pending.append(&mut out);
        }
    }

    /// A timer of this system fired.
    pub fn on_timer<E>(&mut self, ctx: &mut Ctx<'_, E>, timer: SystemTimer) {
        match timer {
            SystemTimer::Delayed(id) => {
                if let Some(mut o) = self.delayed.remove(&id) {
                    o.after = None;
                    o.from = None; // counted when it was asked for
                    self.send_now(ctx, o);
                }
            }
            SystemTimer::Release(i) => {
                if let Some(ob) = self.outboxes.get_mut(i as usize) {
                    ob.release_armed = false;
                    self.flush(ctx, i);
                }
            }
            SystemTimer::Redial(i) => {
                if let Some(ob) = self.outboxes.get_mut(i as usize) {
                    ob.redial_armed = false;
                    if ob.stream.is_none() && (ob.lossy || !ob.unsent.is_empty()) {
                        self.dial(ctx, i);
                    }
                    self.flush(ctx, i);
                }
            }
        }
        self.run(ctx);
    }

    /// `Connected`, `Writable` or `Closed` on one of this system's streams.
    pub fn on_stream_event<E>(&mut self, ctx: &mut Ctx<'_, E>, event: faultline::StreamEvent) {
        use faultline::StreamEvent as S;
        let stream = event.stream();
        let Some(&i) = self.streams.get(&stream) else {
            return;
        };
        match event {
            S::Connected { .. } => {
                let ob = &mut self.outboxes[i as usize];
                if ob.lossy {
                    ob.lossy = false;
                    self.reconnected.push(ob.address.clone());
                }
                self.flush(ctx, i);
            }
            S::Writable { .. } => self.flush(ctx, i),
            S::Closed { reason, .. } => {
                self.streams.remove(&stream);
                let ob = &mut self.outboxes[i as usize];
                if ob.stream == Some(stream) {
                    ob.stream = None;
                    ob.unsent.clear();
                    ob.lossy = true;
                    let _: CloseReason = reason;
                    ob.quiet_until = ctx.now().as_nanos() + RECONNECT_AFTER.as_nanos() as u64;
                    if !ob.redial_armed {
                        ob.redial_armed = true;
                        ctx.set_timer(RECONNECT_AFTER, SystemTimer::Redial(i));
                    }
                }
            }
            S::Accepted { .. } | S::Data { .. } => {}
        }
    }

    fn fresh_ref(&mut self) -> ActorRef {
        let r = ActorRef {
            address: self.address.clone(),
            counter: self.next_counter,
        };
        self.next_counter += 1;
        r
    }

    fn report(&mut self, e: String) {
        self.stats.errors += 1;
        if self.error_log.len() >= 100 {
            self.error_log.remove(0);
        }
        self.error_log.push(e);
    }

    /// Count a send and carry it out (now, or through a timer).
    fn route<E>(&mut self, ctx: &mut Ctx<'_, E>, o: Outgoing) {
        if self.closed {
            return;
        }
        match o.from {
            Some(from) => {
                self.stats.messages_sent_actor += 1;
                *self
                    .stats
                    .pair_counts
                    .entry((from, o.to.clone()))
                    .or_insert(0) += 1;
            }
            None => self.stats.messages_sent_external += 1,
        }
        self.stats.bytes_sent += o.bytes.len() as u64;
        match o.after {
            Some(after) => {
                let id = self.next_delayed;
                self.next_delayed += 1;
                self.delayed.insert(id, o);
                ctx.set_timer(after, SystemTimer::Delayed(id));
            }
            None => self.send_now(ctx, o),
        }
    }

    fn send_now<E>(&mut self, ctx: &mut Ctx<'_, E>, o: Outgoing) {
        if self.closed {
            return;
        }
        if o.to.address == self.address {
            self.deliver(o.to.counter, o.bytes);
            return;
        }
        let i = self.outbox(&o.to.address);
        let latency = self
            .latency
            .get(&o.to.address)
            .copied()
            .unwrap_or(self.default_latency);
        let frame = wire::encode(&Frame::Tell {
            to: o.to.counter,
            payload: o.bytes,
        });
        let release = ctx.now().as_nanos() + latency.as_nanos() as u64;
        self.outboxes[i as usize]
            .waiting
            .push_back((release, frame));
        self.flush(ctx, i);
    }

    fn deliver(&mut self, to: u64, bytes: Vec<u8>) {
        if self.closed {
            return;
        }
        if let Some(slot) = self.actors.get_mut(&to) {
            if slot.mailbox.push(bytes) {
                self.ready.push_back(to);
            }
            return;
        }
        match self.channels.get_mut(&to) {
            Some(reply @ None) => match bincode::deserialize::<A::Msg>(&bytes) {
                Ok(msg) => {
                    *reply = Some(msg);
                    self.answered.push(to);
                }
                Err(e) => self.report(format!("reply to channel {to} does not unmarshal: {e}")),
            },
            _ => {
                self.stats.dropped_messages += 1;
                self.report(format!(
                    "message to {}/{to} dropped: no one waits for it",
                    self.address
                ));
            }
        }
    }

    fn outbox(&mut self, address: &str) -> u32 {
        if let Some(&i) = self.outbox_of.get(address) {
            return i;
        }
        let i = self.outboxes.len() as u32;
        let addr = match self.resolve {
            Resolve::Sim => address
                .strip_prefix('n')
                .and_then(|n| n.parse::<u32>().ok())
                .map(Addr),
            Resolve::Book => {
                let known = self.book.get(address).copied();
                if known.is_none() {
                    self.unresolved.push(address.to_string());
                }
                known
            }
        };
        self.outboxes.push(Outbox {
            address: address.to_string(),
            addr,
            ..Outbox::default()
        });
        self.outbox_of.insert(address.to_string(), i);
        i
    }

    fn dial<E>(&mut self, ctx: &mut Ctx<'_, E>, i: u32) {
        let ob = &mut self.outboxes[i as usize];
        let Some(addr) = ob.addr else { return };
        if ob.stream.is_some() || self.closed {
            return;
        }
        let now = ctx.now().as_nanos();
        if now < ob.quiet_until {
            if !ob.redial_armed {
                ob.redial_armed = true;
                ctx.set_timer(
                    Duration::from_nanos(ob.quiet_until - now),
                    SystemTimer::Redial(i),
                );
            }
            return;
        }
        let s = ctx.connect(addr);
        ob.stream = Some(s);
        self.streams.insert(s, i);
    }

    /// Move released frames into the stream as far as its credit goes.
    fn flush<E>(&mut self, ctx: &mut Ctx<'_, E>, i: u32) {
        let now = ctx.now().as_nanos();
        let ob = &mut self.outboxes[i as usize];
        while let Some((release, _)) = ob.waiting.front() {
            if *release > now {
                break;
            }
            let (_, frame) = ob.waiting.pop_front().expect("front exists");
            ob.unsent.extend(frame);
        }
        if let Some(&(release, _)) = ob.waiting.front() {
            if !ob.release_armed {
                ob.release_armed = true;
                ctx.set_timer(Duration::from_nanos(release - now), SystemTimer::Release(i));
            }
        }
        if ob.unsent.is_empty() {
            return;
        }
        if ob.stream.is_none() {
            self.dial(ctx, i);
        }
        let ob = &mut self.outboxes[i as usize];
        let Some(stream) = ob.stream else { return };
        while !ob.unsent.is_empty() {
            let (a, _) = ob.unsent.as_slices();
            match ctx.write(stream, a) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    ob.unsent.drain(..n);
                }
            }
        }
    }
}
