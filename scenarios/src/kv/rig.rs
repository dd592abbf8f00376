//! A kv world under construction, and the end-of-run checks and figures every kv scenario
//! shares.

use super::check::{KvChecker, SharedChecker};
use faultline::harness::{drive, Report, RunSpec};
use faultline::swarm::FaultProfile;
use faultline::{Addr, Failure, Time, World};
use kv::{ClientConfig, KvNode, Reading};
use serde_json::json;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A count check taken during the run (spec P0 A.6: the tests read the counters between
/// rounds): what the server said and what the scenario knows to be true.
#[derive(Clone, Debug)]
pub struct Probe {
    pub label: String,
    pub got: Option<(u64, u64)>,
    pub expected: (u64, u64),
}

/// The world of one kv run: the server is node 0, clients follow.
pub struct Rig {
    pub world: World<KvNode>,
    pub server: Addr,
    pub checker: Rc<RefCell<KvChecker>>,
    pub clients: Vec<Addr>,
    pub probes: Rc<RefCell<Vec<Probe>>>,
}

impl Rig {
    pub fn new(seed: u64) -> Rig {
        let mut world: World<KvNode> = World::new(seed);
        let server = world.add_node(|_| KvNode::server());
        let checker = Rc::new(RefCell::new(KvChecker::new(server)));
        world.set_checker(SharedChecker(checker.clone()));
        Rig {
            world,
            server,
            checker,
            clients: Vec::new(),
            probes: Rc::default(),
        }
    }

    /// A client that starts at `at` (and again, from its config, after a restart).
    pub fn add_client(&mut self, at: Time, cfg: ClientConfig) -> Addr {
        let addr = self
            .world
            .add_node_at(at, move |_| KvNode::client(cfg.clone()));
        self.clients.push(addr);
        addr
    }

    /// Every node index, for a fault profile.
    pub fn node_ids(&self) -> Vec<u32> {
        (0..self.world.node_count() as u32).collect()
    }

    /// At `at`, read the server's counts and remember what they should be.
    pub fn probe_counts(&mut self, at: Time, label: String, expected: (u64, u64)) {
        let probes = self.probes.clone();
        self.world.call_at(at, self.server, move |node, _ctx| {
            let got = node
                .as_server()
                .map(|s| (s.count_active(), s.count_dropped()));
            probes.borrow_mut().push(Probe {
                label,
                got,
                expected,
            });
        });
    }

    /// Run under `profile` (or the spec's schedule), then the shared end checks, then
    /// `extra`; fill the report's figures.
    pub fn run(
        self,
        name: &str,
        spec: &RunSpec,
        profile: &FaultProfile,
        checks: EndChecks,
        extra: impl FnOnce(&mut World<KvNode>, &Rig0) -> Result<(), Failure>,
    ) -> Result<Report, String> {
        let Rig {
            world,
            server,
            checker,
            clients,
            probes,
        } = self;
        let rig0 = Rig0 {
            server,
            checker,
            clients,
            probes,
        };
        let rig_ref = &rig0;
        let (mut report, world) = drive(name, spec, profile, world, |world| {
            checks.run(world, rig_ref)?;
            extra(world, rig_ref)
        })?;
        rig0.figures(&world, &mut report.metrics);
        Ok(report)
    }
}

/// The rig without its world (which `drive` owns during the run).
pub struct Rig0 {
    pub server: Addr,
    pub checker: Rc<RefCell<KvChecker>>,
    pub clients: Vec<Addr>,
    pub probes: Rc<RefCell<Vec<Probe>>>,
}

/// Which of the shared end checks a scenario wants.
#[derive(Clone, Copy, Debug, Default)]
pub struct EndChecks {
    /// Clients' own models together equal the store exactly (no client lost a stream, so
    /// every request it sent was applied: the official tests' final comparison).
    pub clients_cover_store: bool,
    /// Every client that reads normally received every reply it expected.
    pub normal_readers_complete: bool,
    /// Every running client finished its workload and got every reply that was not dropped.
    pub settled: bool,
    /// Fast clients' Get latency stays below this (ns), while slow readers exist.
    pub latency_bound_ns: Option<u64>,
}

impl EndChecks {
    fn run(&self, world: &mut World<KvNode>, rig: &Rig0) -> Result<(), Failure> {
        rig.checker.borrow_mut().finish()?;
        let checker = rig.checker.borrow();
        let server = world
            .node(rig.server)
            .and_then(KvNode::as_server)
            .ok_or_else(|| Failure::new("server-up", "the server is down at the end"))?;
        // The final store equals the sequential model of the applied operations.
        if server.store().backdoor() != checker.model() {
            return Err(Failure::new(
                "final-store-equals-model",
                diff(server.store().backdoor(), checker.model()),
            ));
        }
        for p in rig.probes.borrow().iter() {
            if p.got != Some(p.expected) {
                return Err(Failure::new(
                    "counts-exact",
                    format!(
                        "{}: server said {:?}, expected {:?}",
                        p.label, p.got, p.expected
                    ),
                ));
            }
        }
        let mut union = BTreeMap::new();
        for &addr in &rig.clients {
            let Some(c) = world.node(addr).and_then(KvNode::as_client) else {
                continue;
            };
            union.extend(
                c.model()
                    .backdoor()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            // The client's current namespace is fully applied once its stream is quiet.
            if self.settled && c.stream().is_some() {
                for (key, values) in c.model().backdoor() {
                    if server.store().get(key) != values.as_slice() {
                        return Err(Failure::new(
                            "client-model-applied",
                            format!("{addr}: key {:?} differs", String::from_utf8_lossy(key)),
                        ));
                    }
                }
            }
            let normal = c.config().reading == Reading::Normal;
            if (self.normal_readers_complete && normal) && c.replies_missing() > 0 {
                return Err(Failure::new(
                    "every-reply-delivered",
                    format!("{addr} misses {} of its replies", c.replies_missing()),
                ));
            }
            if self.settled && c.stream().is_some() {
                if !c.workload_done() {
                    return Err(Failure::new(
                        "workload-done-after-heal",
                        format!(
                            "{addr} sent {} of {} events",
                            c.stats().events_sent,
                            c.config().events
                        ),
                    ));
                }
                let owed = checker.undelivered(c.stream().expect("checked"));
                if owed > 0 {
                    return Err(Failure::new(
                        "every-reply-delivered",
                        format!("{addr}: {owed} replies sent or queued but never received"),
                    ));
                }
            }
        }
        if self.clients_cover_store && &union != server.store().backdoor() {
            return Err(Failure::new(
                "final-store-equals-clients-models",
                diff(server.store().backdoor(), &union),
            ));
        }
        if self.settled {
            let live = rig
                .clients
                .iter()
                .filter(|&&a| client_stream_up(world, a))
                .count() as u64;
            if server.count_active() != live {
                return Err(Failure::new(
                    "counts-exact",
                    format!(
                        "after heal: CountActive {} but {live} clients connected",
                        server.count_active()
                    ),
                ));
            }
        }
        if let Some(bound) = self.latency_bound_ns {
            let worst = latencies(world, &rig.clients).last().copied().unwrap_or(0);
            if worst > bound {
                return Err(Failure::new(
                    "fast-clients-not-held-up",
                    format!(
                        "a fast client waited {} ms for a Get (bound {} ms)",
                        worst / 1_000_000,
                        bound / 1_000_000
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn client_stream_up(world: &World<KvNode>, addr: Addr) -> bool {
    world
        .node(addr)
        .and_then(KvNode::as_client)
        .is_some_and(|c| c.stream().is_some())
}

/// Get latencies of every client that reads normally, sorted.
pub fn latencies(world: &World<KvNode>, clients: &[Addr]) -> Vec<u64> {
    let mut all: Vec<u64> = clients
        .iter()
        .filter_map(|&a| world.node(a).and_then(KvNode::as_client))
        .filter(|c| c.config().reading == Reading::Normal)
        .flat_map(|c| c.stats().get_latencies_ns.iter().copied())
        .collect();
    all.sort_unstable();
    all
}

/// The `p` quantile (0..=1) of sorted figures; 0 if there are none.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

impl Rig0 {
    fn figures(&self, world: &World<KvNode>, m: &mut serde_json::Map<String, serde_json::Value>) {
        let c = self.checker.borrow();
        let s = &c.stats;
        m.insert("ops_applied".into(), json!(s.applied));
        m.insert("gets".into(), json!(s.gets));
        m.insert(
            "replies_sent_or_queued".into(),
            json!(s.replies_sent_or_queued),
        );
        m.insert("replies_dropped".into(), json!(s.replies_dropped));
        m.insert("replies_delivered".into(), json!(s.replies_delivered));
        m.insert("max_queue_len".into(), json!(s.max_queue_len));
        m.insert("connects".into(), json!(s.joins));
        m.insert("disconnects".into(), json!(s.leaves));
        m.insert("malformed".into(), json!(s.malformed));
        let lat = latencies(world, &self.clients);
        m.insert("fast_get_count".into(), json!(lat.len()));
        m.insert(
            "fast_get_p50_us".into(),
            json!(percentile(&lat, 0.5) / 1000),
        );
        m.insert(
            "fast_get_p99_us".into(),
            json!(percentile(&lat, 0.99) / 1000),
        );
        m.insert(
            "fast_get_max_us".into(),
            json!(lat.last().copied().unwrap_or(0) / 1000),
        );
        let slow_received: Vec<u64> = self
            .clients
            .iter()
            .filter_map(|&a| world.node(a).and_then(KvNode::as_client))
            .filter(|c| c.config().reading != Reading::Normal)
            .map(|c| c.stats().replies_received)
            .collect();
        if !slow_received.is_empty() {
            m.insert("slow_replies_received".into(), json!(slow_received));
        }
    }
}

/// The first difference between two stores, in words.
fn diff(store: &super::check::Model, model: &super::check::Model) -> String {
    let show = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .chars()
            .take(60)
            .collect::<String>()
    };
    for (k, v) in store {
        match model.get(k) {
            None => return format!("store has key {:?}, model does not", show(k)),
            Some(m) if m != v => {
                return format!(
                    "key {:?}: store has {} values, model {} (first store value {:?})",
                    show(k),
                    v.len(),
                    m.len(),
                    v.first().map(|x| show(x))
                )
            }
            _ => {}
        }
    }
    match model.keys().find(|k| !store.contains_key(*k)) {
        Some(k) => format!("model has key {:?}, store does not", show(k)),
        None => "stores are equal".into(),
    }
}
