//! Seed sweeps: run scenarios over many seeds, on several threads, and never lose a result.
//!
//! Each run is its own world, so threads share nothing but the next-run counter. Each run
//! goes through [`execute`]: a panic is a finding, a runaway seed stops at its budget, and
//! the sweep goes on. Several scenarios sweep together, interleaved seed by seed (seed 0
//! of each, then seed 1 of each, ...), so one slow scenario cannot hide the failures of the
//! others behind it, and a sweep stopped early (a time limit, a closed output) has covered
//! every scenario alike. Results come back in plan order whatever the thread count:
//! `--jobs 1` and `--jobs 2` give the same reports, hash for hash.
//!
//! A sweep's [`Summary`] carries a digest of every run (scenario, seed and outcome), an
//! XOR of one SHA-256 per run, so the summaries of the shards of a sweep merge
//! ([`merge`]) into exactly the summary of the whole sweep.

use crate::budget::Limits;
use crate::check::FindingKind;
use crate::finding::{execute, Finding, Outcome};
use crate::harness::{RunSpec, Scenario};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

mod merge;
pub use merge::{merge, read_lines, Merged};

/// The environment variable that narrows any sweep (and any seeded test) to one seed.
pub const SEED_ENV: &str = "FAULTLINE_SEED";

/// `default`, or just the seed in `FAULTLINE_SEED` when it is set. An error if it is set
/// but is not a number.
pub fn seeds_from_env(default: Range<u64>) -> Result<Range<u64>, String> {
    match std::env::var(SEED_ENV) {
        Ok(v) => {
            let seed: u64 = v
                .trim()
                .parse()
                .map_err(|_| format!("{SEED_ENV}={v:?} is not a seed (a whole number)"))?;
            Ok(seed..seed.saturating_add(1))
        }
        Err(_) => Ok(default),
    }
}

/// Parse `A..B` (B exclusive, as a Rust range).
pub fn parse_range(text: &str) -> Result<Range<u64>, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("`{text}` is not a range like 0..100"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("`{a}` is not a seed number"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("`{b}` is not a seed number"))?;
    if a >= b {
        return Err(format!(
            "the range {a}..{b} is empty (the end is exclusive)"
        ));
    }
    Ok(a..b)
}

/// Parse `K/N`: shard K (1-based) of N.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not a shard like 2/8"))?;
    let k: u64 = k
        .trim()
        .parse()
        .map_err(|_| format!("`{k}` is not a shard number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a shard count"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n} does not exist: K must be in 1..=N"));
    }
    Ok((k, n))
}

/// The seeds of `range` that shard `k` of `n` runs: every n-th seed, starting at the
/// (k-1)-th. The shards of a range are disjoint and cover it, whatever the machine.
pub fn shard_seeds(range: Range<u64>, (k, n): (u64, u64)) -> Vec<u64> {
    range
        .clone()
        .filter(|s| (s - range.start) % n == k - 1)
        .collect()
}

/// One run of a sweep: which scenario (its index in the sweep's list), which seed, and how
/// it ended.
#[derive(Clone, Debug)]
pub struct SeedRun {
    pub scenario: String,
    pub seed: u64,
    pub outcome: Outcome,
    /// The spec it ran under (for the finding's replay line).
    pub spec: RunSpec,
}

impl SeedRun {
    /// The report, if the run got as far as one.
    pub fn report(&self) -> Option<&crate::harness::Report> {
        self.outcome.report()
    }

    /// What it found, if anything.
    pub fn finding(&self) -> Option<Finding> {
        Finding::of(&self.scenario, &self.spec, &self.outcome)
    }

    /// This run's share of a sweep's digest.
    fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.scenario.as_bytes());
        h.update([0]);
        h.update(self.seed.to_le_bytes());
        h.update(self.outcome.fingerprint().as_bytes());
        h.finalize().into()
    }
}

/// How to sweep.
pub struct Options<'a> {
    /// Worker threads; never more than there are runs.
    pub jobs: usize,
    /// Limits over each scenario's default budget.
    pub limits: Limits,
    /// Run every seed twice and compare trace hashes.
    pub check_determinism: bool,
    /// Asked before each run starts: `true` stops the sweep there (a time limit, an output
    /// nobody reads any more). Runs already started finish.
    pub stop: &'a (dyn Fn() -> bool + Sync),
    /// Parameters set for each scenario, by its index in the sweep's list (missing: none).
    pub params: Vec<BTreeMap<String, u64>>,
}

impl Options<'_> {
    /// `jobs` threads, the scenarios' budgets, no determinism check, no stop.
    pub fn jobs(jobs: usize) -> Options<'static> {
        Options {
            jobs,
            limits: Limits::default(),
            check_determinism: false,
            stop: &|| false,
            params: Vec::new(),
        }
    }
}

/// The runs of a sweep of `scenarios` over `seeds`, interleaved: every scenario's run of
/// one seed before any run of the next seed. Pairs of (scenario index, seed).
pub fn plan(scenarios: usize, seeds: &[u64]) -> Vec<(usize, u64)> {
    seeds
        .iter()
        .flat_map(|&seed| (0..scenarios).map(move |s| (s, seed)))
        .collect()
}

/// What a sweep did.
pub struct Swept {
    /// The runs done, in plan order: a prefix of the plan (all of it unless stopped).
    pub runs: Vec<SeedRun>,
    /// Whether `stop` cut the sweep short.
    pub stopped: bool,
}

