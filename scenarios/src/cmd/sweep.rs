//! `faultline sweep`: scenarios over seeds, on all cores, printing findings in plan order
//! as they come.

use super::{find, usage_error, BudgetArgs, EXIT_OK};
use clap::Args;
use faultline::finding::Finding;
use faultline::harness::Scenario;
use faultline::sweep::{self, Options, SeedRun, Summary};
use indicatif::{ProgressBar, ProgressStyle};
use scenarios::catalog;
use scenarios::{say, tell};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
// A sweep's time limit is wall-clock time by nature: it bounds the sweep, not a run (runs
// are bounded by their budgets, in simulated work).
#[allow(clippy::disallowed_methods)]
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

/// `faultline sweep`.
#[derive(Args)]
pub struct SweepArgs {
    /// Scenario names, comma-separated (`a,b,c`; see `faultline list`). Their runs are
    /// interleaved seed by seed. Or use --all.
    pub scenarios: Option<String>,
    /// Sweep every scenario in the catalog.
    #[arg(long, conflicts_with = "scenarios")]
    pub all: bool,
    /// Seeds to run, as a Rust range: A..B runs A up to B-1. FAULTLINE_SEED=N narrows
    /// it to the one seed N.
    #[arg(long, value_name = "A..B")]
    pub seeds: String,
    /// Worker threads (default: the number of CPUs; never more than there are runs).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only shard K of N (1-based): every N-th seed of the range. The shards of a
    /// range are disjoint and cover it, so N machines can split one sweep; `faultline
    /// merge` joins their --json outputs.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Stop starting runs after S seconds of wall-clock time and report what was done
    /// (a fuzzing budget). Runs already started finish.
    #[arg(long, value_name = "S")]
    pub time_limit: Option<f64>,
    /// Run every seed twice and compare trace hashes (a difference is a `nondeterminism`
    /// finding; `faultline run --check-determinism` then names the first differing event).
    #[arg(long)]
    pub check_determinism: bool,
    /// Print one JSON line per finding (`"record": "finding"`), in plan order, and a final
    /// summary line (`"record": "summary"`).
    #[arg(long)]
    pub json: bool,
    /// Count the seeds that reached each situation the scenarios declare (their
    /// "sometimes" properties) and flag those never reached.
    #[arg(long)]
    pub coverage: bool,
    /// Plant this bug (see `faultline bugs`) in every run.
    #[arg(long, value_name = "NAME")]
    pub bug: Option<String>,
    /// Also print, per scenario and metric, its distribution across the runs: min, p50,
    /// p90, p99, max and mean (with --json, one `"record": "metrics"` line per scenario
    /// before the summary).
    #[arg(long)]
    pub metrics: bool,
    /// Write an HTML report (one self-contained file) with each metric's figures,
    /// histogram and CDF.
    #[arg(long, value_name = "FILE")]
    pub report: Option<std::path::PathBuf>,
    /// Set a parameter of every scenario swept (see `faultline list --params`), e.g.
    /// `--set election=150..300`; every scenario named must have it.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    #[command(flatten)]
    pub budget: BudgetArgs,
}

