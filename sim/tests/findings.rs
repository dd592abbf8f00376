//! A sweep never loses a finding: a seed that panics, a seed that storms and a seed that
//! breaks an invariant are each reported with their kind, the other seeds run as usual,
//! a sweep stopped early reports the runs it did, the shards of a sweep merge into the
//! whole, and a run that is not deterministic is caught with the first event where its two
//! runs part. The scenario is a test-only ring of pinging nodes whose seed picks a
//! misbehaviour.

use faultline::finding::{execute, Outcome};
use faultline::harness::{drive, Report, RunSpec, Scenario};
use faultline::swarm::{FaultKinds, FaultProfile};
use faultline::sweep::{self, Options, Summary};
use faultline::{Addr, Budget, Ctx, Failure, FindingKind, Node, Time, TimerId, World};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const NODES: u32 = 3;

/// What a seed makes the ring do wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Fine,
    /// Node 1 panics on its 5th datagram.
    Panic,
    /// After 1 s node 0 re-arms a zero-length timer forever: events at one instant.
    Storm,
    /// Node 2 records a forbidden event at 1 s: a safety violation.
    Violate,
    /// Node 1 sends a payload that depends on a process-wide counter: a different run
    /// every time (the nondeterminism a real node gets from a global or the wall clock).
    Nondeterministic,
}

fn mode(seed: u64) -> Mode {
    match seed % 7 {
        1 => Mode::Panic,
        3 => Mode::Storm,
        5 => Mode::Violate,
        _ => Mode::Fine,
    }
}

/// Incremented by every nondeterministic run: the planted nondeterminism.
static RUNS: AtomicU64 = AtomicU64::new(0);

struct Pinger {
    mode: Mode,
    received: u32,
    ticks: u32,
    run: u64,
}

impl Node for Pinger {
    type Event = &'static str;
    type Timer = u64;
    fn on_start(&mut self, ctx: &mut Ctx<'_, &'static str>) {
        ctx.set_timer(Duration::from_millis(10), 0);
    }
    fn on_datagram(&mut self, ctx: &mut Ctx<'_, &'static str>, _from: Addr, _data: &[u8]) {
        self.received += 1;
        if self.mode == Mode::Panic && ctx.me() == Addr(1) && self.received == 5 {
            panic!("planted panic on the 5th datagram");
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, &'static str>, _id: TimerId, tag: u64) {
        if tag == 1 {
            ctx.set_timer(Duration::ZERO, 1u64);
            return;
        }
        self.ticks += 1;
        let me = ctx.me().0;
        let payload = if self.mode == Mode::Nondeterministic && me == 1 && self.ticks == 20 {
            format!("tick {}", self.run)
        } else {
            "tick".to_string()
        };
        ctx.send(Addr((me + 1) % NODES), payload);
        ctx.set_timer(Duration::from_millis(10), 0);
        if ctx.now() >= Time::from_secs(1) && self.ticks == 100 {
            match (self.mode, me) {
                (Mode::Storm, 0) => {
                    ctx.set_timer(Duration::ZERO, 1u64);
                }
                (Mode::Violate, 2) => ctx.record("forbidden"),
                _ => {}
            }
        }
    }
}

/// The ring under a seed's mode, for 2 s of faults (loss and pauses) and 1 s of heal.
struct Ring {
    forced: Option<Mode>,
}

impl Scenario for Ring {
    fn name(&self) -> &'static str {
        "test-ring"
    }
    fn about(&self) -> &'static str {
        "three pinging nodes; the seed picks a misbehaviour"
    }
    fn budget(&self) -> Budget {
        Budget::new(20_000, Duration::from_secs(60))
    }
    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let mode = self.forced.unwrap_or(mode(spec.seed));
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        let mut world: World<Pinger> = World::new(spec.seed);
        for _ in 0..NODES {
            world.add_node(move |_| Pinger {
                mode,
                received: 0,
                ticks: 0,
                run,
            });
        }
        world.set_checker(|_: Time, node: Addr, e: &&'static str| {
            if *e == "forbidden" {
                Err(Failure::new("nothing-forbidden", format!("{node} did it")))
            } else {
                Ok(())
            }
        });
        let mut profile = FaultProfile::new(
            (0..NODES).collect(),
            Duration::from_secs(2),
            Duration::from_secs(1),
        );
        profile.kinds = FaultKinds {
            loss: true,
            pause: true,
            ..FaultKinds::default()
        };
        let (report, _) = drive(self.name(), spec, &profile, world, |_| Ok(()))?;
        Ok(report)
    }
}

