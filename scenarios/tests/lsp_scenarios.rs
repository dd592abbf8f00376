//! The LSP catalog: one scenario per official test intent (systems/lsp/SPEC.md §12), and
//! every LSP scenario green on a few seeds. Determinism of every catalog scenario is
//! checked in tests/determinism.rs; CI sweeps each over 100 seeds
//! (`faultline sweep lsp-window3 --seeds 0..100`).

use faultline::harness::RunSpec;
use faultline::sweep::seeds_from_env;
use scenarios::catalog;

/// The official tests (lsp1_test.go .. lsp6_test.go), by the catalog name of their intent.
const INTENTS: [&str; 64] = [
    "lsp-basic1",
    "lsp-basic2",
    "lsp-basic3",
    "lsp-basic4",
    "lsp-basic5",
    "lsp-basic6",
    "lsp-basic7",
    "lsp-basic8",
    "lsp-basic9",
    "lsp-send-receive1",
    "lsp-send-receive2",
    "lsp-send-receive3",
    "lsp-robust1",
    "lsp-robust2",
    "lsp-robust3",
    "lsp-robust4",
    "lsp-robust5",
    "lsp-robust6",
    "lsp-exp-backoff1",
    "lsp-exp-backoff2",
    "lsp-window1",
    "lsp-window2",
    "lsp-window3",
    "lsp-window4",
    "lsp-window5",
    "lsp-window6",
    "lsp-max-unacked-messages1",
    "lsp-max-unacked-messages2",
    "lsp-max-unacked-messages3",
    "lsp-max-unacked-messages4",
    "lsp-max-unacked-messages5",
    "lsp-max-unacked-messages6",
    "lsp-out-of-order-msg1",
    "lsp-out-of-order-msg2",
    "lsp-out-of-order-msg3",
    "lsp-server-slow-start1",
    "lsp-server-slow-start2",
    "lsp-server-close1",
    "lsp-server-close2",
    "lsp-server-close-conns1",
    "lsp-server-close-conns2",
    "lsp-client-close1",
    "lsp-client-close2",
    "lsp-server-fast-close1",
    "lsp-server-fast-close2",
    "lsp-server-fast-close3",
    "lsp-server-to-client1",
    "lsp-server-to-client2",
    "lsp-server-to-client3",
    "lsp-client-to-server1",
    "lsp-client-to-server2",
    "lsp-client-to-server3",
    "lsp-round-trip1",
    "lsp-round-trip2",
    "lsp-round-trip3",
    "lsp-basic-isn",
    "lsp-cack-server1",
    "lsp-cack-server2",
    "lsp-cack-server3",
    "lsp-cack-server4",
    "lsp-variable-length-msg-server",
    "lsp-variable-length-msg-client",
    "lsp-corrupted-msg-server",
    "lsp-corrupted-msg-client",
];

const SWARM: [&str; 3] = ["lsp-echo", "lsp-stream", "lsp-loss"];

fn run(name: &str, seed: u64) -> faultline::harness::Report {
    let s = catalog::find(name).unwrap_or_else(|| panic!("{name} is not in the catalog"));
    let spec = RunSpec {
        seed,
        ..RunSpec::default()
    };
    s.run(&spec)
        .unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"))
}

#[test]
fn the_catalog_has_exactly_one_scenario_per_official_intent() {
    let lsp: Vec<String> = catalog::all()
        .iter()
        .map(|s| s.name().to_string())
        .filter(|n| n.starts_with("lsp-"))
        .collect();
    let expected: Vec<String> = SWARM
        .iter()
        .chain(&INTENTS)
        .map(|n| n.to_string())
        .collect();
    assert_eq!(lsp, expected);
}

#[test]
fn every_intent_passes_on_a_few_seeds() {
    for name in INTENTS {
        for seed in seeds_from_env(0..3).expect("FAULTLINE_SEED must be a number") {
            let r = run(name, seed);
            assert!(r.ok, "{name} seed {seed}: {}", r.violation.unwrap());
        }
    }
}

#[test]
fn swarm_invariants_hold_on_a_few_seeds_and_work_gets_done() {
    for name in SWARM {
        let mut echoes = 0;
        for seed in 0..10 {
            let r = run(name, seed);
            assert!(r.ok, "{name} seed {seed}: {:?}", r.violation);
            echoes += r.metrics["echoes_read"].as_u64().unwrap();
        }
        assert!(echoes > 100, "{name}: only {echoes} echoes over 10 seeds");
    }
}

#[test]
fn an_explicit_schedule_replays_the_same_run() {
    for name in ["lsp-stream", "lsp-window4"] {
        let s = catalog::find(name).unwrap();
        let first = run(name, 3);
        let again = s
            .run(&RunSpec {
                seed: 3,
                schedule: Some(first.faults.clone()),
                ..RunSpec::default()
            })
            .unwrap();
        assert_eq!(first.trace_hash, again.trace_hash, "{name}");
    }
}

#[test]
fn an_intent_refuses_a_fault_schedule() {
    let schedule = run("lsp-stream", 1).faults;
    assert!(!schedule.faults.is_empty());
    let err = catalog::find("lsp-basic1")
        .unwrap()
        .run(&RunSpec {
            seed: 1,
            schedule: Some(schedule),
            ..RunSpec::default()
        })
        .unwrap_err();
    assert!(err.contains("takes no fault schedule"), "{err}");
}
