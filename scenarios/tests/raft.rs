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

#[test]
fn raft_survives_storage_faults_and_rot_is_caught_when_checksums_are_skipped() {
    let s = scenarios::catalog::find("raft-kv-storage-faults").expect("in the catalog");
    let metric = |r: &faultline::harness::Report, name: &str| r.metrics[name].as_u64().unwrap();
    let (mut damage, mut kept, mut refused) = (0, 0, 0);
    for seed in 0..4 {
        let spec = RunSpec {
            seed,
            ..RunSpec::default()
        };
        let r = s.run(&spec).expect("runs");
        assert!(r.ok, "seed {seed}: {:?}", r.violation);
        assert_eq!(metric(&r, "client_ops_returned"), 1000);
        damage += metric(&r, "storage_torn") + metric(&r, "storage_rotted");
        kept += metric(&r, "storage_writes_kept");
        refused += metric(&r, "storage_damaged_servers");
        if seed == 0 {
            let again = s.run(&spec).expect("runs");
            assert_eq!(r.trace_hash, again.trace_hash, "not deterministic");
        }
    }
    assert!(damage > 0 && kept > 0 && refused > 0, "the faults fired");
    let planted = RunSpec {
        seed: 0,
        bug: Some("raft-no-checksum-check".into()),
        ..RunSpec::default()
    };
    let bad = s.run(&planted).expect("runs");
    assert!(!bad.ok, "a rotted record used unchecked is caught");
}
