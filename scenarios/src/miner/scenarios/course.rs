//! The course's own checkers of the programs, as scenarios (systems/miner/SPEC.md §10):
//!
//! - `miner-ctest`: clients, the handout's ("msg", 2) among them, each print the exact
//!   minimum for their request;
//! - `miner-ctest-server-failure`: the server dies while clients wait; each prints
//!   `Disconnected` once K epochs pass without it;
//! - `miner-mtest`: every result a miner sends is the minimum over exactly the chunk it
//!   was sent (the checker's `mined-is-minimum`).
//!
//! No datagram faults; each run is small (a few thousand to tens of thousands of nonces).

use super::{add_observed, run_clean};
use crate::miner::invariants::{MinerChecker, ANSWER_IS_MINIMUM, DISCONNECTED_ON_SERVER_LOSS};
use crate::miner::nodes::{workload, DelayedClient, MinerSimNode};
use crate::miner::world::{self, checker, sim_params, Setup};
use faultline::harness::{drive, Report, RunSpec, Scenario};
use faultline::swarm::FaultProfile;
use faultline::{Addr, Fault, Schedule, Time, TimedFault, World};
use miner::{Best, Outcome};
use rand::Rng;
use std::time::Duration;

/// The handout's request and its answer (SPEC.md §3).
const HANDOUT: (&str, u64, Best) = (
    "msg",
    2,
    Best {
        hash: 4754799531757243342,
        nonce: 1,
    },
);

/// `miner-ctest`.
pub struct Ctest;

impl Scenario for Ctest {
    fn name(&self) -> &'static str {
        "miner-ctest"
    }

    fn about(&self) -> &'static str {
        "miner (ctest): the handout's (\"msg\", 2) and seeded requests each get the exact minimum, printed once"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let (data, upper, want) = HANDOUT;
        let mut clients = workload(spec.seed, 3, Duration::from_secs(1), 1..50_000);
        clients.insert(0, (data.to_string(), upper, Time::from_millis(50)));
        let setup = Setup {
            miners: vec![(200_000, Time::ZERO), (400_000, Time::ZERO)],
            clients,
        };
        // Every result is checked against the minimum the checker computes; the handout's
        // client must also have printed exactly the handout's line.
        let handout = |world: &World<MinerSimNode>, clients: &[Addr]| {
            let got = outcome(world, clients[0]);
            match got == Some(Outcome::Result(want)) {
                true => Ok(()),
                false => Err(ANSWER_IS_MINIMUM.fail(format!(
                    "the handout's ({data:?}, {upper}) ended with {got:?}, not Result {} {}",
                    want.hash, want.nonce
                ))),
            }
        };
        run_clean(
            self.name(),
            spec,
            &setup,
            Duration::from_secs(3),
            MinerChecker::default(),
            handout,
        )
        .map(|(report, _)| report)
    }
}

/// How the client at `addr` ended, if it has.
fn outcome(world: &World<MinerSimNode>, addr: Addr) -> Option<Outcome> {
    world
        .node(addr)
        .and_then(|n| n.kind::<DelayedClient>())
        .and_then(|c| c.program().client())
        .and_then(|c| c.outcome())
}

/// `miner-ctest-server-failure`.
pub struct CtestServerFailure;

impl CtestServerFailure {
    const CLIENTS: usize = 3;
}

