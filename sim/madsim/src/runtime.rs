//! The runtime: faultline nodes as madsim nodes.
//!
//! How the node contract maps onto madsim:
//!
//! - **Nodes.** Node `i` is a madsim node with IP `10.0.0.0 + i + 1`. Its init task (which
//!   madsim runs again on restart) builds a fresh state machine with the node's factory, over
//!   the node's [`Storage`] as it was synced, and calls `on_start`. Every event of the node
//!   reaches that one task through its inbox, so handlers run one at a time, and effects are
//!   carried out in order after each returns.
//! - **Datagrams** go out on a madsim [`Endpoint`] (port 1) with `send_to` and come in from
//!   `recv_from`, so madsim's latency, loss and clogging apply to them.
//! - **Streams** ride madsim [`TcpStream`](madsim::net::TcpStream)s (see [`crate::streams`]).
//! - **Timers** are kept by the node's task and fired by madsim's clock (`sleep_until`); a
//!   node's clock is madsim's elapsed time. madsim has no clock faults.
//! - **RNG**: each node draws from faultline's ChaCha stream `node/<i>` under the madsim seed
//!   (the same derivation as faultline's world), and keeps it across restarts.
//! - **Crash and restart**: [`Sim::crash`] drops the state machine and the unsynced writes and
//!   kills the madsim node (its tasks, sockets and connections go; peers see their streams
//!   reset); [`Sim::restart`] is madsim's restart, which runs the init task again.
//! - **History** events go to the run's checker as each handler returns; the first failure
//!   halts the run ([`Sim::halted`]).

use crate::streams::{self, Frame, LocalStream};
use crate::ticks;
use faultline::ctx::NodeIo;
use faultline::{
    Addr, Checker, CloseReason, Ctx, Effect, Failure, Halt, Node, StreamEvent, StreamId,
};
use faultline::{Storage, Time, TimerId};
use madsim::net::Endpoint;
use madsim::runtime::Handle;
use madsim::task::NodeId;
use madsim::time::{Duration, Instant, TimeHandle};
use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

/// The port of every node's datagram endpoint.
pub(crate) const DATAGRAM_PORT: u16 = 1;
/// The port every node accepts streams on.
pub(crate) const STREAM_PORT: u16 = 2;

/// The IP of node `index`.
pub(crate) fn ip_of(index: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(
        u32::from(Ipv4Addr::new(10, 0, 0, 1)) + index,
    ))
}

/// The node behind an IP, if it is one of ours.
pub(crate) fn index_of(addr: SocketAddr) -> Option<u32> {
    match addr.ip() {
        IpAddr::V4(ip) => u32::from(ip).checked_sub(u32::from(Ipv4Addr::new(10, 0, 0, 1))),
        IpAddr::V6(_) => None,
    }
}