/// Run the sweep; the exit code.
pub fn main(args: SweepArgs) -> u8 {
    let bug = match super::planted_bug(args.bug.as_deref()) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let chosen: Vec<Box<dyn Scenario>> = match (&args.scenarios, args.all) {
        (_, true) => catalog::all(),
        (Some(names), false) => {
            let mut chosen: Vec<Box<dyn Scenario>> = Vec::new();
            for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if chosen.iter().any(|c| c.name() == name) {
                    return usage_error(&format!("`{name}` is named twice"));
                }
                match find(name) {
                    Ok(s) => chosen.push(s),
                    Err(code) => return code,
                }
            }
            chosen
        }
        (None, false) => return usage_error("name the scenarios to sweep (a,b,c) or give --all"),
    };
    if chosen.is_empty() {
        return usage_error("no scenario named");
    }
    let chosen: Vec<Box<dyn Scenario>> = chosen
        .into_iter()
        .map(|s| scenarios::bugs::plant(s, bug))
        .collect();
    let scenarios: Vec<&dyn Scenario> = chosen.iter().map(|s| s.as_ref()).collect();
    let mut params = Vec::new();
    for s in &scenarios {
        match super::params(*s, &args.sets) {
            Ok(p) => params.push(p),
            Err(code) => return code,
        }
    }
    let range = match sweep::parse_range(&args.seeds).and_then(sweep::seeds_from_env) {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    let shard = match args.shard.as_deref().map(sweep::parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => return usage_error(&e),
    };
    let seeds: Vec<u64> = match shard {
        Some(shard) => sweep::shard_seeds(range.clone(), shard),
        None => range.clone().collect(),
    };
    let limits = match args.budget.limits() {
        Ok(l) => l,
        Err(code) => return code,
    };
    let jobs = match super::jobs(args.jobs) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let deadline = match args.time_limit {
        None => None,
        Some(s) if s.is_finite() && s >= 0.0 => Some(now() + std::time::Duration::from_secs_f64(s)),
        Some(s) => return usage_error(&format!("--time-limit takes seconds, not {s}")),
    };
    let plan = sweep::plan(scenarios.len(), &seeds);
    let started = now();
    let bar = progress_bar(plan.len() as u64, &scenarios);
    let failed = AtomicU64::new(0);
    let printer = Mutex::new(Printer {
        next: 0,
        waiting: BTreeMap::new(),
        json: args.json,
        bug,
    });
    let on_done = |index: usize, run: &SeedRun| {
        let finding = run.finding();
        if finding.is_some() {
            let n = failed.fetch_add(1, Ordering::Relaxed) + 1;
            bar.set_message(format!("{n} failed"));
        }
        bar.inc(1);
        let mut p = printer.lock().unwrap_or_else(|e| e.into_inner());
        p.waiting.insert(index, finding);
        bar.suspend(|| p.print_ready());
    };
    let timed_out = || deadline.is_some_and(|d| now() >= d);
    let stop = || timed_out() || scenarios::out::closed();
    let options = Options {
        jobs,
        limits,
        check_determinism: args.check_determinism,
        stop: &stop,
        params: params.clone(),
    };
    let swept = sweep::run_plan(&scenarios, &plan, &options, &on_done);
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let stopped = swept.stopped.then(|| {
        let why = if scenarios::out::closed() {
            "the output was closed"
        } else {
            "the time limit"
        };
        format!(
            "stopped by {why} after {elapsed:.1} s: {} of {} runs done",
            swept.runs.len(),
            plan.len()
        )
    });
    let mut summary = Summary::of(&scenarios, &range, shard, plan.len(), &swept.runs, stopped);
    summary.params = scenarios
        .iter()
        .zip(&params)
        .filter(|(_, p)| !p.is_empty())
        .map(|(s, p)| (s.name().to_string(), p.clone()))
        .collect();
    let coverage = args.coverage.then(|| coverage(&scenarios, &swept.runs));
    let metrics =
        (args.metrics || args.report.is_some()).then(|| super::metrics::collect(&swept.runs));
    if let (true, Some(metrics)) = (args.metrics, &metrics) {
        for (scenario, by_name) in metrics {
            if args.json {
                say!("{}", super::metrics::json(scenario, by_name));
            } else {
                for line in super::metrics::text(scenario, by_name) {
                    say!("{line}");
                }
            }
        }
    }
    if args.json {
        let mut value = serde_json::to_value(&summary).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            if let Some(bug) = bug {
                map.insert("bug".into(), bug.into());
            }
            if let Some(c) = &coverage {
                map.insert("coverage".into(), coverage_json(c));
            }
        }
        say!("{value}");
    } else {
        print_counts(&scenarios, &swept.runs, &summary, elapsed);
        if let Some(c) = &coverage {
            print_coverage(c);
        }
    }
    if let (Some(path), Some(metrics)) = (&args.report, &metrics) {
        let html = super::report::sweep::html(&summary, metrics);
        if let Err(e) = super::report::write(path, &html) {
            return usage_error(&e);
        }
        tell!("report: {}", path.display());
    }
    match summary.exit_code() {
        0 => EXIT_OK,
        code => code,
    }
}

