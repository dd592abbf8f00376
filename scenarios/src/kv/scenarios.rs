//! The kv scenarios (systems/kv/SPEC.md §10, §11).
//!
//! - The official tests' intents, with their parameters and no faults: `kv-basic1`..`6`,
//!   `kv-count1`..`2`, `kv-slowclient1`..`2`. The checker's invariants hold throughout;
//!   the end checks compare the store with the model and with the clients' own models.
//! - Beyond them: `kv-swarm` (many clients, slow readers, churn, malformed lines, under
//!   stream-level faults drawn from the seed) and `kv-slow-readers` (fast clients next to
//!   readers that stall or never read; their latency must not move).

use super::invariants::end::{
    fast_clients_not_held_up, messages_were_dropped, never_readers_read_nothing,
    slow_readers_got_their_queues,
};
use super::invariants::EndChecks;
use super::nodes::{ClientConfig, Reading};
use super::world::{latencies, KvWorld};
use faultline::harness::{Report, RunSpec, Scenario};
use faultline::swarm::{FaultKinds, FaultProfile};
use faultline::{Fault, LinkFaults, Schedule, Time, TimedFault};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::json;
use std::time::Duration;

/// A profile with every fault off: the run lasts `timeout`.
fn quiet(w: &KvWorld, timeout: Duration) -> FaultProfile {
    FaultProfile::new(w.node_ids(), Duration::ZERO, timeout)
}

/// One of the official tests (SPEC.md §10) as a scenario: its name, what it checks, how
/// long it runs (the test's timeout), and which test it is with its parameters. One table
/// row each in the catalog (`super::scenarios`).
pub struct Course {
    pub name: &'static str,
    pub about: &'static str,
    /// How long the run lasts: the test's timeout.
    pub timeout: Duration,
    pub test: CourseTest,
}

/// The official tests' kinds and parameters.
pub enum CourseTest {
    /// Basic1-6: `clients` normal clients run `runTest(events, deletes)` (SPEC.md §9).
    Basic {
        clients: u32,
        events: u32,
        deletes: u32,
    },
    /// Count1-2: (clients started, clients killed, then milliseconds to wait) per round.
    Count { rounds: &'static [(u32, u32, u64)] },
    /// SlowClient1-2: `slow` slow readers, which start reading at `slow_start`, and
    /// `normal` normal clients.
    Slow {
        slow: u32,
        normal: u32,
        slow_start: Duration,
    },
}

impl Scenario for Course {
    fn name(&self) -> &'static str {
        self.name
    }

    fn about(&self) -> &'static str {
        self.about
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        match self.test {
            CourseTest::Basic {
                clients,
                events,
                deletes,
            } => self.basic(spec, clients, events, deletes),
            CourseTest::Count { rounds } => self.count(spec, rounds),
            CourseTest::Slow {
                slow,
                normal,
                slow_start,
            } => self.slow(spec, slow, normal, slow_start),
        }
    }
}

impl Course {
    /// Basic1-6 (SPEC.md §10): `clients` normal clients run `runTest(events, deletes)`.
    fn basic(
        &self,
        spec: &RunSpec,
        clients: u32,
        events: u32,
        deletes: u32,
    ) -> Result<Report, String> {
        let mut w = KvWorld::new(spec);
        for cid in 0..clients {
            let server = w.server;
            w.add_client(
                Time::ZERO,
                ClientConfig::workload(server, cid, events, deletes),
            );
        }
        // SPEC.md §10: 500 ms after the start, every client counts as active.
        let n = clients as u64;
        w.probe_counts(Time::from_millis(500), "after 500 ms".into(), (n, 0));
        let profile = quiet(&w, self.timeout);
        let checks = EndChecks {
            clients_cover_store: true,
            normal_readers_complete: true,
            settled: true,
            latency_bound_ns: None,
        };
        w.run(self.name, spec, &profile, checks, |_, _| Ok(()))
    }

