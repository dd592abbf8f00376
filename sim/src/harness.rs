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
    mut world: crate::World<N>,
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
    let outcome = match world.run_until(crate::Time(schedule.end_ns)) {
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
