//! The replicated key-value store under faults (SPEC.md §12): 5 Raft servers, 10 clients
//! running random Get / Put / Append workloads, a fault phase and a heal phase.
//!
//! Checked: the invariants of every Raft run and log matching every 250 ms; in the heal
//! phase, a leader within 5 s and every operation invoked by then completes before the end;
//! at the end, the clients' history is linearizable.
//!
//! The fault schedules are data (so `--schedule` replays and edits them): swarm-generated
//! from the seed, or drawn from the seed by a scripted pattern (crash-restart of random
//! servers including all at once, partition churn, an unreliable network).

use super::add_metrics;
use super::snapshots::{self, Snapshots};
use super::tester::LOG_CHECK_EVERY;
use crate::raft::invariants::state::checker;
use crate::raft::invariants::{self, LEADER_AFTER_HEAL, OPS_COMPLETE_AFTER_HEAL};
use crate::raft::nodes::{RaftNode, Workload};
use crate::raft::world::{self, Cluster};
use faultline::harness::{drive_with, run_checked, Param, Report, RunSpec, Scenario};
use faultline::swarm::{FaultKinds, FaultProfile};
use faultline::{
    Budget, Failure, Fault, Halt, LinkFaults, Schedule, Time, TimedFault, Trigger, TriggerAction,
    World,
};
use raft::Role;
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::BTreeMap;
use std::time::Duration;

/// Liveness bound of the heal phase (SPEC.md §3: a new leader within 5 s).
pub const LEADER_WITHIN: Duration = Duration::from_secs(5);

/// How often the heal phase looks for a leader until it has one.
pub const LEADER_POLL: Duration = Duration::from_millis(50);

/// Which faults a key-value scenario runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Faults {
    /// No faults (the benchmark's workload).
    Calm,
    /// Swarm: the seed picks datagram faults, partitions, pauses, clock faults and server
    /// crashes.
    Swarm,
    /// The course's unreliable network plus duplication, corruption and truncation.
    Unreliable,
    /// Random servers crash and restart; twice, all of them at once.
    CrashRestart,
    /// Random partitions of servers and clients, isolated servers, one-way cuts.
    Partitions,
    /// Servers cut off or crashed one at a time for long enough to fall behind a
    /// snapshot, and once all at once ([`snapshots::churn`]).
    SnapshotChurn,
    /// Crashes fired by what happens: a server right after it grants a vote (back within
    /// 30 ms), a leader soon after it is elected; on a slightly lossy network, so elections
    /// split and repeat.
    VoteCrash,
    /// [`Faults::CrashRestart`]'s crashes, half of them inside a sync, over storage that
    /// keeps a prefix of the unsynced writes on every server and, on one or two servers (a
    /// minority, as VOPR keeps storage faults within what the cluster survives), also tears
    /// writes and rots synced records.
    StorageFaults,
}

/// A key-value scenario.
#[derive(Clone)]
pub struct KvScenario {
    pub name: &'static str,
    pub about: &'static str,
    pub servers: u32,
    pub clients: u32,
    pub ops_per_client: u64,
    /// Keys the workload spreads over (fewer keys: more contention per key).
    pub keys: u32,
    pub fault_phase: Duration,
    pub heal_phase: Duration,
    pub faults: Faults,
    /// Snapshot settings; `None`: the default threshold, which these runs never reach.
    pub snapshots: Option<Snapshots>,
    /// The servers' timing and the clean network's latency.
    pub timing: world::Timing,
}

