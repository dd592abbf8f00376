//! The catalog's LSP scenarios are green on a handful of seeds (determinism is checked for
//! every scenario in tests/determinism.rs)
//! (the full sweeps run from the CLI: `faultline sweep lsp-stream --seeds 0..1000`).

use faultline::harness::RunSpec;
use scenarios::catalog;

const LSP: [&str; 3] = ["lsp-echo", "lsp-stream", "lsp-loss"];

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
