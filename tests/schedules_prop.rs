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
