//! The Raft key-value scenarios on madsim: the catalog's `raft-kv-calm`,
//! `raft-kv-crash-restart` and `raft-kv-partitions`, with their servers, clients, workload,
//! fault schedules (drawn from the seed exactly as faultline draws them) and invariants:
//! Figure 3's safety properties on every history event (the same [`RaftChecker`]), log
//! matching and committed prefixes every 250 ms, a leader within 5 s of the heal, every
//! operation complete, and a linearizable history.

use crate::drive::Timeline;
use crate::faults::{latency_range, Net};
use crate::runtime::{Sim, View};
use crate::{ticks, Outcome};
use faultline::{Addr, Failure, Halt, Schedule, Time};
use raft::{Config, KvServer};
use scenarios::raft::invariants::{
    check_linearizable, check_server_logs, LogChecks, RaftChecker, LEADER_AFTER_HEAL,
    OPS_COMPLETE_AFTER_HEAL,
};
use scenarios::raft::nodes::{RaftNode, WorkloadClient};
use scenarios::raft::scenarios::kv::{self, leader_of, KvScenario, LEADER_POLL, LEADER_WITHIN};
use scenarios::raft::scenarios::tester::LOG_CHECK_EVERY;
use scenarios::raft::world::{clean_link, server_addrs};
use std::cell::Cell;

/// The Raft scenarios that run on madsim: their faults are all in madsim's reach.
pub const SCENARIOS: &[&str] = &[
    "raft-kv-calm",
    "raft-kv-crash-restart",
    "raft-kv-partitions",
];

/// The catalog's scenario of that name.
pub fn scenario(name: &str) -> Option<KvScenario> {
    kv::scenarios().into_iter().find(|s| s.name == name)
}

/// What one run found.
#[derive(Debug)]
pub struct RaftRun {
    pub halt: Option<Halt>,
    pub ops: usize,
    pub outcome: Outcome,
    /// Ticks the supervisor spent in its checks of the servers' state and the history.
    pub supervisor_check_ticks: u64,
    /// A fold of the clients' history, to compare runs of one seed.
    pub digest: u64,
}

/// Build the scenario's cluster on the current madsim runtime: servers `0..n`, clients after.
pub fn build(
    s: &KvScenario,
    cfg: &Config,
    clients: &scenarios::raft::nodes::Workload,
) -> Sim<RaftNode> {
    let sim = Sim::<RaftNode>::new();
    let peers = server_addrs(s.servers);
    for i in 0..s.servers {
        let (cfg, peers) = (cfg.clone(), peers.clone());
        sim.add_node(move |_| KvServer::new(cfg.clone(), i, peers.clone()).into());
    }
    for _ in 0..s.clients {
        let (servers, w) = (peers.clone(), clients.clone());
        sim.add_node(move |a| WorkloadClient::new(a.0 as u64, servers.clone(), w.clone()).into());
    }
    sim.set_checker(RaftChecker::default());
    sim
}

/// The servers that are up, with their Raft state.
pub fn up_logs<'a>(v: &'a View<'_, RaftNode>, n: u32) -> Vec<(Addr, &'a raft::Raft)> {
    (0..n)
        .filter_map(|i| {
            v.node(Addr(i))
                .and_then(|x| x.server())
                .map(|s| (Addr(i), s.raft()))
        })
        .collect()
}

/// Log matching and committed prefixes over the servers that are up.
pub fn check_logs(v: &View<'_, RaftNode>, n: u32) -> Result<(), Failure> {
    check_server_logs(checker(v), &up_logs(v, n))
}

fn checker<'a>(v: &'a View<'_, RaftNode>) -> &'a RaftChecker {
    v.checker::<RaftChecker>()
        .expect("a Raft run holds a RaftChecker")
}

fn leader(v: &View<'_, RaftNode>, n: u32) -> Option<u32> {
    let up: Vec<(u32, &raft::Raft)> = (0..n)
        .filter_map(|i| {
            v.node(Addr(i))
                .and_then(|x| x.server())
                .map(|s| (i, s.raft()))
        })
        .collect();
    leader_of(&up)
}

