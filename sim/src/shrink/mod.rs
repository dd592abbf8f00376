//! `faultline shrink`: from a failing run to a small one that fails the same way.
//!
//! The schedule is cut into units, episodes (a fault and its undo, which fault verbs in
//! pairs make well defined) and single faults, plus its triggers, and shrunk in four
//! passes, each keeping the run failing with the same kind and invariant (and, for a
//! panic, the same place):
//!
//! 1. delta debugging over the units and triggers: whole episodes go, the rest keep their
//!    meaning;
//! 2. the scenario's parameters ([`crate::harness::Scenario::params`]: clients,
//!    operations) lowered towards their minimum, faults on nodes that are gone dropped,
//!    then delta debugging again;
//! 3. what is left simplified ([`simplify`]): two episodes of one fault merged, undos
//!    dropped (the heal phase undoes what is left), partitions narrowed to fewer nodes,
//!    to an isolation, to a one-way cut; then delta debugging again;
//! 4. each remaining unit narrowed: a later start, a shorter episode, lower loss,
//!    duplication, reordering, corruption and truncation rates, a narrower latency range,
//!    a shorter reorder delay, a smaller clock drift or step; each trigger on an earlier
//!    event, with a shorter delay and a shorter fault.
//!
//! What it lowers is the schedule's fault events ([`units::events`]): its timed faults,
//! each fault and each undo one, and each trigger's fault and its undo.
//!
//! Every search tests candidates in fixed batches and takes the first failing one in batch
//! order, and every run is deterministic, so the same input gives the same result on any
//! number of threads.

mod narrow;
mod search;
mod simplify;
pub mod units;

use crate::budget::Budget;
use crate::check::FindingKind;
use crate::faults::Schedule;
use crate::finding::{execute, Finding, Outcome};
use crate::harness::{Param, RunSpec, Scenario};
use search::{Candidate, Tester};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use units::Unit;

/// What a shrunk run must still show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: FindingKind,
    pub invariant: String,
    /// For a panic: where it happened.
    pub location: Option<String>,
}

impl Target {
    /// The target a finding sets.
    pub fn of(f: &Finding) -> Target {
        Target {
            kind: f.kind,
            invariant: f.invariant.clone(),
            location: f.location.clone(),
        }
    }

    /// Whether `finding` is the same failure.
    pub fn matches(&self, finding: Option<&Finding>) -> bool {
        finding.is_some_and(|f| {
            f.kind == self.kind && f.invariant == self.invariant && f.location == self.location
        })
    }
}

/// Where the shrinker is, for a progress line.
#[derive(Clone, Debug)]
pub struct Progress {
    pub phase: &'static str,
    pub runs: u64,
    pub faults: usize,
}

/// How to shrink.
pub struct Options<'a> {
    /// Runs at a time.
    pub jobs: usize,
    /// The budget of every run (the scenario's default if `None`).
    pub budget: Option<Budget>,
    /// Called after every run and at every change of phase.
    pub progress: &'a (dyn Fn(&Progress) + Sync),
}

/// A shrunk failure.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub target: Target,
    /// The failing run shrinking started from.
    pub original: Finding,
    pub original_faults: usize,
    pub original_units: usize,
    /// The original schedule's fault events ([`units::events`]): timed faults and what
    /// its triggers fire.
    pub original_events: usize,
    pub original_triggers: usize,
    /// What is left.
    pub units: Vec<Unit>,
    pub schedule: Schedule,
    /// Parameters away from their defaults.
    pub params: BTreeMap<String, u64>,
    /// The scenario's parameters, with their defaults.
    pub declared: Vec<Param>,
    /// The shrunk run's finding (it matches the target).
    pub finding: Finding,
    pub runs: u64,
}