    /// Count1-2 (SPEC.md §10): rounds of (clients started, clients killed, wait); after
    /// each round the counts must equal the live clients and the total killed. Killed
    /// clients alternate between closing their connection and crashing (a reset the server
    /// sees as an error, SPEC.md §7).
    fn count(&self, spec: &RunSpec, rounds: &[(u32, u32, u64)]) -> Result<Report, String> {
        let mut w = KvWorld::new(spec);
        let mut rng = faultline::derive_rng(spec.seed, "kv/count/victims");
        let mut live = Vec::new();
        let mut killed = 0u64;
        let mut at = Time::ZERO;
        for (round, &(start, kill, wait_ms)) in rounds.iter().enumerate() {
            for _ in 0..start {
                let cid = w.clients.len() as u32;
                live.push(w.add_client(at, ClientConfig::idle(w.server, cid)));
            }
            // Kill a little after the round starts, so new clients have connected.
            let kill_at = at + Duration::from_millis(100);
            live.shuffle(&mut rng);
            for (i, victim) in live
                .split_off(live.len() - kill.min(live.len() as u32) as usize)
                .into_iter()
                .enumerate()
            {
                if i % 2 == 0 {
                    w.world
                        .call_at(kill_at, victim, |node, ctx| node.disconnect(ctx));
                } else {
                    w.world.fault_at(kill_at, Fault::Crash { node: victim.0 });
                }
                killed += 1;
            }
            at = at + Duration::from_millis(wait_ms);
            let label = format!("after round {} ({start} started, {kill} killed)", round + 1);
            w.probe_counts(at, label, (live.len() as u64, killed));
        }
        let profile = quiet(&w, self.timeout);
        let checks = EndChecks {
            settled: true,
            ..EndChecks::default()
        };
        w.run(self.name, spec, &profile, checks, |_, _| Ok(()))
    }

    /// SlowClient1-2 (SPEC.md §10): normal clients and slow readers, all running
    /// `runTest(2000, 100)` with 4096-letter values (SPEC.md §9); slow readers start
    /// reading at `slow_start`.
    fn slow(
        &self,
        spec: &RunSpec,
        slow_readers: u32,
        normal: u32,
        slow_start: Duration,
    ) -> Result<Report, String> {
        let mut w = KvWorld::new(spec);
        let server = w.server;
        let workload = |cid| ClientConfig {
            inflate: 4096,
            ..ClientConfig::workload(server, cid, 2000, 100)
        };
        for cid in 0..normal {
            w.add_client(Time::ZERO, workload(cid));
        }
        let mut slow = Vec::new();
        for cid in 0..slow_readers {
            let cfg = ClientConfig {
                slow_keys: true,
                reading: Reading::PausedUntil(slow_start),
                ..workload(cid)
            };
            slow.push(w.add_client(Time::ZERO, cfg));
        }
        let profile = quiet(&w, self.timeout);
        let checks = EndChecks {
            clients_cover_store: true,
            normal_readers_complete: true,
            settled: false,
            latency_bound_ns: Some(FAST_GET_BOUND.as_nanos() as u64),
        };
        w.run(self.name, spec, &profile, checks, move |world, _| {
            slow_readers_got_their_queues(world, &slow)?;
            messages_were_dropped(world)
        })
    }
}

/// Fast clients' Get latency bound while slow readers exist. A fast client held up by a
/// slow reader would wait until the slow one reads (5 s or more); the measured worst case
/// with 4 KiB values and the default 64 KiB window is far below this.
pub const FAST_GET_BOUND: Duration = Duration::from_millis(500);

const SWARM_FAULT_PHASE: Duration = Duration::from_secs(4);
const SWARM_HEAL_PHASE: Duration = Duration::from_secs(6);

/// `kv-swarm`.
pub struct Swarm;

/// One client of `kv-swarm`: when it joins, what it does, and when (if ever) it leaves.
pub struct SwarmClient {
    pub join: Time,
    pub cfg: ClientConfig,
    pub leave: Option<Time>,
}

