//! The scenario client: the official tests' `runTest` workload (systems/kv/SPEC.md §9),
//! slow readers, clients that disconnect and reconnect.
//!
//! A client sends bursts of "write events" (Put on every third use of a key or if the key
//! is missing, Update of a random existing value otherwise), each followed by a Delete of a
//! random key (until its delete budget is spent) or a Get of the key just written, and
//! sleeps between bursts (SPEC.md §9: 100 writes, then 100 ms). Its keys are its own
//! (`key_<cid>_<r>`, `key_slow_<cid>_<r>` for slow clients), so it keeps an exact model of
//! them and, like the official test, a multiset of the reply lines it expects: a line not in
//! it is recorded as [`ClientEvent::Unexpected`]. After a reconnect it starts a fresh key
//! namespace (`key_<cid>_g<gen>_<r>`), because requests lost with the old stream make the
//! old keys' contents unknown to it.
//!
//! Latency: a client that reads normally times each Get from the moment it issued it to the
//! moment its last reply line arrived (replies come in order on one stream, and every Get
//! of the workload finds at least one value).

use super::workload::{ClientConfig, ClientStats, Reading};
use faultline::{CloseReason, Ctx, StreamId, Time};
use kv::protocol::{encode_reply, LineReader, Request};
use kv::store::Store;
use rand::Rng;
use std::collections::{BTreeMap, VecDeque};

/// What a client records for the checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// The client's stream to the server is up.
    Connected { stream: StreamId },
    /// The client received one reply line (without its `\n`).
    Got { stream: StreamId, line: Vec<u8> },
    /// The client received a line it did not expect (the official tests' check).
    Unexpected { stream: StreamId, line: Vec<u8> },
    /// The client's stream ended.
    Closed {
        stream: StreamId,
        reason: CloseReason,
    },
}

/// Durable storage key of the client's key-namespace generation.
const GENERATION_KEY: &str = "kv/client/generation";

faultline::timer_tags! {
    /// A client's timers: the next burst, pausing and resuming reading, reconnecting.
    pub enum ClientTimer {
        Tick = 1,
        Pause = 2,
        Resume = 3,
        Reconnect = 4,
    }
}

