//! The bitcoin miner's scenarios (spec "P1 Part B") and its real programs ([`cli`]).
//!
//! Every world is one server (node 0), miners with different hash rates (some joining
//! late), and clients that each send one request at a seeded time. A miner's work takes
//! virtual time at its rate. The [`checker`] checks the safety invariants on every event;
//! the end checks demand liveness after the heal phase.
//!
//! - `miner-churn`: miners and clients crash and come back (as new connections); every
//!   live client must get the exact minimum.
//! - `miner-faults`: the same plus every datagram fault LSP must survive (loss,
//!   duplication, reordering, corruption, truncation, partitions, pauses). Safety always;
//!   at the end every live client has finished (a client cut off for K epochs may
//!   legitimately print `Disconnected`).
//!
//! A miner program exits when it loses the server (spec); the simulated miner nodes act
//! as their own supervisor and start a new program K + 2 epochs later, which joins as a
//! new miner (`WorkerNode::respawning`). Liveness is demanded only while a miner lives.
//! - `miner-response`: no faults; reports the mean response time against two bounds
//!   (each request alone on all miners, and all requests served in arrival order by one
//!   machine as fast as all miners together).
//! - `miner-small-after-huge`: no faults; a small request arriving after a huge one must
//!   finish first.

// Benchmarks time themselves on the wall clock and may use threads: they run outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod bench;
pub mod checker;
// The real programs run on the OS clock and sockets, outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod cli;

use checker::{MinerChecker, Observed};
use faultline::harness::{drive, Report, RunSpec, Scenario};
use faultline::swarm::{FaultKinds, FaultProfile};
use faultline::{Addr, Failure, Time, World};
use miner::{scheduler, ClientNode, MinerNode, Outcome, ServerNode, WorkerNode};
use rand::Rng;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// LSP parameters for simulated runs: 100 ms epochs (a connection is lost after 0.5 s of
/// silence), a window of 8 messages.
pub fn sim_params() -> lsp::Params {
    lsp::Params::new(5, 100, 8, 0, 8)
}

/// A restarted miner or client waits this long before connecting, so the server has
/// dropped its previous incarnation's connection (same address; see
/// `WorkerNode::delayed`): K + 2 epochs.
fn restart_delay() -> Duration {
    let p = sim_params();
    p.epoch() * (p.epoch_limit + 2)
}

/// One world's cast.
#[derive(Clone, Debug)]
pub struct Setup {
    /// (hash rate in nonces per second, join time).
    pub miners: Vec<(u64, Time)>,
    /// (message, max nonce, start time).
    pub clients: Vec<(String, u64, Time)>,
}

/// A built world, with the addresses of its roles and what its checker sees.
pub struct Built {
    pub world: World<MinerNode>,
    pub observed: Rc<RefCell<Observed>>,
    pub miners: Vec<Addr>,
    pub clients: Vec<Addr>,
}

/// Build the world of `setup`: server at node 0, then miners, then clients.
pub fn build(seed: u64, setup: &Setup) -> Built {
    let mut world: World<MinerNode> = World::new(seed);
    let params = sim_params();
    let server = world.add_node(move |_| {
        MinerNode::Server(ServerNode::new(params, scheduler::Config::default()))
    });
    let mut miners = Vec::new();
    for &(rate, join) in &setup.miners {
        let mut incarnation = 0;
        miners.push(world.add_node_at(join, move |_| {
            incarnation += 1;
            let node = WorkerNode::new(server, params, Some(rate)).respawning(restart_delay());
            MinerNode::Worker(if incarnation > 1 {
                node.delayed(restart_delay())
            } else {
                node
            })
        }));
    }
    let mut clients = Vec::new();
    for (data, upper, start) in setup.clients.iter().cloned() {
        let mut incarnation = 0;
        clients.push(world.add_node_at(start, move |_| {
            incarnation += 1;
            let node = ClientNode::new(server, params, data.clone(), upper);
            MinerNode::Client(if incarnation > 1 {
                node.delayed(restart_delay())
            } else {
                node
            })
        }));
    }
    let observed = Rc::new(RefCell::new(Observed::default()));
    world.set_checker(MinerChecker::new(observed.clone()));
    Built {
        world,
        observed,
        miners,
        clients,
    }
}

