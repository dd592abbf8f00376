//! Property test: the simulator's exercise scenarios keep their invariants under any fault
//! schedule (the heal phase restores the network and restarts every node, so liveness must
//! hold too), and a run under an explicit schedule is deterministic.

use faultline::harness::RunSpec;
use faultline::{Fault, LinkFaults, Schedule, TimedFault};
use proptest::prelude::*;
use scenarios::catalog;

const PHASE_NS: u64 = 10_000_000_000;

fn node(n: u32) -> impl Strategy<Value = u32> {
    0..n
}

fn link_faults() -> impl Strategy<Value = LinkFaults> {
    (
        0.0..0.5f64,
        0.0..0.3f64,
        0.0..0.5f64,
        0.0..0.2f64,
        0.0..0.2f64,
        1u64..3_000_000,
    )
        .prop_map(
            |(loss, duplicate, reorder, corrupt, truncate, jitter)| LinkFaults {
                loss,
                duplicate,
                reorder,
                reorder_delay_ns: 20_000_000,
                corrupt,
                truncate,
                ..LinkFaults::clean(1_000_000, 1_000_000 + jitter)
            },
        )
}

fn fault(n: u32) -> impl Strategy<Value = Fault> {
    prop_oneof![
        (
            proptest::option::of(node(n)),
            proptest::option::of(node(n)),
            link_faults()
        )
            .prop_map(|(from, to, faults)| Fault::Link { from, to, faults }),
        proptest::collection::vec(proptest::collection::vec(node(n), 1..4), 1..3)
            .prop_map(|groups| Fault::Partition { groups }),
        (node(n), node(n)).prop_map(|(from, to)| Fault::CutOneWay { from, to }),
        node(n).prop_map(|node| Fault::Isolate { node }),
        Just(Fault::Repair),
        node(n).prop_map(|node| Fault::Crash { node }),
        node(n).prop_map(|node| Fault::Restart { node }),
        node(n).prop_map(|node| Fault::Pause { node }),
        node(n).prop_map(|node| Fault::Resume { node }),
        (node(n), -100_000_000i64..100_000_000)
            .prop_map(|(node, offset_ns)| Fault::ClockOffset { node, offset_ns }),
        (node(n), -500i64..500).prop_map(|(node, ppm)| Fault::ClockDrift { node, ppm }),
        node(n).prop_map(|node| Fault::ResetStreams { node }),
        // The undos, also where they end nothing in force.
        (
            proptest::option::of(node(n)),
            proptest::option::of(node(n)),
            proptest::option::of(link_faults())
        )
            .prop_map(|(from, to, faults)| Fault::LinkRestore { from, to, faults }),
        proptest::collection::vec(proptest::collection::vec(node(n), 1..4), 1..3)
            .prop_map(|groups| Fault::Unpartition { groups }),
        (node(n), node(n)).prop_map(|(from, to)| Fault::Reconnect { from, to }),
        node(n).prop_map(|node| Fault::Rejoin { node }),
        (node(n), proptest::option::of(-500i64..500))
            .prop_map(|(node, ppm)| Fault::DriftStop { node, ppm }),
    ]
}

fn schedule(n: u32, heal_ns: u64) -> impl Strategy<Value = Schedule> {
    proptest::collection::vec((0..PHASE_NS, fault(n)), 0..25).prop_map(move |mut faults| {
        faults.sort_by_key(|(at, _)| *at);
        Schedule {
            swarm: vec!["proptest".into()],
            faults: faults
                .into_iter()
                .map(|(at_ns, fault)| TimedFault { at_ns, fault })
                .collect(),
            heal_at_ns: PHASE_NS,
            end_ns: PHASE_NS + heal_ns,
            triggers: vec![],
        }
    })
}

