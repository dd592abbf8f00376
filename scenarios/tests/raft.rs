//! Every Raft scenario in the catalog passes on a few seeds and replays to the same trace.

use faultline::harness::RunSpec;

#[test]
fn raft_scenarios_pass_and_replay() {
    let all: Vec<_> = scenarios::catalog::all()
        .into_iter()
        .filter(|s| s.name().starts_with("raft-"))
        .collect();
    assert!(all.len() >= 18, "the raft scenarios are in the catalog");
    for s in all {
        for seed in 0..3 {
            let spec = RunSpec {
                seed,
                ..RunSpec::default()
            };
            let a = s.run(&spec).expect("runs");
            assert!(a.ok, "{} seed {seed}: {:?}", s.name(), a.violation);
            if seed == 0 {
                let b = s.run(&spec).expect("runs");
                assert_eq!(
                    a.trace_hash,
                    b.trace_hash,
                    "{} is not deterministic",
                    s.name()
                );
            }
        }
    }
}

#[test]
fn a_kv_run_checks_a_real_history() {
    let s = scenarios::catalog::find("raft-kv-crash-restart").expect("in the catalog");
    let r = s
        .run(&RunSpec {
            seed: 4,
            ..RunSpec::default()
        })
        .expect("runs");
    assert!(r.ok, "{:?}", r.violation);
    assert_eq!(r.metrics["client_ops"], 1000);
    assert_eq!(r.metrics["client_ops_returned"], 1000);
    assert!(
        r.metrics["terms"].as_u64().unwrap() > 1,
        "crashes forced new elections"
    );
}
