//! P0, the key-value server (`systems/kv`, behaviour reference `systems/kv/SPEC.md`): its
//! catalog entries. The world is built in [`world`], the scenario clients are in
//! [`nodes`], every invariant in [`invariants`], the scenarios in [`scenarios`]; [`cli`] is
//! `faultline kv` (the server as a real program) and [`bench`] its benchmark.

use faultline::harness::Scenario;
use std::time::Duration;

// Benchmarks time themselves on the wall clock and may use threads: they run outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod bench;
// The real programs run on the OS clock and sockets, outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod cli;
pub mod invariants;
pub mod nodes;
pub mod scenarios;
pub mod world;

/// This system's scenarios for the catalog: the official tests' intents with their
/// parameters, in SPEC.md §10's order, then the scenarios beyond them (§11).
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    use scenarios::CourseTest::{Basic, Count, Slow};
    let s = Duration::from_secs;
    let ms = Duration::from_millis;
    // (name, what it checks, timeout, the test and its parameters), SPEC.md §10's order.
    let course = [
        ("kv-basic1", "P0 TestBasic1: 1 client, 100 events, 10 deletes; replies and final store exact", s(5), Basic { clients: 1, events: 100, deletes: 10 }),
        ("kv-basic2", "P0 TestBasic2: 1 client, 1500 events, 50 deletes; replies and final store exact", s(10), Basic { clients: 1, events: 1500, deletes: 50 }),
        ("kv-basic3", "P0 TestBasic3: 2 clients, 20 events, 5 deletes; replies and final store exact", s(5), Basic { clients: 2, events: 20, deletes: 5 }),
        ("kv-basic4", "P0 TestBasic4: 2 clients, 1500 events, 50 deletes; replies and final store exact", s(10), Basic { clients: 2, events: 1500, deletes: 50 }),
        ("kv-basic5", "P0 TestBasic5: 5 clients, 50 events, 5 deletes; replies and final store exact", s(10), Basic { clients: 5, events: 50, deletes: 5 }),
        ("kv-basic6", "P0 TestBasic6: 10 clients, 1500 events, 50 deletes; replies and final store exact", s(10), Basic { clients: 10, events: 1500, deletes: 50 }),
        ("kv-count1", "P0 TestCount1: rounds (20,0) (20,20) (0,20) of 1 s; CountActive/CountDropped exact after each", s(5),
            Count { rounds: &[(20, 0, 1000), (20, 20, 1000), (0, 20, 1000)] }),
        ("kv-count2", "P0 TestCount2: seven rounds of starts and kills of 1 s; counts exact after each", s(15),
            Count { rounds: &[(15, 0, 1000), (25, 25, 1000), (45, 35, 1000), (50, 35, 1000), (30, 1, 1000), (0, 15, 1000), (0, 20, 1000)] }),
        ("kv-slowclient1", "P0 TestSlowClient1: 1 slow reader (reads from 5 s) + 1 normal, 2000 events; normal gets all, slow reads >= 500, drops happen, fast Gets < 500 ms", s(10),
            Slow { slow: 1, normal: 1, slow_start: ms(5000) }),
        ("kv-slowclient2", "P0 TestSlowClient2: 4 slow readers (read from 6 s) + 2 normal, 2000 events; normal gets all, slow read >= 500 each, drops happen, fast Gets < 500 ms", s(12),
            Slow { slow: 4, normal: 2, slow_start: ms(6000) }),
    ];
    let mut all: Vec<Box<dyn Scenario>> = course
        .into_iter()
        .map(|(name, about, timeout, test)| -> Box<dyn Scenario> {
            Box::new(scenarios::Course {
                name,
                about,
                timeout,
                test,
            })
        })
        .collect();
    all.push(Box::new(scenarios::Swarm));
    all.push(Box::new(scenarios::SlowReaders));
    all
}