/// Run scenario `s` under `schedule` on the current madsim runtime (whose network must be
/// the clean 1-2 ms one; see [`run`]).
pub async fn drive(s: &KvScenario, schedule: &Schedule) -> RaftRun {
    let sim = build(s, &Config::default(), &s.workload());
    let n = s.servers;
    let (heal, end) = (
        Time(schedule.heal_at_ns),
        Time(schedule.end_ns.max(schedule.heal_at_ns)),
    );
    let mut timeline = Timeline::new(schedule, Net::new(clean_link()));
    let check_ticks = Cell::new(0);
    let halt = phases(&sim, &mut timeline, n, heal, end, &check_ticks)
        .await
        .err();
    let halt = halt.or_else(|| {
        let t0 = ticks::now();
        let r = end_checks(&sim, n, heal, end);
        check_ticks.set(check_ticks.get() + ticks::now() - t0);
        r.err().map(|failure| Halt {
            at: sim.now(),
            failure,
        })
    });
    let (ops, digest) = sim.view(|v| {
        let seen = checker(v);
        (seen.ops.len(), digest(&format!("{:?}", seen.ops)))
    });
    RaftRun {
        halt,
        ops,
        outcome: sim.outcome(),
        supervisor_check_ticks: check_ticks.get(),
        digest,
    }
}

async fn phases(
    sim: &Sim<RaftNode>,
    timeline: &mut Timeline,
    n: u32,
    heal: Time,
    end: Time,
    check_ticks: &Cell<u64>,
) -> Result<(), Halt> {
    let mut checks = LogChecks::default();
    let mut logs = |v: &View<'_, RaftNode>| {
        let t0 = ticks::now();
        let r = checks.check(checker(v), &up_logs(v, n));
        check_ticks.set(check_ticks.get() + ticks::now() - t0);
        r
    };
    timeline
        .run_checked(sim, heal, LOG_CHECK_EVERY, &mut logs)
        .await?;
    let deadline = heal + LEADER_WITHIN;
    while sim.view(|v| leader(v, n)).is_none() {
        if sim.now() >= deadline {
            return Err(Halt {
                at: sim.now(),
                failure: LEADER_AFTER_HEAL
                    .fail(format!("no leader {LEADER_WITHIN:?} after the heal")),
            });
        }
        let next = sim.now() + LEADER_POLL;
        timeline
            .run_checked(sim, next, LOG_CHECK_EVERY, &mut logs)
            .await?;
    }
    timeline
        .run_checked(sim, end, LOG_CHECK_EVERY, &mut logs)
        .await
}

fn end_checks(sim: &Sim<RaftNode>, n: u32, heal: Time, end: Time) -> Result<(), Failure> {
    sim.view(|v| {
        let by = heal + LEADER_WITHIN;
        let pending = checker(v).pending_before(by);
        if !pending.is_empty() && end > by {
            return Err(OPS_COMPLETE_AFTER_HEAL.fail(format!(
                "{} operations invoked before {by} still pending at the end: {:?}",
                pending.len(),
                &pending[..pending.len().min(5)]
            )));
        }
        check_logs(v, n)?;
        check_linearizable(checker(v))
    })
}

/// A stable fold of a run's history (std's SipHash with its fixed keys).
pub fn digest(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Run the scenario named `name` with `seed` on a fresh madsim runtime seeded with `seed`.
pub fn run(name: &str, seed: u64) -> Result<RaftRun, String> {
    let s = scenario(name).ok_or_else(|| format!("no Raft scenario {name}"))?;
    let schedule = s.schedule(seed);
    Ok(crate::run_on_madsim(
        seed,
        latency_range(&clean_link()),
        || async move { drive(&s, &schedule).await },
    ))
}

/// Run the scenario named `name` on the current madsim runtime, under its seed (for
/// madsim's determinism check, which builds the runtimes itself).
pub async fn drive_current(name: &str) -> RaftRun {
    let seed = madsim::runtime::Handle::current().seed();
    let s = scenario(name).expect("a Raft scenario that runs on madsim");
    let schedule = s.schedule(seed);
    drive(&s, &schedule).await
}

/// madsim's own determinism check of scenario `name` under `seed`: it runs the scenario
/// twice and compares every random draw madsim makes; it panics where they part. Returns
/// the run's digest.
pub fn check_determinism(name: &'static str, seed: u64) -> Result<u64, String> {
    let mut config = madsim::Config::default();
    config.net.send_latency = latency_range(&clean_link());
    let run = match name {
        "raft-kv-calm" => madsim::runtime::Runtime::check_determinism(seed, config, || async {
            drive_current("raft-kv-calm").await
        }),
        "raft-kv-crash-restart" => {
            madsim::runtime::Runtime::check_determinism(seed, config, || async {
                drive_current("raft-kv-crash-restart").await
            })
        }
        "raft-kv-partitions" => {
            madsim::runtime::Runtime::check_determinism(seed, config, || async {
                drive_current("raft-kv-partitions").await
            })
        }
        _ => return Err(format!("no Raft scenario {name} on madsim")),
    };
    Ok(run.digest)
}
