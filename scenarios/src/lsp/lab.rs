//! A world set up the way the original LSP tests set up theirs: one server, some clients,
//! a programmable middlebox (the `lspnet` sniffer and tamper hooks, spec §11) and the
//! invariant checkers. Used by the catalog scenarios and the official-intent tests.

use super::check::{LspChecker, WireMonitor};
use super::node::{ClientNode, ClientPlan, LspNode, ServerNode};
use faultline::{Addr, Fault, LinkFaults, Time, World};
use lsp::{Message, MsgType, Params};
use std::cell::RefCell;
use std::rc::Rc;

/// A middlebox rule: see a datagram `(now, from, to, bytes)`; false drops it.
pub type Rule = Box<dyn FnMut(Time, Addr, Addr, &mut Vec<u8>) -> bool>;

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

/// The middlebox's state: the current rule and what it saw.
#[derive(Default)]
pub struct Net {
    pub rule: Option<Rule>,
    pub sniffed: Vec<Sniffed>,
    /// Sniff into `sniffed` (off by default: long runs need not keep every datagram).
    pub sniff: bool,
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

/// A built LSP world.
pub struct Lab {
    pub world: World<LspNode>,
    pub params: Params,
    pub server: Addr,
    pub clients: Vec<Addr>,
    pub net: Rc<RefCell<Net>>,
    pub monitor: Rc<RefCell<WireMonitor>>,
    pub checker_losses: Rc<RefCell<(u64, u64)>>,
    latency_ns: (u64, u64),
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

    /// `n` clients, each with ISN 0 and the plan `plan(i)`.
    pub fn clients(mut self, n: usize, plan: impl Fn(usize) -> ClientPlan) -> LabSpec {
        self.clients = (0..n).map(|i| (Some(0), plan(i))).collect();
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

impl Lab {
    pub fn new(spec: LabSpec) -> Lab {
        let mut world: World<LspNode> = World::new(spec.seed);
        world.set_base_link(LinkFaults::clean(spec.latency_ns.0, spec.latency_ns.1));
        let params = spec.params;
        let echo = spec.echo;
        let server = world.add_node_at(spec.server_start, move |_| LspNode::server(params, echo));
        let mut clients = Vec::new();
        for (isn, plan) in spec.clients {
            clients
                .push(world.add_node(move |_| LspNode::client(server, params, isn, plan.clone())));
        }
        let net = Rc::new(RefCell::new(Net::default()));
        let monitor = Rc::new(RefCell::new(WireMonitor::new(params)));
        let (n, m) = (net.clone(), monitor.clone());
        world.set_middlebox(move |now, from, to, bytes| {
            let mut net = n.borrow_mut();
            let passed = match net.rule.as_mut() {
                Some(rule) => rule(now, from, to, bytes),
                None => true,
            };
            // The monitor sees what the sender sent; the sniffer records it with the verdict.
            m.borrow_mut().observe(now, from, to, bytes);
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
        let losses = Rc::new(RefCell::new((0, 0)));
        let mut checker = LspChecker::new(params);
        let l = losses.clone();
        world.set_checker(move |now: Time, node: Addr, e: &super::node::LspEvent| {
            let r = faultline::Checker::on_event(&mut checker, now, node, e);
            *l.borrow_mut() = checker.losses;
            r
        });
        // Start the nodes due now, so tests can look at them at once.
        world
            .run_until(Time::ZERO)
            .expect("nothing to check at start");
        Lab {
            world,
            params,
            server,
            clients,
            net,
            monitor,
            checker_losses: losses,
            latency_ns: spec.latency_ns,
        }
    }

    /// Time at `n` epochs.
    pub fn epochs(&self, n: f64) -> Time {
        Time((n * self.params.epoch_millis as f64 * 1e6) as u64)
    }

    /// Run to `t`; a checker failure panics with its message (tests).
    pub fn run_to(&mut self, t: Time) {
        if let Err(halt) = self.world.run_until(t) {
            panic!("at {}: {}", halt.at, halt.failure);
        }
    }

    /// Run until `done` holds or `limit`; returns whether it held.
    pub fn run_until(&mut self, limit: Time, done: impl Fn(&Lab) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            let Some(next) = self.world.next_event_time() else {
                return done(self);
            };
            if next > limit {
                self.run_to(limit);
                return done(self);
            }
            self.run_to(next);
        }
    }

    pub fn client(&self, i: usize) -> &ClientNode {
        self.world
            .node(self.clients[i])
            .expect("client up")
            .as_client()
    }

    pub fn server(&self) -> &ServerNode {
        self.world.node(self.server).expect("server up").as_server()
    }

    /// Call into client `i` now.
    pub fn with_client<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut ClientNode, &mut faultline::Ctx<'_, super::node::LspEvent>) -> R,
    ) -> R {
        self.world
            .with_node(self.clients[i], |n, ctx| f(n.as_client_mut(), ctx))
            .expect("client up")
    }

    /// Call into the server now.
    pub fn with_server<R>(
        &mut self,
        f: impl FnOnce(&mut ServerNode, &mut faultline::Ctx<'_, super::node::LspEvent>) -> R,
    ) -> R {
        self.world
            .with_node(self.server, |n, ctx| f(n.as_server_mut(), ctx))
            .expect("server up")
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

    /// Every client's window violations seen on the wire.
    pub fn window_violations(&self) -> Vec<String> {
        self.monitor.borrow().violations.clone()
    }

    pub fn set_rule(&mut self, rule: Option<Rule>) {
        self.net.borrow_mut().rule = rule;
    }
}
