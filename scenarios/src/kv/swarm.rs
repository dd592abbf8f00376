//! Beyond the official tests: `kv-swarm` (many clients, slow readers, churn, malformed
//! lines, under stream-level faults drawn from the seed) and `kv-slow-readers` (fast
//! clients next to readers that stall or never read; their latency must not move).

use super::rig::{latencies, EndChecks, Rig};
use faultline::harness::{Report, RunSpec, Scenario};
use faultline::swarm::{FaultKinds, FaultProfile};
use faultline::{Fault, LinkFaults, Schedule, Time, TimedFault};
use kv::{ClientConfig, KvNode, Reading};
use rand::Rng;
use serde_json::json;
use std::time::Duration;

const SWARM_FAULT_PHASE: Duration = Duration::from_secs(4);
const SWARM_HEAL_PHASE: Duration = Duration::from_secs(6);

/// `kv-swarm`.
pub struct Swarm;

impl Swarm {
    fn profile(rig: &Rig) -> FaultProfile {
        let nodes = rig.node_ids();
        let mut p = FaultProfile::new(nodes.clone(), SWARM_FAULT_PHASE, SWARM_HEAL_PHASE);
        p.kinds = FaultKinds::stream();
        // The store lives in the server's memory (spec P0 has no persistence): clients
        // crash and have their streams reset; the server is only paused and cut off.
        p.crashable = nodes[1..].to_vec();
        p
    }

    /// The generated schedule plus stream delay episodes: every link slows to 5-60 ms for
    /// a while (streams ride the links' latency), drawn from their own named stream.
    fn schedule(seed: u64, profile: &FaultProfile) -> Schedule {
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

    fn about(&self) -> &'static str {
        "P0 under stream faults (resets, crashes, pauses, partitions, delays): 6 workers, 2 intermittent slow readers, 6 churning clients, malformed lines; store = model, counts exact, queues <= 500, all non-dropped replies delivered after heal"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let mut rig = Rig::new(spec.seed);
        let server = rig.server;
        let mut rng = faultline::derive_rng(spec.seed, "kv/swarm/workload");
        let worker = |cid| ClientConfig {
            inflate: 256,
            burst: 50,
            reconnect_after: Some(Duration::from_millis(100)),
            garbage_every: 97,
            ..ClientConfig::workload(server, cid, 800, 40)
        };
        for cid in 0..6 {
            rig.add_client(Time::ZERO, worker(cid));
        }
        for cid in 6..8 {
            let reading = Reading::Intermittent {
                paused: Duration::from_millis(400),
                reading: Duration::from_millis(100),
                until: SWARM_FAULT_PHASE,
            };
            rig.add_client(
                Time::ZERO,
                ClientConfig {
                    inflate: 1024,
                    reading,
                    ..worker(cid)
                },
            );
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
            let addr = rig.add_client(join, cfg);
            if cid % 2 == 0 {
                let leave = join + Duration::from_millis(rng.gen_range(50..1500));
                rig.world.call_at(leave, addr, |node, ctx| {
                    if let Some(c) = node.as_client_mut() {
                        c.disconnect(ctx);
                    }
                });
            }
        }
        let profile = Swarm::profile(&rig);
        let mut spec = spec.clone();
        if spec.schedule.is_none() {
            spec.schedule = Some(Swarm::schedule(spec.seed, &profile));
        }
        let checks = EndChecks {
            settled: true,
            ..EndChecks::default()
        };
        rig.run(self.name(), &spec, &profile, checks, |_, _| Ok(()))
    }
}

/// `kv-slow-readers`: 10 fast clients and 10 slow readers (5 never read, 5 stall for 1 s
/// at a time). The same fast clients also run alone, in a second world with the same seed:
/// their Get latencies with the slow readers present must match the baseline's up to the
/// noise of the network's latency draws ([`held_up`]); a fast client held up by a stalled
/// reader would wait a second or more.
pub struct SlowReaders;

const FAST: u32 = 10;
const SLOW: u32 = 10;
const SLOW_READERS_RUN: Duration = Duration::from_secs(8);

fn fast_clients(rig: &mut Rig) {
    let server = rig.server;
    for cid in 0..FAST {
        rig.add_client(
            Time::ZERO,
            ClientConfig {
                inflate: 1024,
                ..ClientConfig::workload(server, cid, 600, 30)
            },
        );
    }
}

/// Why the latencies `with` (slow readers present) look held up next to `alone`, if they
/// do: a percentile more than 1.5 times the baseline's plus 5 ms. The links' latency is
/// 1-2 ms, so this only allows for different draws, not for waiting on another client.
pub fn held_up(alone: &[u64], with: &[u64]) -> Option<String> {
    if alone.len() != with.len() {
        return Some(format!(
            "{} Gets timed alone, {} with slow readers",
            alone.len(),
            with.len()
        ));
    }
    for (name, p) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
        let (a, w) = (
            super::rig::percentile(alone, p),
            super::rig::percentile(with, p),
        );
        if w > a + a / 2 + 5_000_000 {
            return Some(format!(
                "{name} Get latency {} us with slow readers, {} us alone",
                w / 1000,
                a / 1000
            ));
        }
    }
    None
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
        let mut alone = Rig::new(spec.seed);
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

        let mut rig = Rig::new(spec.seed);
        fast_clients(&mut rig);
        let server = rig.server;
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
            rig.add_client(Time::ZERO, cfg);
        }
        let profile = FaultProfile {
            nodes: rig.node_ids(),
            ..profile
        };
        let checks = EndChecks {
            clients_cover_store: true,
            normal_readers_complete: true,
            settled: false,
            latency_bound_ns: Some(super::official::FAST_GET_BOUND.as_nanos() as u64),
        };
        let baseline_for_check = baseline.clone();
        let mut report = rig.run(self.name(), spec, &profile, checks, move |world, rig| {
            let with_slow = latencies(world, &rig.clients);
            if let Some(detail) = held_up(&baseline_for_check, &with_slow) {
                return Err(faultline::Failure::new("fast-clients-not-held-up", detail));
            }
            let never: Vec<_> = rig
                .clients
                .iter()
                .filter_map(|&a| world.node(a).and_then(KvNode::as_client))
                .filter(|c| c.config().reading == Reading::Never)
                .collect();
            if never.iter().any(|c| c.stats().replies_received > 0) {
                return Err(faultline::Failure::new(
                    "never-reader-reads-nothing",
                    "a client that never reads got a reply",
                ));
            }
            if rig.checker.borrow().stats.replies_dropped == 0 {
                return Err(faultline::Failure::new(
                    "slow-reader-messages-dropped",
                    "no message was dropped",
                ));
            }
            Ok(())
        })?;
        report.metrics.insert(
            "baseline_fast_get_max_us".into(),
            json!(baseline.last().copied().unwrap_or(0) / 1000),
        );
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::held_up;

    #[test]
    fn held_up_allows_draw_noise_and_flags_waiting() {
        let ms = |v: &[u64]| v.iter().map(|x| x * 1_000_000).collect::<Vec<_>>();
        let alone = ms(&[3, 4, 5, 6, 20]);
        assert_eq!(held_up(&alone, &ms(&[3, 4, 6, 7, 24])), None);
        // One Get waited a second behind a stalled reader.
        assert!(held_up(&alone, &ms(&[3, 4, 5, 6, 1020]))
            .unwrap()
            .starts_with("p99"));
        assert!(
            held_up(&alone, &ms(&[3, 4, 5, 6])).is_some(),
            "a Get never answered"
        );
    }
}