/// A call into a node from outside (the scenario's supervisor).
pub type Call<N> = Box<dyn FnOnce(&mut N, &mut Ctx<'_, <N as Node>::Event>) + Send>;

/// Something for a node's task to handle.
pub(crate) enum Input<N: Node> {
    Datagram {
        from: u32,
        data: Vec<u8>,
    },
    Accepted {
        stream: StreamId,
        from: u32,
        out: UnboundedSender<Frame>,
    },
    Connected {
        stream: StreamId,
    },
    Data {
        stream: StreamId,
        data: Vec<u8>,
    },
    Credit {
        stream: StreamId,
        bytes: usize,
    },
    Closed {
        stream: StreamId,
        reason: CloseReason,
    },
    Call(Call<N>),
}

/// A checker the runtime holds, reachable again by its concrete type.
trait HeldChecker<E>: Checker<E> + Send {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<E, C: Checker<E> + Send + 'static> HeldChecker<E> for C {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

struct NoChecks;
impl<E> Checker<E> for NoChecks {
    fn on_event(&mut self, _: Time, _: Addr, _: &E) -> Result<(), Failure> {
        Ok(())
    }
}

type Factory<N> = Arc<dyn Fn(Addr) -> N + Send + Sync>;

/// Sees every datagram as it is sent `(now, from, to, bytes)`, before madsim's network
/// (faultline's middlebox without the power to alter or drop: a wire monitor's seat).
pub type Tap = Box<dyn FnMut(Time, Addr, Addr, &[u8]) + Send>;

struct Slot<N: Node> {
    node: Option<N>,
    io: NodeIo<N::Event>,
    factory: Factory<N>,
    id: NodeId,
    /// The inbox of the running incarnation, if the node is up.
    inbox: Option<UnboundedSender<Input<N>>>,
    /// Bumped on every crash: a dead incarnation's task never touches the slot again.
    inc: u32,
    /// When the node first starts (ns of true time); until then it is not there.
    start_at: u64,
}

/// Everything the nodes' tasks and the supervisor share. madsim runs every task on one
/// thread, so the lock is never contended; it is there because madsim's init closures must
/// be `Send + Sync`.
struct State<N: Node> {
    slots: Vec<Slot<N>>,
    checker: Box<dyn HeldChecker<N::Event>>,
    halt: Option<Halt>,
    events: u64,
    handler_ticks: u64,
    check_ticks: u64,
    /// The stream window nodes added from now on get, if not faultline's default.
    window: Option<usize>,
    tap: Option<Tap>,
}

struct Shared<N: Node> {
    seed: u64,
    state: Mutex<State<N>>,
}

impl<N: Node> Shared<N> {
    fn lock(&self) -> MutexGuard<'_, State<N>> {
        // A panic in a node's handler poisons nothing we cannot go on with: madsim reports
        // the panic itself.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// faultline nodes running on the current madsim runtime. Build it inside
/// `Runtime::block_on` (see [`crate::run_on_madsim`]); the future that built it is the
/// supervisor, which drives the run with [`Sim::run_until`] and applies faults.
pub struct Sim<N: Node> {
    shared: Arc<Shared<N>>,
    handle: Handle,
}

impl<N: Node> Clone for Sim<N> {
    fn clone(&self) -> Self {
        Sim {
            shared: self.shared.clone(),
            handle: self.handle.clone(),
        }
    }
}

/// What the supervisor sees of the nodes and the checker.
pub struct View<'a, N: Node> {
    state: &'a State<N>,
}

impl<N: Node> View<'_, N> {
    /// The node at `addr`, unless it is crashed.
    pub fn node(&self, addr: Addr) -> Option<&N> {
        self.state.slots.get(addr.index())?.node.as_ref()
    }

    pub fn node_count(&self) -> usize {
        self.state.slots.len()
    }

    /// The checker, if it is a `C`.
    pub fn checker<C: 'static>(&self) -> Option<&C> {
        self.state.checker.as_any().downcast_ref()
    }

    /// A node's storage.
    pub fn storage(&self, addr: Addr) -> &Storage {
        self.state.slots[addr.index()].io.storage()
    }
}

/// What a run cost and saw, for reports and the benchmark.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Handler calls (the same count as faultline's world's events).
    pub events: u64,
    /// Ticks spent inside the nodes' handlers, and inside the checker.
    pub handler_ticks: u64,
    pub check_ticks: u64,
}

