//! A tiny hand-driven network for endpoint tests before/without the world: two nodes'
//! effects are drained by hand, datagrams delivered in order (or dropped by a filter),
//! timers fired when the test advances the clock.

use faultline::{Addr, Effect, NodeIo, Storage, Time, TimerId};
use lsp::{ClientEndpoint, ClientEvent, Params, ServerEndpoint, ServerEvent};
use rand::SeedableRng;
use std::collections::BTreeMap;

pub const SERVER: Addr = Addr(0);
pub const CLIENT: Addr = Addr(1);

/// Decides per datagram (from, to, bytes) whether it is delivered.
pub type Filter = Box<dyn FnMut(Addr, Addr, &[u8]) -> bool>;

pub struct Pair {
    pub now: Time,
    pub server_io: NodeIo<()>,
    pub client_io: NodeIo<()>,
    pub server: ServerEndpoint,
    pub client: ClientEndpoint,
    /// (due, node, timer)
    timers: BTreeMap<(Time, u32, u64), ()>,
    /// Datagrams waiting: (from, to, bytes).
    wire: Vec<(Addr, Addr, Vec<u8>)>,
    /// Decide per datagram whether it is delivered.
    pub filter: Filter,
    pub server_events: Vec<ServerEvent>,
    pub client_events: Vec<ClientEvent>,
    /// Every datagram sent, for sniffing.
    pub sent: Vec<(Time, Addr, lsp::Message)>,
}

fn io(me: Addr) -> NodeIo<()> {
    NodeIo::new(
        me,
        rand_chacha::ChaCha8Rng::seed_from_u64(me.0 as u64),
        Storage::default(),
    )
}

impl Pair {
    pub fn new(params: Params, isn: i64) -> Pair {
        let mut server_io = io(SERVER);
        let mut client_io = io(CLIENT);
        let server = ServerEndpoint::new(&mut server_io.ctx(Time::ZERO), params);
        let client = ClientEndpoint::connect(&mut client_io.ctx(Time::ZERO), SERVER, isn, params);
        let mut p = Pair {
            now: Time::ZERO,
            server_io,
            client_io,
            server,
            client,
            timers: BTreeMap::new(),
            wire: Vec::new(),
            filter: Box::new(|_, _, _| true),
            server_events: Vec::new(),
            client_events: Vec::new(),
            sent: Vec::new(),
        };
        p.collect();
        p
    }

    /// Move effects of both nodes onto the wire / timer list, and events into the logs.
    fn collect(&mut self) {
        for (me, io) in [(SERVER, &mut self.server_io), (CLIENT, &mut self.client_io)] {
            let mut effects = Vec::new();
            io.drain_effects(&mut effects);
            for e in effects {
                match e {
                    Effect::Send { to, data } => {
                        self.sent
                            .push((self.now, me, lsp::Message::decode(&data).unwrap()));
                        self.wire.push((me, to, data));
                    }
                    Effect::SetTimer { id, after, .. } => {
                        self.timers.insert((self.now + after, me.0, id.0), ());
                    }
                    other => panic!("unexpected effect {other:?}"),
                }
            }
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
    }

    /// Deliver datagrams until the wire is empty (zero latency, in send order).
    pub fn settle(&mut self) {
        while !self.wire.is_empty() {
            let batch = std::mem::take(&mut self.wire);
            for (from, to, data) in batch {
                if !(self.filter)(from, to, &data) {
                    continue;
                }
                self.deliver(from, to, &data);
            }
        }
    }

    /// Hand `data` to `to` as if it came from `from`.
    pub fn deliver(&mut self, from: Addr, to: Addr, data: &[u8]) {
        if to == SERVER {
            self.server
                .on_datagram(&mut self.server_io.ctx(self.now), from, data);
        } else {
            self.client
                .on_datagram(&mut self.client_io.ctx(self.now), from, data);
        }
        self.collect();
    }

    /// Advance the clock to `until`, firing due timers and settling after each.
    pub fn advance(&mut self, until: Time) {
        self.settle();
        while let Some((&(due, node, id), _)) = self.timers.iter().next() {
            if due > until {
                break;
            }
            self.timers.remove(&(due, node, id));
            self.now = due;
            let t = TimerId(id);
            if node == SERVER.0 {
                if self.server_io.take_timer(t) {
                    self.server.on_timer(&mut self.server_io.ctx(due), t);
                }
            } else if self.client_io.take_timer(t) {
                self.client.on_timer(&mut self.client_io.ctx(due), t);
            }
            self.collect();
            self.settle();
        }
        self.now = until;
    }

    pub fn with_client<R>(
        &mut self,
        f: impl FnOnce(&mut ClientEndpoint, &mut faultline::Ctx<'_, ()>) -> R,
    ) -> R {
        let r = f(&mut self.client, &mut self.client_io.ctx(self.now));
        self.collect();
        r
    }

    pub fn with_server<R>(
        &mut self,
        f: impl FnOnce(&mut ServerEndpoint, &mut faultline::Ctx<'_, ()>) -> R,
    ) -> R {
        let r = f(&mut self.server, &mut self.server_io.ctx(self.now));
        self.collect();
        r
    }
}
