//! The side-by-side benchmark: the same workloads on faultline's world and on madsim, one
//! side per process (so each side's peak memory is its own), driven by `sim/madsim/bench`.
//!
//! - `raft`: the 5-server, 10-client Raft key-value scenario (`raft-kv-calm`: 1,000
//!   operations, 20 simulated seconds), with the same checker on every history event, log
//!   checks every 250 ms and the linearizability check at the end, on both sides.
//! - `sim`: faultline's `bench sim` workload (every node ticks each 1 ms and sends a
//!   16-byte datagram to a random peer, which answers once), as the very same [`Chatter`]
//!   node through the adapter (`madsim`), and written the way a madsim user would write it,
//!   directly on madsim's tasks, endpoint and sleep (`madsim-native`).
//!
//! Each run reports wall seconds per simulated second, events (handler calls), peak
//! memory, and where the time went: inside the nodes' handlers, inside the checks (the
//! same code on both sides), and the rest, the simulator's own.

use crate::faults::latency_range;
use crate::ticks;
use faultline::{Addr, Checker, Ctx, Failure, LinkFaults, Node, StreamEvent, Time, TimerId, World};
use scenarios::exercise::bench::{peak_rss_kib, Chatter};
use scenarios::raft::invariants::{check_linearizable, check_server_logs, LogChecks, RaftChecker};
use scenarios::raft::nodes::{RaftNode, WorkloadClient};
use scenarios::raft::scenarios::tester::LOG_CHECK_EVERY;
use scenarios::raft::world::{clean_link, server_addrs};
use serde_json::{json, Value};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Instant;

/// A node whose handler time is counted.
struct Timed<N> {
    node: N,
    ticks: Rc<Cell<u64>>,
}

impl<N: Node> Timed<N> {
    fn time<R>(&mut self, f: impl FnOnce(&mut N) -> R) -> R {
        let t0 = ticks::now();
        let r = f(&mut self.node);
        self.ticks.set(self.ticks.get() + (ticks::now() - t0));
        r
    }
}

impl<N: Node> Node for Timed<N> {
    type Event = N::Event;
    type Timer = N::Timer;
    fn on_start(&mut self, ctx: &mut Ctx<'_, N::Event>) {
        self.time(|n| n.on_start(ctx))
    }
    fn on_datagram(&mut self, ctx: &mut Ctx<'_, N::Event>, from: Addr, data: &[u8]) {
        self.time(|n| n.on_datagram(ctx, from, data))
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, N::Event>, timer: TimerId, tag: N::Timer) {
        self.time(|n| n.on_timer(ctx, timer, tag))
    }
    fn on_stream(&mut self, ctx: &mut Ctx<'_, N::Event>, event: StreamEvent) {
        self.time(|n| n.on_stream(ctx, event))
    }
}

/// A checker whose time is counted.
struct TimedChecker<C> {
    inner: C,
    ticks: Rc<Cell<u64>>,
}

impl<E, C: Checker<E>> Checker<E> for TimedChecker<C> {
    fn on_event(&mut self, now: Time, node: Addr, event: &E) -> Result<(), Failure> {
        let t0 = ticks::now();
        let r = self.inner.on_event(now, node, event);
        self.ticks.set(self.ticks.get() + (ticks::now() - t0));
        r
    }
}

/// The Raft scenario's shape (the catalog's `raft-kv-calm`).
fn calm() -> scenarios::raft::scenarios::kv::KvScenario {
    crate::raft::scenario("raft-kv-calm").expect("the catalog has raft-kv-calm")
}

/// What one side's run cost.
struct Cost {
    sim_seconds: f64,
    events: u64,
    wall: f64,
    /// Ticks of the whole run, inside the handlers, inside the checks.
    total_ticks: u64,
    handler_ticks: u64,
    check_ticks: u64,
}

/// The figures of one side's run.
fn figures(side: &str, workload: &str, cost: Cost, extra: Value) -> Value {
    let Cost {
        sim_seconds,
        events,
        wall,
        total_ticks,
        handler_ticks,
        check_ticks,
    } = cost;
    let share = |t: u64| {
        if total_ticks == 0 {
            0.0
        } else {
            t as f64 / total_ticks as f64
        }
    };
    let handlers = wall * share(handler_ticks);
    let checks = wall * share(check_ticks);
    let simulator = (wall - handlers - checks).max(0.0);
    json!({
        "side": side,
        "workload": workload,
        "sim_seconds": sim_seconds,
        "events": events,
        "wall_seconds": wall,
        "wall_per_sim_second": wall / sim_seconds,
        "handler_seconds": handlers,
        "check_seconds": checks,
        "simulator_seconds": simulator,
        "peak_rss_kib": peak_rss_kib(),
        "extra": extra,
    })
}

