//! The scenario contract and the report a run produces: what a test of any system, ours
//! or a user's, implements to be run, replayed, swept and shrunk.
//!
//! A [`Scenario`] builds a world, its workload and its checkers from a [`RunSpec`] (seed,
//! optional explicit fault schedule, budget, parameters, optional trace) and returns a
//! [`Report`]. The CLI, the sweeps, the shrinker and the tests only ever talk to this
//! trait; they run a scenario through [`crate::finding::execute`], which gives it its
//! default budget and turns a panic into a finding.

use crate::budget::Budget;
use crate::{Halt, Schedule, Violation, World};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
    /// Also send every delivered event's JSON line to this writer (the determinism check
    /// reads a run this way).
    pub trace_sink: Option<TraceSink>,
    /// A budget chosen by the user (`--max-events`, `--max-sim-time`); it is part of the
    /// replay command.
    pub budget: Option<Budget>,
    /// The budget when `budget` is `None`: the scenario's own default, which
    /// [`crate::finding::execute`] fills in. Unlimited in a bare `RunSpec`.
    pub default_budget: Budget,
    /// Scenario parameters (see [`Scenario::params`]) set away from their defaults.
    pub params: BTreeMap<String, u64>,
    /// The planted bug to switch on (a name from the catalog of planted bugs), if any; the
    /// scenario hands it to the systems it builds through their configuration.
    pub bug: Option<String>,
    /// Also write notes to the trace (sends and their fates, history events; see
    /// [`World::set_trace_notes`]): what a run report draws. Never part of the hash.
    pub trace_notes: bool,
}

impl RunSpec {
    /// A spec for `seed` with everything else at its default.
    pub fn new(seed: u64) -> RunSpec {
        RunSpec {
            seed,
            ..RunSpec::default()
        }
    }

    /// The budget the run has.
    pub fn budget(&self) -> Budget {
        self.budget.unwrap_or(self.default_budget)
    }

    /// The value of parameter `name`: the one set, or `default`.
    pub fn param(&self, name: &str, default: u64) -> u64 {
        self.params.get(name).copied().unwrap_or(default)
    }

    /// Give a built world what the spec asks of every run: its budget and its trace log.
    /// Every scenario calls this (through [`drive`], or itself) before running the world.
    pub fn prepare<N: crate::Node + 'static>(&self, world: &mut World<N>) -> Result<(), String> {
        world.set_budget(self.budget());
        let file: Option<Box<dyn Write>> = match &self.trace {
            Some(path) => {
                let file = std::fs::File::create(path)
                    .map_err(|e| format!("cannot create trace file {}: {e}", path.display()))?;
                Some(Box::new(std::io::BufWriter::new(file)))
            }
            None => None,
        };
        let sink: Option<Box<dyn Write>> = self
            .trace_sink
            .as_ref()
            .map(|s| Box::new(s.clone()) as Box<dyn Write>);
        world.set_trace_notes(self.trace_notes);
        match (file, sink) {
            (Some(a), Some(b)) => world.set_trace_log(Box::new(Tee(a, b))),
            (Some(log), None) | (None, Some(log)) => world.set_trace_log(log),
            (None, None) => {}
        }
        Ok(())
    }
}

/// A shared writer that receives a run's trace lines (see [`RunSpec::trace_sink`]).
#[derive(Clone)]
pub struct TraceSink(pub Arc<Mutex<dyn Write + Send>>);

impl fmt::Debug for TraceSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TraceSink")
    }
}

impl Write for TraceSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut w) => w.write(buf),
            Err(_) => Err(std::io::Error::other("trace sink poisoned")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.lock() {
            Ok(mut w) => w.flush(),
            Err(_) => Err(std::io::Error::other("trace sink poisoned")),
        }
    }
}

/// Writes to two writers.
struct Tee(Box<dyn Write>, Box<dyn Write>);

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf)?;
        self.1.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.1.flush()
    }
}

/// What a run found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub ok: bool,
    /// Nodes in the world.
    pub nodes: u32,
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

/// A number a scenario lets the user (and the shrinker) change: how many clients, how
/// many operations, a timing. The shrinker lowers each size (`shrinks`) towards `min`
/// while the run still fails; settings (timings, latencies) it leaves as they are.
///
/// A pair named `X_min` and `X_max` is a range: `--set X=A..B` sets both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    /// One line on what it sets.
    pub about: &'static str,
    pub default: u64,
    /// The smallest value that makes sense.
    pub min: u64,
    /// Whether the shrinker lowers it (a size) or leaves it (a setting).
    pub shrinks: bool,
}

impl Param {
    /// A size the shrinker lowers towards `min` (clients, operations, servers).
    pub const fn size(name: &'static str, about: &'static str, default: u64, min: u64) -> Param {
        Param {
            name,
            about,
            default,
            min,
            shrinks: true,
        }
    }

    /// A setting the shrinker leaves alone (a timing, a latency).
    pub const fn setting(name: &'static str, about: &'static str, default: u64, min: u64) -> Param {
        Param {
            name,
            about,
            default,
            min,
            shrinks: false,
        }
    }
}