/// A scenario client.
#[derive(Debug)]
pub struct Client {
    cfg: ClientConfig,
    stream: Option<StreamId>,
    connected: bool,
    /// Incremented on each reconnect; names the key namespace.
    generation: u32,
    stopped: bool,
    started_at: Time,
    out: Vec<u8>,
    out_at: usize,
    reader: LineReader,
    model: Store,
    uses: BTreeMap<Vec<u8>, u32>,
    next_value: u64,
    deletes_sent: u32,
    /// Reply lines still expected (a multiset, as the official test keeps).
    expected: BTreeMap<Vec<u8>, u32>,
    /// Gets awaiting replies: when issued, and how many lines are still due.
    pending_gets: VecDeque<(Time, usize)>,
    pad: Vec<u8>,
    stats: ClientStats,
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Client {
        Client {
            cfg,
            stream: None,
            connected: false,
            generation: 0,
            stopped: false,
            started_at: Time::ZERO,
            out: Vec::new(),
            out_at: 0,
            reader: LineReader::default(),
            model: Store::new(),
            uses: BTreeMap::new(),
            next_value: 0,
            deletes_sent: 0,
            expected: BTreeMap::new(),
            pending_gets: VecDeque::new(),
            pad: Vec::new(),
            stats: ClientStats::default(),
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    pub fn stream(&self) -> Option<StreamId> {
        self.stream.filter(|_| self.connected)
    }

    /// Every write event is sent and handed to the stream.
    pub fn workload_done(&self) -> bool {
        self.stats.events_sent >= self.cfg.events && self.out_at == self.out.len()
    }

    /// Reply lines expected but not (yet) received.
    pub fn replies_missing(&self) -> u64 {
        self.expected.values().map(|&n| n as u64).sum()
    }

    /// The client's own model of its current key namespace.
    pub fn model(&self) -> &Store {
        &self.model
    }

    pub fn on_start(&mut self, ctx: &mut Ctx<'_, ClientEvent>) {
        self.started_at = ctx.now();
        // A restarted client cannot know which of its requests were applied before the
        // crash, so each incarnation takes a fresh key namespace, kept in durable storage.
        let previous = ctx.storage().get(GENERATION_KEY).map(<[u8]>::to_vec);
        if let Some(g) = previous.and_then(|b| String::from_utf8(b).ok()?.parse::<u32>().ok()) {
            self.generation = g + 1;
        }
        ctx.storage()
            .put(GENERATION_KEY, self.generation.to_string());
        ctx.storage().sync();
        let rng = ctx.rng();
        self.pad = (0..self.cfg.inflate)
            .map(|_| rng.gen_range(b'a'..=b'z'))
            .collect();
        self.connect(ctx);
    }

    /// Close the connection for good (a killed client of the Count tests).
    pub fn disconnect(&mut self, ctx: &mut Ctx<'_, ClientEvent>) {
        self.stopped = true;
        if let Some(stream) = self.stream.take() {
            ctx.close(stream);
            if self.connected {
                ctx.record(ClientEvent::Closed {
                    stream,
                    reason: CloseReason::PeerClosed,
                });
            }
        }
        self.connected = false;
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, ClientEvent>, tag: ClientTimer) {
        if self.stopped {
            return;
        }
        match tag {
            ClientTimer::Tick => self.burst(ctx),
            ClientTimer::Pause => {
                if let (Some(stream), Reading::Intermittent { paused, until, .. }) =
                    (self.stream(), self.cfg.reading)
                {
                    if ctx.now() < self.started_at + until {
                        ctx.pause_reading(stream);
                        ctx.set_timer(paused, ClientTimer::Resume);
                    }
                }
            }
            ClientTimer::Resume => {
                if let Some(stream) = self.stream() {
                    ctx.resume_reading(stream);
                    if let Reading::Intermittent { reading, .. } = self.cfg.reading {
                        ctx.set_timer(reading, ClientTimer::Pause);
                    }
                }
            }
            ClientTimer::Reconnect if self.stream.is_none() => {
                self.generation += 1;
                ctx.storage()
                    .put(GENERATION_KEY, self.generation.to_string());
                ctx.storage().sync();
                self.connect(ctx);
            }
            _ => {}
        }
    }

    pub fn on_connected(&mut self, ctx: &mut Ctx<'_, ClientEvent>, stream: StreamId) {
        if self.stream != Some(stream) {
            return;
        }
        self.connected = true;
        self.stats.connects += 1;
        ctx.record(ClientEvent::Connected { stream });
        match self.cfg.reading {
            Reading::Normal => {}
            Reading::Never => ctx.pause_reading(stream),
            Reading::PausedUntil(after) => {
                ctx.pause_reading(stream);
                let at = self.started_at + after;
                ctx.set_timer(at.since(ctx.now()), ClientTimer::Resume);
            }
            Reading::Intermittent { paused, .. } => {
                ctx.pause_reading(stream);
                ctx.set_timer(paused, ClientTimer::Resume);
            }
        }
        self.burst(ctx);
    }

    pub fn on_data(&mut self, ctx: &mut Ctx<'_, ClientEvent>, stream: StreamId, data: &[u8]) {
        if self.stream() != Some(stream) {
            return;
        }
        let mut reader = std::mem::take(&mut self.reader);
        reader.feed(data, |line| {
            // The reply reader has the server's line limit; an over-long reply would be a
            // server bug, which the checker sees as a missing reply.
            if let Ok(line) = line {
                self.on_reply(ctx, stream, line);
            }
        });
        self.reader = reader;
    }

    pub fn on_writable(&mut self, ctx: &mut Ctx<'_, ClientEvent>, stream: StreamId) {
        if self.stream() == Some(stream) {
            self.flush(ctx);
        }
    }

    pub fn on_closed(
        &mut self,
        ctx: &mut Ctx<'_, ClientEvent>,
        stream: StreamId,
        reason: CloseReason,
    ) {
        if self.stream != Some(stream) {
            return;
        }
        if self.connected {
            ctx.record(ClientEvent::Closed { stream, reason });
        }
        self.stream = None;
        self.connected = false;
        self.stats.streams_lost += 1;
        // What was in flight is lost with the stream: forget the namespace's expectations.
        self.out.clear();
        self.out_at = 0;
        self.reader = LineReader::default();
        self.expected.clear();
        self.pending_gets.clear();
        self.model = Store::new();
        self.uses.clear();
        if let Some(after) = self.cfg.reconnect_after {
            ctx.set_timer(after, ClientTimer::Reconnect);
        }
    }

    fn connect(&mut self, ctx: &mut Ctx<'_, ClientEvent>) {
        self.stream = Some(ctx.connect(self.cfg.server));
    }

    fn key(&self, r: u32) -> Vec<u8> {
        let slow = if self.cfg.slow_keys { "slow_" } else { "" };
        let cid = self.cfg.cid;
        match self.generation {
            0 => format!("key_{slow}{cid}_{r}").into_bytes(),
            g => format!("key_{slow}{cid}_g{g}_{r}").into_bytes(),
        }
    }

    fn new_value(&mut self) -> Vec<u8> {
        self.next_value += 1;
        let mut v = b"value_".to_vec();
        v.extend_from_slice(&self.pad);
        v.extend_from_slice(self.next_value.to_string().as_bytes());
        v
    }

    /// One burst of write events (SPEC.md §9), then sleep.
    fn burst(&mut self, ctx: &mut Ctx<'_, ClientEvent>) {
        if !self.connected || self.stopped {
            return;
        }
        let num_keys = (self.cfg.events / 10).max(1);
        for _ in 0..self.cfg.burst {
            if self.stats.events_sent >= self.cfg.events {
                break;
            }
            let garbage = self.cfg.garbage_every;
            if garbage > 0 && self.stats.events_sent.is_multiple_of(garbage) {
                self.out.extend_from_slice(b"Bogus:this is not a request\n");
                self.stats.garbage_sent += 1;
            }
            let r = ctx.rng().gen_range(0..num_keys);
            let key = self.key(r);
            let uses = self.uses.entry(key.clone()).or_insert(0);
            *uses += 1;
            let third = (*uses).is_multiple_of(3);
            let list_len = self.model.get(&key).len();
            if list_len == 0 || third {
                let value = self.new_value();
                self.model.put(&key, &value);
                self.send(Request::Put {
                    key: key.clone(),
                    value,
                });
            } else {
                let old = self.model.get(&key)[ctx.rng().gen_range(0..list_len)].to_vec();
                let new = self.new_value();
                self.model.update(&key, &old, &new);
                self.send(Request::Update {
                    key: key.clone(),
                    old,
                    new,
                });
            }
            let delete = self.deletes_sent < self.cfg.deletes && ctx.rng().gen_ratio(1, 10);
            if delete {
                let keys = self.model.backdoor();
                let victim = keys.keys().nth(ctx.rng().gen_range(0..keys.len())).cloned();
                if let Some(victim) = victim {
                    self.model.delete(&victim);
                    self.deletes_sent += 1;
                    self.send(Request::Delete {
                        key: victim.to_vec(),
                    });
                }
            } else {
                let values = self.model.get(&key).to_vec();
                for value in &values {
                    *self.expected.entry(encode_reply(&key, value)).or_insert(0) += 1;
                }
                self.stats.replies_expected += values.len() as u64;
                self.stats.gets_sent += 1;
                if !values.is_empty() {
                    self.pending_gets.push_back((ctx.now(), values.len()));
                }
                self.send(Request::Get { key });
            }
            self.stats.events_sent += 1;
        }
        self.flush(ctx);
        if self.stats.events_sent < self.cfg.events {
            ctx.set_timer(self.cfg.burst_pause, ClientTimer::Tick);
        }
    }

    fn send(&mut self, req: Request) {
        self.out.extend_from_slice(&req.encode());
    }

    fn flush(&mut self, ctx: &mut Ctx<'_, ClientEvent>) {
        let Some(stream) = self.stream() else { return };
        if self.out_at < self.out.len() {
            self.out_at += ctx.write(stream, &self.out[self.out_at..]).unwrap_or(0);
        }
        if self.out_at == self.out.len() {
            self.out.clear();
            self.out_at = 0;
        } else if self.out_at > self.out.len() / 2 {
            self.out.drain(..self.out_at);
            self.out_at = 0;
        }
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_, ClientEvent>, stream: StreamId, line: &[u8]) {
        self.stats.replies_received += 1;
        ctx.record(ClientEvent::Got {
            stream,
            line: line.to_vec(),
        });
        let mut full = line.to_vec();
        full.push(b'\n');
        match self.expected.get_mut(&full) {
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    self.expected.remove(&full);
                }
            }
            None => {
                self.stats.replies_unexpected += 1;
                ctx.record(ClientEvent::Unexpected {
                    stream,
                    line: line.to_vec(),
                });
            }
        }
        if self.cfg.reading == Reading::Normal {
            if let Some(front) = self.pending_gets.front_mut() {
                front.1 -= 1;
                if front.1 == 0 {
                    let issued = front.0;
                    self.pending_gets.pop_front();
                    self.stats
                        .get_latencies_ns
                        .push(ctx.now().since(issued).as_nanos() as u64);
                }
            }
        }
    }
}

impl faultline::Node for Client {
    type Event = ClientEvent;
    type Timer = ClientTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, ClientEvent>) {
        Client::on_start(self, ctx);
    }

    fn on_timer(
        &mut self,
        ctx: &mut Ctx<'_, ClientEvent>,
        _timer: faultline::TimerId,
        tag: ClientTimer,
    ) {
        Client::on_timer(self, ctx, tag);
    }

    fn on_stream(&mut self, ctx: &mut Ctx<'_, ClientEvent>, event: faultline::StreamEvent) {
        use faultline::StreamEvent;
        match event {
            StreamEvent::Connected { stream } => self.on_connected(ctx, stream),
            StreamEvent::Data { stream, data } => self.on_data(ctx, stream, &data),
            StreamEvent::Writable { stream } => self.on_writable(ctx, stream),
            StreamEvent::Closed { stream, reason } => self.on_closed(ctx, stream, reason),
            // Clients accept nothing.
            StreamEvent::Accepted { stream, .. } => ctx.close(stream),
        }
    }
}
