//! The planted bugs: the catalog is sound, a hunt catches a bug and the same seeds pass
//! without it, triggered faults reach the window between a vote and its sync, and a
//! failure fired by triggers shrinks, triggers included, the same way every time.

use faultline::finding::{execute, Finding};
use faultline::harness::{reached, RunSpec};
use faultline::{Schedule, Trigger, TriggerAction};
use scenarios::{bugs, catalog};
use std::collections::BTreeSet;

#[test]
fn every_bug_has_a_unique_name_and_names_scenarios_of_the_catalog() {
    let names: BTreeSet<&str> = bugs::ALL.iter().map(|b| b.name).collect();
    assert_eq!(names.len(), bugs::ALL.len());
    assert!(bugs::ALL.len() >= 20);
    for b in bugs::ALL {
        assert!(!b.scenarios.is_empty(), "{} has no scenario", b.name);
        for s in b.scenarios {
            assert!(catalog::find(s).is_some(), "{} names `{s}`", b.name);
        }
    }
    // A budget is spent only by a bug that gets through; together they must still fit the
    // CI step's share of its 25 minutes.
    let budget: u64 = bugs::ALL.iter().map(|b| b.budget_s).sum();
    assert!(budget <= 320, "the hunts' budgets add up to {budget} s");
}

#[test]
fn a_hunt_catches_its_bug_and_the_same_seeds_pass_unplanted() {
    let never = || 0.0;
    for name in [
        "lsp-checksum-unchecked",
        "raft-commit-old-term",
        "miner-upper-exclusive",
    ] {
        let bug = bugs::find(name).expect("in the catalog");
        let h = bugs::hunt(bug, 1.0, 2, &never).expect("its scenarios exist");
        assert!(h.caught, "{name} not caught: {h:?}");
        assert!(h.control_runs > 0 && h.control_failures == 0, "{h:?}");
        assert!(h.replay.as_deref().is_some_and(|r| r.contains(" --bug ")));
    }
}

#[test]
fn without_a_bug_a_planted_scenario_runs_as_written() {
    let s = catalog::find("raft-figure8-paper").expect("in the catalog");
    let plain = execute(s.as_ref(), &RunSpec::new(3));
    let none = RunSpec {
        bug: None,
        ..RunSpec::new(3)
    };
    let again = execute(s.as_ref(), &none);
    let hash = |o: &faultline::finding::Outcome| o.report().map(|r| r.trace_hash.clone());
    assert_eq!(hash(&plain), hash(&again));
    let planted = RunSpec {
        bug: Some("raft-commit-old-term".into()),
        ..RunSpec::new(3)
    };
    let bad = execute(s.as_ref(), &planted);
    assert!(bad.report().is_some_and(|r| !r.ok));
}

#[test]
fn a_trigger_crashes_a_server_right_after_its_vote() {
    let s = catalog::find("raft-kv-calm").expect("in the catalog");
    let mut schedule = Schedule::quiet(5_000_000_000, 10_000_000_000);
    schedule.triggers.push(Trigger {
        on: "vote_granted".into(),
        node: None,
        nth: 1,
        action: TriggerAction::Crash,
        delay_ns: 0,
        undo_after_ns: Some(10_000_000),
    });
    let text = serde_json::to_string(&schedule).expect("serialises");
    let back: Schedule = serde_json::from_str(&text).expect("parses");
    assert_eq!(back, schedule);
    let spec = RunSpec {
        schedule: Some(back),
        ..RunSpec::new(1)
    };
    let outcome = execute(s.as_ref(), &spec);
    let report = outcome.report().expect("ran");
    assert!(report.ok, "{:?}", report.violation);
    assert!(
        reached(report).contains(&"crash-after-vote"),
        "{:?}",
        report.metrics
    );
    let bad = r#"{"faults":[],"heal_at_ns":1,"end_ns":2,"triggers":[{"on":"x","action":"crash","when":3}]}"#;
    assert!(serde_json::from_str::<Schedule>(bad).is_err());
}

/// A miner whose wrong results never touch a request's minimum is caught only by the
/// per-chunk oracle.
#[test]
fn a_wrong_chunk_result_is_caught_by_chunk_result_correct() {
    let bug = bugs::find("miner-target-or-last").expect("in the catalog");
    let h = bugs::hunt(bug, 5.0, 2, &|| 0.0).expect("its scenarios exist");
    assert!(h.caught, "{h:?}");
    assert_eq!(
        h.invariant.as_deref(),
        Some("chunk-result-correct"),
        "{h:?}"
    );
    assert!(h.control_runs > 0 && h.control_failures == 0, "{h:?}");
}