impl<N: Node + Send + 'static> Sim<N>
where
    N::Event: Send,
{
    /// No nodes yet, under the current madsim runtime's seed.
    pub fn new() -> Sim<N> {
        let handle = Handle::current();
        Sim {
            shared: Arc::new(Shared {
                seed: handle.seed(),
                state: Mutex::new(State {
                    slots: Vec::new(),
                    checker: Box::new(NoChecks),
                    halt: None,
                    events: 0,
                    handler_ticks: 0,
                    check_ticks: 0,
                    window: None,
                    tap: None,
                }),
            }),
            handle,
        }
    }

    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// The receive window, in bytes, of every node's streams (faultline's default is 64 KiB).
    pub fn set_stream_window(&self, bytes: usize) {
        let mut state = self.shared.lock();
        state.window = Some(bytes);
        for slot in &mut state.slots {
            slot.io.set_stream_window(bytes);
        }
    }

    /// Check every history event with `checker`.
    pub fn set_checker(&self, checker: impl Checker<N::Event> + Send + 'static) {
        self.shared.lock().checker = Box::new(checker);
    }

    /// Show every datagram sent from now on to `tap`.
    pub fn set_tap(&self, tap: impl FnMut(Time, Addr, Addr, &[u8]) + Send + 'static) {
        self.shared.lock().tap = Some(Box::new(tap));
    }

    /// Add a node that starts now; `factory` builds it, and builds it again on restart.
    pub fn add_node(&self, factory: impl Fn(Addr) -> N + Send + Sync + 'static) -> Addr {
        self.add_node_at(Time::ZERO, factory)
    }

    /// Add a node that starts at `at` (as faultline's `World::add_node_at`): its address is
    /// taken now, and until `at` it is not there (what is sent to it is lost).
    pub fn add_node_at(
        &self,
        at: Time,
        factory: impl Fn(Addr) -> N + Send + Sync + 'static,
    ) -> Addr {
        let index = self.shared.lock().slots.len() as u32;
        let shared = self.shared.clone();
        // madsim runs the init task again on every restart; it builds the node afresh. It
        // only runs once the supervisor yields, by when the slot below exists.
        let init = move || incarnation(shared.clone(), index);
        let mut io = NodeIo::new(
            Addr(index),
            faultline::derive_rng(self.shared.seed, &format!("node/{index}")),
            Storage::default(),
        );
        if let Some(window) = self.shared.lock().window {
            io.set_stream_window(window);
        }
        let node = self
            .handle
            .create_node()
            .name(format!("n{index}"))
            .ip(ip_of(index))
            .init(init)
            .build();
        self.shared.lock().slots.push(Slot {
            node: None,
            io,
            factory: Arc::new(factory),
            id: node.id(),
            inbox: None,
            inc: 0,
            start_at: at.as_nanos(),
        });
        Addr(index)
    }

    /// Whether a checker failed; the run stops at the supervisor's next step.
    pub fn halted(&self) -> Option<Halt> {
        self.shared.lock().halt.clone()
    }

    /// Let madsim run until `at` (true time since the start); an error if a checker failed.
    pub async fn run_until(&self, at: Time) -> Result<(), Halt> {
        let now = duration_ns(TimeHandle::current().elapsed());
        if at.0 > now {
            madsim::time::sleep(Duration::from_nanos(at.0 - now)).await;
        }
        match self.halted() {
            Some(halt) => Err(halt),
            None => Ok(()),
        }
    }

    /// True time now.
    pub fn now(&self) -> Time {
        Time(duration_ns(TimeHandle::current().elapsed()))
    }

    /// Look at the nodes and the checker.
    pub fn view<R>(&self, f: impl FnOnce(&View<'_, N>) -> R) -> R {
        let state = self.shared.lock();
        f(&View { state: &state })
    }

    /// The checker, mutably, if it is a `C` (for end checks that take what it saw).
    pub fn with_checker<C: 'static, R>(&self, f: impl FnOnce(Option<&mut C>) -> R) -> R {
        let mut state = self.shared.lock();
        f(state.checker.as_any_mut().downcast_mut())
    }

    /// At `at`, call into a node as its next event (dropped if it is down then).
    pub fn call_at(
        &self,
        at: Time,
        addr: Addr,
        f: impl FnOnce(&mut N, &mut Ctx<'_, N::Event>) + Send + 'static,
    ) {
        let sim = self.clone();
        // A task of the supervisor's node: kills of the nodes do not touch it.
        madsim::task::spawn(async move {
            let now = duration_ns(TimeHandle::current().elapsed());
            if at.as_nanos() > now {
                madsim::time::sleep(Duration::from_nanos(at.as_nanos() - now)).await;
            }
            sim.call(addr, f);
        });
    }

    /// Call into a node as its next event (dropped if it is down).
    pub fn call(
        &self,
        addr: Addr,
        f: impl FnOnce(&mut N, &mut Ctx<'_, N::Event>) + Send + 'static,
    ) {
        let state = self.shared.lock();
        if let Some(inbox) = state.slots.get(addr.index()).and_then(|s| s.inbox.as_ref()) {
            let _ = inbox.send(Input::Call(Box::new(f)));
        }
    }

    pub fn is_up(&self, addr: Addr) -> bool {
        self.shared.lock().slots[addr.index()].node.is_some()
    }

    pub fn node_count(&self) -> usize {
        self.shared.lock().slots.len()
    }

    /// Crash a node: its state machine and unsynced writes are gone, madsim kills its
    /// tasks and sockets. Crashing a crashed node does nothing.
    pub fn crash(&self, addr: Addr) {
        let id = {
            let mut state = self.shared.lock();
            let slot = &mut state.slots[addr.index()];
            if slot.node.is_none() && slot.inbox.is_none() {
                return;
            }
            slot.node = None;
            slot.inbox = None;
            slot.inc += 1;
            slot.io.crash();
            slot.id
        };
        self.handle.kill(id);
    }

    /// Start a crashed node again: madsim's restart runs its init task, which builds a fresh
    /// node over the synced storage. Restarting a running node does nothing.
    pub fn restart(&self, addr: Addr) {
        let id = {
            let state = self.shared.lock();
            let slot = &state.slots[addr.index()];
            if slot.node.is_some() || slot.inbox.is_some() {
                return;
            }
            slot.id
        };
        self.handle.restart(id);
    }

    /// Pause a node (madsim stops polling its tasks) or resume it.
    pub fn pause(&self, addr: Addr, paused: bool) {
        let id = self.madsim_id(addr);
        if paused {
            self.handle.pause(id);
        } else {
            self.handle.resume(id);
        }
    }

    /// The madsim node id of `addr`, for madsim's own controls.
    pub fn madsim_id(&self, addr: Addr) -> NodeId {
        self.shared.lock().slots[addr.index()].id
    }

    /// What the run cost so far.
    pub fn outcome(&self) -> Outcome {
        let state = self.shared.lock();
        Outcome {
            events: state.events,
            handler_ticks: state.handler_ticks,
            check_ticks: state.check_ticks,
        }
    }
}

impl<N: Node + Send + 'static> Default for Sim<N>
where
    N::Event: Send,
{
    fn default() -> Self {
        Sim::new()
    }
}

/// One incarnation of node `index`: bind its sockets, build it, start it, and handle its
/// events until madsim kills it.
async fn incarnation<N: Node + Send + 'static>(shared: Arc<Shared<N>>, index: u32)
where
    N::Event: Send,
{
    let start_at = shared.lock().slots[index as usize].start_at;
    let now = duration_ns(TimeHandle::current().elapsed());
    if start_at > now {
        madsim::time::sleep(Duration::from_nanos(start_at - now)).await;
    }
    let ep = Endpoint::bind(SocketAddr::new(ip_of(index), DATAGRAM_PORT))
        .await
        .expect("a node's datagram port is free");
    let listener = madsim::net::TcpListener::bind(SocketAddr::new(ip_of(index), STREAM_PORT))
        .await
        .expect("a node's stream port is free");
    let (inbox, mut rx) = unbounded_channel::<Input<N>>();
    let inc = {
        let mut state = shared.lock();
        let slot = &mut state.slots[index as usize];
        slot.node = Some((slot.factory)(Addr(index)));
        slot.inbox = Some(inbox.clone());
        slot.inc
    };
    // madsim's endpoint waits a random 0-5 us in every send and every receive, which its
    // clock rounds up to 1 ms: one task can take at most 1,000 datagrams a second. A few
    // receivers wait at once, and every send is a task of its own, so a busy node is not
    // throttled by that (datagrams may be reordered anyway).
    for _ in 0..RECEIVERS {
        madsim::task::spawn_local(receive_datagrams(ep.clone(), inbox.clone()));
    }
    madsim::task::spawn_local(streams::accept(listener, inbox.clone()));
    let mut task = NodeTask {
        shared,
        index,
        inc,
        inbox,
        ep,
        timers: BTreeMap::new(),
        streams: BTreeMap::new(),
        effects: Vec::new(),
    };
    task.run(|n, ctx| n.on_start(ctx));
    let origin = start_instant();
    // The deadline madsim's timer is set for. madsim adds a timer every time a pending
    // `Sleep` is polled, so the sleep is polled only when the earliest deadline changes; in
    // between, the loop reads the clock itself.
    let mut armed: Option<u64> = None;
    loop {
        let next = task.timers.keys().next().map(|&(at, _)| at);
        let wake = std::future::poll_fn(|cx| {
            let now = duration_ns(TimeHandle::current().elapsed());
            if next.is_some_and(|at| at <= now) {
                return Poll::Ready(None);
            }
            if let Poll::Ready(input) = rx.poll_recv(cx) {
                return Poll::Ready(Some(input));
            }
            if let Some(at) = next.filter(|&at| armed != Some(at)) {
                let deadline = origin + Duration::from_nanos(at);
                let mut sleep = madsim::time::sleep_until(deadline);
                // `sleep_until` rounds up to 1 ms from now, as tokio's does; the node asked
                // for its own time.
                Pin::new(&mut sleep).reset(deadline);
                armed = Some(at);
                if Pin::new(&mut sleep).poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
            }
            Poll::Pending
        })
        .await;
        match wake {
            None => task.fire_due(),
            Some(Some(input)) => task.input(input),
            Some(None) => return,
        }
    }
}

/// How many receives a node keeps waiting on its endpoint.
const RECEIVERS: usize = 4;

/// The instant madsim's clock started at (its elapsed time is measured from it).
fn start_instant() -> Instant {
    let h = TimeHandle::current();
    h.now_instant() - h.elapsed()
}

async fn receive_datagrams<N: Node>(ep: Endpoint, inbox: UnboundedSender<Input<N>>) {
    loop {
        let Ok((payload, from)) = ep.recv_from_raw(0).await else {
            return;
        };
        let (Some(from), Ok(data)) = (index_of(from), payload.downcast::<Vec<u8>>()) else {
            continue;
        };
        if inbox.send(Input::Datagram { from, data: *data }).is_err() {
            return;
        }
    }
}

/// A node's task-local state: its timers, its streams, and the channels its effects go to.
struct NodeTask<N: Node> {
    shared: Arc<Shared<N>>,
    index: u32,
    inc: u32,
    inbox: UnboundedSender<Input<N>>,
    ep: Endpoint,
    /// (due in ns of true time, id) -> tag.
    timers: BTreeMap<(u64, u64), u64>,
    streams: BTreeMap<StreamId, LocalStream>,
    effects: Vec<Effect>,
}

impl<N: Node + Send + 'static> NodeTask<N>
where
    N::Event: Send,
{
    /// Run a handler and carry out its effects.
    fn run(&mut self, f: impl FnOnce(&mut N, &mut Ctx<'_, N::Event>)) {
        let mut effects = std::mem::take(&mut self.effects);
        if dispatch(&self.shared, self.index, self.inc, &mut effects, f).is_some() {
            for effect in effects.drain(..) {
                self.effect(effect);
            }
        }
        effects.clear();
        self.effects = effects;
    }

    fn fire_due(&mut self) {
        let now = duration_ns(TimeHandle::current().elapsed());
        while let Some((&(at, id), &tag)) = self.timers.iter().next() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, id));
            let live = {
                let mut state = self.shared.lock();
                let slot = &mut state.slots[self.index as usize];
                slot.inc == self.inc && slot.io.take_timer(TimerId(id))
            };
            if live {
                self.run(|n, ctx| n.on_timer(ctx, TimerId(id), faultline::timer::decode(tag)));
            }
        }
    }

    fn input(&mut self, input: Input<N>) {
        match input {
            Input::Datagram { from, data } => {
                self.run(|n, ctx| n.on_datagram(ctx, Addr(from), &data));
            }
            Input::Call(call) => self.run(call),
            Input::Accepted { stream, from, out } => {
                {
                    let mut state = self.shared.lock();
                    let slot = &mut state.slots[self.index as usize];
                    let window = slot.io.stream_window();
                    slot.io.open_stream(stream, window);
                }
                self.streams.insert(stream, LocalStream::new(out));
                let from = Addr(from);
                self.run(|n, ctx| n.on_stream(ctx, StreamEvent::Accepted { stream, from }));
            }
            Input::Connected { stream } => {
                if self.streams.contains_key(&stream) {
                    self.run(|n, ctx| n.on_stream(ctx, StreamEvent::Connected { stream }));
                }
            }
            Input::Data { stream, data } => {
                let Some(local) = self.streams.get_mut(&stream) else {
                    return;
                };
                if local.paused {
                    local.waiting.extend_from_slice(&data);
                    return;
                }
                local.credit(data.len());
                self.run(|n, ctx| n.on_stream(ctx, StreamEvent::Data { stream, data }));
            }
            Input::Credit { stream, bytes } => {
                let writable = {
                    let mut state = self.shared.lock();
                    state.slots[self.index as usize]
                        .io
                        .grant_credit(stream, bytes)
                };
                if writable {
                    self.run(|n, ctx| n.on_stream(ctx, StreamEvent::Writable { stream }));
                }
            }
            Input::Closed { stream, reason } => {
                if self.streams.remove(&stream).is_none() {
                    return;
                }
                self.shared.lock().slots[self.index as usize]
                    .io
                    .close_stream(stream);
                self.run(|n, ctx| n.on_stream(ctx, StreamEvent::Closed { stream, reason }));
            }
        }
    }

    fn effect(&mut self, effect: Effect) {
        match effect {
            Effect::Send { to, data } => {
                if let Some(tap) = self.shared.lock().tap.as_mut() {
                    let now = Time(duration_ns(TimeHandle::current().elapsed()));
                    tap(now, Addr(self.index), to, &data);
                }
                let ep = self.ep.clone();
                let dst = SocketAddr::new(ip_of(to.0), DATAGRAM_PORT);
                // A datagram to nowhere is lost, as on a real network.
                madsim::task::spawn_local(async move {
                    let _ = ep.send_to_raw(dst, 0, Box::new(data)).await;
                });
            }
            Effect::SetTimer { id, after, tag } => {
                let now = duration_ns(TimeHandle::current().elapsed());
                let at = now.saturating_add(duration_ns(after));
                self.timers.insert((at, id.0), tag);
            }
            Effect::Connect { stream, to } => {
                let (out, out_rx) = unbounded_channel();
                self.streams.insert(stream, LocalStream::new(out));
                madsim::task::spawn_local(streams::connect(
                    to.0,
                    stream,
                    out_rx,
                    self.inbox.clone(),
                ));
            }
            Effect::Write { stream, data } => {
                if let Some(local) = self.streams.get(&stream) {
                    local.send(Frame::Data(data));
                }
            }
            Effect::Close { stream } => {
                if let Some(local) = self.streams.remove(&stream) {
                    local.send(Frame::Close);
                }
            }
            Effect::PauseReading { stream } => {
                if let Some(local) = self.streams.get_mut(&stream) {
                    local.paused = true;
                }
            }
            Effect::ResumeReading { stream } => {
                let Some(local) = self.streams.get_mut(&stream) else {
                    return;
                };
                local.paused = false;
                // What waited is delivered as the node's next event, after this handler's
                // other effects.
                let data = std::mem::take(&mut local.waiting);
                if !data.is_empty() {
                    let _ = self.inbox.send(Input::Data { stream, data });
                }
            }
        }
    }
}

/// Run one handler on node `index`: the checker sees its history, and its effects come back.
fn dispatch<N: Node, R>(
    shared: &Shared<N>,
    index: u32,
    inc: u32,
    effects: &mut Vec<Effect>,
    f: impl FnOnce(&mut N, &mut Ctx<'_, N::Event>) -> R,
) -> Option<R> {
    let now = Time(duration_ns(TimeHandle::current().elapsed()));
    let mut guard = shared.lock();
    let state = &mut *guard;
    if state.halt.is_some() {
        return None;
    }
    let slot = &mut state.slots[index as usize];
    if slot.inc != inc {
        return None;
    }
    let node = slot.node.as_mut()?;
    state.events += 1;
    let t0 = ticks::now();
    let result = f(node, &mut slot.io.ctx(now));
    let t1 = ticks::now();
    state.handler_ticks += t1 - t0;
    slot.io.drain_effects(effects);
    if slot.io.has_history() {
        for event in slot.io.drain_history() {
            if let Err(failure) = state.checker.on_event(now, Addr(index), &event) {
                state.halt = Some(Halt { at: now, failure });
                break;
            }
        }
        state.check_ticks += ticks::now() - t1;
    }
    Some(result)
}

pub(crate) fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
