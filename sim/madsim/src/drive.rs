//! Driving a run on madsim the way faultline's harness drives a world: a fault schedule
//! applied at its times, checks over the nodes' state at a fixed period, and the first
//! failure (a checker's, a periodic check's, or a fault madsim cannot express) ends the run.

use crate::faults::Net;
use crate::runtime::{Sim, View};
use faultline::{Failure, Fault, Halt, Node, Schedule, Time, TimedFault};
use std::collections::VecDeque;
use std::time::Duration;

/// A schedule's faults still to come, in time order (and `Heal` at the heal time).
pub struct Timeline {
    faults: VecDeque<TimedFault>,
    pub net: Net,
}

impl Timeline {
    pub fn new(schedule: &Schedule, net: Net) -> Timeline {
        let mut faults: Vec<TimedFault> = schedule.faults.clone();
        faults.push(TimedFault {
            at_ns: schedule.heal_at_ns,
            fault: Fault::Heal,
        });
        // Stable: faults at one time keep the schedule's order, as in faultline's queue.
        faults.sort_by_key(|f| f.at_ns);
        Timeline {
            faults: faults.into(),
            net,
        }
    }

    /// Run to `until`: faults at their times, `check` at every multiple of `every` (after
    /// the faults due then). An error names what failed and when.
    pub async fn run_checked<N: Node + Send + 'static>(
        &mut self,
        sim: &Sim<N>,
        until: Time,
        every: Duration,
        check: &mut impl FnMut(&View<'_, N>) -> Result<(), Failure>,
    ) -> Result<(), Halt>
    where
        N::Event: Send,
    {
        let every = faultline::time::duration_nanos(every).max(1);
        loop {
            let now = sim.now().as_nanos();
            let next_check = (now / every + 1).saturating_mul(every);
            let next_fault = self.faults.front().map_or(u64::MAX, |f| f.at_ns);
            let next = next_check.min(next_fault).min(until.as_nanos());
            sim.run_until(Time(next)).await?;
            while self.faults.front().is_some_and(|f| f.at_ns <= next) {
                let f = self.faults.pop_front().expect("peeked");
                self.net.apply(sim, &f.fault).map_err(|e| Halt {
                    at: sim.now(),
                    failure: Failure {
                        invariant: "madsim-can-express".into(),
                        kind: faultline::FindingKind::Error,
                        detail: e,
                        evidence: None,
                    },
                })?;
            }
            if next == next_check {
                sim.view(|v| check(v)).map_err(|failure| Halt {
                    at: sim.now(),
                    failure,
                })?;
            }
            if next >= until.as_nanos() {
                return Ok(());
            }
        }
    }
}

/// Run `schedule` on `sim` to its end (the network healing to `base`), then `end_checks`:
/// the first failure, if any.
pub async fn run_schedule<N: Node + Send + 'static>(
    sim: &Sim<N>,
    schedule: &Schedule,
    base: faultline::LinkFaults,
    end_checks: impl FnOnce(&Sim<N>) -> Result<(), Failure>,
) -> Option<Halt>
where
    N::Event: Send,
{
    let mut timeline = Timeline::new(schedule, Net::new(base));
    let mut nothing = |_: &View<'_, N>| Ok(());
    let end = Time(schedule.end_ns);
    if let Err(halt) = timeline
        .run_checked(sim, end, Duration::from_secs(1), &mut nothing)
        .await
    {
        return Some(halt);
    }
    end_checks(sim).err().map(|failure| Halt {
        at: sim.now(),
        failure,
    })
}
