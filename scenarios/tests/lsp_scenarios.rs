//! The catalog's LSP scenarios: deterministic per seed, and green on a handful of seeds
//! (the full sweeps run from the CLI: `faultline sweep lsp-stream --seeds 0..1000`).

use scenarios::catalog;
use scenarios::harness::RunSpec;

const LSP: [&str; 3] = ["lsp-echo", "lsp-stream", "lsp-loss"];

#[test]
fn same_seed_same_trace_hash() {
    for name in LSP {
        let s = catalog::find(name).expect("in the catalog");
        let a = s
            .run(&RunSpec {
                seed: 7,
                ..RunSpec::default()
            })
            .unwrap();
        let b = s
            .run(&RunSpec {
                seed: 7,
                ..RunSpec::default()
            })
            .unwrap();
        let c = s
            .run(&RunSpec {
                seed: 8,
                ..RunSpec::default()
            })
            .unwrap();
        assert_eq!(a.trace_hash, b.trace_hash, "{name}");
        assert_eq!(a.events, b.events, "{name}");
        assert_ne!(a.trace_hash, c.trace_hash, "{name}");
    }
}

#[test]
fn invariants_hold_on_a_few_seeds_and_work_gets_done() {
    for name in LSP {
        let s = catalog::find(name).unwrap();
        let mut echoes = 0;
        for seed in 0..10 {
            let r = s
                .run(&RunSpec {
                    seed,
                    ..RunSpec::default()
                })
                .unwrap();
            assert!(r.ok, "{name} seed {seed}: {:?}", r.violation);
            echoes += r.metrics["echoes_read"].as_u64().unwrap();
        }
        assert!(echoes > 100, "{name}: only {echoes} echoes over 10 seeds");
    }
}

#[test]
fn an_explicit_schedule_replays_the_same_run() {
    let s = catalog::find("lsp-stream").unwrap();
    let first = s
        .run(&RunSpec {
            seed: 3,
            ..RunSpec::default()
        })
        .unwrap();
    let again = s
        .run(&RunSpec {
            seed: 3,
            schedule: Some(first.faults.clone()),
            ..RunSpec::default()
        })
        .unwrap();
    assert_eq!(first.trace_hash, again.trace_hash);
}