/// The times of `run` repeated `repeats` times: each time figure is its least over the
/// repeats. The Raft run's simulator part is a few milliseconds on faultline, as long as one
/// time slice of another process on a shared machine; preemption only ever adds time, so the
/// least of several runs is the cost without it (for both sides alike).
pub fn fastest(repeats: u32, mut run: impl FnMut() -> Value) -> Value {
    let mut best = run();
    for _ in 1..repeats.max(1) {
        let next = run();
        for field in [
            "wall_seconds",
            "wall_per_sim_second",
            "handler_seconds",
            "check_seconds",
            "simulator_seconds",
        ] {
            if let (Some(a), Some(b)) = (best[field].as_f64(), next[field].as_f64()) {
                best[field] = json!(a.min(b));
            }
        }
    }
    best["repeats"] = json!(repeats.max(1));
    best
}

/// The servers of a faultline Raft world that are up, with their Raft state.
fn up_of(w: &World<Timed<RaftNode>>, n: u32) -> Vec<(Addr, &raft::Raft)> {
    (0..n)
        .filter_map(|i| {
            w.node(Addr(i))
                .and_then(|t| t.node.server())
                .map(|s| (Addr(i), s.raft()))
        })
        .collect()
}

/// The Raft scenario on faultline's world.
pub fn raft_faultline(seed: u64) -> Value {
    let s = calm();
    let handler = Rc::new(Cell::new(0));
    let checks = Rc::new(Cell::new(0));
    let mut world: World<Timed<RaftNode>> = World::new(seed);
    world.set_base_link(clean_link());
    let peers = server_addrs(s.servers);
    for i in 0..s.servers {
        let (peers, ticks) = (peers.clone(), handler.clone());
        world.add_node(move |_| Timed {
            node: raft::KvServer::new(raft::Config::default(), i, peers.clone()).into(),
            ticks: ticks.clone(),
        });
    }
    let w = s.workload();
    for _ in 0..s.clients {
        let (peers, w, ticks) = (peers.clone(), w.clone(), handler.clone());
        world.add_node(move |a| Timed {
            node: WorkloadClient::new(a.0 as u64, peers.clone(), w.clone()).into(),
            ticks: ticks.clone(),
        });
    }
    world.set_checker(TimedChecker {
        inner: RaftChecker::default(),
        ticks: checks.clone(),
    });
    let end = Time(faultline::time::duration_nanos(
        s.fault_phase + s.heal_phase,
    ));
    let n = s.servers;
    let mut log_checks = LogChecks::default();
    let logs = |w: &World<Timed<RaftNode>>| {
        let t0 = ticks::now();
        let seen = &w
            .checker::<TimedChecker<RaftChecker>>()
            .expect("ours")
            .inner;
        let up = up_of(w, n);
        let r = log_checks.check(seen, &up);
        checks.set(checks.get() + (ticks::now() - t0));
        r
    };
    let start = Instant::now();
    let t0 = ticks::now();
    faultline::harness::run_checked(&mut world, end, LOG_CHECK_EVERY, logs)
        .expect("calm run passes");
    let c0 = ticks::now();
    let seen = &world
        .checker::<TimedChecker<RaftChecker>>()
        .expect("ours")
        .inner;
    check_server_logs(seen, &up_of(&world, n)).expect("logs match");
    check_linearizable(seen).expect("linearizable");
    let ops = seen.ops.len();
    checks.set(checks.get() + (ticks::now() - c0));
    let total = ticks::now() - t0;
    let wall = start.elapsed().as_secs_f64();
    figures(
        "faultline",
        "raft",
        Cost {
            sim_seconds: end.as_nanos() as f64 / 1e9,
            events: world.events(),
            wall,
            total_ticks: total,
            handler_ticks: handler.get(),
            check_ticks: checks.get(),
        },
        json!({ "ops": ops }),
    )
}

