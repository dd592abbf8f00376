//! Every invariant of the exercise by name, each a safety or a liveness property, with the
//! checkers that see them as events happen and the checks at the end of a run.

use super::nodes::counter::CounterEvent;
use super::nodes::echo::EchoEvent;
use super::nodes::{ExerciseEvent, ExerciseNode};
use faultline::{Addr, Checker, Failure, Invariant, Time, World};

/// A replica believes another counted only what that one synced.
pub const NO_INVENTED_COUNTS: Invariant = Invariant::safety(
    "no-invented-counts",
    "no replica observes a count another replica never reached",
);
/// The heal restarts every crashed replica.
pub const ALL_REPLICAS_UP_AFTER_HEAL: Invariant = Invariant::liveness(
    "all-replicas-up-after-heal",
    "every replica is up at the end",
);
/// Gossip converges once the faults stop.
pub const CONVERGED_AFTER_HEAL: Invariant = Invariant::liveness(
    "converged-after-heal",
    "every replica holds the same vector of counts at the end",
);
/// Streams deliver exactly what was written.
pub const ECHO_IS_EXACT: Invariant = Invariant::safety(
    "echo-is-exact",
    "every echoed byte equals the byte sent at that offset",
);
/// Every echo client completes a session once the faults stop.
pub const EVERY_CLIENT_DONE_AFTER_HEAL: Invariant = Invariant::liveness(
    "every-client-done-after-heal",
    "every echo client is up and has had a whole session echoed by the end",
);

/// Every invariant of the exercise.
pub const ALL: &[Invariant] = &[
    NO_INVENTED_COUNTS,
    ALL_REPLICAS_UP_AFTER_HEAL,
    CONVERGED_AFTER_HEAL,
    ECHO_IS_EXACT,
    EVERY_CLIENT_DONE_AFTER_HEAL,
];

/// `no-invented-counts`: the true count of each replica is what it synced; nobody may
/// observe more.
pub struct CounterChecker {
    counted: Vec<u64>,
}

impl CounterChecker {
    /// A checker for `replicas` replicas, nodes 0...
    pub fn new(replicas: usize) -> CounterChecker {
        CounterChecker {
            counted: vec![0; replicas],
        }
    }
}

impl Checker<ExerciseEvent> for CounterChecker {
    fn on_event(&mut self, _: Time, node: Addr, event: &ExerciseEvent) -> Result<(), Failure> {
        match event {
            ExerciseEvent::Counter(CounterEvent::Incremented { value }) => {
                self.counted[node.index()] = self.counted[node.index()].max(*value)
            }
            ExerciseEvent::Counter(CounterEvent::Observed { of, value })
                if *value > self.counted[*of as usize] =>
            {
                return Err(NO_INVENTED_COUNTS.fail(format!(
                    "{node} observed n{of} at {value}, but n{of} only counted {}",
                    self.counted[*of as usize]
                )));
            }
            _ => {}
        }
        Ok(())
    }
}

/// `echo-is-exact`, from the clients' own comparison of what came back.
pub struct EchoChecker;

impl Checker<ExerciseEvent> for EchoChecker {
    fn on_event(&mut self, _: Time, node: Addr, event: &ExerciseEvent) -> Result<(), Failure> {
        match event {
            ExerciseEvent::Echo(EchoEvent::Mismatch { offset }) => {
                Err(ECHO_IS_EXACT.fail(format!("{node} got wrong bytes at offset {offset}")))
            }
            _ => Ok(()),
        }
    }
}

/// End of `exercise-counter`: every replica up, all holding the same vector.
pub fn counters_converged(world: &World<ExerciseNode>) -> Result<(), Failure> {
    let vectors: Vec<Vec<u64>> = world
        .nodes()
        .map(|(addr, node)| match node {
            Some(ExerciseNode::Replica(r)) => Ok(r.counts().to_vec()),
            _ => Err(ALL_REPLICAS_UP_AFTER_HEAL.fail(format!("{addr} is down"))),
        })
        .collect::<Result<_, _>>()?;
    if vectors.windows(2).any(|w| w[0] != w[1]) {
        return Err(CONVERGED_AFTER_HEAL.fail(format!("replicas disagree: {vectors:?}")));
    }
    Ok(())
}

/// End of `exercise-echo`: every node up, every client done.
pub fn echo_clients_done(world: &World<ExerciseNode>) -> Result<(), Failure> {
    for (addr, node) in world.nodes() {
        match node {
            Some(ExerciseNode::EchoClient(c)) if !c.done => {
                return Err(EVERY_CLIENT_DONE_AFTER_HEAL.fail(format!("{addr} did not finish")))
            }
            None => return Err(EVERY_CLIENT_DONE_AFTER_HEAL.fail(format!("{addr} is down"))),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observing_more_than_was_counted_fails() {
        let mut c = CounterChecker::new(2);
        let event = |e| ExerciseEvent::Counter(e);
        c.on_event(
            Time::ZERO,
            Addr(0),
            &event(CounterEvent::Incremented { value: 3 }),
        )
        .unwrap();
        c.on_event(
            Time::ZERO,
            Addr(1),
            &event(CounterEvent::Observed { of: 0, value: 3 }),
        )
        .unwrap();
        let err = c
            .on_event(
                Time::ZERO,
                Addr(1),
                &event(CounterEvent::Observed { of: 0, value: 4 }),
            )
            .unwrap_err();
        assert_eq!(err.invariant, NO_INVENTED_COUNTS.name);
    }

    #[test]
    fn invariant_names_are_unique() {
        let names: std::collections::BTreeSet<_> = ALL.iter().map(|i| i.name).collect();
        assert_eq!(names.len(), ALL.len(), "a name declared twice");
    }
}