/// Per scenario, each declared situation with the number of runs that reached it, and
/// the runs of the scenario.
struct Coverage<'a> {
    scenario: &'a str,
    runs: usize,
    situations: Vec<(faultline::harness::Sometimes, usize)>,
}

fn coverage<'a>(scenarios: &[&'a dyn Scenario], runs: &[SeedRun]) -> Vec<Coverage<'a>> {
    scenarios
        .iter()
        .map(|s| {
            let mine: Vec<&SeedRun> = runs.iter().filter(|r| r.scenario == s.name()).collect();
            let situations = s
                .sometimes()
                .into_iter()
                .map(|sit| {
                    let n = mine
                        .iter()
                        .filter_map(|r| r.report())
                        .filter(|r| faultline::harness::reached(r).contains(&sit.name))
                        .count();
                    (sit, n)
                })
                .collect();
            Coverage {
                scenario: s.name(),
                runs: mine.len(),
                situations,
            }
        })
        .collect()
}

fn coverage_json(c: &[Coverage<'_>]) -> serde_json::Value {
    let mut scenarios = serde_json::Map::new();
    let mut never = Vec::new();
    for sc in c.iter().filter(|sc| !sc.situations.is_empty()) {
        let mut m = serde_json::Map::new();
        for (sit, n) in &sc.situations {
            m.insert(sit.name.into(), (*n).into());
            if *n == 0 {
                never.push(format!("{}/{}", sc.scenario, sit.name));
            }
        }
        scenarios.insert(sc.scenario.into(), m.into());
    }
    serde_json::json!({ "reached": scenarios, "never_reached": never })
}

fn print_coverage(c: &[Coverage<'_>]) {
    for sc in c.iter().filter(|sc| !sc.situations.is_empty()) {
        say!("coverage of {} ({} runs):", sc.scenario, sc.runs);
        for (sit, n) in &sc.situations {
            let flag = if *n == 0 { "  NEVER REACHED" } else { "" };
            say!("  {:<28} {n:>6} runs{flag}  ({})", sit.name, sit.about);
        }
    }
}

/// Prints findings in plan order: a finished run waits until every run before it has
/// finished, so the output does not depend on the thread count.
struct Printer {
    next: usize,
    waiting: BTreeMap<usize, Option<Finding>>,
    json: bool,
    bug: Option<&'static str>,
}

impl Printer {
    fn print_ready(&mut self) {
        while let Some(finding) = self.waiting.remove(&self.next) {
            self.next += 1;
            let Some(mut f) = finding else { continue };
            // Findings made outside the run (panics, budgets) name the bug here.
            if let Some(bug) = self.bug {
                if !f.replay.contains(" --bug ") {
                    f.replay.push_str(&format!(" --bug {bug}"));
                }
            }
            if self.json {
                say!("{}", serde_json::to_string(&f).unwrap_or_default());
            } else {
                say!("{}", f.to_text());
            }
        }
    }
}

fn progress_bar(total: u64, scenarios: &[&dyn Scenario]) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {prefix} [{bar:30}] {pos}/{len} runs, {msg} ({eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    let prefix = match scenarios {
        [one] => one.name().to_string(),
        many => format!("{} scenarios", many.len()),
    };
    bar.set_prefix(prefix);
    bar.set_message("0 failed");
    bar
}

/// One line per scenario, then the whole.
fn print_counts(scenarios: &[&dyn Scenario], runs: &[SeedRun], summary: &Summary, elapsed: f64) {
    for s in scenarios {
        let mine: Vec<&SeedRun> = runs.iter().filter(|r| r.scenario == s.name()).collect();
        let bad = mine.iter().filter(|r| r.outcome.kind().is_some()).count();
        say!("{}: {} seeds, {bad} failed", s.name(), mine.len());
    }
    if scenarios.len() > 1 {
        say!("all: {} runs, {} failed", summary.total, summary.failed);
    }
    if !summary.kinds.is_empty() {
        let kinds: Vec<String> = summary
            .kinds
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        say!("found: {}", kinds.join(", "));
    }
    if let Some(why) = &summary.stopped {
        say!("{why}");
    }
    if std::io::stderr().is_terminal() {
        tell!("({elapsed:.1} s)");
    }
}
