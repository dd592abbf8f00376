//! An LSP world set up the way the original tests set up theirs: one server, some clients,
//! a programmable middlebox (the test network's sniffer and tamper hooks,
//! systems/lsp/SPEC.md §11) that also feeds the wire monitor, and the history checker.
//! The catalog scenarios, the intents and the benchmark build their worlds here.
//!
//! The history checker is the world's own ([`World::checker`]). The middlebox is a closure
//! the world calls and offers no handle back, so its state ([`Net`]: the current rule, what
//! was sniffed, the wire monitor) is shared with the scenario through one `Rc<RefCell<..>>`.

use super::invariants::{LspChecker, WireMonitor, NODES_UP};
use super::nodes::{ClientNode, ClientPlan, LspEvent, LspNode, ServerNode};
use faultline::{Addr, Ctx, Fault, Halt, Invariant, LinkFaults, Time, World};
use lsp::{Message, MsgType, Params};
use std::cell::RefCell;
use std::rc::Rc;

/// A middlebox rule: see a datagram `(now, from, to, bytes)`; false drops it.
pub type Rule = Box<dyn FnMut(Time, Addr, Addr, &mut Vec<u8>) -> bool>;

/// A step of a scripted run: a halt carries the failed invariant and when it failed.
pub type Step<T> = Result<T, Halt>;

/// What the original test network does to a Data payload (SPEC.md §11): Size and
/// Checksum stay as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// Cut the payload to half its length.
    Shorten,
    /// Append 3 bytes.
    Lengthen,
    /// Flip the first byte's bits (an empty payload becomes `[0xFF]`).
    Corrupt,
}

impl Tamper {
    /// Tamper with `msg`'s payload.
    pub fn apply(self, msg: &mut Message) {
        let p = msg.payload.get_or_insert_with(Vec::new);
        match self {
            Tamper::Shorten => p.truncate(p.len() / 2),
            Tamper::Lengthen => p.extend_from_slice(b"123"),
            Tamper::Corrupt => match p.first_mut() {
                Some(b) => *b ^= 0xFF,
                None => *p = vec![0xFF],
            },
        }
    }
}

/// One sniffed datagram (as sent, before link faults).
#[derive(Clone, Debug)]
pub struct Sniffed {
    pub at: Time,
    pub from: Addr,
    pub to: Addr,
    pub msg: Message,
    /// The rule let it through.
    pub passed: bool,
}

/// The middlebox's state: the current rule, what it saw, and the wire monitor.
pub struct Net {
    pub rule: Option<Rule>,
    pub sniffed: Vec<Sniffed>,
    /// Sniff into `sniffed` (off by default: long runs need not keep every datagram).
    pub sniff: bool,
    pub monitor: WireMonitor,
}

impl Net {
    /// Data messages sniffed in `[from, to)` sent by `sender` (any sender if `None`).
    pub fn data_between(&self, from: Time, to: Time, sender: Option<Addr>) -> Vec<&Sniffed> {
        self.sniffed
            .iter()
            .filter(|s| s.msg.ty == MsgType::Data && s.at >= from && s.at < to)
            .filter(|s| sender.is_none_or(|a| s.from == a))
            .collect()
    }
}

/// How to build a lab.
pub struct LabSpec {
    pub seed: u64,
    pub params: Params,
    /// The server echoes every message back.
    pub echo: bool,
    /// When the server starts (TestServerSlowStart starts it late).
    pub server_start: Time,
    /// One entry per client: its ISN (`None`: random in 1..=256) and plan.
    pub clients: Vec<(Option<i64>, ClientPlan)>,
    /// One-way latency range of every link.
    pub latency_ns: (u64, u64),
}

impl LabSpec {
    pub fn new(seed: u64, params: Params) -> LabSpec {
        LabSpec {
            seed,
            params,
            echo: true,
            server_start: Time::ZERO,
            clients: Vec::new(),
            latency_ns: (1_000_000, 2_000_000),
        }
    }

    /// `n` clients, each with ISN `isn` and the plan `plan(i)`.
    pub fn clients(
        mut self,
        n: usize,
        isn: Option<i64>,
        plan: impl Fn(usize) -> ClientPlan,
    ) -> LabSpec {
        self.clients = (0..n).map(|i| (isn, plan(i))).collect();
        self
    }

    /// The server only reads (a sink).
    pub fn sink(mut self) -> LabSpec {
        self.echo = false;
        self
    }
}

/// `count` distinct payloads for client `i`: JSON ints, as the original tests write.
pub fn payloads(i: usize, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|k| format!("{}", 1000 * (i + 1) + k).into_bytes())
        .collect()
}

/// An echo client: writes `count` messages (lockstep or all at once), reads the echoes,
/// and closes when `close` is set.
pub fn echo_plan(i: usize, count: usize, lockstep: bool, close: bool) -> ClientPlan {
    ClientPlan {
        messages: payloads(i, count),
        lockstep,
        close_after_reads: close.then_some(count),
        pause_max_ms: 0,
    }
}

/// A built LSP world.
pub struct Lab {
    pub world: World<LspNode>,
    pub params: Params,
    pub server: Addr,
    pub clients: Vec<Addr>,
    pub net: Rc<RefCell<Net>>,
    latency_ns: (u64, u64),
}

