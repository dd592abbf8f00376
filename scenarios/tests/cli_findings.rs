//! The command line loses nothing and never panics: budget findings and their exit code,
//! closed pipes, several scenarios in one sweep, a time limit, shards merged into the whole
//! sweep, the determinism check, and a shrink whose schedule replays to the same finding.
//! Every process has a deadline and is killed if it overruns.

// These tests run the real binary: its deadline is wall-clock time, and its pipes are read
// on threads.
#![allow(clippy::disallowed_methods)]

mod common;

use common::Proc;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(300);

/// Start `faultline ARGS` with its output piped; killed when dropped.
fn start(args: &[&str]) -> Proc {
    Proc::spawn(
        &format!("faultline {args:?}"),
        common::faultline(args)
            .env_remove("FAULTLINE_SEED")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
}

/// Run to the end within the deadline: exit code, stdout, stderr.
fn faultline(args: &[&str]) -> (Option<i32>, String, String) {
    let out = start(args).output(DEADLINE);
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("faultline-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn a_run_over_budget_is_a_budget_finding_with_exit_code_5() {
    let _w = common::watchdog(
        "a_run_over_budget_is_a_budget_finding_with_exit_code_5",
        std::time::Duration::from_secs(300),
    );
    let args = [
        "run",
        "raft-kv-calm",
        "--seed",
        "1",
        "--max-events",
        "2000",
        "--json",
    ];
    let (code, out, err) = faultline(&args);
    assert_eq!(code, Some(5), "{err}");
    let report = &lines(&out)[0];
    assert_eq!(report["kind"], "budget");
    assert_eq!(report["events"], 2000);
    assert_eq!(report["violation"]["invariant"], "budget");
    let replay = report["violation"]["replay"].as_str().unwrap();
    assert!(replay.contains("--max-events 2000"), "{replay}");
    // Text output says the kind too.
    let (code, out, _) = faultline(&args[..6]);
    assert_eq!(code, Some(5));
    assert!(
        out.contains("[budget]") && out.contains("2000 events"),
        "{out}"
    );
}

#[test]
fn closed_pipes_end_the_output_not_the_program() {
    let _w = common::watchdog(
        "closed_pipes_end_the_output_not_the_program",
        std::time::Duration::from_secs(300),
    );
    // A sweep with enough findings to overflow a pipe's buffer, so writes do fail once it
    // is closed: in text and in JSON.
    let sweep = |mode: &[&'static str]| -> Vec<&'static str> {
        let mut args = vec![
            "sweep",
            "raft-kv-calm",
            "--seeds",
            "0..1000",
            "--max-events",
            "2000",
        ];
        args.extend_from_slice(mode);
        args
    };
    for args in [
        vec!["run", "raft-kv-swarm", "--seed", "1", "--json"],
        sweep(&["--jobs", "2"]),
        sweep(&["--json"]),
    ] {
        let mut g = start(&args);
        // Like `| head -1` (a sweep) and `| head -c 300` (a run): read a little, then close.
        let first = g.head_of_stdout(300, DEADLINE);
        assert!(!first.is_empty(), "{args:?} printed nothing");
        let out = g.output(DEADLINE);
        let (code, err) = (out.status.code(), String::from_utf8_lossy(&out.stderr));
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(code.is_some(), "{args:?} was killed by a signal");
    }
}

#[test]
fn several_scenarios_sweep_interleaved_and_a_time_limit_reports_what_was_done() {
    let _w = common::watchdog(
        "several_scenarios_sweep_interleaved_and_a_time_limit_reports_what_was_done",
        std::time::Duration::from_secs(300),
    );
    let (code, out, err) = faultline(&[
        "sweep",
        "exercise-counter,raft-kv-calm",
        "--seeds",
        "0..3",
        "--max-events",
        "5000",
        "--jobs",
        "100000",
        "--json",
    ]);
    assert_eq!(code, Some(5), "{err}");
    let records = lines(&out);
    let (summary, findings) = records.split_last().unwrap();
    assert_eq!(summary["record"], "summary");
    assert_eq!(
        (summary["planned"].as_u64(), summary["total"].as_u64()),
        (Some(6), Some(6))
    );
    // raft-kv-calm takes about 13,000 events: every seed of it is over 5,000.
    let seeds: Vec<u64> = findings
        .iter()
        .map(|f| f["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, vec![0, 1, 2]);
    assert!(findings
        .iter()
        .all(|f| f["scenario"] == "raft-kv-calm" && f["kind"] == "budget"));
    assert_eq!(summary["kinds"]["budget"], 3);

    let (code, out, _) = faultline(&[
        "sweep",
        "--all",
        "--seeds",
        "0..1000",
        "--time-limit",
        "0",
        "--json",
    ]);
    assert_eq!(code, Some(0));
    let summary = &lines(&out)[0];
    assert!(
        summary["stopped"].as_str().unwrap().contains("time limit"),
        "{summary}"
    );
    assert!(summary["total"].as_u64().unwrap() < summary["planned"].as_u64().unwrap());

    for bad in [
        vec!["sweep", "exercise-counter,no-such", "--seeds", "0..2"],
        vec!["sweep", "--seeds", "0..2"],
        vec![
            "sweep",
            "exercise-counter,exercise-counter",
            "--seeds",
            "0..2",
        ],
    ] {
        assert_eq!(faultline(&bad).0, Some(2), "{bad:?}");
    }
}

#[test]
fn the_merged_shards_of_a_sweep_equal_the_whole_sweep() {
    let _w = common::watchdog(
        "the_merged_shards_of_a_sweep_equal_the_whole_sweep",
        std::time::Duration::from_secs(300),
    );
    let d = dir("shards");
    let sweep = |extra: &[&str]| -> String {
        let mut args = vec![
            "sweep",
            "exercise-counter,raft-kv-calm",
            "--seeds",
            "0..7",
            "--max-events",
            "9000",
            "--jobs",
            "2",
            "--json",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = faultline(&args);
        assert!(matches!(code, Some(0) | Some(5)), "{args:?}: {err}");
        out
    };
    let whole = sweep(&[]);
    let mut files = Vec::new();
    for k in 1..=3 {
        let path = d.join(format!("shard-{k}.jsonl"));
        std::fs::write(&path, sweep(&["--shard", &format!("{k}/3")])).unwrap();
        files.push(path.to_str().unwrap().to_string());
    }
    let mut args = vec!["merge", "--json"];
    args.extend(files.iter().map(String::as_str));
    let (code, merged, err) = faultline(&args);
    assert_eq!(code, Some(5), "{err}");
    let (merged, whole) = (lines(&merged), lines(&whole));
    assert_eq!(merged, whole, "the merge of the shards is the whole sweep");
    assert!(whole.len() > 1, "the sweep found something to merge");
    // Without one shard the merge says so and fails.
    let (code, _, err) = faultline(&["merge", &files[0], &files[2]]);
    assert_eq!(code, Some(2));
    assert!(err.contains("missing shards 2/3"), "{err}");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn check_determinism_passes_a_deterministic_run() {
    let _w = common::watchdog(
        "check_determinism_passes_a_deterministic_run",
        std::time::Duration::from_secs(300),
    );
    let (code, out, err) =
        faultline(&["run", "exercise-echo", "--seed", "2", "--check-determinism"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("deterministic: two runs gave the same"),
        "{out}"
    );
}

#[test]
fn a_shrunk_schedule_replays_to_the_same_finding() {
    let _w = common::watchdog(
        "a_shrunk_schedule_replays_to_the_same_finding",
        std::time::Duration::from_secs(300),
    );
    let d = dir("shrink");
    let output = d.join("shrunk.json");
    // raft-kv-calm over a budget of 4,000 events: shrinking lowers clients and operations
    // as far as the run still goes over it.
    let (code, out, err) = faultline(&[
        "shrink",
        "raft-kv-calm",
        "--seed",
        "3",
        "--max-events",
        "4000",
        "-o",
        output.to_str().unwrap(),
        "--jobs",
        "2",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("budget `budget` still fails"), "{out}");
    let replay = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: cargo run --release -- "))
        .unwrap_or_else(|| panic!("no replay line: {out}"))
        .to_string();
    assert!(replay.contains("--set clients="), "{replay}");
    let args: Vec<&str> = replay.split_whitespace().collect();
    let (code, out, _) = faultline(&args);
    assert_eq!(code, Some(5), "{out}");
    assert!(out.contains("[budget]"), "{out}");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn hunt_shrink_reports_the_figures_and_its_schedule_replays_to_the_bug() {
    let _w = common::watchdog(
        "hunt_shrink_reports_the_figures_and_its_schedule_replays_to_the_bug",
        std::time::Duration::from_secs(300),
    );
    let bug = "lsp-lost-one-epoch-early";
    let (code, out, err) = faultline(&["hunt", bug, "--shrink", "--json", "--jobs", "2"]);
    assert_eq!(code, Some(0), "{err}");
    let records = lines(&out);
    let hunt = &records[0];
    let shrink = &hunt["shrink"];
    let (before, after) = (
        shrink["events_before"].as_u64(),
        shrink["events_after"].as_u64(),
    );
    assert!(
        before.zip(after).is_some_and(|(b, a)| a <= 5 && a < b),
        "{shrink}"
    );
    assert_eq!(records[1]["shrunk_most_events"].as_u64(), after);
    // The shrunk schedule, with its lowered parameters, fails the way the hunt's run did.
    let d = dir("hunt-shrink");
    let path = d.join("shrunk.json");
    std::fs::write(&path, shrink["schedule"].to_string()).unwrap();
    let mut args: Vec<String> = ["run", "lsp-loss", "--seed", "0", "--bug", bug, "--json"]
        .map(String::from)
        .to_vec();
    args.extend(["--schedule".into(), path.to_str().unwrap().into()]);
    for (name, value) in shrink["params"].as_object().expect("params") {
        args.extend(["--set".into(), format!("{name}={value}")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, out, err) = faultline(&args);
    let run = &lines(&out)[0];
    assert_eq!(run["violation"]["kind"], hunt["kind"], "{err}");
    assert_eq!(run["violation"]["invariant"], hunt["invariant"], "{out}");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn parameters_are_checked_on_every_command_and_carried_into_replays() {
    // Unknown names, values under the minimum, and timings that cannot work are usage
    // errors on run, sweep and shrink alike.
    for cmd in ["run", "sweep", "shrink"] {
        let seeds: &[&str] = if cmd == "sweep" {
            &["--seeds", "0..2"]
        } else {
            &["--seed", "0"]
        };
        for bad in ["nope=1", "election=200..100", "heartbeat=500", "servers=x"] {
            let mut args = vec![cmd, "raft-kv-calm"];
            args.extend_from_slice(seeds);
            args.extend_from_slice(&["--set", bad]);
            let (code, _, err) = faultline(&args);
            assert_eq!(code, Some(2), "{args:?}: {err}");
            assert!(err.contains("faultline:"), "{args:?}: a message: {err}");
        }
    }
    // A failing sweep's replay lines carry the parameters, and its summary names them.
    let (code, out, err) = faultline(&[
        "sweep",
        "raft-election-downtime",
        "--seeds",
        "0..2",
        "--set",
        "election=150..150",
        "--set",
        "give_up_ms=2000",
        "--json",
    ]);
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(
        out.contains("--set election_max=150 --set election_min=150 --set give_up_ms=2000"),
        "{out}"
    );
    let summary = out.lines().last().unwrap_or_default();
    assert!(
        summary.contains(r#""params":{"raft-election-downtime":{"election_max":150,"election_min":150,"give_up_ms":2000}}"#),
        "{summary}"
    );
}

#[test]
fn cmud_swarm_takes_its_shape_from_set_and_refuses_bad_values() {
    let _w = common::watchdog(
        "cmud_swarm_takes_its_shape_from_set_and_refuses_bad_values",
        std::time::Duration::from_secs(300),
    );
    let run = |sets: &[&str]| -> serde_json::Value {
        let mut args = vec!["run", "cmud-swarm", "--seed", "0", "--json"];
        args.extend_from_slice(sets);
        let (code, out, err) = faultline(&args);
        assert_eq!(code, Some(0), "{args:?}: {out}{err}");
        serde_json::from_str(out.lines().next().unwrap_or_default())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    };
    let plain = run(&[]);
    let small = run(&[
        "--set",
        "servers=3",
        "--set",
        "regions=2",
        "--set",
        "latency=20..40",
    ]);
    // 6 servers and a bot each, against 3 and 3.
    assert_eq!(plain["nodes"], 12, "{plain}");
    assert_eq!(small["nodes"], 6, "{small}");
    assert_ne!(plain["trace_hash"], small["trace_hash"]);
    assert_eq!(
        small["params"].to_string(),
        r#"{"latency_max":40,"latency_min":20,"regions":2,"servers":3}"#
    );
    // The defaults set explicitly are the run as it was.
    let same = run(&["--set", "servers=6", "--set", "latency=80..250"]);
    assert_eq!(plain["trace_hash"], same["trace_hash"]);
    for bad in [
        "regions=7",
        "servers=2",
        "latency=300..100",
        "think_min=500",
        "actors=x",
        "nope=1",
    ] {
        let args = ["run", "cmud-swarm", "--seed", "0", "--set", bad];
        let (code, _, err) = faultline(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("faultline:"), "{args:?}: a message: {err}");
    }
    // cmud-clock-skew's skew decides whether the later Put loses.
    let skew = |set: &str| -> serde_json::Value {
        let args = [
            "run",
            "cmud-clock-skew",
            "--seed",
            "0",
            "--json",
            "--set",
            set,
        ];
        let (code, out, err) = faultline(&args);
        assert_eq!(code, Some(0), "{args:?}: {out}{err}");
        serde_json::from_str(out.lines().next().unwrap_or_default()).expect("JSON")
    };
    assert_eq!(skew("skew_ms=50")["metrics"]["skew_anomalies"], 5);
    assert_eq!(skew("skew_ms=0")["metrics"]["skew_anomalies"], 0);
    let (code, _, err) = faultline(&[
        "run",
        "cmud-clock-skew",
        "--seed",
        "0",
        "--set",
        "gap_ms=5000",
    ]);
    assert_eq!(code, Some(2), "{err}");
    let (code, out, _) = faultline(&["list", "--params", "cmud-swarm"]);
    assert_eq!(code, Some(0));
    for name in [
        "servers",
        "actors",
        "regions",
        "bots",
        "latency_min",
        "fault_ms",
    ] {
        assert!(out.contains(&format!("--set {name}=N")), "{name}: {out}");
    }
}
