//! The kv scenarios: every official test intent is in the catalog, every kv scenario holds
//! its invariants on a few seeds, and a seed replays to the same trace hash.

use faultline::harness::RunSpec;

fn run(name: &str, seed: u64) -> faultline::harness::Report {
    let scenario = scenarios::catalog::find(name).unwrap_or_else(|| panic!("{name} missing"));
    let report = scenario
        .run(&RunSpec {
            seed,
            ..RunSpec::default()
        })
        .expect("runs");
    assert!(report.ok, "{name} seed {seed}: {:?}", report.violation);
    report
}

#[test]
fn every_official_test_intent_is_a_scenario() {
    for name in [
        "kv-basic1",
        "kv-basic2",
        "kv-basic3",
        "kv-basic4",
        "kv-basic5",
        "kv-basic6",
        "kv-count1",
        "kv-count2",
        "kv-slowclient1",
        "kv-slowclient2",
        "kv-swarm",
        "kv-slow-readers",
    ] {
        assert!(
            scenarios::catalog::find(name).is_some(),
            "{name} is not in the catalog"
        );
    }
}

#[test]
fn basic_and_count_scenarios_hold_and_replay() {
    for name in [
        "kv-basic1",
        "kv-basic3",
        "kv-basic5",
        "kv-count1",
        "kv-count2",
    ] {
        for seed in 0..3 {
            let a = run(name, seed);
            let b = run(name, seed);
            assert_eq!(
                a.trace_hash, b.trace_hash,
                "{name} seed {seed} is not deterministic"
            );
        }
    }
    // Every reply went out and came back; nothing dropped without slow readers.
    let r = run("kv-basic5", 7);
    assert_eq!(r.metrics["replies_dropped"], 0);
    assert_eq!(
        r.metrics["replies_delivered"],
        r.metrics["replies_sent_or_queued"]
    );
    assert_eq!(r.metrics["connects"], 5);
}

#[test]
fn slow_client_scenarios_drop_only_for_slow_readers() {
    let r = run("kv-slowclient1", 1);
    assert!(r.metrics["replies_dropped"].as_u64().unwrap() > 0);
    assert_eq!(r.metrics["max_queue_len"], 500);
    let slow = r.metrics["slow_replies_received"].as_array().unwrap();
    assert!(slow.iter().all(|n| n.as_u64().unwrap() >= 500), "{slow:?}");
}

#[test]
fn swarm_holds_on_several_seeds_and_replays() {
    let mut faults_seen = 0;
    for seed in 0..6 {
        let a = run("kv-swarm", seed);
        faults_seen += a.faults.faults.len();
        if seed < 2 {
            assert_eq!(a.trace_hash, run("kv-swarm", seed).trace_hash);
        }
    }
    assert!(
        faults_seen > 0,
        "the swarm scenario injected no faults at all"
    );
}

#[test]
fn slow_readers_do_not_change_fast_clients_latency() {
    let r = run("kv-slow-readers", 2);
    let with = r.metrics["fast_get_max_us"].as_u64().unwrap();
    let alone = r.metrics["baseline_fast_get_max_us"].as_u64().unwrap();
    assert!(
        with <= alone + alone / 2 + 5_000,
        "{with} us with slow readers, {alone} alone"
    );
    assert!(r.metrics["replies_dropped"].as_u64().unwrap() > 0);
}

/// Random explicit schedules for `kv-swarm` (not the generator's): any mix of partitions,
/// one-way cuts, isolation, pauses of any node (the server included), stream resets of any
/// node, client crashes and restarts, and link delays. The server never crashes: its store
/// is in memory (systems/kv/SPEC.md §1), so a crash would lose what the model holds.
#[test]
fn swarm_holds_under_random_explicit_schedules() {
    use faultline::{Fault, LinkFaults, Schedule, TimedFault};
    use rand::Rng;
    let scenario = scenarios::catalog::find("kv-swarm").unwrap();
    const NODES: u32 = 15; // the server and 14 clients
    const PHASE_NS: u64 = 4_000_000_000;
    for case in 0..12u64 {
        let mut rng = faultline::derive_rng(case, "kv-test/schedules");
        let mut faults: Vec<TimedFault> = (0..rng.gen_range(1..30))
            .map(|_| {
                let node = rng.gen_range(0..NODES);
                let client = rng.gen_range(1..NODES);
                let fault = match rng.gen_range(0..9) {
                    0 => Fault::Partition {
                        groups: vec![vec![0, client], vec![rng.gen_range(1..NODES)]],
                    },
                    1 => Fault::CutOneWay {
                        from: node,
                        to: rng.gen_range(0..NODES),
                    },
                    2 => Fault::Isolate { node },
                    3 => Fault::Repair,
                    4 => Fault::Pause { node },
                    5 => Fault::Resume { node },
                    6 => Fault::ResetStreams { node },
                    7 if rng.gen_bool(0.5) => Fault::Crash { node: client },
                    7 => Fault::Restart { node: client },
                    _ => Fault::Link {
                        from: None,
                        to: None,
                        faults: LinkFaults::clean(1_000_000, rng.gen_range(1_000_000..80_000_000)),
                    },
                };
                TimedFault {
                    at_ns: rng.gen_range(0..PHASE_NS),
                    fault,
                }
            })
            .collect();
        faults.sort_by_key(|f| f.at_ns);
        let schedule = Schedule {
            swarm: vec!["kv test".into()],
            faults,
            heal_at_ns: PHASE_NS,
            end_ns: PHASE_NS + 6_000_000_000,
            triggers: vec![],
        };
        let spec = RunSpec {
            seed: case,
            schedule: Some(schedule),
            ..RunSpec::default()
        };
        let report = scenario.run(&spec).expect("runs");
        assert!(
            report.ok,
            "case {case}: {:?}\nschedule: {:?}",
            report.violation, spec.schedule
        );
    }
}
