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
    let s = Duration::from_secs;
    let basic = |name, about, clients, events, deletes, timeout| -> Box<dyn Scenario> {
        Box::new(scenarios::Basic {
            name,
            about,
            clients,
            events,
            deletes,
            timeout,
        })
    };
    vec![
        basic("kv-basic1", "P0 TestBasic1: 1 client, 100 events, 10 deletes; replies and final store exact", 1, 100, 10, s(5)),
        basic("kv-basic2", "P0 TestBasic2: 1 client, 1500 events, 50 deletes; replies and final store exact", 1, 1500, 50, s(10)),
        basic("kv-basic3", "P0 TestBasic3: 2 clients, 20 events, 5 deletes; replies and final store exact", 2, 20, 5, s(5)),
        basic("kv-basic4", "P0 TestBasic4: 2 clients, 1500 events, 50 deletes; replies and final store exact", 2, 1500, 50, s(10)),
        basic("kv-basic5", "P0 TestBasic5: 5 clients, 50 events, 5 deletes; replies and final store exact", 5, 50, 5, s(10)),
        basic("kv-basic6", "P0 TestBasic6: 10 clients, 1500 events, 50 deletes; replies and final store exact", 10, 1500, 50, s(10)),
        Box::new(scenarios::Count {
            name: "kv-count1",
            about: "P0 TestCount1: rounds (20,0) (20,20) (0,20) of 1 s; CountActive/CountDropped exact after each",
            rounds: &[(20, 0, 1000), (20, 20, 1000), (0, 20, 1000)],
            timeout: s(5),
        }),
        Box::new(scenarios::Count {
            name: "kv-count2",
            about: "P0 TestCount2: seven rounds of starts and kills of 1 s; counts exact after each",
            rounds: &[(15, 0, 1000), (25, 25, 1000), (45, 35, 1000), (50, 35, 1000), (30, 1, 1000), (0, 15, 1000), (0, 20, 1000)],
            timeout: s(15),
        }),
        Box::new(scenarios::Slow {
            name: "kv-slowclient1",
            about: "P0 TestSlowClient1: 1 slow reader (reads from 5 s) + 1 normal, 2000 events; normal gets all, slow reads >= 500, drops happen, fast Gets < 500 ms",
            slow: 1,
            normal: 1,
            slow_start: Duration::from_millis(5000),
            timeout: s(10),
        }),
        Box::new(scenarios::Slow {
            name: "kv-slowclient2",
            about: "P0 TestSlowClient2: 4 slow readers (read from 6 s) + 2 normal, 2000 events; normal gets all, slow read >= 500 each, drops happen, fast Gets < 500 ms",
            slow: 4,
            normal: 2,
            slow_start: Duration::from_millis(6000),
            timeout: s(12),
        }),
            Box::new(scenarios::Swarm),
        Box::new(scenarios::SlowReaders),
    ]
}
