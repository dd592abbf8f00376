//! The command line of `faultline-madsim` (see the binary's docs).

use crate::{bench, raft};

/// Parse `A..B`.
fn seeds(text: &str) -> Option<std::ops::Range<u64>> {
    let (a, b) = text.split_once("..")?;
    Some(a.parse().ok()?..b.parse().ok()?)
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn usage() -> i32 {
    eprintln!(
        "usage: faultline-madsim check SCENARIO[,..] --seeds A..B\n       \
         faultline-madsim determinism SCENARIO|all --seed S\n       \
         faultline-madsim bench raft|sim --side faultline|madsim|madsim-native [--seed S] [--repeats R] [--nodes N --seconds S]"
    );
    2
}

/// One seed of one scenario on madsim: None if it passed, else what failed.
pub fn run_one(name: &str, seed: u64) -> Result<Option<String>, String> {
    if raft::SCENARIOS.contains(&name) {
        let r = raft::run(name, seed)?;
        if std::env::var_os("FAULTLINE_MADSIM_VERBOSE").is_some() {
            eprintln!(
                "{name} seed {seed}: {} ops, {} events",
                r.ops, r.outcome.events
            );
        }
        return Ok(r.halt.map(|h| describe(&h)));
    }
    if name == crate::exercise::NAME {
        let (halt, events) = crate::exercise::run(seed);
        if std::env::var_os("FAULTLINE_MADSIM_VERBOSE").is_some() {
            eprintln!("{name} seed {seed}: {events} events");
        }
        return Ok(halt.map(|h| describe(&h)));
    }
    let run = match name {
        crate::lsp::NAME => crate::lsp::run(seed),
        crate::kv::NAME => crate::kv::run(seed),
        name if crate::miner::SCENARIOS.contains(&name) => crate::miner::run(name, seed)?,
        _ => {
            return Err(format!(
                "no madsim scenario {name}; they are: {}",
                all().join(", ")
            ))
        }
    };
    if std::env::var_os("FAULTLINE_MADSIM_VERBOSE").is_some() {
        eprintln!("{name} seed {seed}: {} events", run.events);
    }
    Ok(run.halt.map(|h| describe(&h)))
}

fn describe(h: &faultline::Halt) -> String {
    format!("{} at {}: {}", h.failure.invariant, h.at, h.failure.detail)
}

/// The scenarios besides Raft's that `determinism` checks.
const DETERMINISM_OTHERS: &[&str] = &[
    crate::lsp::NAME,
    crate::kv::NAME,
    crate::miner::SCENARIOS[0],
    crate::miner::SCENARIOS[1],
];

/// madsim's determinism check of `name` under `seed` (Err if madsim saw two runs part), and
/// the digest of one more run.
fn determinism_of(name: &'static str, seed: u64) -> Result<(Result<u64, ()>, u64), String> {
    if raft::SCENARIOS.contains(&name) {
        let checked = std::panic::catch_unwind(|| raft::check_determinism(name, seed));
        let again = raft::run(name, seed)?.digest;
        return match checked {
            Ok(Ok(a)) => Ok((Ok(a), again)),
            Ok(Err(e)) => Err(e),
            Err(_) => Ok((Err(()), again)),
        };
    }
    let (checked, again) = match name {
        crate::lsp::NAME => (
            std::panic::catch_unwind(|| crate::lsp::check_determinism(seed)).map_err(|_| ()),
            crate::lsp::run(seed).digest,
        ),
        crate::kv::NAME => (
            std::panic::catch_unwind(|| crate::kv::check_determinism(seed)).map_err(|_| ()),
            crate::kv::run(seed).digest,
        ),
        name if crate::miner::SCENARIOS.contains(&name) => {
            let checked = std::panic::catch_unwind(|| crate::miner::check_determinism(name, seed));
            let again = crate::miner::run(name, seed)?.digest;
            match checked {
                Ok(Ok(a)) => (Ok(a), again),
                Ok(Err(e)) => return Err(e),
                Err(_) => (Err(()), again),
            }
        }
        _ => return Err(format!("no madsim scenario {name}")),
    };
    Ok((checked, again))
}

/// Every scenario that runs on madsim.
pub fn all() -> Vec<&'static str> {
    let mut all = raft::SCENARIOS.to_vec();
    all.push(crate::exercise::NAME);
    all.extend(DETERMINISM_OTHERS);
    all
}