impl Scenario for CtestServerFailure {
    fn name(&self) -> &'static str {
        "miner-ctest-server-failure"
    }

    fn about(&self) -> &'static str {
        "miner (ctest w/ server failure): the server dies while clients wait; each prints Disconnected"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        // Requests far too large to finish (about 20 s of work) before the server dies.
        let setup = Setup {
            miners: vec![(100_000, Time::ZERO)],
            clients: workload(
                spec.seed,
                Self::CLIENTS,
                Duration::from_millis(300),
                1_000_000..3_000_000,
            ),
        };
        let mut rng = faultline::derive_rng(spec.seed, "miner/server-failure");
        let crash_at = Time::from_millis(rng.gen_range(500..1500));
        // K epochs without the server and the clients give up; a second of slack.
        let p = sim_params();
        let end = crash_at + p.epoch() * p.epoch_limit + Duration::from_secs(1);
        let schedule = spec.schedule.clone().unwrap_or(Schedule {
            swarm: vec![],
            faults: vec![TimedFault {
                at_ns: crash_at.as_nanos(),
                fault: Fault::Crash { node: 0 },
            }],
            heal_at_ns: end.as_nanos(),
            end_ns: end.as_nanos(),
            triggers: vec![],
        });
        let spec = RunSpec {
            schedule: Some(schedule),
            ..spec.clone()
        };
        let profile = FaultProfile::new(
            (0..setup.node_count()).collect(),
            Duration::ZERO,
            Duration::ZERO,
        );
        let built = world::build(&spec, &setup);
        let clients = built.clients.clone();
        let (mut report, world) = drive(self.name(), &spec, &profile, built.world, |world| {
            for &addr in &clients {
                let got = outcome(world, addr);
                if got != Some(Outcome::Disconnected) {
                    return Err(
                        DISCONNECTED_ON_SERVER_LOSS.fail(format!("{addr} ended with {got:?}"))
                    );
                }
            }
            Ok(())
        })?;
        add_observed(&mut report, &checker(&world).observed);
        Ok(report)
    }
}

/// `miner-mtest`.
pub struct Mtest;

impl Scenario for Mtest {
    fn name(&self) -> &'static str {
        "miner-mtest"
    }

    fn about(&self) -> &'static str {
        "miner (mtest): every result a miner sends is the minimum over exactly the chunk it got"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let setup = Setup {
            miners: vec![(150_000, Time::ZERO), (300_000, Time::from_millis(200))],
            clients: workload(spec.seed, 3, Duration::from_secs(1), 1..60_000),
        };
        run_clean(
            self.name(),
            spec,
            &setup,
            Duration::from_secs(3),
            MinerChecker::checking_mined(),
            |_, _| Ok(()),
        )
        .map(|(report, _)| report)
    }
}

/// `miner-tiny`: requests over the smallest ranges, where off-by-one errors at a range's
/// ends decide the answer.
pub struct Tiny;

impl Tiny {
    /// Requests `[0, n]` for n = 0..=3, then for n = 1..=3 messages (searched from the
    /// seed) whose minimum sits at the upper bound n.
    fn clients(seed: u64) -> Vec<(String, u64, Time)> {
        let mut clients = Vec::new();
        let mut at = Time::from_millis(50);
        let mut next = |data: String, n: u64, clients: &mut Vec<(String, u64, Time)>| {
            clients.push((data, n, at));
            at = at + Duration::from_millis(40);
        };
        for n in 0..=3 {
            next(format!("tiny {seed} {n}"), n, &mut clients);
        }
        for n in 1..=3u64 {
            let at_upper = (0..)
                .map(|j| format!("edge {seed} {n} {j}"))
                .find(|data| miner::min_hash(data, 0, n).is_some_and(|b| b.nonce == n))
                .expect("about one message in n + 1 has its minimum at n");
            next(at_upper, n, &mut clients);
        }
        clients
    }
}

impl Scenario for Tiny {
    fn name(&self) -> &'static str {
        "miner-tiny"
    }

    fn about(&self) -> &'static str {
        "miner: requests over [0, N] for N = 0..3, and ones whose minimum sits at the upper bound; each gets the exact minimum"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let setup = Setup {
            miners: vec![(200_000, Time::ZERO), (400_000, Time::ZERO)],
            clients: Self::clients(spec.seed),
        };
        run_clean(
            self.name(),
            spec,
            &setup,
            Duration::from_secs(2),
            MinerChecker::default(),
            |_, _| Ok(()),
        )
        .map(|(report, _)| report)
    }
}
