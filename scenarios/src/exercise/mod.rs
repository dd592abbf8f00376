//! The simulator's own exercise system: not one of the five systems, but a small one
//! written to exercise every part of the simulator (datagrams, timers, storage, crashes,
//! clocks, streams and flow control) until the real systems run on it.
//!
//! - `exercise-counter`: five replicas of a gossiped grow-only counter under datagram
//!   faults, crashes, pauses and clock faults.
//! - `exercise-echo`: clients echoing through a server over streams, with slow readers,
//!   under partitions, pauses, stream resets and client crashes.

pub mod counter;
pub mod echo;

use counter::{CounterEvent, Replica};
use echo::{EchoClient, EchoEvent, EchoServer};
use faultline::harness::{drive, Report, RunSpec, Scenario};
use faultline::swarm::{FaultKinds, FaultProfile};
use faultline::{Addr, Failure, Time, World};
use std::time::Duration;

/// History events of the exercise nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExerciseEvent {
    Counter(CounterEvent),
    Echo(EchoEvent),
}

faultline::node_kinds! {
    /// One node of the exercise system.
    pub enum ExerciseNode: ExerciseEvent {
        Replica(Replica) => ExerciseEvent::Counter,
        EchoServer(EchoServer) => ExerciseEvent::Echo,
        EchoClient(EchoClient) => ExerciseEvent::Echo,
    }
}

/// `exercise-counter`.
pub struct CounterScenario;

const REPLICAS: usize = 5;

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
        let mut world: World<ExerciseNode> = World::new(spec.seed);
        let stop = Time(faultline::time::duration_nanos(profile.fault_phase));
        for _ in 0..REPLICAS {
            world.add_node(move |me| ExerciseNode::Replica(Replica::new(me, REPLICAS, stop)));
        }
        // The true count of each replica: what it synced. Nobody may observe more.
        let mut counted = [0u64; REPLICAS];
        world.set_checker(move |_: Time, node: Addr, event: &ExerciseEvent| {
            match event {
                ExerciseEvent::Counter(CounterEvent::Incremented { value }) => {
                    counted[node.index()] = counted[node.index()].max(*value)
                }
                ExerciseEvent::Counter(CounterEvent::Observed { of, value })
                    if *value > counted[*of as usize] =>
                {
                    return Err(Failure::new(
                        "no-invented-counts",
                        format!(
                            "{node} observed n{of} at {value}, but n{of} only counted {}",
                            counted[*of as usize]
                        ),
                    ));
                }
                _ => {}
            }
            Ok(())
        });
        let (report, _) = drive(self.name(), spec, &profile, world, |world| {
            let vectors: Vec<Vec<u64>> = world
                .nodes()
                .map(|(addr, node)| match node {
                    Some(ExerciseNode::Replica(r)) => Ok(r.counts().to_vec()),
                    _ => Err(Failure::new(
                        "all-replicas-up-after-heal",
                        format!("{addr} is down"),
                    )),
                })
                .collect::<Result<_, _>>()?;
            if vectors.windows(2).any(|w| w[0] != w[1]) {
                return Err(Failure::new(
                    "converged-after-heal",
                    format!("replicas disagree: {vectors:?}"),
                ));
            }
            Ok(())
        })?;
        Ok(report)
    }
}

/// `exercise-echo`.
pub struct EchoScenario;

const ECHO_CLIENTS: usize = 4;
const ECHO_BYTES: usize = 200_000;

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
        let profile = Self::profile();
        let mut world: World<ExerciseNode> = World::new(spec.seed);
        world.set_stream_window(16 * 1024);
        let server = world.add_node(|_| ExerciseNode::EchoServer(EchoServer::new(16 * 1024)));
        for _ in 0..ECHO_CLIENTS {
            world.add_node(move |_| ExerciseNode::EchoClient(EchoClient::new(server, ECHO_BYTES)));
        }
        world.set_checker(|_: Time, node: Addr, event: &ExerciseEvent| match event {
            ExerciseEvent::Echo(EchoEvent::Mismatch { offset }) => Err(Failure::new(
                "echo-is-exact",
                format!("{node} got wrong bytes at offset {offset}"),
            )),
            _ => Ok(()),
        });
        let (report, _) = drive(self.name(), spec, &profile, world, |world| {
            for (addr, node) in world.nodes() {
                match node {
                    Some(ExerciseNode::EchoClient(c)) if !c.done => {
                        return Err(Failure::new(
                            "every-client-done-after-heal",
                            format!("{addr} did not finish"),
                        ))
                    }
                    None => {
                        return Err(Failure::new(
                            "every-client-done-after-heal",
                            format!("{addr} is down"),
                        ))
                    }
                    _ => {}
                }
            }
            Ok(())
        })?;
        Ok(report)
    }
}

pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![Box::new(CounterScenario), Box::new(EchoScenario)]
}