/// Run `plan` (see [`plan`]) over `scenarios`. `on_done` is called as each run finishes
/// (from any thread, in completion order) with its index in the plan, for progress and for
/// printing in order as runs complete.
pub fn run_plan(
    scenarios: &[&dyn Scenario],
    plan: &[(usize, u64)],
    options: &Options<'_>,
    on_done: &(dyn Fn(usize, &SeedRun) + Sync),
) -> Swept {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(plan.len()));
    let jobs = options.jobs.clamp(1, plan.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                if (options.stop)() {
                    return;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(s, seed)) = plan.get(index) else {
                    return;
                };
                let scenario = scenarios[s];
                let spec = RunSpec {
                    budget: options.limits.over(scenario.budget()),
                    default_budget: scenario.budget(),
                    params: options.params.get(s).cloned().unwrap_or_default(),
                    ..RunSpec::new(seed)
                };
                let outcome = if options.check_determinism {
                    crate::determinism::check_hashes(scenario, &spec)
                } else {
                    execute(scenario, &spec)
                };
                let run = SeedRun {
                    scenario: scenario.name().to_string(),
                    seed,
                    outcome,
                    spec,
                };
                on_done(index, &run);
                // A panic while the lock is held cannot happen (a push does not panic
                // short of running out of memory); recover the data if it did.
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((index, run));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(index, _)| *index);
    let stopped = results.len() < plan.len();
    Swept {
        runs: results.into_iter().map(|(_, run)| run).collect(),
        stopped,
    }
}

/// Run `scenario` for every seed in `seeds` on `jobs` threads. `on_done` is called as each
/// run finishes (from any thread, in completion order), for progress. Results are in seed
/// order.
pub fn sweep(
    scenario: &dyn Scenario,
    seeds: Range<u64>,
    jobs: usize,
    on_done: &(dyn Fn(&SeedRun) + Sync),
) -> Vec<SeedRun> {
    sweep_seeds(scenario, &seeds.collect::<Vec<_>>(), jobs, on_done)
}

/// [`sweep`] over any list of seeds.
pub fn sweep_seeds(
    scenario: &dyn Scenario,
    seeds: &[u64],
    jobs: usize,
    on_done: &(dyn Fn(&SeedRun) + Sync),
) -> Vec<SeedRun> {
    let plan = plan(1, seeds);
    run_plan(&[scenario], &plan, &Options::jobs(jobs), &|_, run| {
        on_done(run)
    })
    .runs
}

/// The last line of a sweep's JSON output (`record: "summary"`): what was planned, what
/// ran, what was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Always `"summary"`.
    pub record: String,
    pub scenarios: Vec<String>,
    /// The seed range, `A..B`.
    pub seeds: String,
    /// `K/N` when this is one shard of the range.
    pub shard: Option<String>,
    /// Runs planned: seeds (of this shard) times scenarios.
    pub planned: u64,
    /// Runs done.
    pub total: u64,
    /// Runs with a finding.
    pub failed: u64,
    /// Findings by kind.
    pub kinds: BTreeMap<FindingKind, u64>,
    /// XOR over the runs of SHA-256(scenario, seed, outcome): equal digests, equal runs.
    pub digest: String,
    /// Why the sweep stopped before the end of its plan, if it did.
    pub stopped: Option<String>,
    /// The parameters set (`--set`), by scenario; only scenarios with some.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Summary {
    /// The summary of `runs` of a sweep of `scenarios` over `seeds`.
    pub fn of(
        scenarios: &[&dyn Scenario],
        seeds: &Range<u64>,
        shard: Option<(u64, u64)>,
        planned: usize,
        runs: &[SeedRun],
        stopped: Option<String>,
    ) -> Summary {
        let mut digest = [0u8; 32];
        let mut kinds = BTreeMap::new();
        let mut failed = 0;
        for run in runs {
            for (d, x) in digest.iter_mut().zip(run.digest()) {
                *d ^= x;
            }
            if let Some(kind) = run.outcome.kind() {
                failed += 1;
                *kinds.entry(kind).or_insert(0) += 1;
            }
        }
        Summary {
            record: "summary".to_string(),
            scenarios: scenarios.iter().map(|s| s.name().to_string()).collect(),
            seeds: format!("{}..{}", seeds.start, seeds.end),
            shard: shard.map(|(k, n)| format!("{k}/{n}")),
            planned: planned as u64,
            total: runs.len() as u64,
            failed,
            kinds,
            digest: hex::encode(digest),
            stopped,
            params: BTreeMap::new(),
        }
    }

    /// The exit code for what was found: 0, or the smallest code of the kinds found.
    pub fn exit_code(&self) -> u8 {
        self.kinds.keys().map(|k| k.exit_code()).min().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_and_cover_the_range() {
        let mut all: Vec<u64> = (1..=3).flat_map(|k| shard_seeds(10..20, (k, 3))).collect();
        all.sort();
        assert_eq!(all, (10..20).collect::<Vec<_>>());
        assert_eq!(shard_seeds(10..20, (2, 3)), vec![11, 14, 17]);
        assert!(
            parse_shard("0/3").is_err()
                && parse_shard("4/3").is_err()
                && parse_shard("1/0").is_err()
        );
        assert_eq!(parse_shard("2/8"), Ok((2, 8)));
    }

    #[test]
    fn a_plan_interleaves_scenarios_seed_by_seed() {
        assert_eq!(plan(2, &[5, 6]), vec![(0, 5), (1, 5), (0, 6), (1, 6)]);
    }
}