/// Every key-value scenario.
pub fn scenarios() -> Vec<KvScenario> {
    let base = |name, about, faults| KvScenario {
        name,
        about,
        servers: 5,
        clients: 10,
        ops_per_client: 100,
        keys: 5,
        fault_phase: Duration::from_secs(10),
        heal_phase: Duration::from_secs(10),
        faults,
        snapshots: None,
        timing: world::Timing::default(),
    };
    let mut all = vec![
        base("raft-kv-calm", "5 servers, 10 clients, 1000 ops, no faults; linearizable", Faults::Calm),
        base("raft-kv-swarm", "KV store under swarm faults incl. server crashes; safety, liveness after heal, linearizable", Faults::Swarm),
        base("raft-kv-unreliable", "KV store on a lossy, duplicating, reordering, corrupting network; linearizable", Faults::Unreliable),
        base("raft-kv-crash-restart", "random servers crash and restart (twice all at once) under load; persistence keeps it linearizable", Faults::CrashRestart),
        base("raft-kv-partitions", "partition churn among servers and clients under load; linearizable, leader within 5 s of heal", Faults::Partitions),
        base("raft-kv-storage-faults", "servers crash, half inside a sync, over storage that keeps part of the unsynced writes, and on a minority tears them and rots synced records; damage is detected, never used; linearizable", Faults::StorageFaults),
        base("raft-kv-vote-crash", "servers crash right after granting a vote, leaders soon after election (triggered faults); one vote per term, linearizable", Faults::VoteCrash),
        // One key holds every operation's effect, so the checker searches one history of
        // about 500 operations; 5 clients keep that search tractable (with 10, appends
        // stuck behind partitions can exceed the checker's step budget).
        KvScenario {
            keys: 1,
            clients: 5,
            ops_per_client: 100,
            ..base(
                "raft-kv-one-key",
                "5 clients contend on one key under swarm faults; one 500-op linearizability search",
                Faults::Swarm,
            )
        },
    ];
    all.extend(snapshots::scenarios(base));
    all
}

impl KvScenario {
    fn node_count(&self) -> u32 {
        self.servers + self.clients
    }

    /// The fault profile for swarm schedules.
    pub fn profile(&self) -> FaultProfile {
        let mut p = world::profile(self.node_count(), self.fault_phase, self.heal_phase);
        p.base_link = self.timing.link.clone();
        p.kinds = FaultKinds {
            crash: true,
            clock: true,
            ..FaultKinds::datagram()
        };
        p.crashable = (0..self.servers).collect();
        p.trigger_labels = world::TRIGGER_LABELS.to_vec();
        p
    }

    /// The schedule the seed gives this scenario.
    pub fn schedule(&self, seed: u64) -> Schedule {
        let heal = faultline::time::duration_nanos(self.fault_phase);
        let end = heal + faultline::time::duration_nanos(self.heal_phase);
        let mut rng = faultline::derive_rng(seed, "scenario/raft-kv/faults");
        let mut faults = Vec::new();
        let mut triggers = Vec::new();
        let mut at = |at_ns: u64, fault: Fault| faults.push(TimedFault { at_ns, fault });
        let ms = |x: u64| x * 1_000_000;
        match self.faults {
            Faults::Calm => {}
            Faults::VoteCrash => {
                let link = LinkFaults {
                    loss: 0.05,
                    ..world::clean_link()
                };
                at(
                    0,
                    Fault::Link {
                        from: None,
                        to: None,
                        faults: link,
                    },
                );
                for k in 0..8 {
                    let leader = k % 2 == 1;
                    triggers.push(Trigger {
                        on: world::TRIGGER_LABELS[usize::from(leader)].to_string(),
                        node: None,
                        nth: rng.gen_range(1..=if leader { 6 } else { 16 }),
                        action: TriggerAction::Crash,
                        delay_ns: if leader { ms(rng.gen_range(0..300)) } else { 0 },
                        undo_after_ns: Some(match leader {
                            true => ms(rng.gen_range(100..1500)),
                            false => ms(rng.gen_range(1..30)),
                        }),
                    });
                }
            }
            Faults::Swarm => return faultline::swarm::generate(seed, &self.profile()),
            Faults::SnapshotChurn => {
                for f in snapshots::churn(self.servers, heal, &mut rng) {
                    at(f.at_ns, f.fault);
                }
            }
            Faults::Unreliable => {
                let link = LinkFaults {
                    loss: 0.1,
                    duplicate: 0.05,
                    reorder: 0.2,
                    reorder_delay_ns: ms(200),
                    corrupt: 0.02,
                    truncate: 0.02,
                    ..LinkFaults::clean(0, ms(26))
                };
                at(
                    0,
                    Fault::Link {
                        from: None,
                        to: None,
                        faults: link,
                    },
                );
            }
            Faults::CrashRestart => {
                for f in crash_restart(self.servers, heal, &mut rng) {
                    at(f.at_ns, f.fault);
                }
            }
            Faults::StorageFaults => {
                for f in storage_faults(self.servers, heal, &mut rng) {
                    at(f.at_ns, f.fault);
                }
            }
            Faults::Partitions => {
                let mut t = ms(rng.gen_range(200..800));
                let nodes: Vec<u32> = (0..self.node_count()).collect();
                while t < heal {
                    at(t, Fault::Repair);
                    match rng.gen_range(0..3) {
                        0 => at(
                            t,
                            Fault::Isolate {
                                node: rng.gen_range(0..self.servers),
                            },
                        ),
                        1 => {
                            let from = rng.gen_range(0..self.servers);
                            let to = (from + rng.gen_range(1..self.servers)) % self.servers;
                            at(t, Fault::CutOneWay { from, to });
                        }
                        _ => {
                            let mut shuffled = nodes.clone();
                            shuffled.shuffle(&mut rng);
                            let cut = rng.gen_range(1..shuffled.len());
                            let groups = vec![shuffled[..cut].to_vec(), shuffled[cut..].to_vec()];
                            at(t, Fault::Partition { groups });
                        }
                    }
                    t += ms(rng.gen_range(300..2000));
                }
            }
        }
        if self.faults != Faults::Calm {
            at(heal, Fault::Heal);
        }
        Schedule {
            swarm: vec![format!("{:?}", self.faults)],
            faults,
            heal_at_ns: heal,
            end_ns: end,
            triggers,
        }
    }

