//! How long a cluster is without a leader after its leader crashes: the experiment of the
//! Raft paper's §9.3 (Figure 16) as a scenario.
//!
//! Five servers elect a leader and settle; the leader is then crashed at a moment drawn
//! uniformly from one heartbeat interval, and the run measures `downtime_ms`, the virtual
//! time from the crash until a server that is up leads a newer term. The heartbeat is half
//! the shortest election timeout unless set, as in the paper; the network is the clean
//! 1–2 ms one unless `latency` is set. A sweep over seeds gives the distribution:
//! `faultline sweep raft-election-downtime --seeds 0..1000 --set election=150..200 --metrics`.

use super::add_metrics;
use crate::raft::invariants::{self, LEADER_AFTER_CRASH, LEADER_ELECTED};
use crate::raft::scenarios::kv::stable_leader;
use crate::raft::world::{self, Timing};
use faultline::harness::{drive_with, Param, Report, RunSpec, Scenario};
use faultline::{Fault, Halt};
use raft::Config;
use rand::Rng;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Duration;

/// The scenario's name.
pub const NAME: &str = "raft-election-downtime";

/// The leader-crash experiment.
pub struct Downtime;

/// The paper's recommended range, and the heartbeat it used (half the shortest timeout).
fn defaults() -> Timing {
    Timing {
        cfg: Config {
            heartbeat: Duration::from_millis(75),
            election_min: Duration::from_millis(150),
            election_max: Duration::from_millis(300),
            ..Config::default()
        },
        ..Timing::default()
    }
}

impl Downtime {
    /// Servers, timing and give-up time under `params`.
    fn setup(params: &BTreeMap<String, u64>) -> Result<(u32, Timing, Duration), String> {
        let mut params = params.clone();
        // No heartbeat given (or 0): half the shortest election timeout.
        if params.get("heartbeat").is_none_or(|&h| h == 0) {
            let min = params.get("election_min").copied().unwrap_or(150);
            params.insert("heartbeat".into(), (min / 2).max(1));
        }
        let timing = defaults().with(&params)?;
        let servers = u32::try_from(params.get("servers").copied().unwrap_or(5))
            .map_err(|_| "servers: too many".to_string())?;
        let give_up = Duration::from_millis(params.get("give_up_ms").copied().unwrap_or(60_000));
        Ok((servers, timing, give_up))
    }
}

impl Scenario for Downtime {
    fn name(&self) -> &'static str {
        NAME
    }
    fn about(&self) -> &'static str {
        "5 servers; the leader crashes at a random moment of its heartbeat; downtime_ms until a new leader"
    }
    fn params(&self) -> Vec<Param> {
        let mut params = vec![Param::size("servers", "Raft servers", 5, 3)];
        for p in defaults().params() {
            params.push(match p.name {
                "heartbeat" => Param::setting(
                    "heartbeat",
                    "leader heartbeat interval, ms (0: half the shortest election timeout)",
                    0,
                    0,
                ),
                _ => p,
            });
        }
        params.push(Param::setting(
            "give_up_ms",
            "how long to wait for a new leader before it is a liveness finding, ms",
            60_000,
            1,
        ));
        params
    }
    fn check_params(&self, params: &BTreeMap<String, u64>) -> Result<(), String> {
        Downtime::setup(params).map(|_| ())
    }
    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let (servers, timing, give_up) = Downtime::setup(&spec.params)?;
        let heartbeat_ns = faultline::time::duration_nanos(timing.cfg.heartbeat).max(1);
        // Long enough for every follower's timer to have been reset by the new leader.
        let settle = (2 * timing.cfg.election_max).max(Duration::from_secs(1));
        let (cluster, spec, profile) = world::scripted(spec, servers, &timing);
        let (n, rpcs) = (cluster.servers, cluster.rpcs);
        let mut rng = faultline::derive_rng(spec.seed, "scenario/raft-election-downtime");
        let measured = Cell::new(None::<(u64, u64, u32)>);
        let (mut report, world) = drive_with(
            NAME,
            &spec,
            &profile,
            cluster.world,
            |world, _| {
                let fail = |world: &faultline::World<_>, inv: faultline::Invariant, what| Halt {
                    at: world.now(),
                    failure: inv.fail(what),
                };
                let first = world.now() + give_up;
                if !world.run_until_cond(first, |w| stable_leader(w, n).is_some())? {
                    return Err(fail(world, LEADER_ELECTED, format!("no leader by {first}")));
                }
                let at =
                    world.now() + settle + Duration::from_nanos(rng.gen_range(0..heartbeat_ns));
                world.run_until(at)?;
                let Some(old) = stable_leader(world, n) else {
                    return Err(fail(
                        world,
                        LEADER_ELECTED,
                        "the leader did not last".into(),
                    ));
                };
                let old_term = term(world, old);
                world.apply(Fault::Crash { node: old });
                let crashed = world.now();
                let limit = crashed + give_up;
                if !world.run_until_cond(limit, |w| stable_leader(w, n).is_some())? {
                    return Err(fail(
                        world,
                        LEADER_AFTER_CRASH,
                        format!(
                            "no new leader {give_up:?} after server {old} crashed at {crashed}"
                        ),
                    ));
                }
                let new = stable_leader(world, n).unwrap_or(old);
                let elections = term(world, new).saturating_sub(old_term);
                measured.set(Some((
                    world.now().since(crashed).as_nanos() as u64,
                    elections,
                    new,
                )));
                Ok(())
            },
            |world| invariants::check_logs(world, n),
        )?;
        add_metrics(&mut report, &world, &rpcs);
        if let Some((ns, elections, leader)) = measured.get() {
            // Microsecond precision: the figure is a time, not a count.
            let ms = (ns / 1_000) as f64 / 1_000.0;
            report.metrics.insert("downtime_ms".into(), ms.into());
            report
                .metrics
                .insert("election_rounds".into(), elections.into());
            report.metrics.insert("new_leader".into(), leader.into());
        }
        Ok(report)
    }
}

/// Server `i`'s term (0 if it is down).
fn term(world: &faultline::World<crate::raft::nodes::RaftNode>, i: u32) -> u64 {
    world
        .node(faultline::Addr(i))
        .and_then(|node| node.server())
        .map_or(0, |s| s.raft().term())
}