/// Miners running at the end: up, started and still connected.
fn live_miners(world: &World<MinerNode>, miners: &[Addr]) -> usize {
    miners
        .iter()
        .filter(|&&a| match world.node(a) {
            Some(MinerNode::Worker(w)) => w.worker().is_some_and(|w| !w.is_stopped()),
            _ => false,
        })
        .count()
}

/// End check: while a miner lives (spec: work waits for a miner otherwise), every client
/// node that is up has finished; with `strict`, with a result.
fn clients_finished(
    world: &World<MinerNode>,
    clients: &[Addr],
    miners: &[Addr],
    strict: bool,
) -> Result<(), Failure> {
    let invariant = if strict {
        "every-live-client-answered"
    } else {
        "every-live-client-finished"
    };
    if live_miners(world, miners) == 0 {
        if strict {
            return Err(Failure::new(invariant, "no miner is alive at the end"));
        }
        return Ok(());
    }
    for &addr in clients {
        let Some(MinerNode::Client(node)) = world.node(addr) else {
            continue;
        };
        match node.client().and_then(|c| c.outcome()) {
            Some(Outcome::Result(_)) => {}
            Some(Outcome::Disconnected) if !strict => {}
            other => {
                return Err(Failure::new(
                    invariant,
                    format!("{addr} ended with {other:?}"),
                ))
            }
        }
        if let Some(c) = node.client() {
            if c.unexpected > 0 {
                return Err(Failure::new(
                    "answered-once",
                    format!("{addr} got {} extra messages", c.unexpected),
                ));
            }
        }
    }
    Ok(())
}

/// Response times of answered requests against the two bounds, in milliseconds.
#[derive(Clone, Debug, Default)]
pub struct ResponseFigures {
    pub answered: usize,
    pub mean_response_ms: f64,
    /// Mean of size / total rate: each request alone on every miner.
    pub mean_alone_bound_ms: f64,
    /// Mean response if one machine as fast as all miners served requests in arrival order.
    pub mean_fifo_bound_ms: f64,
}

impl ResponseFigures {
    /// Mean response over the arrival-order bound.
    pub fn factor(&self) -> f64 {
        self.mean_response_ms / self.mean_fifo_bound_ms
    }
}

fn response_figures(observed: &Observed, total_rate: u64) -> ResponseFigures {
    let mut runs: Vec<_> = observed
        .runs
        .iter()
        .filter(|r| r.answered.is_some())
        .cloned()
        .collect();
    runs.sort_by_key(|r| (r.asked, r.node));
    let n = runs.len().max(1) as f64;
    let ms = |ns: f64| ns / 1e6;
    let work_ns = |upper: u64| (upper as f64 + 1.0) * 1e9 / total_rate as f64;
    let mut fifo_free = 0.0f64;
    let (mut resp, mut alone, mut fifo) = (0.0, 0.0, 0.0);
    for r in &runs {
        let asked = r.asked.as_nanos() as f64;
        resp += r.answered.expect("filtered").as_nanos() as f64 - asked;
        alone += work_ns(r.upper);
        fifo_free = fifo_free.max(asked) + work_ns(r.upper);
        fifo += fifo_free - asked;
    }
    ResponseFigures {
        answered: runs.len(),
        mean_response_ms: ms(resp / n),
        mean_alone_bound_ms: ms(alone / n),
        mean_fifo_bound_ms: ms(fifo / n),
    }
}

fn put(report: &mut Report, key: &str, value: impl Into<serde_json::Value>) {
    report.metrics.insert(key.to_string(), value.into());
}