    /// The workload each client runs.
    pub fn workload(&self) -> Workload {
        Workload {
            ops: self.ops_per_client,
            keys: self.keys,
            think_min: Duration::ZERO,
            think_max: Duration::from_millis(200),
            ..Workload::default()
        }
    }

    /// The cluster with its clients.
    pub fn build(&self, spec: &RunSpec) -> Cluster {
        let mut cfg = self.timing.cfg.clone();
        if let Some(s) = self.snapshots {
            let snap = s.config();
            cfg.snapshot_every = snap.snapshot_every;
            cfg.snapshot_chunk = snap.snapshot_chunk;
        }
        cfg.bugs = crate::bugs::raft(spec);
        let mut c = world::cluster_on(spec.seed, self.servers, cfg, self.timing.link.clone());
        c.add_clients(self.clients, &self.workload());
        c
    }

    /// Run it once and hand back the world too (its checker holds the history).
    pub fn run_world(&self, spec: &RunSpec) -> Result<(Report, World<RaftNode>), String> {
        let schedule = spec
            .schedule
            .clone()
            .unwrap_or_else(|| self.schedule(spec.seed));
        let (heal, end) = (
            Time(schedule.heal_at_ns),
            Time(schedule.end_ns.max(schedule.heal_at_ns)),
        );
        let spec = RunSpec {
            schedule: Some(schedule),
            ..spec.clone()
        };
        let storage_faults = has_storage_faults(spec.schedule.as_ref());
        let mut cluster = self.build(&spec);
        if let Some(c) = cluster.world.checker_mut::<invariants::RaftChecker>() {
            c.storage_faults = storage_faults;
        }
        let (n, rpcs, clients) = (cluster.servers, cluster.rpcs, cluster.clients);
        let snaps = self.snapshots;
        let (mut report, world) = drive_with(
            self.name,
            &spec,
            &self.profile(),
            cluster.world,
            |world, _| run_phases(world, n, heal, end, snaps),
            |world| {
                end_checks(world, n, heal, end)?;
                snaps.map_or(Ok(()), |s| s.end_checks(checker(world)))
            },
        )?;
        add_metrics(&mut report, &world, &rpcs);
        if storage_faults {
            add_storage_metrics(&mut report, &world, n);
        }
        if snaps.is_some() {
            snapshots::add_metrics(&mut report, checker(&world));
        }
        let resends: u64 = clients
            .iter()
            .filter_map(|&a| world.node(a).and_then(|n| n.client()))
            .map(|c| c.client().resends())
            .sum();
        report
            .metrics
            .insert("client_resends".into(), resends.into());
        Ok((report, world))
    }
}

/// Random servers crash and restart, every 300 ms to 1.5 s; twice (at a third and two
/// thirds of the fault phase) all of them at once.
fn crash_restart(servers: u32, heal: u64, rng: &mut impl Rng) -> Vec<TimedFault> {
    let ms = |x: u64| x * 1_000_000;
    let mut faults = Vec::new();
    let mut at = |at_ns: u64, fault: Fault| faults.push(TimedFault { at_ns, fault });
    let all_at_once = [heal / 3, 2 * heal / 3];
    let mut t = ms(rng.gen_range(200..1000));
    while t < heal {
        if let Some(&a) = all_at_once.iter().find(|&&a| t <= a && a < t + ms(1500)) {
            for node in 0..servers {
                at(a, Fault::Crash { node });
                at(a + ms(rng.gen_range(50..1000)), Fault::Restart { node });
            }
            t = a + ms(1200);
            continue;
        }
        let node = rng.gen_range(0..servers);
        at(t, Fault::Crash { node });
        at(
            (t + ms(rng.gen_range(100..2000))).min(heal),
            Fault::Restart { node },
        );
        t += ms(rng.gen_range(300..1500));
    }
    faults
}

