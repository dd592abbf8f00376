//! Seed sweeps: run one scenario over many seeds, on several threads, in seed order.
//!
//! Each run is its own world, so threads share nothing but the next-seed counter, and
//! results come back in seed order whatever the thread count: `--jobs 1` and `--jobs 2`
//! give the same reports, hash for hash.

use crate::harness::{Report, RunSpec, Scenario};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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

/// Run `scenario` for every seed in `seeds` on `jobs` threads. `on_done` is called as each
/// run finishes (from any thread, in completion order), for progress. Results are in seed
/// order; a run that could not start is an `Err` with its seed.
pub fn sweep(
    scenario: &dyn Scenario,
    seeds: Range<u64>,
    jobs: usize,
    on_done: &(dyn Fn(&Result<Report, String>) + Sync),
) -> Vec<(u64, Result<Report, String>)> {
    sweep_seeds(scenario, &seeds.collect::<Vec<_>>(), jobs, on_done)
}

/// [`sweep`] over any list of seeds.
pub fn sweep_seeds(
    scenario: &dyn Scenario,
    seeds: &[u64],
    jobs: usize,
    on_done: &(dyn Fn(&Result<Report, String>) + Sync),
) -> Vec<(u64, Result<Report, String>)> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    return;
                };
                let result = scenario.run(&RunSpec {
                    seed,
                    ..RunSpec::default()
                });
                on_done(&result);
                results
                    .lock()
                    .expect("no panics while held")
                    .push((seed, result));
            });
        }
    });
    let mut results = results.into_inner().expect("threads joined");
    results.sort_by_key(|(seed, _)| *seed);
    results
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
}
