//! The `faultline` command as a user runs it: exit codes, JSON output, replay from a saved
//! schedule, sweeps and FAULTLINE_SEED.

mod common;

use std::process::{Output, Stdio};
use std::time::Duration;

/// How long one command may run before it is killed and the test fails.
const LIMIT: Duration = Duration::from_secs(240);

fn faultline(args: &[&str]) -> Output {
    common::run_to_end(
        &format!("faultline {args:?}"),
        common::faultline(args)
            .env_remove("FAULTLINE_SEED")
            .stdin(Stdio::null()),
        LIMIT,
    )
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(stdout(o).trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn list_names_every_scenario_first_on_its_line() {
    let _w = common::watchdog(
        "list_names_every_scenario_first_on_its_line",
        std::time::Duration::from_secs(300),
    );
    let out = faultline(&["list"]);
    assert!(out.status.success());
    let names: Vec<String> = stdout(&out)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert!(names.contains(&"exercise-counter".to_string()), "{names:?}");
    assert!(names.contains(&"exercise-echo".to_string()), "{names:?}");
}

#[test]
fn run_json_has_the_promised_fields_and_replays_from_its_schedule() {
    let _w = common::watchdog(
        "run_json_has_the_promised_fields_and_replays_from_its_schedule",
        std::time::Duration::from_secs(300),
    );
    let out = faultline(&["run", "exercise-counter", "--seed", "7", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    for field in [
        "scenario",
        "seed",
        "ok",
        "events",
        "sim_time_ns",
        "trace_hash",
        "faults",
        "violation",
    ] {
        assert!(report.get(field).is_some(), "missing {field}: {report}");
    }
    assert_eq!(report["ok"], true);
    assert!(report["violation"].is_null());
    assert_eq!(report["trace_hash"].as_str().unwrap().len(), 64);

    // The printed schedule, saved and replayed, gives the very same run.
    let dir = std::env::temp_dir().join(format!("faultline-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("schedule.json");
    std::fs::write(&path, report["faults"].to_string()).unwrap();
    let replay = faultline(&[
        "run",
        "exercise-counter",
        "--seed",
        "7",
        "--schedule",
        path.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(json(&replay)["trace_hash"], report["trace_hash"]);

    // And a trace file has one JSON line per delivered event.
    let trace = dir.join("trace.jsonl");
    let traced = faultline(&[
        "run",
        "exercise-counter",
        "--seed",
        "7",
        "--trace",
        trace.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(json(&traced)["trace_hash"], report["trace_hash"]);
    let lines = std::fs::read_to_string(&trace).unwrap();
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(first.get("t_ns").is_some() && first.get("kind").is_some());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_liveness_violation_exits_3_with_its_name_time_seed_and_replay_command() {
    let _w = common::watchdog(
        "a_liveness_violation_exits_3_with_its_name_time_seed_and_replay_command",
        std::time::Duration::from_secs(300),
    );
    // No heal phase and the server cut off for good: the echo clients cannot finish, which
    // breaks a liveness invariant (exit 3; a safety violation would exit 1).
    let dir = std::env::temp_dir().join(format!("faultline-cli-v-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cut.json");
    let schedule = serde_json::json!({
        "faults": [{"at_ns": 0, "kind": "isolate", "node": 0}],
        "heal_at_ns": 3_000_000_000u64, "end_ns": 3_000_000_000u64
    });
    std::fs::write(&path, schedule.to_string()).unwrap();
    let out = faultline(&[
        "run",
        "exercise-echo",
        "--seed",
        "3",
        "--schedule",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let text = stdout(&out);
    assert!(text.contains("every-client-done-after-heal"), "{text}");
    assert!(text.contains("seed 3"), "{text}");
    assert!(
        text.contains("replay: cargo run --release -- run exercise-echo --seed 3 --schedule"),
        "{text}"
    );
    let out = faultline(&[
        "run",
        "exercise-echo",
        "--seed",
        "3",
        "--schedule",
        path.to_str().unwrap(),
        "--json",
    ]);
    let report = json(&out);
    assert_eq!(report["ok"], false);
    assert_eq!(
        report["violation"]["invariant"],
        "every-client-done-after-heal"
    );
    assert_eq!(report["violation"]["time_ns"], 3_000_000_000u64);
    assert_eq!(report["violation"]["kind"], "liveness");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_usage_exits_2_with_a_message() {
    let _w = common::watchdog(
        "bad_usage_exits_2_with_a_message",
        std::time::Duration::from_secs(300),
    );
    for args in [
        vec!["run", "no-such-scenario", "--seed", "1"],
        vec!["run", "exercise-counter", "--seed", "minus-one"],
        vec!["run", "exercise-counter"],
        vec![
            "run",
            "exercise-counter",
            "--seed",
            "1",
            "--schedule",
            "/nonexistent/schedule.json",
        ],
        vec!["sweep", "exercise-counter", "--seeds", "5..5"],
        vec!["sweep", "exercise-counter", "--seeds", "ten"],
        vec![
            "sweep",
            "exercise-counter",
            "--seeds",
            "0..2",
            "--jobs",
            "0",
        ],
        vec!["frobnicate"],
    ] {
        let out = faultline(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} printed no message");
    }
    let dir = std::env::temp_dir().join(format!("faultline-cli-b-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in [
        ("garbage.json", "{not json"),
        (
            "unknown.json",
            r#"{"faults":[{"at_ns":0,"kind":"meteor"}],"heal_at_ns":1,"end_ns":2}"#,
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        let out = faultline(&[
            "run",
            "exercise-counter",
            "--seed",
            "1",
            "--schedule",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not a valid fault schedule"),
            "{name}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sweep_json_prints_a_summary_and_faultline_seed_narrows_it() {
    let _w = common::watchdog(
        "sweep_json_prints_a_summary_and_faultline_seed_narrows_it",
        std::time::Duration::from_secs(300),
    );
    let out = faultline(&[
        "sweep",
        "exercise-counter",
        "--seeds",
        "0..6",
        "--jobs",
        "2",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let summary = json(&out);
    assert_eq!(summary["total"], 6);
    assert_eq!(summary["failed"], 0);

    let out = common::run_to_end(
        "a sweep under FAULTLINE_SEED",
        common::faultline(&["sweep", "exercise-counter", "--seeds", "0..100", "--json"])
            .env("FAULTLINE_SEED", "42"),
        LIMIT,
    );
    let summary = json(&out);
    assert_eq!(summary["total"], 1);
    assert_eq!(summary["seeds"], "42..43");
}

#[test]
fn hostile_protocol_options_are_usage_errors() {
    let _w = common::watchdog(
        "hostile_protocol_options_are_usage_errors",
        std::time::Duration::from_secs(120),
    );
    let cases: [&[&str]; 5] = [
        // A zero epoch would spin a core while idle.
        &["lsp", "server", "--port", "0", "--epoch-millis", "0"],
        &["miner", "server", "0", "--epoch-millis", "0"],
        // A negative ISN numbers the first message 0, the heartbeat's number.
        &["lsp", "client", "127.0.0.1:1", "--isn=-1"],
        &["lsp", "client", "127.0.0.1:1", "--isn=9223372036854775807"],
        // No server 3 in a cluster of one.
        &["raft", "node", "--id", "3", "--cluster", "127.0.0.1:1"],
    ];
    for args in cases {
        let o = faultline(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.trim().is_empty(), "{args:?} says why");
    }
}
