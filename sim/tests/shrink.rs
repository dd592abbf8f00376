//! `faultline shrink` on a failure that needs exactly one fault: a schedule full of
//! unrelated faults shrinks to that one fault, on the fewest nodes, simplified (a one-way
//! cut left on until the heal, instead of a partition and its undo) and narrowed, and the
//! shrunk schedule, saved and read back, replays to the same violation. When the fault
//! that matters is fired by a trigger, the timed faults and the other triggers go and that
//! trigger narrows. The result is the same on one thread as on two, and run after run.

use faultline::finding::{execute, Finding};
use faultline::harness::{drive, Param, Report, RunSpec, Scenario};
use faultline::shrink::{self, Options};
use faultline::swarm::FaultProfile;
use faultline::{
    Addr, Ctx, Failure, Fault, LinkFaults, Node, Schedule, Time, TimedFault, TimerId, Trigger,
    TriggerAction, World,
};
use std::time::Duration;

const MS: u64 = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    From(u32),
    Tick,
}

/// Pings every other node every 10 ms and records what it hears, and its own ticks.
struct Chatty {
    nodes: u32,
}

impl Node for Chatty {
    type Event = Seen;
    type Timer = u64;
    fn on_start(&mut self, ctx: &mut Ctx<'_, Seen>) {
        ctx.set_timer(Duration::from_millis(10), 0);
    }
    fn on_datagram(&mut self, ctx: &mut Ctx<'_, Seen>, from: Addr, _data: &[u8]) {
        ctx.record(Seen::From(from.0));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Seen>, _id: TimerId, _tag: u64) {
        let me = ctx.me().0;
        for to in (0..self.nodes).filter(|&n| n != me) {
            ctx.send(Addr(to), "ping");
        }
        ctx.record(Seen::Tick);
        ctx.set_timer(Duration::from_millis(10), 0);
    }
}

/// Node 1 must hear node 0 at least every 300 ms.
struct Silence;

impl Scenario for Silence {
    fn name(&self) -> &'static str {
        "test-silence"
    }
    fn about(&self) -> &'static str {
        "n1 hears n0 at least every 300 ms"
    }
    fn params(&self) -> Vec<Param> {
        vec![Param::size("nodes", "nodes in the world", 5, 2)]
    }
    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let nodes = spec.param("nodes", 5) as u32;
        let mut world: World<Chatty> = World::new(spec.seed);
        for _ in 0..nodes {
            world.add_node(move |_| Chatty { nodes });
        }
        // Triggers may fire on a node's ticks.
        world.set_history_labels(|_, e: &Seen| (*e == Seen::Tick).then_some("tick"));
        let mut last = Time::ZERO;
        world.set_checker(move |now: Time, node: Addr, e: &Seen| {
            match (node, e) {
                (Addr(1), Seen::From(0)) => last = now,
                (Addr(1), Seen::Tick) if now.since(last) > Duration::from_millis(300) => {
                    return Err(Failure::new(
                        "n1-hears-n0",
                        format!("n1 has not heard n0 since {last}"),
                    ))
                }
                _ => {}
            }
            Ok(())
        });
        let profile = FaultProfile::new(
            (0..nodes).collect(),
            Duration::from_secs(4),
            Duration::from_secs(1),
        );
        let (report, _) = drive(self.name(), spec, &profile, world, |_| Ok(()))?;
        Ok(report)
    }
}

fn noisy_schedule() -> Schedule {
    let at = |ms: u64, fault: Fault| TimedFault {
        at_ns: ms * MS,
        fault,
    };
    let lossy = LinkFaults {
        loss: 0.05,
        reorder: 0.2,
        reorder_delay_ns: 3 * MS,
        ..LinkFaults::clean(MS, 4 * MS)
    };
    let mut faults = vec![
        at(
            0,
            Fault::Link {
                from: None,
                to: None,
                faults: lossy.clone(),
            },
        ),
        at(0, Fault::ClockDrift { node: 2, ppm: 100 }),
        at(200, Fault::Isolate { node: 4 }),
        at(300, Fault::CutOneWay { from: 2, to: 3 }),
        at(500, Fault::Pause { node: 3 }),
        at(600, Fault::Reconnect { from: 2, to: 3 }),
        at(900, Fault::Resume { node: 3 }),
        at(
            1000,
            Fault::Partition {
                groups: vec![vec![0, 2], vec![1, 3, 4]],
            },
        ),
        at(1500, Fault::ResetStreams { node: 3 }),
        at(
            2000,
            Fault::Unpartition {
                groups: vec![vec![1, 3, 4], vec![0, 2]],
            },
        ),
        at(2500, Fault::Rejoin { node: 4 }),
        at(2600, Fault::Crash { node: 4 }),
        at(2800, Fault::Restart { node: 4 }),
        at(
            3000,
            Fault::Partition {
                groups: vec![vec![0, 1, 2], vec![3, 4]],
            },
        ),
        at(
            3500,
            Fault::Unpartition {
                groups: vec![vec![0, 1, 2], vec![3, 4]],
            },
        ),
        at(
            4000,
            Fault::LinkRestore {
                from: None,
                to: None,
                faults: Some(lossy),
            },
        ),
        at(
            4000,
            Fault::DriftStop {
                node: 2,
                ppm: Some(100),
            },
        ),
    ];
    faults.sort_by_key(|f| f.at_ns);
    Schedule {
        swarm: vec!["hand-made".into()],
        faults,
        heal_at_ns: 4000 * MS,
        end_ns: 5000 * MS,
        triggers: vec![],
    }
}

