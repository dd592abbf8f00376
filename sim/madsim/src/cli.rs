//! The command line of `faultline-madsim` (see the binary's docs).

use crate::raft;

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
         faultline-madsim determinism SCENARIO --seed S\n       \
         faultline-madsim bench raft|sim --side faultline|madsim [--seed S]"
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
        return Ok(r
            .halt
            .map(|h| format!("{} at {}: {}", h.failure.invariant, h.at, h.failure.detail)));
    }
    Err(format!(
        "no madsim scenario {name}; they are: {}",
        all().join(", ")
    ))
}

/// Every scenario that runs on madsim.
pub fn all() -> Vec<&'static str> {
    raft::SCENARIOS.to_vec()
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
        _ => usage(),
    }
}