fn add_observed(report: &mut Report, observed: &Observed) {
    put(report, "requests_sent", observed.runs.len() as u64);
    put(report, "answers", observed.answers);
    put(report, "disconnected", observed.disconnected);
    put(report, "chunks_folded", observed.chunks_folded);
    put(report, "miners_lost", observed.miners_lost);
    put(report, "clients_lost", observed.clients_lost);
}

fn add_figures(report: &mut Report, f: &ResponseFigures) {
    put(report, "answered", f.answered as u64);
    put(report, "mean_response_ms", f.mean_response_ms);
    put(report, "mean_alone_bound_ms", f.mean_alone_bound_ms);
    put(report, "mean_fifo_bound_ms", f.mean_fifo_bound_ms);
    put(report, "factor_vs_fifo_bound", f.factor());
}

/// A seeded workload: `n` clients starting in `[0, window)`, sizes in `sizes`.
fn workload(
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

/// `miner-churn` and `miner-faults`.
struct Churn {
    network_faults: bool,
}

impl Churn {
    const MINER_RATES: [u64; 4] = [100_000, 200_000, 400_000, 800_000];
    const CLIENTS: usize = 10;

    fn setup(seed: u64) -> Setup {
        let mut miners: Vec<(u64, Time)> =
            Self::MINER_RATES.iter().map(|&r| (r, Time::ZERO)).collect();
        // Two miners join late.
        miners.push((300_000, Time::from_secs(3)));
        miners.push((600_000, Time::from_secs(6)));
        Setup {
            miners,
            clients: workload(
                seed,
                Self::CLIENTS,
                Duration::from_secs(10),
                20_000..300_000,
            ),
        }
    }

    fn profile(setup: &Setup, network_faults: bool) -> FaultProfile {
        let n = 1 + setup.miners.len() + setup.clients.len();
        let nodes: Vec<u32> = (0..n as u32).collect();
        let mut p = FaultProfile::new(
            nodes.clone(),
            Duration::from_secs(15),
            Duration::from_secs(15),
        );
        p.kinds = if network_faults {
            FaultKinds {
                crash: true,
                ..FaultKinds::datagram()
            }
        } else {
            FaultKinds {
                crash: true,
                ..FaultKinds::default()
            }
        };
        // The server is assumed never to fail (spec); miners and clients may.
        p.crashable = nodes[1..].to_vec();
        p.max_loss = 0.2;
        p
    }
}

impl Scenario for Churn {
    fn name(&self) -> &'static str {
        if self.network_faults {
            "miner-faults"
        } else {
            "miner-churn"
        }
    }

    fn about(&self) -> &'static str {
        if self.network_faults {
            "miner: 6 miners (2 late) of different speeds, 10 clients, crashes + datagram faults; exact answers, once, never to lost clients, no range lost"
        } else {
            "miner: 6 miners (2 late) of different speeds, 10 clients, miner and client crashes; every live client gets the exact minimum"
        }
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let setup = Self::setup(spec.seed);
        let profile = Self::profile(&setup, self.network_faults);
        let built = build(spec.seed, &setup);
        let (clients, miners) = (built.clients.clone(), built.miners.clone());
        let strict = !self.network_faults;
        let mut alive = 0;
        let (mut report, _) = drive(self.name(), spec, &profile, built.world, |world| {
            alive = live_miners(world, &miners);
            clients_finished(world, &clients, &miners, strict)
        })?;
        add_observed(&mut report, &built.observed.borrow());
        put(&mut report, "live_miners_at_end", alive as u64);
        Ok(report)
    }
}

/// `miner-response`: the fault-free response-time report.
pub struct Response;

impl Response {
    pub const MINER_RATES: [u64; 4] = [50_000, 100_000, 200_000, 400_000];

    fn setup(seed: u64) -> Setup {
        Setup {
            miners: Self::MINER_RATES.iter().map(|&r| (r, Time::ZERO)).collect(),
            clients: workload(seed, 16, Duration::from_secs(8), 25_000..300_000),
        }
    }
}