/// The Raft scenario on madsim.
pub fn raft_madsim(seed: u64) -> Value {
    let s = calm();
    let schedule = s.schedule(seed);
    let start = Instant::now();
    let t0 = ticks::now();
    let run = crate::run_on_madsim(seed, latency_range(&clean_link()), || async {
        crate::raft::drive(&s, &schedule).await
    });
    let total = ticks::now() - t0;
    let wall = start.elapsed().as_secs_f64();
    assert!(
        run.halt.is_none(),
        "calm run passes on madsim: {:?}",
        run.halt
    );
    figures(
        "madsim",
        "raft",
        Cost {
            sim_seconds: schedule.end_ns as f64 / 1e9,
            events: run.outcome.events,
            wall,
            total_ticks: total,
            handler_ticks: run.outcome.handler_ticks,
            check_ticks: run.outcome.check_ticks + run.supervisor_check_ticks,
        },
        json!({ "ops": run.ops }),
    )
}

/// The `bench sim` network: 0.1-0.5 ms, nothing lost.
fn chatter_link() -> LinkFaults {
    LinkFaults::clean(100_000, 500_000)
}

/// `bench sim` on faultline's world.
pub fn sim_faultline(nodes: u32, seconds: u64, seed: u64) -> Value {
    let r = scenarios::exercise::bench::run_sim_bench(nodes, seconds, seed);
    figures(
        "faultline",
        "sim",
        Cost {
            sim_seconds: seconds as f64,
            events: r.events,
            wall: r.wall_seconds,
            total_ticks: 0,
            handler_ticks: 0,
            check_ticks: 0,
        },
        json!({ "nodes": nodes }),
    )
}

/// `bench sim` on madsim, the same [`Chatter`] node through the adapter.
pub fn sim_madsim(nodes: u32, seconds: u64, seed: u64) -> Value {
    let start = Instant::now();
    let t0 = ticks::now();
    let outcome = crate::run_on_madsim(seed, latency_range(&chatter_link()), || async move {
        let sim = crate::Sim::<Chatter>::new();
        for _ in 0..nodes {
            sim.add_node(move |_| Chatter { nodes, received: 0 });
        }
        sim.run_until(Time::from_secs(seconds))
            .await
            .expect("no checker");
        sim.outcome()
    });
    let total = ticks::now() - t0;
    let wall = start.elapsed().as_secs_f64();
    figures(
        "madsim",
        "sim",
        Cost {
            sim_seconds: seconds as f64,
            events: outcome.events,
            wall,
            total_ticks: total,
            handler_ticks: outcome.handler_ticks,
            check_ticks: 0,
        },
        json!({ "nodes": nodes }),
    )
}

/// `bench sim` written directly on madsim: one task per node that ticks every 1 ms and
/// sends to a random peer, one that answers what arrives; madsim's own RNG.
pub fn sim_madsim_native(nodes: u32, seconds: u64, seed: u64) -> Value {
    use madsim::net::Endpoint;
    use madsim::rand::Rng;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let events = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let counted = events.clone();
    crate::run_on_madsim(seed, latency_range(&chatter_link()), || async move {
        let handle = madsim::runtime::Handle::current();
        for i in 0..nodes {
            let events = counted.clone();
            let ip = crate::runtime::ip_of(i);
            handle
                .create_node()
                .ip(ip)
                .init(move || {
                    let events = events.clone();
                    async move {
                        let ep = Endpoint::bind((ip, 1)).await.expect("free port");
                        // madsim's endpoint spends a random 0-5 us, rounded up to 1 ms,
                        // in every send and receive: a few receivers wait at once, and
                        // sends are tasks of their own, or a node could not keep up with
                        // its 2,000 datagrams a second.
                        for _ in 0..4 {
                            let rx = ep.clone();
                            let answered = events.clone();
                            madsim::task::spawn_local(async move {
                                let mut buf = [0u8; 64];
                                while let Ok((_, from)) = rx.recv_from(0, &mut buf).await {
                                    answered.fetch_add(1, Ordering::Relaxed);
                                    if buf[0] == 1 {
                                        let tx = rx.clone();
                                        madsim::task::spawn_local(async move {
                                            let _ = tx.send_to(from, 0, &[2u8; 16]).await;
                                        });
                                    }
                                }
                            });
                        }
                        let first = madsim::rand::thread_rng().gen_range(1..1000);
                        let mut next =
                            madsim::time::Instant::now() + std::time::Duration::from_micros(first);
                        loop {
                            let mut sleep = madsim::time::sleep_until(next);
                            // `sleep_until` rounds up to 1 ms from now; tick on time.
                            std::pin::Pin::new(&mut sleep).reset(next);
                            sleep.await;
                            next += std::time::Duration::from_millis(1);
                            events.fetch_add(1, Ordering::Relaxed);
                            let to = madsim::rand::thread_rng().gen_range(0..nodes);
                            let dst = (crate::runtime::ip_of(to), 1);
                            let tx = ep.clone();
                            madsim::task::spawn_local(async move {
                                let _ = tx.send_to(dst, 0, &[1u8; 16]).await;
                            });
                        }
                    }
                })
                .build();
        }
        madsim::time::sleep(std::time::Duration::from_secs(seconds)).await;
    });
    let wall = start.elapsed().as_secs_f64();
    figures(
        "madsim-native",
        "sim",
        Cost {
            sim_seconds: seconds as f64,
            events: events.load(Ordering::Relaxed),
            wall,
            total_ticks: 0,
            handler_ticks: 0,
            check_ticks: 0,
        },
        json!({ "nodes": nodes }),
    )
}

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