impl Swarm {
    /// The faults over `nodes` (the server is node 0).
    pub fn profile(nodes: Vec<u32>) -> FaultProfile {
        let mut p = FaultProfile::new(nodes.clone(), SWARM_FAULT_PHASE, SWARM_HEAL_PHASE);
        p.kinds = FaultKinds::stream();
        // The store lives in the server's memory (SPEC.md §1: nothing persists): clients
        // crash and have their streams reset; the server is only paused and cut off.
        p.crashable = nodes[1..].to_vec();
        p
    }

    /// The clients, in address order (node 1 on): 6 workers, 2 intermittent slow readers,
    /// and 6 that join during the fault phase, half of them leaving again.
    pub fn clients(seed: u64, server: faultline::Addr) -> Vec<SwarmClient> {
        let mut rng = faultline::derive_rng(seed, "kv/swarm/workload");
        let worker = |cid| ClientConfig {
            inflate: 256,
            burst: 50,
            reconnect_after: Some(Duration::from_millis(100)),
            garbage_every: 97,
            ..ClientConfig::workload(server, cid, 800, 40)
        };
        let now = |cfg| SwarmClient {
            join: Time::ZERO,
            cfg,
            leave: None,
        };
        let mut clients: Vec<SwarmClient> = (0..6).map(|cid| now(worker(cid))).collect();
        for cid in 6..8 {
            let reading = Reading::Intermittent {
                paused: Duration::from_millis(400),
                reading: Duration::from_millis(100),
                until: SWARM_FAULT_PHASE,
            };
            clients.push(now(ClientConfig {
                inflate: 1024,
                reading,
                ..worker(cid)
            }));
        }
        // Churn: clients join during the fault phase; half of them leave again.
        let phase_ms = SWARM_FAULT_PHASE.as_millis() as u64;
        for cid in 8..14 {
            let join = Time::from_millis(rng.gen_range(0..phase_ms));
            let cfg = ClientConfig {
                events: 60,
                deletes: 5,
                ..worker(cid)
            };
            let leave =
                (cid % 2 == 0).then(|| join + Duration::from_millis(rng.gen_range(50..1500)));
            clients.push(SwarmClient { join, cfg, leave });
        }
        clients
    }

    /// The generated schedule plus stream delay episodes: every link slows to 5-60 ms for
    /// a while (streams ride the links' latency), drawn from their own named stream.
    pub fn schedule(seed: u64, profile: &FaultProfile) -> Schedule {
        let mut schedule = faultline::swarm::generate(seed, profile);
        let mut rng = faultline::derive_rng(seed, "kv/swarm/delays");
        if rng.gen_bool(0.5) {
            let phase = schedule.heal_at_ns;
            let episodes = rng.gen_range(1..=3);
            for _ in 0..episodes {
                let start = rng.gen_range(0..phase);
                let end = (start + rng.gen_range(phase / 20..=phase / 4)).min(phase);
                let max = rng.gen_range(5_000_000..=60_000_000);
                let slow = LinkFaults::clean(max / 5, max);
                schedule.faults.push(TimedFault {
                    at_ns: start,
                    fault: Fault::Link {
                        from: None,
                        to: None,
                        faults: slow.clone(),
                    },
                });
                // Its own undo: an overlapping episode stays in force.
                schedule.faults.push(TimedFault {
                    at_ns: end,
                    fault: Fault::LinkRestore {
                        from: None,
                        to: None,
                        faults: Some(slow),
                    },
                });
            }
            schedule.faults.sort_by_key(|f| f.at_ns);
            schedule.swarm.push(format!("stream delays x{episodes}"));
        }
        schedule
    }
}

