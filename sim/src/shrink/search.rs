//! The searches of the shrinker: delta debugging over units, and the smallest value of a
//! number at which a run still fails. Both test candidates in batches, one thread per
//! job, and take the first failing candidate in batch order, so the result does not
//! depend on which thread finished first.

use super::units::{self, Unit};
use super::Target;
use crate::budget::Budget;
use crate::faults::Trigger;
use crate::finding::{execute, Finding};
use crate::harness::{RunSpec, Scenario};
use crate::Schedule;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Values a search tries per round: two, so that on two cores a round takes one run's time.
const PROBES: u128 = 2;

/// A schedule (as units and triggers) and parameters to try.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub units: Vec<Unit>,
    pub triggers: Vec<Trigger>,
    pub params: BTreeMap<String, u64>,
}

/// One thing delta debugging may delete: a unit of the timed faults, or a trigger.
#[derive(Clone, Debug, PartialEq)]
enum Item {
    Unit(Unit),
    Trigger(Trigger),
}

impl Candidate {
    /// Its schedule, with `template`'s phases.
    pub fn schedule(&self, template: &Schedule) -> Schedule {
        units::schedule(template, &self.units, &self.triggers)
    }

    /// Its fault events (see [`units::events`]).
    pub fn events(&self) -> usize {
        units::fault_count(&self.units) + units::trigger_events(&self.triggers)
    }

    fn items(&self) -> Vec<Item> {
        let units = self.units.iter().cloned().map(Item::Unit);
        units
            .chain(self.triggers.iter().cloned().map(Item::Trigger))
            .collect()
    }

    /// `self` with only `items` (units and triggers keep their order).
    fn with_items(&self, items: &[Item]) -> Candidate {
        let mut c = Candidate {
            units: Vec::new(),
            triggers: Vec::new(),
            params: self.params.clone(),
        };
        for item in items {
            match item {
                Item::Unit(u) => c.units.push(u.clone()),
                Item::Trigger(t) => c.triggers.push(t.clone()),
            }
        }
        c
    }
}

/// Runs candidates and says whether each still fails as the target does.
pub struct Tester<'a> {
    pub scenario: &'a dyn Scenario,
    pub seed: u64,
    pub budget: Option<Budget>,
    pub template: Schedule,
    pub target: Target,
    pub jobs: usize,
    pub runs: AtomicU64,
    /// Results by candidate (its schedule and parameters as JSON): a candidate is run once.
    cache: Mutex<BTreeMap<String, bool>>,
    pub on_run: &'a (dyn Fn(u64) + Sync),
}