/// Read the runs' JSON lines (as `sim/madsim/bench` writes them, each with a `round`),
/// print the medians side by side, and end with one JSON line of the ratios. Ratios are
/// taken within each round (the two sides ran back to back) and their median reported.
pub fn summarize(lines: impl Iterator<Item = String>) -> i32 {
    let runs: Vec<Value> = lines
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .collect();
    let pick = |workload: &str, side: &str| -> BTreeMap<u64, Value> {
        runs.iter()
            .filter(|r| r["workload"] == workload && r["side"] == side)
            .filter_map(|r| Some((r["round"].as_u64()?, r.clone())))
            .collect()
    };
    let ratio = |a: &BTreeMap<u64, Value>, b: &BTreeMap<u64, Value>, field: &str| -> f64 {
        median(
            a.iter()
                .filter_map(|(round, x)| {
                    let y = b.get(round)?;
                    Some(y[field].as_f64()? / x[field].as_f64()?)
                })
                .collect(),
        )
    };
    let med = |a: &BTreeMap<u64, Value>, field: &str| -> f64 {
        median(a.values().filter_map(|x| x[field].as_f64()).collect())
    };
    let mut out = serde_json::Map::new();
    for (workload, sides) in [
        ("raft", &["faultline", "madsim"][..]),
        ("sim", &["faultline", "madsim", "madsim-native"][..]),
    ] {
        println!("{workload}:");
        for side in sides {
            let r = pick(workload, side);
            println!(
                "  {side:<14} {:>3} rounds  wall/sim-s {:>9.5}  events {:>9.0}  peak {:>7.0} KiB  handlers {:>8.4} s  checks {:>8.4} s  simulator {:>8.4} s",
                r.len(),
                med(&r, "wall_per_sim_second"),
                med(&r, "events"),
                med(&r, "peak_rss_kib"),
                med(&r, "handler_seconds"),
                med(&r, "check_seconds"),
                med(&r, "simulator_seconds"),
            );
        }
    }
    let (rf, rm) = (pick("raft", "faultline"), pick("raft", "madsim"));
    let (sf, sm, sn) = (
        pick("sim", "faultline"),
        pick("sim", "madsim"),
        pick("sim", "madsim-native"),
    );
    let mut put = |k: &str, v: f64| {
        out.insert(k.into(), json!((v * 100.0).round() / 100.0));
    };
    put("ratio_raft_kv", ratio(&rf, &rm, "wall_seconds"));
    put("ratio_bench_sim", ratio(&sf, &sn, "wall_per_sim_second"));
    put(
        "ratio_bench_sim_adapter",
        ratio(&sf, &sm, "wall_per_sim_second"),
    );
    put(
        "raft_simulator_share_ratio",
        ratio(&rf, &rm, "simulator_seconds"),
    );
    put("raft_memory_ratio", ratio(&rf, &rm, "peak_rss_kib"));
    put("sim_memory_ratio", ratio(&sf, &sn, "peak_rss_kib"));
    put("sim_memory_ratio_adapter", ratio(&sf, &sm, "peak_rss_kib"));
    println!("{}", Value::Object(out));
    0
}
