//! The exercise's scenarios: the gossiped counter under datagram, node and clock faults,
//! and the echo under stream faults.

use super::invariants::{counters_converged, echo_clients_done};
use super::world::{counter_world, echo_world, ECHO_CLIENTS, REPLICAS};
use faultline::harness::{drive, Report, RunSpec, Scenario};
use faultline::swarm::{FaultKinds, FaultProfile};
use faultline::Time;
use std::time::Duration;

/// `exercise-counter`.
pub struct CounterScenario;

impl CounterScenario {
    fn profile() -> FaultProfile {
        let nodes: Vec<u32> = (0..REPLICAS as u32).collect();
        let mut p = FaultProfile::new(
            nodes.clone(),
            Duration::from_secs(10),
            Duration::from_secs(5),
        );
        p.kinds = FaultKinds {
            stream_reset: false,
            ..FaultKinds::all()
        };
        p.crashable = nodes;
        p
    }
}

impl Scenario for CounterScenario {
    fn name(&self) -> &'static str {
        "exercise-counter"
    }

    fn about(&self) -> &'static str {
        "simulator exercise: 5 gossiping counter replicas; no invented counts, convergence after heal"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let profile = Self::profile();
        // The workload ends with the fault phase.
        let stop = Time(faultline::time::duration_nanos(profile.fault_phase));
        let world = counter_world(spec.seed, stop);
        let (report, _) = drive(self.name(), spec, &profile, world, |w| {
            counters_converged(w)
        })?;
        Ok(report)
    }
}

/// `exercise-echo`.
pub struct EchoScenario;

impl EchoScenario {
    fn profile() -> FaultProfile {
        let nodes: Vec<u32> = (0..=ECHO_CLIENTS as u32).collect();
        let mut p = FaultProfile::new(
            nodes.clone(),
            Duration::from_secs(10),
            Duration::from_secs(10),
        );
        p.kinds = FaultKinds::stream();
        // The server stays up; its streams may still be reset.
        p.crashable = nodes[1..].to_vec();
        p
    }
}

impl Scenario for EchoScenario {
    fn name(&self) -> &'static str {
        "exercise-echo"
    }

    fn about(&self) -> &'static str {
        "simulator exercise: 4 clients echo 200 KB each over streams with slow reading; echoes exact, all done after heal"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let world = echo_world(spec.seed);
        let (report, _) = drive(self.name(), spec, &Self::profile(), world, |w| {
            echo_clients_done(w)
        })?;
        Ok(report)
    }
}
