//! The kv scenarios: every official test intent is in the catalog, every kv scenario holds
//! its invariants on a few seeds, and a seed replays to the same trace hash.

use scenarios::harness::RunSpec;

fn run(name: &str, seed: u64) -> scenarios::harness::Report {
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
