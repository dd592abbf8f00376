//! The scenario contract and the report a run produces: what a test of any system, ours
//! or a user's, implements to be run, replayed and swept.
//!
//! A [`Scenario`] builds a world, its workload and its checkers from a [`RunSpec`] (seed,
//! optional explicit fault schedule, optional trace file) and returns a [`Report`]. The
//! CLI, the sweeps and the tests only ever talk to this trait.

use crate::{Schedule, Violation};
use serde::Serialize;
use std::path::PathBuf;

/// How to run one scenario once.
#[derive(Clone, Debug, Default)]
pub struct RunSpec {
    pub seed: u64,
    /// An explicit schedule; `None` means generate one from the seed (swarm testing).
    pub schedule: Option<Schedule>,
    /// Where the schedule came from, for the replay command.
    pub schedule_path: Option<PathBuf>,
    /// Write every delivered event as a JSON line here.
    pub trace: Option<PathBuf>,
}

/// What a run found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub ok: bool,
    pub events: u64,
    pub sim_time_ns: u64,
    /// SHA-256 over every delivered event, hex.
    pub trace_hash: String,
    /// The schedule the run used.
    pub faults: Schedule,
    pub violation: Option<Violation>,
    /// Scenario-specific figures (latencies, counts), for reports and tests.
    pub metrics: serde_json::Map<String, serde_json::Value>,
}

/// One entry of the catalog.
pub trait Scenario: Send + Sync {
    /// Unique name, used on the command line.
    fn name(&self) -> &'static str;
    /// One line on what it runs and checks.
    fn about(&self) -> &'static str;
    /// Run it once. Never panics on a bad schedule: a schedule that does not fit the
    /// scenario is reported as an error.
    fn run(&self, spec: &RunSpec) -> Result<Report, String>;
}

/// The command that replays a run.
pub fn replay_command(scenario: &str, spec: &RunSpec) -> String {
    let mut cmd = format!("cargo run --release -- run {scenario} --seed {}", spec.seed);
    if let Some(path) = &spec.schedule_path {
        cmd.push_str(&format!(" --schedule {}", path.display()));
    }
    cmd
}

/// Run a built world under the spec's schedule (or one generated from the seed under
/// `profile`) to its end, then run `end_checks` (liveness and final-state invariants) and
/// fill in the report. The world must already hold its nodes and checker.
pub fn drive<N: crate::Node + 'static>(
    scenario: &str,
    spec: &RunSpec,
    profile: &crate::swarm::FaultProfile,
    world: crate::World<N>,
    end_checks: impl FnOnce(&mut crate::World<N>) -> Result<(), crate::Failure>,
) -> Result<(Report, crate::World<N>), String> {
    drive_with(
        scenario,
        spec,
        profile,
        world,
        |world, schedule| world.run_until(crate::Time(schedule.end_ns)),
        end_checks,
    )
}

