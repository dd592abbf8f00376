//! [`Runtime`]: the event loop that drives one node (see the [module docs](super)).

use super::external::{External, ExternalCall};
use super::peers::{Peers, ME};
use super::persist::StorageFile;
use super::tcp::{StreamStats, Streams};
use super::timers::Timers;
use super::udp::UdpPort;
use super::RealConfig;
use crate::ctx::{Ctx, Effect, NodeIo};
use crate::node::{Addr, Node};
use crate::rng::derive_rng;
use crate::storage::Storage;
use crate::time::{duration_nanos, Time};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

const UDP: Token = Token(0);
const LISTENER: Token = Token(1);
const WAKER: Token = Token(2);
const FIRST_STREAM_TOKEN: usize = 3;

/// A callback given every recorded history event.
type HistorySink<E> = Box<dyn FnMut(&E)>;

/// What a runtime has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RealStats {
    /// Handler calls (start, datagrams, timers, stream events, external and `with_node` calls).
    pub events: u64,
    pub datagrams_sent: u64,
    pub datagrams_received: u64,
    /// Datagrams the node sent that could not go out (no UDP socket, unknown `Addr`, or the
    /// OS refused them). They are dropped, as a lossy network would.
    pub udp_send_errors: u64,
    /// Times the durable storage was written to disk.
    pub storage_writes: u64,
    pub streams: StreamStats,
    /// TCP connections open now, including those closing in the background.
    pub open_connections: usize,
    /// Timers queued now (cancelled ones stay until their deadline).
    pub queued_timers: usize,
}

/// One node on real sockets and the OS clock. See the [module docs](super).
pub struct Runtime<N: Node> {
    poll: Poll,
    events: Events,
    ready: Vec<(Token, bool)>,
    waker: Arc<Waker>,
    calls_tx: Sender<ExternalCall<N>>,
    calls_rx: Receiver<ExternalCall<N>>,
    epoch: Instant,
    io: NodeIo<N::Event>,
    node: Option<N>,
    udp: Option<UdpPort>,
    streams: Streams,
    timers: Timers,
    peers: Peers,
    storage_file: Option<StorageFile>,
    /// `Storage::sync_count` when the storage was last written to disk.
    persisted_syncs: u64,
    persist_error: Option<io::Error>,
    history: Vec<HistorySink<N::Event>>,
    effects: Vec<Effect>,
    stats: RealStats,
}