impl<'a> Tester<'a> {
    pub fn new(
        scenario: &'a dyn Scenario,
        seed: u64,
        budget: Option<Budget>,
        template: Schedule,
        target: Target,
        jobs: usize,
        on_run: &'a (dyn Fn(u64) + Sync),
    ) -> Tester<'a> {
        Tester {
            scenario,
            seed,
            budget,
            template,
            target,
            jobs: jobs.max(1),
            runs: AtomicU64::new(0),
            cache: Mutex::new(BTreeMap::new()),
            on_run,
        }
    }

    /// The spec that runs `c`.
    pub fn spec(&self, c: &Candidate) -> RunSpec {
        RunSpec {
            schedule: Some(c.schedule(&self.template)),
            budget: self.budget,
            default_budget: self.scenario.budget(),
            params: c.params.clone(),
            ..RunSpec::new(self.seed)
        }
    }

    /// Run `c` once; its finding, if any.
    pub fn finding(&self, c: &Candidate) -> Option<Finding> {
        let spec = self.spec(c);
        let outcome = execute(self.scenario, &spec);
        let n = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
        (self.on_run)(n);
        Finding::of(self.scenario.name(), &spec, &outcome)
    }

    fn key(&self, c: &Candidate) -> String {
        let schedule = c.schedule(&self.template);
        format!(
            "{}{}",
            serde_json::to_string(&schedule).unwrap_or_default(),
            serde_json::to_string(&c.params).unwrap_or_default()
        )
    }

    /// Whether each candidate still fails like the target, run `jobs` at a time.
    pub fn batch(&self, candidates: &[Candidate]) -> Vec<bool> {
        let keys: Vec<String> = candidates.iter().map(|c| self.key(c)).collect();
        let mut results: Vec<Option<bool>> = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            keys.iter().map(|k| cache.get(k).copied()).collect()
        };
        let todo: Vec<usize> = (0..candidates.len())
            .filter(|&i| results[i].is_none())
            .collect();
        for chunk in todo.chunks(self.jobs) {
            let found: Vec<(usize, bool)> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|&i| {
                        let c = &candidates[i];
                        scope.spawn(move || (i, self.target.matches(self.finding(c).as_ref())))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or((usize::MAX, false)))
                    .collect()
            });
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for (i, fails) in found {
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(fails);
                    cache.insert(keys[i].clone(), fails);
                }
            }
        }
        results.into_iter().map(|r| r.unwrap_or(false)).collect()
    }

    /// The first of `candidates` that still fails, tried in batches of `jobs` in order.
    pub fn first_failing(&self, candidates: Vec<Candidate>) -> Option<Candidate> {
        for chunk in candidates.chunks(self.jobs) {
            let results = self.batch(chunk);
            if let Some(i) = results.iter().position(|&f| f) {
                return Some(chunk[i].clone());
            }
        }
        None
    }

    /// Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating
    /// Failure-Inducing Input", TSE 2002): the units and triggers of `c` cut down to a set
    /// from which no single chunk can be removed at the finest split, with the run still
    /// failing.
    pub fn ddmin(&self, c: Candidate) -> Candidate {
        let without_all = c.with_items(&[]);
        let mut items = c.items();
        if items.is_empty() || self.batch(std::slice::from_ref(&without_all))[0] {
            return without_all;
        }
        let mut n = 2usize;
        while items.len() >= 2 {
            let len = items.len();
            let n_chunks = n.min(len);
            let bounds: Vec<(usize, usize)> = (0..n_chunks)
                .map(|i| (i * len / n_chunks, (i + 1) * len / n_chunks))
                .collect();
            let subset = |(a, b): (usize, usize)| items[a..b].to_vec();
            let complement = |(a, b): (usize, usize)| [&items[..a], &items[b..]].concat();
            // Subsets first (a big jump), then complements (one chunk less); with two
            // chunks they are the same candidates.
            let mut tries: Vec<(Vec<Item>, bool)> = Vec::new();
            if n_chunks > 2 {
                tries.extend(bounds.iter().map(|&b| (subset(b), true)));
            }
            tries.extend(bounds.iter().map(|&b| (complement(b), false)));
            let candidates: Vec<Candidate> = tries.iter().map(|(t, _)| c.with_items(t)).collect();
            match self.first_failing(candidates.clone()) {
                Some(smaller) => {
                    let i = candidates.iter().position(|t| *t == smaller).unwrap_or(0);
                    let was_subset = tries[i].1;
                    n = if was_subset { 2 } else { (n_chunks - 1).max(2) };
                    items = tries.swap_remove(i).0;
                }
                None if n_chunks >= len => break,
                None => n = (2 * n_chunks).min(len),
            }
        }
        c.with_items(&items)
    }

    /// The smallest value in `lo..=hi` (the run fails at `hi`) at which `make(value)` still
    /// fails, to within `step`: `lo` itself and evenly spaced probes are tried, [`PROBES`]
    /// per round whatever the number of jobs (so the result does not depend on it).
    pub fn smallest(&self, lo: u64, hi: u64, step: u64, make: impl Fn(u64) -> Candidate) -> u64 {
        let (mut lo, mut hi) = (lo, hi);
        let step = step.max(1);
        let mut first_round = true;
        while lo < hi && (first_round || hi - lo > step) {
            let k = PROBES;
            let span = (hi - lo) as u128;
            let mut probes: Vec<u64> = if first_round {
                (0..k).map(|j| lo + (span * j / k) as u64).collect()
            } else {
                (1..=k).map(|j| lo + (span * j / (k + 1)) as u64).collect()
            };
            probes.dedup();
            probes.retain(|&p| p < hi);
            first_round = false;
            if probes.is_empty() {
                break;
            }
            let candidates: Vec<Candidate> = probes.iter().map(|&p| make(p)).collect();
            let results = self.batch(&candidates);
            match results.iter().position(|&f| f) {
                Some(0) => {
                    // Fails at the first probe: if that was `lo` itself, nothing smaller
                    // is left to try; otherwise search below it.
                    hi = probes[0];
                    if probes[0] == lo {
                        break;
                    }
                }
                Some(j) => {
                    hi = probes[j];
                    lo = probes[j - 1] + 1;
                }
                None => lo = probes[probes.len() - 1] + 1,
            }
        }
        hi
    }
}