fn check(name: &str, seed: u64, schedule: Schedule) -> Result<(), TestCaseError> {
    let scenario = catalog::find(name).expect("in the catalog");
    let spec = RunSpec {
        seed,
        schedule: Some(schedule.clone()),
        ..RunSpec::default()
    };
    let report = scenario.run(&spec).map_err(TestCaseError::fail)?;
    prop_assert!(
        report.ok,
        "{name} violated under {}: {:?}",
        serde_json::to_string(&schedule).unwrap(),
        report.violation
    );
    prop_assert_eq!(
        &report.faults,
        &schedule,
        "the run used another schedule than given"
    );
    let again = scenario.run(&spec).map_err(TestCaseError::fail)?;
    prop_assert_eq!(
        report.trace_hash,
        again.trace_hash,
        "not deterministic under an explicit schedule"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn counter_holds_under_any_schedule(seed in 0u64..1000, s in schedule(5, 5_000_000_000)) {
        check("exercise-counter", seed, s)?;
    }

    // The echo needs streams, so its heal phase is longer: 200 KB per client after the
    // network comes back.
    #[test]
    fn echo_holds_under_any_schedule(seed in 0u64..1000, s in schedule(5, 10_000_000_000)) {
        check("exercise-echo", seed, s)?;
    }
}

#[test]
fn a_schedule_naming_a_missing_node_is_refused_not_run() {
    let scenario = catalog::find("exercise-counter").expect("in the catalog");
    let mut schedule = Schedule::quiet(PHASE_NS, PHASE_NS * 2);
    schedule.faults.push(TimedFault {
        at_ns: 5,
        fault: Fault::Crash { node: 99 },
    });
    let err = scenario
        .run(&RunSpec {
            seed: 1,
            schedule: Some(schedule),
            ..RunSpec::default()
        })
        .unwrap_err();
    assert!(err.contains("node 99"), "{err}");
}

/// Numbers at and past every edge a schedule field has.
fn extreme_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(faultline::MAX_SCHEDULE_NS),
        Just(faultline::MAX_SCHEDULE_NS + 1),
        Just(i64::MAX as u64),
        Just(u64::MAX - 1),
        Just(u64::MAX),
        0..PHASE_NS,
    ]
}

fn extreme_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0),
        Just(i64::MAX),
        Just(i64::MIN),
        Just(i64::MAX - 1),
        Just(i64::MIN + 1),
        Just(faultline::MAX_SCHEDULE_NS as i64),
        Just(-(faultline::MAX_SCHEDULE_NS as i64)),
        Just(faultline::MAX_DRIFT_PPM),
        Just(faultline::MAX_DRIFT_PPM + 1),
        -1_000_000_000i64..1_000_000_000,
    ]
}

fn extreme_fault(n: u32) -> impl Strategy<Value = Fault> {
    prop_oneof![
        (node(n), extreme_i64())
            .prop_map(|(node, offset_ns)| Fault::ClockOffset { node, offset_ns }),
        (node(n), extreme_i64()).prop_map(|(node, ppm)| Fault::ClockDrift { node, ppm }),
        (node(n), proptest::option::of(extreme_i64()))
            .prop_map(|(node, ppm)| Fault::DriftStop { node, ppm }),
        (extreme_u64(), extreme_u64(), extreme_u64()).prop_map(|(a, b, reorder_delay_ns)| {
            Fault::Link {
                from: None,
                to: None,
                faults: LinkFaults {
                    reorder: 0.5,
                    reorder_delay_ns,
                    ..LinkFaults::clean(a.min(b), a.max(b))
                },
            }
        }),
        node(n).prop_map(|node| Fault::Crash { node }),
        node(n).prop_map(|node| Fault::Restart { node }),
        node(n).prop_map(|node| Fault::Pause { node }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever the numbers, a schedule is refused with a message or runs to an end
    /// within the run's budget (so in bounded time and memory); never a hang or a panic.
    #[test]
    fn extreme_numbers_are_refused_or_run_to_an_end(
        seed in 0u64..1000,
        faults in proptest::collection::vec((extreme_u64(), extreme_fault(5)), 0..6),
        heal_at_ns in extreme_u64(),
        end_ns in extreme_u64(),
    ) {
        let schedule = Schedule {
            swarm: vec!["extreme".into()],
            faults: faults
                .into_iter()
                .map(|(at_ns, fault)| TimedFault { at_ns, fault })
                .collect(),
            heal_at_ns,
            end_ns,
            triggers: Vec::new(),
        };
        let scenario = catalog::find("exercise-counter").expect("in the catalog");
        let spec = RunSpec {
            seed,
            schedule: Some(schedule.clone()),
            budget: Some(faultline::budget::Budget::new(
                200_000,
                std::time::Duration::from_secs(3600),
            )),
            ..RunSpec::default()
        };
        match scenario.run(&spec) {
            Err(why) => prop_assert!(!why.is_empty()),
            Ok(report) => prop_assert_eq!(&report.faults, &schedule),
        }
    }
}

#[test]
fn a_huge_clock_offset_twice_and_an_endless_end_are_refused_with_a_message() {
    let scenario = catalog::find("exercise-counter").expect("in the catalog");
    let mut twice = Schedule::quiet(PHASE_NS, PHASE_NS * 2);
    for at_ns in [1, 2] {
        twice.faults.push(TimedFault {
            at_ns,
            fault: Fault::ClockOffset {
                node: 0,
                offset_ns: i64::MAX,
            },
        });
    }
    let endless = Schedule::quiet(PHASE_NS, u64::MAX);
    for (what, schedule) in [("offsets", twice), ("end", endless)] {
        let spec = RunSpec {
            seed: 1,
            schedule: Some(schedule),
            ..RunSpec::default()
        };
        let err = scenario.run(&spec).expect_err(what);
        assert!(
            err.contains("schedule may name") || err.contains("beyond"),
            "{what}: {err}"
        );
    }
}