pub fn main(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("check") => {
            let (Some(names), Some(range)) = (args.get(1), flag(args, "--seeds").and_then(seeds))
            else {
                return usage();
            };
            let names: Vec<&str> = if names == "all" {
                all()
            } else {
                names.split(',').collect()
            };
            let mut failed = 0;
            let mut total = 0;
            for name in names {
                let mut passed = 0;
                for seed in range.clone() {
                    total += 1;
                    match run_one(name, seed) {
                        Ok(None) => passed += 1,
                        Ok(Some(what)) => {
                            failed += 1;
                            println!("{name} seed {seed}: {what}");
                        }
                        Err(e) => {
                            eprintln!("faultline-madsim: {e}");
                            return 2;
                        }
                    }
                }
                println!(
                    "{name}: {passed}/{} seeds passed on madsim",
                    range.end - range.start
                );
            }
            println!("madsim: {} passed, {failed} failed", total - failed);
            i32::from(failed > 0)
        }
        Some("bench") => {
            let seed = flag(args, "--seed")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            let nodes = flag(args, "--nodes")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1000);
            let seconds = flag(args, "--seconds")
                .and_then(|s| s.parse().ok())
                .unwrap_or(2);
            let repeats = flag(args, "--repeats")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            let figures = match (args.get(1).map(String::as_str), flag(args, "--side")) {
                (Some("raft"), Some("faultline")) => {
                    bench::fastest(repeats, || bench::raft_faultline(seed))
                }
                (Some("raft"), Some("madsim")) => {
                    bench::fastest(repeats, || bench::raft_madsim(seed))
                }
                (Some("sim"), Some("faultline")) => bench::sim_faultline(nodes, seconds, seed),
                (Some("sim"), Some("madsim")) => bench::sim_madsim(nodes, seconds, seed),
                (Some("sim"), Some("madsim-native")) => {
                    bench::sim_madsim_native(nodes, seconds, seed)
                }
                _ => return usage(),
            };
            println!("{figures}");
            0
        }
        Some("determinism") => {
            let (Some(names), Some(seed)) = (
                args.get(1),
                flag(args, "--seed").and_then(|s| s.parse::<u64>().ok()),
            ) else {
                return usage();
            };
            let checked: Vec<&'static str> = raft::SCENARIOS
                .iter()
                .chain(DETERMINISM_OTHERS)
                .copied()
                .collect();
            let names: Vec<&'static str> = if names == "all" {
                checked
            } else {
                match checked.into_iter().find(|n| n == names) {
                    Some(n) => vec![n],
                    None => {
                        eprintln!("faultline-madsim: no madsim scenario {names}");
                        return 2;
                    }
                }
            };
            let mut failed = 0;
            for name in names {
                // madsim's check compares every random draw of two runs and panics where
                // they part; ours then compares what the two runs' clients saw.
                match determinism_of(name, seed) {
                    Ok((Ok(a), b)) if a == b => {
                        println!("{name} seed {seed}: deterministic on madsim (digest {a:016x})")
                    }
                    Ok((Ok(a), b)) => {
                        failed += 1;
                        println!("{name} seed {seed}: histories differ ({a:016x} vs {b:016x})");
                    }
                    Ok((Err(()), _)) => {
                        failed += 1;
                        println!("{name} seed {seed}: madsim found nondeterminism");
                    }
                    Err(e) => {
                        eprintln!("faultline-madsim: {e}");
                        return 2;
                    }
                }
            }
            i32::from(failed > 0)
        }
        Some("summarize") => bench::summarize(std::io::stdin().lines().map_while(Result::ok)),
        _ => usage(),
    }
}