/// [`drive`] with the run phase given: once the schedule is loaded, `run` advances the
/// world (to the schedule's end, checking along the way with [`run_checked`], or as a
/// script that acts on the world between steps); a [`crate::Halt`] it returns is the run's
/// violation. Then come `end_checks` and the report, as in [`drive`].
pub fn drive_with<N: crate::Node + 'static>(
    scenario: &str,
    spec: &RunSpec,
    profile: &crate::swarm::FaultProfile,
    mut world: crate::World<N>,
    run: impl FnOnce(&mut crate::World<N>, &Schedule) -> Result<(), crate::Halt>,
    end_checks: impl FnOnce(&mut crate::World<N>) -> Result<(), crate::Failure>,
) -> Result<(Report, crate::World<N>), String> {
    let schedule = match &spec.schedule {
        Some(s) => s.clone(),
        None => crate::swarm::generate(spec.seed, profile),
    };
    world.set_base_link(profile.base_link.clone());
    world
        .load_schedule(&schedule)
        .map_err(|e| format!("schedule does not fit {scenario}: {e}"))?;
    if let Some(path) = &spec.trace {
        let file = std::fs::File::create(path)
            .map_err(|e| format!("cannot create trace file {}: {e}", path.display()))?;
        world.set_trace_log(Box::new(std::io::BufWriter::new(file)));
    }
    let outcome = match run(&mut world, &schedule) {
        Ok(()) => end_checks(&mut world).map_err(|failure| crate::Halt {
            at: world.now(),
            failure,
        }),
        Err(halt) => Err(halt),
    };
    world.finish_trace_log()?;
    let violation = outcome.err().map(|halt| Violation {
        invariant: halt.failure.invariant,
        property: halt.failure.property,
        detail: halt.failure.detail,
        time_ns: halt.at.as_nanos(),
        seed: spec.seed,
        replay: replay_command(scenario, spec),
    });
    let report = Report {
        scenario: scenario.to_string(),
        seed: spec.seed,
        ok: violation.is_none(),
        events: world.events(),
        sim_time_ns: world.now().as_nanos(),
        trace_hash: world.trace_hash(),
        faults: schedule,
        violation,
        metrics: serde_json::Map::new(),
    };
    Ok((report, world))
}

/// Run `world` to `until`, calling `check` each time virtual time reaches a multiple of
/// `every`: invariants over the nodes' state (which no history event shows) checked as the
/// run goes, on a grid that does not depend on how the run is cut into calls. The first
/// failure stops the run there. Checks only read the world, so they leave its trace alone.
/// A world already at `until` is left as it is (events due now stay queued), so a script
/// can act between events of one instant.
pub fn run_checked<N: crate::Node + 'static>(
    world: &mut crate::World<N>,
    until: crate::Time,
    every: std::time::Duration,
    mut check: impl FnMut(&crate::World<N>) -> Result<(), crate::Failure>,
) -> Result<(), crate::Halt> {
    let every = crate::time::duration_nanos(every).max(1);
    while world.now() < until {
        let next = (world.now().as_nanos() / every + 1).saturating_mul(every);
        if next > until.as_nanos() {
            return world.run_until(until);
        }
        world.run_until(crate::Time(next))?;
        check(world).map_err(|failure| crate::Halt {
            at: world.now(),
            failure,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ctx, Failure, Time, World};
    use std::time::Duration;

    /// A node that does nothing.
    struct Idle;

    impl crate::Node for Idle {
        type Event = ();
        type Timer = ();
        fn on_start(&mut self, _: &mut Ctx<'_, ()>) {}
    }

    fn checks_at(cuts: &[u64], every_ms: u64) -> Vec<u64> {
        let mut world = World::<Idle>::new(1);
        world.add_node(|_| Idle);
        let mut seen = Vec::new();
        for &cut in cuts {
            run_checked(
                &mut world,
                Time::from_millis(cut),
                Duration::from_millis(every_ms),
                |w| {
                    seen.push(w.now().as_nanos() / 1_000_000);
                    Ok(())
                },
            )
            .expect("no failure");
        }
        seen
    }

    #[test]
    fn checks_fall_on_the_grid_however_the_run_is_cut() {
        assert_eq!(checks_at(&[1000], 250), vec![250, 500, 750, 1000]);
        assert_eq!(
            checks_at(&[100, 250, 250, 260, 600, 1000], 250),
            vec![250, 500, 750, 1000]
        );
    }

    #[test]
    fn the_first_failed_check_stops_the_run_at_its_time() {
        let mut world = World::<Idle>::new(1);
        world.add_node(|_| Idle);
        let halt = run_checked(
            &mut world,
            Time::from_secs(5),
            Duration::from_millis(100),
            |w| match w.now() >= Time::from_millis(300) {
                true => Err(Failure::new("late", "past 300 ms")),
                false => Ok(()),
            },
        )
        .expect_err("the check fails");
        assert_eq!(halt.at, Time::from_millis(300));
        assert_eq!(world.now(), Time::from_millis(300));
    }
}