/// [`crash_restart`] with half the crashes moved inside the server's next sync, over storage
/// faults: every server's crashes keep a prefix of its unsynced writes (legal: Raft replies
/// only after syncing); one or two servers, a minority, also tear writes and rot records.
fn storage_faults(servers: u32, heal: u64, rng: &mut impl Rng) -> Vec<TimedFault> {
    let lossy = faultline::StorageFaults {
        partial_per_mille: 700,
        ..faultline::StorageFaults::default()
    };
    let damaging = faultline::StorageFaults {
        torn_per_mille: 300,
        rot_per_mille: 150,
        ..lossy.clone()
    };
    let mut nodes: Vec<u32> = (0..servers).collect();
    nodes.shuffle(rng);
    // At most two, and fewer than half, so a majority always has intact storage.
    let minority = (servers.saturating_sub(1) / 2).clamp(1, 2) as usize;
    let faulty = rng.gen_range(1..=minority).min(nodes.len());
    let mut faults: Vec<TimedFault> = (0..servers)
        .map(|node| TimedFault {
            at_ns: 0,
            fault: Fault::StorageFaults {
                node: Some(node),
                faults: if nodes[..faulty].contains(&node) {
                    damaging.clone()
                } else {
                    lossy.clone()
                },
            },
        })
        .collect();
    for mut f in crash_restart(servers, heal, rng) {
        if let Fault::Crash { node } = f.fault {
            if rng.gen_range(0..2) == 0 {
                f.fault = Fault::CrashInSync { node };
            }
        }
        faults.push(f);
    }
    faults
}

/// The run: to the heal with log checks (and, with snapshots, bounds); then a leader within 5 s of it, looked for every
/// 50 ms; then on to the end.
fn run_phases(
    world: &mut World<RaftNode>,
    n: u32,
    heal: Time,
    end: Time,
    snaps: Option<Snapshots>,
) -> Result<(), Halt> {
    let mut checks = invariants::LogChecks::default();
    let mut logs = |w: &World<RaftNode>| {
        checks.check(checker(w), &invariants::server_logs(w, n))?;
        snaps.map_or(Ok(()), |s| invariants::check_bounded(w, n, s.every))
    };
    run_checked(world, heal, LOG_CHECK_EVERY, &mut logs)?;
    let deadline = heal + LEADER_WITHIN;
    while stable_leader(world, n).is_none() {
        if world.now() >= deadline {
            return Err(Halt {
                at: world.now(),
                failure: LEADER_AFTER_HEAL
                    .fail(format!("no leader {LEADER_WITHIN:?} after the heal")),
            });
        }
        let next = world.now() + LEADER_POLL;
        run_checked(world, next, LOG_CHECK_EVERY, &mut logs)?;
    }
    run_checked(world, end, LOG_CHECK_EVERY, &mut logs)
}

/// At the end: every operation invoked by 5 s after the heal has completed, the logs
/// match, and the history is linearizable.
fn end_checks(world: &mut World<RaftNode>, n: u32, heal: Time, end: Time) -> Result<(), Failure> {
    let by = heal + LEADER_WITHIN;
    let pending = checker(world).pending_before(by);
    if !pending.is_empty() && end > by {
        return Err(OPS_COMPLETE_AFTER_HEAL.fail(format!(
            "{} operations invoked before {by} still pending at the end: {:?}",
            pending.len(),
            &pending[..pending.len().min(5)]
        )));
    }
    invariants::check_logs(world, n)?;
    invariants::check_damage_was_made(world)?;
    invariants::check_linearizable(checker(world))
}

/// Whether `schedule` turns storage faults on (then finding damage is no bug by itself).
fn has_storage_faults(schedule: Option<&Schedule>) -> bool {
    schedule.is_some_and(|s| {
        s.faults
            .iter()
            .any(|f| matches!(&f.fault, Fault::StorageFaults { faults, .. } if faults.is_on()))
    })
}