/// Run a fault-free setup and return the report, what the checker saw and the figures.
fn run_clean(
    name: &str,
    spec: &RunSpec,
    setup: &Setup,
    run_for: Duration,
) -> Result<(Report, ResponseFigures, Vec<checker::ClientRun>), String> {
    let n = 1 + setup.miners.len() + setup.clients.len();
    let profile = FaultProfile::new((0..n as u32).collect(), run_for, Duration::from_secs(1));
    let built = build(spec.seed, setup);
    let (clients, miners) = (built.clients.clone(), built.miners.clone());
    let (mut report, _) = drive(name, spec, &profile, built.world, |world| {
        clients_finished(world, &clients, &miners, true)
    })?;
    let total_rate = setup.miners.iter().map(|m| m.0).sum();
    let observed = built.observed.borrow();
    let figures = response_figures(&observed, total_rate);
    add_observed(&mut report, &observed);
    add_figures(&mut report, &figures);
    Ok((report, figures, observed.runs.clone()))
}

impl Scenario for Response {
    fn name(&self) -> &'static str {
        "miner-response"
    }

    fn about(&self) -> &'static str {
        "miner: no faults, 4 miners (50k..400k nonces/s), 16 requests; mean response time vs the arrival-order bound"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        run_clean(
            self.name(),
            spec,
            &Self::setup(spec.seed),
            Duration::from_secs(20),
        )
        .map(|r| r.0)
    }
}

/// `miner-small-after-huge`.
pub struct SmallAfterHuge;

impl SmallAfterHuge {
    pub const HUGE: u64 = 1_000_000 - 1;
    pub const SMALL: u64 = 30_000 - 1;
    const RATES: [u64; 3] = [100_000, 200_000, 300_000];

    fn setup(seed: u64) -> Setup {
        Setup {
            miners: Self::RATES.iter().map(|&r| (r, Time::ZERO)).collect(),
            clients: vec![
                (format!("huge {seed}"), Self::HUGE, Time::from_millis(100)),
                (
                    format!("small {seed}"),
                    Self::SMALL,
                    Time::from_millis(1000),
                ),
            ],
        }
    }
}

impl Scenario for SmallAfterHuge {
    fn name(&self) -> &'static str {
        "miner-small-after-huge"
    }

    fn about(&self) -> &'static str {
        "miner: no faults; a 30k-nonce request arriving 0.9 s after a 1M-nonce one finishes first"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let (mut report, _, runs) = run_clean(
            self.name(),
            spec,
            &Self::setup(spec.seed),
            Duration::from_secs(10),
        )?;
        let done = |upper: u64| {
            runs.iter()
                .find(|r| r.upper == upper)
                .and_then(|r| r.answered.map(|t| (t, r.asked)))
        };
        let (Some((huge_done, _)), Some((small_done, small_asked))) =
            (done(Self::HUGE), done(Self::SMALL))
        else {
            return Err("small-after-huge: a request was not answered".into());
        };
        put(
            &mut report,
            "small_response_ms",
            (small_done.as_nanos() - small_asked.as_nanos()) as f64 / 1e6,
        );
        put(
            &mut report,
            "small_done_ms",
            small_done.as_nanos() as f64 / 1e6,
        );
        put(
            &mut report,
            "huge_done_ms",
            huge_done.as_nanos() as f64 / 1e6,
        );
        if small_done >= huge_done && report.violation.is_none() {
            report.ok = false;
            report.violation = Some(faultline::Violation {
                invariant: "small-after-huge-finishes-first".into(),
                kind: faultline::FindingKind::Liveness,
                detail: format!("small done at {small_done}, huge at {huge_done}"),
                time_ns: small_done.as_nanos(),
                seed: spec.seed,
                replay: faultline::harness::replay_command(self.name(), spec),
            });
        }
        Ok(report)
    }
}

/// This system's scenarios for the catalog.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(Churn {
            network_faults: false,
        }),
        Box::new(Churn {
            network_faults: true,
        }),
        Box::new(Response),
        Box::new(SmallAfterHuge),
    ]
}

#[cfg(test)]
mod tests;
