//! `faultline shrink` on a failure that needs exactly one fault: a schedule full of
//! unrelated faults shrinks to that one episode, on the fewest nodes, narrowed, and the
//! shrunk schedule, saved and read back, replays to the same violation. The result is the
//! same on one thread as on two.

use faultline::finding::{execute, Finding};
use faultline::harness::{drive, Param, Report, RunSpec, Scenario};
use faultline::shrink::{self, Options};
use faultline::swarm::FaultProfile;
use faultline::{
    Addr, Ctx, Failure, Fault, LinkFaults, Node, Schedule, Time, TimedFault, TimerId, World,
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

fn shrunk(jobs: usize) -> shrink::Shrunk {
    let spec = RunSpec {
        schedule: Some(noisy_schedule()),
        ..RunSpec::new(9)
    };
    let options = Options {
        jobs,
        budget: None,
        progress: &|_| {},
    };
    shrink::shrink(&Silence, &spec, &options).expect("it fails, so it shrinks")
}

#[test]
fn a_noisy_failure_shrinks_to_its_one_episode_and_replays() {
    let s = shrunk(2);
    assert_eq!(s.original_faults, 17);
    assert_eq!(s.target.invariant, "n1-hears-n0");
    // One partition and its undo, on two nodes.
    assert_eq!(s.schedule.faults.len(), 2, "{:#?}", s.schedule.faults);
    assert_eq!(s.params.get("nodes"), Some(&2));
    let (begin, end) = (&s.schedule.faults[0], &s.schedule.faults[1]);
    assert!(matches!(&begin.fault, Fault::Partition { groups } if groups.len() == 2));
    assert!(end.fault.undoes(&begin.fault));
    // Narrowed: shorter than the original second (about the 300 ms that must pass, less
    // the ping interval and latency that add to the silence), and starting later.
    let length = end.at_ns - begin.at_ns;
    assert!((250 * MS..700 * MS).contains(&length), "{length}");
    assert!(begin.at_ns > 1000 * MS, "{}", begin.at_ns);
    // Saved and read back, the schedule replays to the same violation.
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
fn shrinking_gives_the_same_result_on_one_thread_and_on_two() {
    let (one, two) = (shrunk(1), shrunk(2));
    assert_eq!(one.schedule, two.schedule);
    assert_eq!(one.params, two.params);
    assert_eq!(one.finding, two.finding);
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