impl Lab {
    /// Build the world; nothing has run yet (see [`Lab::start`]).
    pub fn new(spec: LabSpec) -> Lab {
        let mut world: World<LspNode> = World::new(spec.seed);
        world.set_base_link(LinkFaults::clean(spec.latency_ns.0, spec.latency_ns.1));
        let params = spec.params;
        let echo = spec.echo;
        let server = world.add_node_at(spec.server_start, move |_| {
            ServerNode::new(params, echo).into()
        });
        let mut clients = Vec::new();
        for (isn, plan) in spec.clients {
            clients.push(
                world.add_node(move |_| ClientNode::new(server, params, isn, plan.clone()).into()),
            );
        }
        let net = Rc::new(RefCell::new(Net {
            rule: None,
            sniffed: Vec::new(),
            sniff: false,
            monitor: WireMonitor::new(params),
        }));
        let n = net.clone();
        world.set_middlebox(move |now, from, to, bytes| {
            let net = &mut *n.borrow_mut();
            let passed = match net.rule.as_mut() {
                Some(rule) => rule(now, from, to, bytes),
                None => true,
            };
            // The monitor sees what the sender sent; the sniffer records it with the verdict.
            net.monitor.observe(now, from, to, bytes);
            if net.sniff {
                if let Ok(msg) = Message::decode(bytes) {
                    net.sniffed.push(Sniffed {
                        at: now,
                        from,
                        to,
                        msg,
                        passed,
                    });
                }
            }
            passed
        });
        world.set_checker(LspChecker::new(params));
        Lab {
            world,
            params,
            server,
            clients,
            net,
            latency_ns: spec.latency_ns,
        }
    }

    /// Start the nodes due now, so a script can look at them at once.
    pub fn start(&mut self) -> Step<()> {
        self.run_to(Time::ZERO)
    }

    /// A failure of `invariant`, now.
    pub fn fail(&self, invariant: Invariant, detail: impl Into<String>) -> Halt {
        Halt {
            at: self.world.now(),
            failure: invariant.fail(detail),
        }
    }

    /// Time at `n` epochs.
    pub fn epochs(&self, n: f64) -> Time {
        Time((n * self.params.epoch_millis as f64 * 1e6) as u64)
    }

    /// Run to `t`.
    pub fn run_to(&mut self, t: Time) -> Step<()> {
        self.world.run_until(t)
    }

    /// Run until `done` holds or `limit`; returns whether it held.
    pub fn run_until(&mut self, limit: Time, done: impl Fn(&Lab) -> bool) -> Step<bool> {
        loop {
            if done(self) {
                return Ok(true);
            }
            let Some(next) = self.world.next_event_time() else {
                return Ok(done(self));
            };
            if next > limit {
                self.run_to(limit)?;
                return Ok(done(self));
            }
            self.run_to(next)?;
        }
    }

    /// Client `i`. Scripted runs crash no node, so it is always up once started.
    pub fn client(&self, i: usize) -> &ClientNode {
        self.world
            .node(self.clients[i])
            .and_then(|n| n.kind::<ClientNode>())
            .expect("clients of a scripted run stay up")
    }

    /// The server (once it has started).
    pub fn server(&self) -> &ServerNode {
        self.world
            .node(self.server)
            .and_then(|n| n.kind::<ServerNode>())
            .expect("the server of a scripted run stays up")
    }

    /// Call into client `i` now.
    pub fn with_client<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut ClientNode, &mut Ctx<'_, LspEvent>) -> R,
    ) -> Step<R> {
        let addr = self.clients[i];
        self.world
            .with_node(addr, |n, ctx| {
                f(n.kind_mut::<ClientNode>().expect("a client"), ctx)
            })
            .ok_or_else(|| self.fail(NODES_UP, format!("client {addr} is down")))
    }

    /// Call into the server now.
    pub fn with_server<R>(
        &mut self,
        f: impl FnOnce(&mut ServerNode, &mut Ctx<'_, LspEvent>) -> R,
    ) -> Step<R> {
        self.world
            .with_node(self.server, |n, ctx| {
                f(n.kind_mut::<ServerNode>().expect("the server"), ctx)
            })
            .ok_or_else(|| self.fail(NODES_UP, "the server is down"))
    }

    /// Drop `loss` of what `from` sends (the original's write-drop percentage).
    pub fn write_drop(&mut self, from: Addr, loss: f64) {
        let (lo, hi) = self.latency_ns;
        let mut link = LinkFaults::clean(lo, hi);
        link.loss = loss;
        self.world.apply(Fault::Link {
            from: Some(from.0),
            to: None,
            faults: link,
        });
    }

    /// Every window or unacked-limit violation the wire monitor saw.
    pub fn window_violations(&self) -> Vec<String> {
        self.net.borrow().monitor.violations.clone()
    }

    pub fn set_rule(&mut self, rule: Option<Rule>) {
        self.net.borrow_mut().rule = rule;
    }

    /// The connection id client `i` got (0 before it connected).
    pub fn conn_of(&self, i: usize) -> i64 {
        self.client(i).endpoint.as_ref().map_or(0, |e| e.conn_id())
    }

    /// What the server has read from client `i`, in order.
    pub fn server_reads(&self, i: usize) -> Vec<Vec<u8>> {
        let conn = self.conn_of(i);
        self.server().reads.get(&conn).cloned().unwrap_or_default()
    }

    /// How many messages the server has read from client `i`.
    pub fn server_read_count(&self, i: usize) -> usize {
        let conn = self.conn_of(i);
        self.server().reads.get(&conn).map_or(0, Vec::len)
    }

    /// Every client is connected.
    pub fn all_connected(&self) -> bool {
        (0..self.clients.len()).all(|i| {
            self.client(i)
                .endpoint
                .as_ref()
                .is_some_and(|e| e.is_connected())
        })
    }
}