impl Scenario for Swarm {
    fn name(&self) -> &'static str {
        "kv-swarm"
    }

    fn sometimes(&self) -> Vec<faultline::harness::Sometimes> {
        vec![faultline::harness::Sometimes {
            name: "full-queue-drop",
            about: "a slow reader's full queue dropped a reply",
        }]
    }

    fn about(&self) -> &'static str {
        "P0 under stream faults (resets, crashes, pauses, partitions, delays): 6 workers, 2 intermittent slow readers, 6 churning clients, malformed lines; store = model, counts exact, queues <= 500, all non-dropped replies delivered after heal"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let mut w = KvWorld::new(spec);
        for c in Swarm::clients(spec.seed, w.server) {
            let addr = w.add_client(c.join, c.cfg);
            if let Some(leave) = c.leave {
                w.world
                    .call_at(leave, addr, |node, ctx| node.disconnect(ctx));
            }
        }
        let profile = Swarm::profile(w.node_ids());
        let mut spec = spec.clone();
        if spec.schedule.is_none() {
            spec.schedule = Some(Swarm::schedule(spec.seed, &profile));
        }
        let checks = EndChecks {
            settled: true,
            ..EndChecks::default()
        };
        w.run(self.name(), &spec, &profile, checks, |_, _| Ok(()))
    }
}

/// `kv-slow-readers`: 10 fast clients and 10 slow readers (5 never read, 5 stall for 1 s
/// at a time). The same fast clients also run alone, in a second world with the same seed:
/// their Get latencies with the slow readers present must match the baseline's up to the
/// noise of the network's latency draws
/// ([`held_up`](super::invariants::end::held_up)); a fast client held up by a stalled
/// reader would wait a second or more.
pub struct SlowReaders;

const FAST: u32 = 10;
const SLOW: u32 = 10;
const SLOW_READERS_RUN: Duration = Duration::from_secs(8);

fn fast_clients(w: &mut KvWorld) {
    let server = w.server;
    for cid in 0..FAST {
        w.add_client(
            Time::ZERO,
            ClientConfig {
                inflate: 1024,
                ..ClientConfig::workload(server, cid, 600, 30)
            },
        );
    }
}

impl Scenario for SlowReaders {
    fn name(&self) -> &'static str {
        "kv-slow-readers"
    }

    fn about(&self) -> &'static str {
        "P0: 10 fast clients beside 5 readers that never read and 5 that stall; fast Get latency (p50, p99, max) within noise of a run without them, queues <= 500, drops only when full"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        // The baseline: the fast clients alone.
        let mut alone = KvWorld::new(spec);
        fast_clients(&mut alone);
        let profile = FaultProfile::new(alone.node_ids(), Duration::ZERO, SLOW_READERS_RUN);
        let mut baseline_world = alone.world;
        baseline_world
            .run_until(Time(faultline::time::duration_nanos(SLOW_READERS_RUN)))
            .map_err(|h| {
                format!(
                    "the baseline run (fast clients alone) failed: {} at {}",
                    h.failure, h.at
                )
            })?;
        let baseline = latencies(&baseline_world, &alone.clients);

        let mut w = KvWorld::new(spec);
        fast_clients(&mut w);
        let server = w.server;
        for cid in 0..SLOW {
            let reading = if cid < SLOW / 2 {
                Reading::Never
            } else {
                Reading::Intermittent {
                    paused: Duration::from_secs(1),
                    reading: Duration::from_millis(200),
                    until: Duration::from_secs(4),
                }
            };
            let cfg = ClientConfig {
                inflate: 4096,
                slow_keys: true,
                reading,
                ..ClientConfig::workload(server, cid, 600, 30)
            };
            w.add_client(Time::ZERO, cfg);
        }
        let profile = FaultProfile {
            nodes: w.node_ids(),
            ..profile
        };
        let checks = EndChecks {
            clients_cover_store: true,
            normal_readers_complete: true,
            settled: false,
            latency_bound_ns: Some(FAST_GET_BOUND.as_nanos() as u64),
        };
        let baseline_for_check = baseline.clone();
        let mut report = w.run(
            self.name(),
            spec,
            &profile,
            checks,
            move |world, clients| {
                fast_clients_not_held_up(&baseline_for_check, &latencies(world, clients))?;
                never_readers_read_nothing(world, clients)?;
                messages_were_dropped(world)
            },
        )?;
        report.metrics.insert(
            "baseline_fast_get_max_us".into(),
            json!(baseline.last().copied().unwrap_or(0) / 1000),
        );
        Ok(report)
    }
}