impl<N: Node> Runtime<N> {
    /// Bind the configured sockets and load the durable storage. The clock starts now.
    pub fn new(config: RealConfig) -> io::Result<Self> {
        let poll = Poll::new()?;
        let registry = poll.registry();
        // Every error says what it was about: the caller cannot tell a port in use from
        // damaged storage otherwise.
        let udp = config
            .udp_bind
            .map(|addr| {
                UdpPort::bind(addr, registry, UDP)
                    .map_err(|e| io::Error::new(e.kind(), format!("cannot bind udp {addr}: {e}")))
            })
            .transpose()?;
        let listener = match config.tcp_listen {
            Some(addr) => {
                let mut listener = TcpListener::bind(addr).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot listen on tcp {addr}: {e}"))
                })?;
                registry.register(&mut listener, LISTENER, Interest::READABLE)?;
                Some(listener)
            }
            None => None,
        };
        let streams = Streams::new(listener, FIRST_STREAM_TOKEN);
        let waker = Arc::new(Waker::new(registry, WAKER)?);
        let (storage_file, durable) = match &config.storage_dir {
            Some(dir) => {
                let (file, durable, recovery) = StorageFile::open(dir)?;
                if recovery.dropped_tail_bytes > 0 {
                    // A sync that never returned: nothing acted on it (see `persist`).
                    // A log line that cannot be written (a closed stderr) is dropped.
                    let _ = writeln!(
                        std::io::stderr(),
                        "storage {}: dropped an unfinished last write ({} bytes)",
                        file.path().display(),
                        recovery.dropped_tail_bytes
                    );
                }
                (Some(file), durable)
            }
            None => (None, Default::default()),
        };
        let own = udp
            .as_ref()
            .and_then(UdpPort::local_addr)
            .or_else(|| streams.local_addr());
        let mut io = NodeIo::new(
            ME,
            derive_rng(config.seed, "real/node"),
            Storage::from_durable(durable),
        );
        io.set_stream_window(config.stream_window);
        let persisted_syncs = io.storage().sync_count();
        let (calls_tx, calls_rx) = mpsc::channel();
        Ok(Runtime {
            poll,
            events: Events::with_capacity(256),
            ready: Vec::new(),
            waker,
            calls_tx,
            calls_rx,
            epoch: Instant::now(),
            io,
            node: None,
            udp,
            streams,
            timers: Timers::default(),
            peers: Peers::new(own),
            storage_file,
            persisted_syncs,
            persist_error: None,
            history: Vec::new(),
            effects: Vec::new(),
            stats: RealStats::default(),
        })
    }

    pub fn local_udp_addr(&self) -> Option<SocketAddr> {
        self.udp.as_ref().and_then(UdpPort::local_addr)
    }

    pub fn local_tcp_addr(&self) -> Option<SocketAddr> {
        self.streams.local_addr()
    }

    /// The stable `Addr` of a socket address (allocated on first use). Datagrams go to it
    /// over UDP and `ctx.connect` opens TCP to it, so for streams name the peer's TCP listen
    /// address; if a peer's UDP and TCP ports differ, they are two `Addr`s.
    pub fn peer(&mut self, addr: SocketAddr) -> Addr {
        self.peers.peer(addr)
    }

    /// The socket address behind an `Addr`, if it has one.
    pub fn resolve(&self, addr: Addr) -> Option<SocketAddr> {
        self.peers.resolve(addr)
    }

    /// The node's clock: time since the runtime was created.
    pub fn now(&self) -> Time {
        Time(duration_nanos(self.epoch.elapsed()))
    }

    pub fn stats(&self) -> RealStats {
        RealStats {
            streams: self.streams.stats,
            open_connections: self.streams.len(),
            queued_timers: self.timers.len(),
            ..self.stats
        }
    }

    /// The node's storage (what it would recover from, plus unsynced writes).
    pub fn storage(&self) -> &Storage {
        self.io.storage()
    }

    /// Install the node and call its `on_start`.
    pub fn start(&mut self, node: N) {
        self.node = Some(node);
        self.deliver(|node, ctx| node.on_start(ctx));
    }

    /// Call into the node now, as the simulator's `World::with_node` does; its effects are
    /// carried out when `f` returns. Panics if [`Runtime::start`] was not called. If the
    /// node synced and the storage file could not be written, its effects are dropped and
    /// the next [`Runtime::run_until`] returns the error.
    pub fn with_node<R>(&mut self, f: impl FnOnce(&mut N, &mut Ctx<'_, N::Event>) -> R) -> R {
        self.deliver(f)
    }

    /// Receive every history event the node records.
    pub fn on_history(&mut self, f: impl FnMut(&N::Event) + 'static) {
        self.history.push(Box::new(f));
    }

    /// A handle other threads use to call into the node.
    pub fn external(&self) -> External<N> {
        External {
            calls: self.calls_tx.clone(),
            waker: self.waker.clone(),
        }
    }

    /// Panics if [`Runtime::start`] was not called.
    pub fn node(&self) -> &N {
        self.node.as_ref().expect("Runtime::start was not called")
    }

    /// Panics if [`Runtime::start`] was not called.
    pub fn node_mut(&mut self) -> &mut N {
        self.node.as_mut().expect("Runtime::start was not called")
    }

    /// Run the event loop until `done(node)` holds (checked first and after every event):
    /// `Ok(true)`; or until `timeout` has passed: `Ok(false)`. Errors are those of polling
    /// the OS and of writing the storage file.
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&mut N) -> bool,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        if let Some(e) = self.persist_error.take() {
            return Err(e);
        }
        if done(self.node_mut()) {
            return Ok(true);
        }
        loop {
            let mut delivered = false;
            for source in 0..4 {
                let got = match source {
                    0 => self.fire_timer(),
                    1 => self.run_external(),
                    2 => self.receive_datagram(),
                    _ => self.stream_event(),
                };
                if let Some(e) = self.persist_error.take() {
                    return Err(e);
                }
                if got {
                    delivered = true;
                    if done(self.node_mut()) {
                        return Ok(true);
                    }
                }
            }
            let now = Instant::now();
            let wait = if delivered {
                Some(Duration::ZERO)
            } else {
                self.idle_wait(now, deadline)
            };
            // Poll before checking the deadline, so that even a zero timeout takes in what
            // the OS has ready (it is remembered for the next call if not delivered now).
            self.poll_os(wait)?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
        }
    }

    /// How long to sleep when nothing is ready: until the next timer or the deadline.
    fn idle_wait(&self, now: Instant, deadline: Option<Instant>) -> Option<Duration> {
        let timer = self.timers.next_deadline().map(|t| t.since(self.now()));
        let end = deadline.map(|d| d.saturating_duration_since(now));
        match (timer, end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Wait for readiness and note it on the sources.
    fn poll_os(&mut self, wait: Option<Duration>) -> io::Result<()> {
        match self.poll.poll(&mut self.events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        self.ready.clear();
        for event in self.events.iter() {
            // Errors and hang-ups count as readable: the next read reports them.
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            self.ready.push((event.token(), readable));
        }
        let registry = self.poll.registry();
        for &(token, readable) in &self.ready {
            match token {
                UDP => {
                    if let Some(udp) = &mut self.udp {
                        udp.set_readable();
                    }
                }
                LISTENER => self.streams.set_listener_ready(),
                WAKER => {}
                token => self
                    .streams
                    .on_ready(registry, &mut self.io, token, readable),
            }
        }
        Ok(())
    }

    fn fire_timer(&mut self) -> bool {
        let now = self.now();
        while let Some((id, tag)) = self.timers.pop_due(now) {
            if self.io.take_timer(id) {
                self.deliver(|node, ctx| node.on_timer(ctx, id, crate::timer::decode(tag)));
                return true;
            }
        }
        false
    }

    fn run_external(&mut self) -> bool {
        match self.calls_rx.try_recv() {
            Ok(call) => {
                self.deliver(call);
                true
            }
            Err(_) => false,
        }
    }

    fn receive_datagram(&mut self) -> bool {
        let Some((from, data)) = self.udp.as_mut().and_then(UdpPort::recv) else {
            return false;
        };
        self.stats.datagrams_received += 1;
        let from = self.peers.seen(from);
        self.deliver(|node, ctx| node.on_datagram(ctx, from, &data));
        true
    }

    fn stream_event(&mut self) -> bool {
        let registry = self.poll.registry();
        let Some(event) = self
            .streams
            .next_event(registry, &mut self.io, &mut self.peers)
        else {
            return false;
        };
        self.deliver(|node, ctx| node.on_stream(ctx, event));
        true
    }

    /// One handler call and everything after it: storage to disk, effects, history.
    fn deliver<R>(&mut self, f: impl FnOnce(&mut N, &mut Ctx<'_, N::Event>) -> R) -> R {
        let now = self.now();
        let node = self.node.as_mut().expect("Runtime::start was not called");
        let result = f(node, &mut self.io.ctx(now));
        self.stats.events += 1;
        if self.persist() {
            self.carry_out(now);
        } else {
            // The node believes it synced, but the disk refused: nothing that may depend
            // on that state leaves. `run_until` reports the error.
            self.effects.clear();
            self.io.drain_effects(&mut self.effects);
            self.effects.clear();
        }
        if self.io.has_history() {
            for event in self.io.drain_history() {
                for callback in &mut self.history {
                    callback(&event);
                }
            }
        }
        result
    }

    /// Write the durable storage if the node synced since it was last written; false if
    /// that failed (the error waits in `persist_error`).
    fn persist(&mut self) -> bool {
        let syncs = self.io.storage().sync_count();
        if syncs == self.persisted_syncs {
            return true;
        }
        self.persisted_syncs = syncs;
        let changes = self.io.storage_mut().take_journal();
        let Some(file) = &mut self.storage_file else {
            return true;
        };
        match file.append(&changes, self.io.storage().durable()) {
            Ok(()) => {
                self.stats.storage_writes += 1;
                true
            }
            Err(e) => {
                self.persist_error = Some(e);
                false
            }
        }
    }

    /// Carry out the effects of the last handler call, which ran at `now`, in order.
    fn carry_out(&mut self, now: Time) {
        let mut effects = std::mem::take(&mut self.effects);
        self.io.drain_effects(&mut effects);
        let registry = self.poll.registry();
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, data } => {
                    let sent = match (&self.udp, self.peers.resolve(to)) {
                        (Some(udp), Some(socket)) => udp.send(socket, &data),
                        _ => false,
                    };
                    if sent {
                        self.stats.datagrams_sent += 1;
                    } else {
                        self.stats.udp_send_errors += 1;
                    }
                }
                Effect::SetTimer { id, after, tag } => self.timers.set(now + after, id, tag),
                Effect::Connect { stream, to } => {
                    let to = self.peers.resolve(to);
                    self.streams.connect(registry, &mut self.io, stream, to);
                }
                Effect::Write { stream, data } => {
                    self.streams.write(registry, &mut self.io, stream, &data)
                }
                Effect::Close { stream } => self.streams.close(registry, &mut self.io, stream),
                Effect::PauseReading { stream } => self.streams.set_paused(stream, true),
                Effect::ResumeReading { stream } => self.streams.set_paused(stream, false),
            }
        }
        self.effects = effects;
    }
}
