//! Seed sweeps: run one scenario over many seeds, on several threads, in seed order.
//!
//! Each run is its own world, so threads share nothing but the next-seed counter, and
//! results come back in seed order whatever the thread count: `--jobs 1` and `--jobs 2`
//! give the same reports, hash for hash.

use crate::harness::{Report, RunSpec, Scenario};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Run `scenario` for every seed in `seeds` on `jobs` threads. `on_done` is called as each
/// run finishes (from any thread, in completion order), for progress. Results are in seed
/// order; a run that could not start is an `Err` with its seed.
pub fn sweep(
    scenario: &dyn Scenario,
    seeds: Range<u64>,
    jobs: usize,
    on_done: &(dyn Fn(&Result<Report, String>) + Sync),
) -> Vec<(u64, Result<Report, String>)> {
    let next = AtomicU64::new(seeds.start);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= seeds.end {
                    return;
                }
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