/// CMUD's planted bugs: each is caught by the scenario written for it, and the same seeds
/// pass unplanted. The hunt's clock counts its own calls, so a bug that got through ends
/// the test after a bounded number of runs instead of a wall-clock time.
#[test]
fn every_cmud_bug_is_caught_by_its_scenario_and_the_same_seeds_pass_unplanted() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let cmud: Vec<_> = bugs::ALL
        .iter()
        .filter(|b| b.plant.system() == "cmud")
        .collect();
    assert!(cmud.len() >= 4, "{} cmud bugs", cmud.len());
    for bug in cmud {
        let calls = AtomicU64::new(0);
        let clock = || calls.fetch_add(1, Ordering::Relaxed) as f64;
        let h = bugs::hunt(bug, 2_000.0, 2, &clock).expect("its scenarios exist");
        assert!(h.caught, "{} not caught: {h:?}", bug.name);
        assert_eq!(h.scenario.as_deref(), Some(bug.scenarios[0]), "{h:?}");
        assert!(h.control_runs > 0 && h.control_failures == 0, "{h:?}");
    }
}

/// The two scripted repairs pass as written over several seeds, and each fails with the
/// bug it is there for.
#[test]
fn the_cmud_repairs_pass_unplanted_and_fail_with_their_bug() {
    for (scenario, bug, invariant) in [
        (
            "cmud-link-reset",
            "cmud-no-resync-on-reconnect",
            "converged",
        ),
        (
            "cmud-crash-after-put",
            "cmud-reply-before-sync",
            "lww-winner",
        ),
    ] {
        let s = catalog::find(scenario).expect("in the catalog");
        for seed in 0..5 {
            let plain = execute(s.as_ref(), &RunSpec::new(seed));
            let report = plain.report().expect("ran");
            assert!(report.ok, "{scenario} seed {seed}: {:?}", report.violation);
            let planted = RunSpec {
                bug: Some(bug.into()),
                ..RunSpec::new(seed)
            };
            let bad = execute(s.as_ref(), &planted);
            let v = bad.report().and_then(|r| r.violation.clone());
            assert_eq!(
                v.as_ref().map(|v| v.invariant.as_str()),
                Some(invariant),
                "{scenario} seed {seed} with {bug}: {v:?}"
            );
        }
    }
}

/// raft-kv-vote-crash seed 46 fails `raft-vote-not-synced` through its triggers (a crash
/// right after a vote): shrinking drops the timed faults and most triggers, and the rest
/// still fails the same way, with the same result on one job as on two.
#[test]
fn a_triggered_bug_shrinks_its_triggers_and_replays() {
    let scenario = bugs::plant(
        catalog::find("raft-kv-vote-crash").expect("in the catalog"),
        Some("raft-vote-not-synced"),
    );
    let shrink = |jobs: usize| {
        let options = faultline::shrink::Options {
            jobs,
            budget: None,
            progress: &|_| {},
        };
        faultline::shrink::shrink(scenario.as_ref(), &RunSpec::new(46), &options)
            .expect("seed 46 fails")
    };
    let s = shrink(2);
    assert_eq!(s.target.invariant, "one-vote-per-term");
    assert!(s.original_triggers > 0);
    let after = faultline::shrink::units::events(&s.schedule);
    assert!(after <= 5 && after < s.original_events, "{:#?}", s.schedule);
    assert!(
        !s.schedule.triggers.is_empty() && s.schedule.triggers.len() < s.original_triggers,
        "{:#?}",
        s.schedule.triggers
    );
    let replay = RunSpec {
        schedule: Some(s.schedule.clone()),
        params: s.params.clone(),
        ..RunSpec::new(46)
    };
    let f = Finding::of(
        scenario.name(),
        &replay,
        &execute(scenario.as_ref(), &replay),
    )
    .expect("the shrunk schedule still fails");
    assert_eq!((f.kind, &f.invariant), (s.target.kind, &s.target.invariant));
    let one = shrink(1);
    assert_eq!((one.schedule, one.params), (s.schedule, s.params));
}
