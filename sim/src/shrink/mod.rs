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

mod search;
mod simplify;
pub mod units;

use crate::budget::Budget;
use crate::check::FindingKind;
use crate::faults::{Fault, LinkFaults, Schedule};
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
        c = narrow(&tester, c, i);
    }
    for i in 0..c.triggers.len() {
        c = narrow_trigger(&tester, c, i);
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

/// Search one number of unit `i` (`get` reads it, `set` writes it) down from its value to
/// the smallest that still fails, to within `1/fraction` of it (at least `min_step`).
fn lower(
    tester: &Tester<'_>,
    c: Candidate,
    i: usize,
    fraction: u64,
    min_step: u64,
    get: impl Fn(&Unit) -> Option<u64>,
    set: impl Fn(&mut Unit, u64),
) -> Candidate {
    let range = get(&c.units[i]).map(|v| (0, v));
    lower_in(tester, c, range, fraction, min_step, |c, v| {
        set(&mut c.units[i], v)
    })
}

/// Search a number of `c` in `range` (it fails at the top) down to the smallest value
/// that still fails, to within `1/fraction` of the top (at least `min_step`).
fn lower_in(
    tester: &Tester<'_>,
    c: Candidate,
    range: Option<(u64, u64)>,
    fraction: u64,
    min_step: u64,
    set: impl Fn(&mut Candidate, u64),
) -> Candidate {
    let Some((lo, current)) = range.filter(|(lo, hi)| lo < hi) else {
        return c;
    };
    let with = |v: u64| {
        let mut c = c.clone();
        set(&mut c, v);
        c
    };
    let step = (current / fraction).max(min_step);
    let v = tester.smallest(lo, current, step, with);
    if v == current {
        c
    } else {
        with(v)
    }
}

/// Narrow trigger `i`: an earlier matching event, a shorter delay, a shorter fault.
fn narrow_trigger(tester: &Tester<'_>, mut c: Candidate, i: usize) -> Candidate {
    let t = &c.triggers[i];
    let nth = Some((1, u64::from(t.nth)));
    c = lower_in(tester, c, nth, u64::MAX, 1, |c, v| {
        c.triggers[i].nth = v as u32
    });
    let delay = Some((0, c.triggers[i].delay_ns));
    c = lower_in(tester, c, delay, 32, MS, |c, v| c.triggers[i].delay_ns = v);
    let undo = c.triggers[i].undo_after_ns.map(|v| (0, v));
    lower_in(tester, c, undo, 32, MS, |c, v| {
        c.triggers[i].undo_after_ns = Some(v)
    })
}

const MS: u64 = 1_000_000;
const US: u64 = 1_000;
/// Rates are searched in parts per million.
const PPM: f64 = 1e6;

/// Narrow unit `i`: later and shorter, lower rates, narrower latency, smaller clock faults.
fn narrow(tester: &Tester<'_>, mut c: Candidate, i: usize) -> Candidate {
    let heal = tester.template.heal_at_ns;
    // A fault left without its undo lasts until the heal phase: it too starts as late as
    // it can.
    // (At least 1 ns before the heal, which would otherwise come first and leave it on.)
    let u = &c.units[i];
    let left = (u.end.is_none() && u.begin.at_ns < heal).then(|| (1, heal - u.begin.at_ns));
    c = lower_in(tester, c, left, 32, MS, |c, left| {
        c.units[i].begin.at_ns = heal - left
    });
    let length = |u: &Unit| u.end.as_ref().map(|e| e.at_ns - u.begin.at_ns);
    // Later: the start moves towards the end (the trouble starts as late as it can)...
    c = lower(tester, c, i, 32, MS, length, |u, len| {
        if let Some(e) = &u.end {
            u.begin.at_ns = e.at_ns - len;
        }
    });
    // ...and shorter: then the end moves earlier, if it still can.
    c = lower(tester, c, i, 32, MS, length, |u, len| {
        let begin = u.begin.at_ns;
        if let Some(e) = u.end.as_mut() {
            e.at_ns = begin + len;
        }
    });
    match c.units[i].begin.fault.clone() {
        Fault::Link { .. } => {
            type Field = fn(&mut LinkFaults) -> &mut f64;
            let rates: [Field; 5] = [
                |l| &mut l.loss,
                |l| &mut l.duplicate,
                |l| &mut l.reorder,
                |l| &mut l.corrupt,
                |l| &mut l.truncate,
            ];
            for field in rates {
                c = lower(
                    tester,
                    c,
                    i,
                    8,
                    1,
                    |u| link(u).map(|mut l| (*field(&mut l) * PPM).round() as u64),
                    |u, v| set_link(u, |l| *field(l) = v as f64 / PPM),
                );
            }
            c = lower(
                tester,
                c,
                i,
                8,
                US,
                |u| link(u).map(|l| l.reorder_delay_ns),
                |u, v| set_link(u, |l| l.reorder_delay_ns = v),
            );
            c = lower(
                tester,
                c,
                i,
                8,
                US,
                |u| link(u).map(|l| l.latency_max_ns - l.latency_min_ns),
                |u, v| set_link(u, |l| l.latency_max_ns = l.latency_min_ns + v),
            );
        }
        Fault::ClockDrift { ppm, .. } => {
            c = lower(
                tester,
                c,
                i,
                8,
                1,
                |_| Some(ppm.unsigned_abs()),
                |u, v| {
                    let signed = ppm.signum() * v as i64;
                    if let Fault::ClockDrift { ppm, .. } = &mut u.begin.fault {
                        *ppm = signed;
                    }
                    if let Some(Fault::DriftStop { ppm: Some(p), .. }) =
                        u.end.as_mut().map(|e| &mut e.fault)
                    {
                        *p = signed;
                    }
                },
            );
        }
        Fault::ClockOffset { offset_ns, .. } => {
            c = lower(
                tester,
                c,
                i,
                8,
                US,
                |_| Some(offset_ns.unsigned_abs()),
                |u, v| {
                    if let Fault::ClockOffset { offset_ns: o, .. } = &mut u.begin.fault {
                        *o = offset_ns.signum() * v as i64;
                    }
                },
            );
        }
        _ => {}
    }
    c
}

/// The link behaviour a unit sets, if it is a link change.
fn link(u: &Unit) -> Option<LinkFaults> {
    match &u.begin.fault {
        Fault::Link { faults, .. } => Some(faults.clone()),
        _ => None,
    }
}

/// Change a link unit's behaviour, in its begin and in its restore alike.
fn set_link(u: &mut Unit, f: impl Fn(&mut LinkFaults)) {
    if let Fault::Link { faults, .. } = &mut u.begin.fault {
        f(faults);
        let new = faults.clone();
        if let Some(Fault::LinkRestore {
            faults: Some(r), ..
        }) = u.end.as_mut().map(|e| &mut e.fault)
        {
            *r = new;
        }
    }
}
