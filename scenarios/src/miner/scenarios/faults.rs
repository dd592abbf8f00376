//! `miner-churn` and `miner-faults` (systems/miner/SPEC.md §6, §10): six miners of
//! different speeds (two joining late) and ten clients, with miner and client crashes, and
//! in `miner-faults` every datagram fault LSP must survive.
//!
//! - `miner-churn`: miners and clients crash and come back (as new connections); every
//!   live client must get the exact minimum.
//! - `miner-faults`: the same plus loss, duplication, reordering, corruption, truncation,
//!   partitions and pauses. Safety always; at the end every live client has finished (a
//!   client cut off for K epochs may legitimately print `Disconnected`).
//!
//! Liveness is demanded only while a miner lives (a lost miner's work waits for the next).

use super::{add_observed, put};
use crate::miner::invariants::clients_finished;
use crate::miner::nodes::workload;
use crate::miner::world::{self, checker, Setup};
use faultline::harness::{drive, Param, Report, RunSpec, Scenario};
use faultline::swarm::{FaultKinds, FaultProfile};
use faultline::Time;
use std::time::Duration;

/// `miner-churn` and `miner-faults`.
pub struct Churn {
    pub network_faults: bool,
}

impl Churn {
    const MINER_RATES: [u64; 4] = [100_000, 200_000, 400_000, 800_000];
    /// Clients in every run.
    pub const CLIENTS: usize = 10;

    /// Miners there from the start (their rates cycle through `MINER_RATES`), miners
    /// that join late (at 3 s, 6 s, 9 s, ...), and clients.
    pub fn setup(seed: u64, on_time: usize, late: usize, clients: usize) -> Setup {
        let mut miners: Vec<(u64, Time)> = (0..on_time)
            .map(|i| (Self::MINER_RATES[i % Self::MINER_RATES.len()], Time::ZERO))
            .collect();
        let late_rates = [300_000, 600_000];
        for i in 0..late {
            let join = Time::from_secs(3 * (i as u64 + 1));
            miners.push((late_rates[i % late_rates.len()], join));
        }
        Setup {
            miners,
            clients: workload(seed, clients, Duration::from_secs(10), 20_000..300_000),
        }
    }

    pub fn profile(setup: &Setup, network_faults: bool) -> FaultProfile {
        let nodes: Vec<u32> = (0..setup.node_count()).collect();
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

    fn params(&self) -> Vec<Param> {
        vec![
            Param::size("miners", "miners there from the start", 4, 1),
            Param::size("late_miners", "miners that join late, one every 3 s", 2, 0),
            Param::size(
                "clients",
                "clients, each with one request",
                Self::CLIENTS as u64,
                1,
            ),
        ]
    }
    fn sometimes(&self) -> Vec<faultline::harness::Sometimes> {
        crate::miner::invariants::SOMETIMES.to_vec()
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let count = |name: &str, default: u64| {
            usize::try_from(spec.param(name, default).min(10_000))
                .map_err(|_| format!("{name}: too large"))
        };
        let setup = Self::setup(
            spec.seed,
            count("miners", 4)?,
            count("late_miners", 2)?,
            count("clients", Self::CLIENTS as u64)?,
        );
        let profile = Self::profile(&setup, self.network_faults);
        let built = world::build(spec, &setup);
        let (clients, miners) = (built.clients.clone(), built.miners.clone());
        let strict = !self.network_faults;
        let mut alive = 0;
        let (mut report, world) = drive(self.name(), spec, &profile, built.world, |world| {
            alive = world::live_miners(world, &miners);
            clients_finished(|a| world.node(a), &clients, alive, strict)
        })?;
        add_observed(&mut report, &checker(&world).observed);
        put(&mut report, "live_miners_at_end", alive as u64);
        Ok(report)
    }
}