#[test]
fn a_sweep_reports_a_panic_a_storm_and_a_violation_and_runs_every_other_seed() {
    let ring = Ring { forced: None };
    let runs = sweep::sweep(&ring, 0..14, 2, &|_| {});
    assert_eq!(runs.len(), 14, "every seed has a result");
    for run in &runs {
        let finding = run.finding();
        match mode(run.seed) {
            Mode::Fine | Mode::Nondeterministic => {
                assert!(finding.is_none(), "seed {}: {finding:?}", run.seed)
            }
            Mode::Panic => {
                let f = finding.expect("a panic is a finding");
                assert_eq!(f.kind, FindingKind::Panic);
                assert_eq!(f.detail, "planted panic on the 5th datagram");
                let location = f.location.expect("with its location");
                assert!(location.contains("findings.rs"), "{location}");
                assert!(f.replay.contains(&format!("--seed {}", run.seed)));
            }
            Mode::Storm => {
                let f = finding.expect("a storm is a finding");
                assert_eq!(f.kind, FindingKind::Budget);
                assert_eq!(f.events, Some(20_000), "stopped at the budget");
                assert_eq!(f.budget, Some(ring.budget()));
                assert!(f.detail.contains("20000 events"), "{}", f.detail);
            }
            Mode::Violate => {
                let f = finding.expect("a violation is a finding");
                assert_eq!(
                    (f.kind, f.invariant.as_str()),
                    (FindingKind::Safety, "nothing-forbidden")
                );
            }
        }
    }
    let summary = Summary::of(&[&ring], &(0..14), None, 14, &runs, None);
    assert_eq!(summary.failed, 6);
    assert_eq!(summary.kinds[&FindingKind::Panic], 2);
    // Safety (1) is the smallest code found.
    assert_eq!(summary.exit_code(), 1);
}

#[test]
fn limits_from_the_command_line_override_the_scenario_budget() {
    let ring = Ring {
        forced: Some(Mode::Storm),
    };
    let limits = faultline::budget::Limits {
        max_events: Some(3_000),
        max_sim_time_ns: None,
    };
    let spec = RunSpec {
        budget: limits.over(ring.budget()),
        ..RunSpec::new(0)
    };
    let f = faultline::finding::Finding::of(ring.name(), &spec, &execute(&ring, &spec))
        .expect("over budget");
    assert_eq!((f.kind, f.events), (FindingKind::Budget, Some(3_000)));
    assert!(f.replay.contains("--max-events 3000"), "{}", f.replay);
    // Virtual time: a fine run stopped at 0.5 s of its 3 s.
    let ring = Ring {
        forced: Some(Mode::Fine),
    };
    let spec = RunSpec {
        budget: Some(Budget::new(u64::MAX, Duration::from_millis(500))),
        ..RunSpec::new(0)
    };
    let f = faultline::finding::Finding::of(ring.name(), &spec, &execute(&ring, &spec))
        .expect("over budget");
    assert_eq!(f.kind, FindingKind::Budget);
    assert!(f.sim_time_ns.unwrap() <= 500_000_000);
}

#[test]
fn several_scenarios_interleave_and_a_stopped_sweep_keeps_what_it_did() {
    let fine = Ring {
        forced: Some(Mode::Fine),
    };
    let bad = Ring {
        forced: Some(Mode::Violate),
    };
    let scenarios: [&dyn Scenario; 2] = [&fine, &bad];
    let plan = sweep::plan(2, &[0, 1, 2, 3, 4, 5]);
    let started = AtomicU64::new(0);
    let stop = || started.fetch_add(1, Ordering::Relaxed) >= 5;
    let options = Options {
        jobs: 1000,
        stop: &stop,
        ..Options::jobs(1000)
    };
    let swept = sweep::run_plan(&scenarios, &plan, &options, &|_, _| {});
    assert!(swept.stopped);
    assert!(!swept.runs.is_empty() && swept.runs.len() < plan.len());
    // What ran is a prefix of the plan, alternating between the scenarios.
    for (run, &(s, seed)) in swept.runs.iter().zip(&plan) {
        assert_eq!(run.seed, seed);
        assert_eq!(run.finding().is_some(), s == 1);
    }
}