/// What the storage faults did over the servers, and what Raft made of it.
fn add_storage_metrics(report: &mut Report, world: &World<RaftNode>, n: u32) {
    let (mut kept, mut lost, mut torn, mut rotted, mut in_sync) = (0, 0, 0, 0, 0);
    for i in 0..n {
        let d = world.storage(faultline::Addr(i)).damage();
        kept += d.writes_kept;
        lost += d.writes_lost;
        torn += d.torn;
        rotted += d.rotted;
        in_sync += d.died_in_sync;
    }
    let c = checker(world);
    for (name, value) in [
        ("storage_writes_kept", kept),
        ("storage_writes_lost", lost),
        ("storage_torn", torn),
        ("storage_rotted", rotted),
        ("storage_died_in_sync", in_sync),
        ("storage_damaged_servers", c.damaged.len() as u64),
        ("storage_recovered", c.recovered),
    ] {
        report.metrics.insert(name.into(), value.into());
    }
}

/// The server that leads the highest term among the servers up, if one does.
pub fn stable_leader(world: &World<RaftNode>, n: u32) -> Option<u32> {
    let up: Vec<(u32, &raft::Raft)> = (0..n)
        .filter_map(|i| {
            world
                .node(faultline::Addr(i))
                .and_then(|node| node.server())
                .map(|s| (i, s.raft()))
        })
        .collect();
    leader_of(&up)
}

/// The server of `up` (number, Raft state) that leads the highest term among them, if one
/// does.
pub fn leader_of(up: &[(u32, &raft::Raft)]) -> Option<u32> {
    let top = up.iter().map(|(_, r)| r.term()).max()?;
    up.iter()
        .find(|(_, r)| r.term() == top && r.role() == Role::Leader)
        .map(|(i, _)| *i)
}

impl Scenario for KvScenario {
    fn name(&self) -> &'static str {
        self.name
    }
    fn about(&self) -> &'static str {
        self.about
    }
    /// About 20 times the events of a normal run (some 5,000 plus 10 per operation: about
    /// 15,000 with 10 clients of 100 operations), so an RPC storm is stopped in seconds.
    fn sometimes(&self) -> Vec<faultline::harness::Sometimes> {
        crate::raft::invariants::SOMETIMES.to_vec()
    }
    fn budget(&self) -> Budget {
        let normal = 5_000 + 10 * self.clients as u64 * self.ops_per_client;
        Budget {
            max_events: 20 * normal,
            ..Budget::DEFAULT
        }
    }
    fn params(&self) -> Vec<Param> {
        let mut params = vec![
            Param::size(
                "servers",
                "Raft servers (nodes 0..servers)",
                self.servers as u64,
                1,
            ),
            Param::size(
                "clients",
                "key-value clients (nodes after the servers)",
                self.clients as u64,
                1,
            ),
            Param::size("ops", "operations each client runs", self.ops_per_client, 1),
            Param::setting(
                "keys",
                "keys the workload spreads over",
                self.keys as u64,
                1,
            ),
        ];
        params.extend(faultline::harness::phase_params(
            self.fault_phase,
            self.heal_phase,
        ));
        params.extend(self.timing.params());
        params
    }
    fn check_params(&self, params: &BTreeMap<String, u64>) -> Result<(), String> {
        self.sized(params).map(|_| ())
    }
    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        self.sized(&spec.params)?
            .run_world(spec)
            .map(|(report, _)| report)
    }
}

impl KvScenario {
    /// This scenario with the parameters in `params` over its defaults.
    pub fn sized(&self, params: &BTreeMap<String, u64>) -> Result<KvScenario, String> {
        let get = |name: &str, default: u64| params.get(name).copied().unwrap_or(default);
        let small = |name: &str, default: u32| {
            u32::try_from(get(name, default as u64)).map_err(|_| format!("{name}: too many"))
        };
        let ms = |name: &str, d: Duration| Duration::from_millis(get(name, d.as_millis() as u64));
        Ok(KvScenario {
            servers: small("servers", self.servers)?,
            clients: small("clients", self.clients)?,
            ops_per_client: get("ops", self.ops_per_client),
            keys: small("keys", self.keys)?,
            fault_phase: ms("fault_ms", self.fault_phase),
            heal_phase: ms("heal_ms", self.heal_phase),
            timing: self.timing.with(params)?,
            ..self.clone()
        })
    }
}