/// Shrink the failing run `spec` of `scenario` (its seed, and its schedule or the one
/// the seed draws). An error if the run does not fail, or if its schedule replayed
/// explicitly does not fail the same way.
pub fn shrink(
    scenario: &dyn Scenario,
    spec: &RunSpec,
    options: &Options<'_>,
) -> Result<Shrunk, String> {
    let name = scenario.name();
    let phase = Mutex::new(("checking the failure", 0usize));
    let report = |runs: u64| {
        let (p, faults) = *phase.lock().unwrap_or_else(|e| e.into_inner());
        (options.progress)(&Progress {
            phase: p,
            runs,
            faults,
        });
    };
    let mut base = spec.clone();
    base.budget = options.budget.or(spec.budget);
    let outcome = execute(scenario, &base);
    let original = Finding::of(name, &base, &outcome).ok_or_else(|| {
        format!(
            "{name} seed {} passes: there is no failure to shrink",
            spec.seed
        )
    })?;
    let target = Target::of(&original);
    let schedule = match (&spec.schedule, outcome.report()) {
        (Some(s), _) => s.clone(),
        (None, Some(r)) => r.faults.clone(),
        (None, None) => drawn_schedule(scenario, &base).ok_or_else(|| {
            format!(
                "the run {} before it drew its schedule: nothing to shrink",
                original.kind
            )
        })?,
    };
    let tester = Tester::new(
        scenario,
        spec.seed,
        base.budget,
        schedule.clone(),
        target.clone(),
        options.jobs,
        &report,
    );
    let set_phase = |p: &'static str, c: &Candidate| {
        *phase.lock().unwrap_or_else(|e| e.into_inner()) = (p, c.events());
        report(tester.runs.load(Ordering::Relaxed));
    };
    let start = Candidate {
        units: units::units(&schedule),
        triggers: schedule.triggers.clone(),
        params: spec.params.clone(),
    };
    set_phase("checking the failure", &start);
    if !tester.batch(std::slice::from_ref(&start))[0] {
        return Err(format!(
            "{name} seed {}: its schedule, given explicitly, does not fail with {} `{}` \
             (does the scenario change its schedule?)",
            spec.seed, target.kind, target.invariant
        ));
    }
    set_phase("removing faults", &start);
    let mut c = tester.ddmin(start.clone());
    set_phase("lowering parameters", &c);
    let declared = scenario.params();
    let before = c.params.clone();
    for p in declared.iter().filter(|p| p.shrinks) {
        c = lower_param(&tester, c, p);
    }
    if c.params != before {
        set_phase("removing faults", &c);
        c = tester.ddmin(c);
    }
    set_phase("simplifying faults", &c);
    let simpler = simplify::simplify(&tester, c.clone(), nodes_with(&tester, &c.params));
    if simpler != c {
        set_phase("removing faults", &simpler);
        c = tester.ddmin(simpler);
    }
    set_phase("narrowing faults", &c);
    for i in 0..c.units.len() {
        c = narrow::narrow(&tester, c, i);
    }
    for i in 0..c.triggers.len() {
        c = narrow::narrow_trigger(&tester, c, i);
    }
    set_phase("done", &c);
    let params: BTreeMap<String, u64> = c
        .params
        .iter()
        .filter(|(k, v)| {
            !declared
                .iter()
                .any(|p| p.name == k.as_str() && p.default == **v)
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let shrunk = Schedule {
        swarm: shrunk_description(&schedule, &c),
        ..c.schedule(&schedule)
    };
    // The run the summary shows, and the user will replay: the schedule as written.
    let replay = RunSpec {
        schedule: Some(shrunk.clone()),
        params: params.clone(),
        ..tester.spec(&c)
    };
    let finding = Finding::of(name, &replay, &execute(scenario, &replay))
        .filter(|f| target.matches(Some(f)))
        .ok_or("the shrunk schedule did not fail again: the scenario is not deterministic?")?;
    Ok(Shrunk {
        target,
        original,
        original_faults: schedule.faults.len(),
        original_units: start.units.len(),
        original_events: units::events(&schedule),
        original_triggers: schedule.triggers.len(),
        schedule: shrunk,
        units: c.units,
        params,
        declared,
        finding,
        runs: tester.runs.load(Ordering::Relaxed),
    })
}

/// The `swarm` words of a shrunk schedule: what it was shrunk from.
fn shrunk_description(original: &Schedule, c: &Candidate) -> Vec<String> {
    let mut words = vec![format!(
        "shrunk from {} fault events to {}",
        units::events(original),
        c.events()
    )];
    words.extend(original.swarm.iter().map(|w| format!("was: {w}")));
    words
}

/// The schedule a seed draws, from a run that stops before its first event (a zero event
/// budget): every scenario loads its schedule before it runs.
fn drawn_schedule(scenario: &dyn Scenario, spec: &RunSpec) -> Option<Schedule> {
    let spec = RunSpec {
        budget: Some(Budget {
            max_events: 0,
            max_sim_time_ns: u64::MAX,
        }),
        trace: None,
        ..spec.clone()
    };
    match execute(scenario, &spec) {
        Outcome::Ran(r) => Some(r.faults),
        _ => None,
    }
}

/// The world's node count under `params` (from a run stopped before its first event).
fn nodes_with(tester: &Tester<'_>, params: &BTreeMap<String, u64>) -> Option<u32> {
    let spec = RunSpec {
        schedule: Some(Schedule::quiet(
            tester.template.heal_at_ns,
            tester.template.end_ns,
        )),
        budget: Some(Budget {
            max_events: 0,
            max_sim_time_ns: u64::MAX,
        }),
        params: params.clone(),
        ..RunSpec::new(tester.seed)
    };
    execute(tester.scenario, &spec).report().map(|r| r.nodes)
}

/// `c` with parameter `p` as low as it goes while the run still fails.
fn lower_param(tester: &Tester<'_>, c: Candidate, p: &Param) -> Candidate {
    let current = c.params.get(p.name).copied().unwrap_or(p.default);
    if current <= p.min {
        return c;
    }
    let make = |v: u64| {
        let mut params = c.params.clone();
        params.insert(p.name.to_string(), v);
        let (units, triggers) = match nodes_with(tester, &params) {
            Some(n) => (
                units::fit(&c.units, n),
                // A trigger on a node that is gone goes with it.
                c.triggers
                    .iter()
                    .filter(|t| t.node.is_none_or(|m| m < n))
                    .cloned()
                    .collect(),
            ),
            None => (c.units.clone(), c.triggers.clone()),
        };
        Candidate {
            units,
            triggers,
            params,
        }
    };
    let v = tester.smallest(p.min, current, 1, make);
    if v == current {
        c
    } else {
        make(v)
    }
}