/// The noisy schedule without the partition that fails it, and with triggers: one isolates
/// n0 for 800 ms some ticks in (which fails it), the others only touch n3 and n4.
fn triggered_schedule() -> Schedule {
    let mut s = noisy_schedule();
    s.faults.retain(|f| {
        !matches!(&f.fault, Fault::Partition { groups } | Fault::Unpartition { groups }
            if groups.contains(&vec![0, 2]))
    });
    assert_eq!(s.faults.len(), 15);
    let trigger = |node: u32, nth: u32, action: TriggerAction, undo_ms: u64| Trigger {
        on: "tick".into(),
        node: Some(node),
        nth,
        action,
        delay_ns: 120 * MS,
        undo_after_ns: Some(undo_ms * MS),
    };
    s.triggers = vec![
        trigger(4, 3, TriggerAction::Crash, 500),
        trigger(0, 7, TriggerAction::Isolate, 800),
        trigger(3, 2, TriggerAction::Pause, 200),
    ];
    s
}

fn shrunk(jobs: usize) -> shrink::Shrunk {
    shrunk_from(noisy_schedule(), jobs)
}

fn shrunk_from(schedule: Schedule, jobs: usize) -> shrink::Shrunk {
    let spec = RunSpec {
        schedule: Some(schedule),
        ..RunSpec::new(9)
    };
    let options = Options {
        jobs,
        budget: None,
        progress: &|_| {},
    };
    shrink::shrink(&Silence, &spec, &options).expect("it fails, so it shrinks")
}

/// Saved and read back, the shrunk schedule replays to the same violation.
fn replays_to_the_same_violation(s: &shrink::Shrunk) {
    let text = serde_json::to_string_pretty(&s.schedule).unwrap();
    let spec = RunSpec {
        schedule: Some(serde_json::from_str(&text).unwrap()),
        params: s.params.clone(),
        ..RunSpec::new(9)
    };
    let f = Finding::of("test-silence", &spec, &execute(&Silence, &spec)).expect("still fails");
    assert_eq!(
        (f.kind, f.invariant.as_str()),
        (s.target.kind, "n1-hears-n0")
    );
    assert_eq!(f, s.finding);
}

#[test]
fn a_noisy_failure_shrinks_to_its_one_fault_simplified_and_replays() {
    let s = shrunk(2);
    assert_eq!((s.original_faults, s.original_events), (17, 17));
    assert_eq!(s.target.invariant, "n1-hears-n0");
    // One fault, on two nodes: the partition became the one-way cut that matters, left
    // on until the heal (its undo dropped).
    assert_eq!(s.schedule.faults.len(), 1, "{:#?}", s.schedule.faults);
    assert_eq!(shrink::units::events(&s.schedule), 1);
    assert_eq!(s.params.get("nodes"), Some(&2));
    let cut = &s.schedule.faults[0];
    assert_eq!(cut.fault, Fault::CutOneWay { from: 0, to: 1 });
    // Narrowed: it starts as late before the heal as it can (about the 300 ms that must
    // pass, less the ping interval and latency that add to the silence).
    let before_heal = s.schedule.heal_at_ns - cut.at_ns;
    assert!((250 * MS..700 * MS).contains(&before_heal), "{before_heal}");
    replays_to_the_same_violation(&s);
}

#[test]
fn shrinking_gives_the_same_result_on_one_thread_and_on_two() {
    let (one, two) = (shrunk(1), shrunk(2));
    assert_eq!(one.schedule, two.schedule);
    assert_eq!(one.params, two.params);
    assert_eq!(one.finding, two.finding);
}

#[test]
fn a_triggered_failure_shrinks_to_its_trigger_narrowed_and_replays() {
    let s = shrunk_from(triggered_schedule(), 2);
    assert_eq!((s.original_faults, s.original_triggers), (15, 3));
    assert_eq!(s.original_events, 15 + 6);
    assert_eq!(s.target.invariant, "n1-hears-n0");
    // The timed faults and the other triggers are gone; the isolation of n0 is left, on
    // its first tick, right away, and until the heal (its undo dropped).
    assert!(s.schedule.faults.is_empty(), "{:#?}", s.schedule.faults);
    let expected = Trigger {
        on: "tick".into(),
        node: Some(0),
        nth: 1,
        action: TriggerAction::Isolate,
        delay_ns: 0,
        undo_after_ns: None,
    };
    assert_eq!(s.schedule.triggers, vec![expected]);
    assert_eq!(shrink::units::events(&s.schedule), 1);
    replays_to_the_same_violation(&s);
}

#[test]
fn shrinking_triggers_gives_the_same_result_every_time_and_on_any_jobs() {
    let runs = [1, 2, 2].map(|jobs| shrunk_from(triggered_schedule(), jobs));
    for r in &runs[1..] {
        assert_eq!(r.schedule, runs[0].schedule);
        assert_eq!(r.params, runs[0].params);
        assert_eq!(r.finding, runs[0].finding);
    }
    // On the same number of jobs, even the runs it took are the same.
    assert_eq!(runs[1].runs, runs[2].runs);
}

#[test]
fn a_passing_run_is_not_shrunk() {
    let spec = RunSpec {
        schedule: Some(Schedule::quiet(4000 * MS, 5000 * MS)),
        ..RunSpec::new(9)
    };
    let options = Options {
        jobs: 2,
        budget: None,
        progress: &|_| {},
    };
    let err = shrink::shrink(&Silence, &spec, &options).unwrap_err();
    assert!(err.contains("passes"), "{err}");
}