/// The `fault_ms` and `heal_ms` parameters of a scenario with a fault phase and a heal
/// phase of these lengths.
pub fn phase_params(fault: std::time::Duration, heal: std::time::Duration) -> [Param; 2] {
    [
        Param::setting(
            "fault_ms",
            "length of the fault phase, ms",
            fault.as_millis() as u64,
            0,
        ),
        Param::setting(
            "heal_ms",
            "length of the heal phase, ms",
            heal.as_millis() as u64,
            0,
        ),
    ]
}

/// A situation a scenario's runs should reach sometimes, though no single run must: the
/// risky corners its invariants are there for (a crash between a vote and the next sync, a
/// full queue dropping). A sweep with `--coverage` counts the seeds that reached each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Sometimes {
    pub name: &'static str,
    pub about: &'static str,
}

/// The metric under which a report lists the situations its run reached.
pub const REACHED: &str = "reached";

/// Note in `report` that its run reached `names` (see [`Sometimes`]).
pub fn record_reached<'a>(report: &mut Report, names: impl IntoIterator<Item = &'a str>) {
    let list: Vec<serde_json::Value> = names.into_iter().map(|n| n.into()).collect();
    report.metrics.insert(REACHED.into(), list.into());
}

/// The situations a report says its run reached.
pub fn reached(report: &Report) -> Vec<&str> {
    report
        .metrics
        .get(REACHED)
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default()
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
    /// How much one run may take before it is stopped as a budget finding.
    fn budget(&self) -> Budget {
        Budget::DEFAULT
    }
    /// The parameters `spec.params` may set (read with [`RunSpec::param`]).
    fn params(&self) -> Vec<Param> {
        Vec::new()
    }
    /// The situations its runs should reach sometimes; a run lists those it reached with
    /// [`record_reached`].
    fn sometimes(&self) -> Vec<Sometimes> {
        Vec::new()
    }
    /// An error if the parameters set in `params` do not go together (an election range
    /// that ends before it starts). Each is already at least its `min`.
    fn check_params(&self, params: &BTreeMap<String, u64>) -> Result<(), String> {
        let _ = params;
        Ok(())
    }
}

/// The command that replays a run.
pub fn replay_command(scenario: &str, spec: &RunSpec) -> String {
    let mut cmd = format!("cargo run --release -- run {scenario} --seed {}", spec.seed);
    if let Some(path) = &spec.schedule_path {
        cmd.push_str(&format!(" --schedule {}", path.display()));
    }
    for (name, value) in &spec.params {
        cmd.push_str(&format!(" --set {name}={value}"));
    }
    if let Some(bug) = &spec.bug {
        cmd.push_str(&format!(" --bug {bug}"));
    }
    if let Some(b) = spec.budget {
        if b.max_events != u64::MAX {
            cmd.push_str(&format!(" --max-events {}", b.max_events));
        }
        if b.max_sim_time_ns != u64::MAX {
            cmd.push_str(&format!(" --max-sim-time {}", seconds(b.max_sim_time_ns)));
        }
    }
    cmd
}

/// Nanoseconds as seconds, as short as exact.
pub fn seconds(ns: u64) -> String {
    if ns.is_multiple_of(1_000_000_000) {
        format!("{}", ns / 1_000_000_000)
    } else {
        let text = format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000);
        text.trim_end_matches('0').to_string()
    }
}

/// The violation a halted run reports.
pub fn violation(scenario: &str, spec: &RunSpec, halt: Halt) -> Violation {
    Violation {
        invariant: halt.failure.invariant,
        kind: halt.failure.kind,
        detail: halt.failure.detail,
        time_ns: halt.at.as_nanos(),
        seed: spec.seed,
        replay: replay_command(scenario, spec),
        evidence: halt.failure.evidence,
    }
}

/// The report of a world that has run under `faults` to `outcome`: flushes its trace log
/// and fills in its figures. Metrics are left for the scenario.
pub fn finish<N: crate::Node + 'static>(
    scenario: &str,
    spec: &RunSpec,
    world: &mut World<N>,
    faults: Schedule,
    outcome: Result<(), Halt>,
) -> Result<Report, String> {
    world.finish_trace_log()?;
    let violation = outcome.err().map(|halt| violation(scenario, spec, halt));
    Ok(Report {
        scenario: scenario.to_string(),
        seed: spec.seed,
        ok: violation.is_none(),
        nodes: world.node_count() as u32,
        events: world.events(),
        sim_time_ns: world.now().as_nanos(),
        trace_hash: world.trace_hash(),
        faults,
        violation,
        metrics: serde_json::Map::new(),
    })
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
    spec.prepare(&mut world)?;
    let outcome = match run(&mut world, &schedule) {
        Ok(()) => end_checks(&mut world).map_err(|failure| crate::Halt {
            at: world.now(),
            failure,
        }),
        Err(halt) => Err(halt),
    };
    let report = finish(scenario, spec, &mut world, schedule, outcome)?;
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

    #[test]
    fn the_replay_command_carries_what_changes_the_run() {
        let mut spec = RunSpec::new(7);
        assert_eq!(
            replay_command("s", &spec),
            "cargo run --release -- run s --seed 7"
        );
        spec.params.insert("clients".into(), 2);
        spec.budget = Some(Budget::new(1000, std::time::Duration::from_millis(1500)));
        spec.schedule_path = Some("f.json".into());
        assert_eq!(
            replay_command("s", &spec),
            "cargo run --release -- run s --seed 7 --schedule f.json --set clients=2 \
             --max-events 1000 --max-sim-time 1.5"
        );
    }
}