#[test]
fn the_shards_of_a_sweep_merge_into_the_whole_sweep() {
    let ring = Ring { forced: None };
    let scenarios: [&dyn Scenario; 1] = [&ring];
    let range = 0..21;
    let as_lines = |shard: Option<(u64, u64)>| -> String {
        let seeds = match shard {
            Some(s) => sweep::shard_seeds(range.clone(), s),
            None => range.clone().collect(),
        };
        let plan = sweep::plan(1, &seeds);
        let swept = sweep::run_plan(&scenarios, &plan, &Options::jobs(2), &|_, _| {});
        let mut out = String::new();
        for run in &swept.runs {
            if let Some(f) = run.finding() {
                out.push_str(&serde_json::to_string(&f).unwrap());
                out.push('\n');
            }
        }
        let summary = Summary::of(&scenarios, &range, shard, plan.len(), &swept.runs, None);
        out.push_str(&serde_json::to_string(&summary).unwrap());
        out.push('\n');
        out
    };
    let (whole_findings, whole) = sweep::read_lines(&as_lines(None), "whole").unwrap();
    // Shards in any order, some outputs concatenated.
    let text = [3, 1, 2]
        .iter()
        .map(|&k| as_lines(Some((k, 3))))
        .collect::<String>();
    let (findings, summaries) = sweep::read_lines(&text, "shards").unwrap();
    let merged = sweep::merge(findings, summaries).unwrap();
    assert!(merged.missing_shards.is_empty());
    assert_eq!(
        merged.summary, whole[0],
        "the merged summary is the whole sweep's"
    );
    assert_eq!(merged.findings, whole_findings);
    assert_eq!(merged.summary.failed, 9);
    // A missing or doubled shard is said.
    let two = [1, 2]
        .iter()
        .map(|&k| as_lines(Some((k, 3))))
        .collect::<String>();
    let (f, s) = sweep::read_lines(&two, "two").unwrap();
    assert_eq!(sweep::merge(f, s).unwrap().missing_shards, vec!["3/3"]);
    let twice = [1, 1]
        .iter()
        .map(|&k| as_lines(Some((k, 3))))
        .collect::<String>();
    let (f, s) = sweep::read_lines(&twice, "twice").unwrap();
    assert!(sweep::merge(f, s).unwrap_err().contains("twice"));
}

#[test]
fn nondeterminism_is_reported_with_the_first_event_where_the_runs_part() {
    let ring = Ring {
        forced: Some(Mode::Nondeterministic),
    };
    // No faults, so the differing datagram cannot be lost.
    let spec = RunSpec {
        schedule: Some(faultline::Schedule::quiet(2_000_000_000, 3_000_000_000)),
        ..RunSpec::new(4)
    };
    let outcome = faultline::determinism::check(&ring, &spec);
    let Outcome::Diverged { divergence, .. } = &outcome else {
        panic!("not caught: {outcome:?}");
    };
    // Node 1's 20th tick (at 200 ms on its clock, 1 ms of latency later at least) sends
    // the differing payload to node 2: the runs part where node 2 receives it.
    let index = divergence.index.expect("the event is named");
    assert!(
        index > 50,
        "the runs agree up to the planted difference: {index}"
    );
    let (one, two) = (
        divergence.first.clone().unwrap(),
        divergence.second.clone().unwrap(),
    );
    assert!(divergence.same_place, "{divergence}");
    assert_eq!((one.node.as_str(), one.kind.as_str()), ("n2", "datagram"));
    assert_eq!(one, two);
    assert!(
        one.time_ns > 200_000_000 && one.time_ns < 300_000_000,
        "{one}"
    );
    assert_ne!(divergence.hashes[0], divergence.hashes[1]);
    assert_eq!(outcome.kind(), Some(FindingKind::Nondeterminism));
    // The sweep's cheap check sees it too; a deterministic scenario passes both.
    let cheap = faultline::determinism::check_hashes(&ring, &spec);
    assert_eq!(cheap.kind(), Some(FindingKind::Nondeterminism));
    let fine = Ring {
        forced: Some(Mode::Fine),
    };
    assert!(faultline::determinism::check(&fine, &spec).is_ok());
    assert!(faultline::determinism::check_hashes(&fine, &spec).is_ok());
}
