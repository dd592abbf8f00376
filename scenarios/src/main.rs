//! `faultline`: run, sweep and list scenarios; run the five systems as real programs.

use clap::{Parser, Subcommand};
use faultline::harness::{replay_command, Report, RunSpec};
use faultline::sweep;
use indicatif::{ProgressBar, ProgressStyle};
use scenarios::catalog;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes: all invariants held; an invariant was violated; bad usage or input.
const EXIT_OK: u8 = 0;
const EXIT_VIOLATION: u8 = 1;
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "faultline",
    version,
    about = "Deterministic simulation testbed for distributed systems",
    long_about = "Deterministic simulation testbed for distributed systems.\n\n\
        Every scenario runs real system code in a seeded discrete-event simulator that injects \
        network, node and clock faults, and checks invariants. The same seed always gives the \
        same run (same trace hash), so any failure replays from its seed.\n\n\
        Exit codes: 0 all invariants held, 1 an invariant was violated, 2 bad usage or input."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the scenarios, one per line: name, then what it checks.
    List,
    /// Run one scenario with one seed.
    Run {
        /// Scenario name (see `faultline list`).
        scenario: String,
        /// The master seed: it picks the faults (unless --schedule) and every random draw.
        #[arg(long)]
        seed: u64,
        /// Use this fault schedule (JSON, as printed by --json under "faults") instead of
        /// generating one from the seed.
        #[arg(long, value_name = "FILE")]
        schedule: Option<PathBuf>,
        /// Write every delivered event as a JSON line to FILE.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run one scenario over a range of seeds and list the failing ones.
    Sweep {
        /// Scenario name (see `faultline list`).
        scenario: String,
        /// Seeds to run, as a Rust range: A..B runs A up to B-1. FAULTLINE_SEED=N narrows
        /// it to the one seed N.
        #[arg(long, value_name = "A..B")]
        seeds: String,
        /// Worker threads (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard K of N (1-based): every N-th seed of the range. The shards of a
        /// range are disjoint and cover it, so N machines can split one sweep.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Print one JSON line per failing seed and a final summary line.
        #[arg(long)]
        json: bool,
    },
    /// Measure speed.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// P1a Live Sequence Protocol as real programs over UDP.
    Lsp(scenarios::lsp::cli::Args),
    /// P1b distributed bitcoin miner as real programs over LSP/UDP.
    Miner(scenarios::miner::cli::Args),
    /// P2 Raft key-value cluster as real programs over UDP.
    Raft(scenarios::raft::cli::Args),
    /// P0 key-value server as a real program over TCP.
    Kv(scenarios::kv::cli::Args),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The simulator's event rate and peak memory on a message-passing workload.
    Sim {
        /// Number of nodes.
        #[arg(long, default_value_t = 1000)]
        nodes: u32,
        /// Simulated seconds to run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::List => list(),
        Command::Run {
            scenario,
            seed,
            schedule,
            trace,
            json,
        } => run(&scenario, seed, schedule, trace, json),
        Command::Sweep {
            scenario,
            seeds,
            jobs,
            shard,
            json,
        } => run_sweep(&scenario, &seeds, jobs, shard.as_deref(), json),
        Command::Bench(BenchCommand::Sim {
            nodes,
            seconds,
            seed,
            json,
        }) => bench_sim(nodes, seconds, seed, json),
        Command::Lsp(args) => system(scenarios::lsp::cli::main(args)),
        Command::Miner(args) => system(scenarios::miner::cli::main(args)),
        Command::Raft(args) => system(scenarios::raft::cli::main(args)),
        Command::Kv(args) => system(scenarios::kv::cli::main(args)),
    };
    ExitCode::from(code)
}

fn usage_error(message: &str) -> u8 {
    eprintln!("faultline: {message}");
    EXIT_USAGE
}

fn system(result: anyhow::Result<i32>) -> u8 {
    match result {
        Ok(code) => code.clamp(0, 255) as u8,
        Err(e) => {
            eprintln!("faultline: {e:#}");
            EXIT_VIOLATION
        }
    }
}

fn list() -> u8 {
    for s in catalog::all() {
        println!("{:<28} {}", s.name(), s.about());
    }
    EXIT_OK
}

fn unknown_scenario(name: &str) -> u8 {
    let names: Vec<&'static str> = catalog::all().iter().map(|s| s.name()).collect();
    usage_error(&format!(
        "no scenario named `{name}`; `faultline list` shows them: {}",
        names.join(", ")
    ))
}

fn run(name: &str, seed: u64, schedule: Option<PathBuf>, trace: Option<PathBuf>, json: bool) -> u8 {
    let Some(scenario) = catalog::find(name) else {
        return unknown_scenario(name);
    };
    let mut spec = RunSpec {
        seed,
        trace,
        ..RunSpec::default()
    };
    if let Some(path) = schedule {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => return usage_error(&format!("cannot read schedule {}: {e}", path.display())),
        };
        match serde_json::from_str(&text) {
            Ok(s) => spec.schedule = Some(s),
            Err(e) => {
                return usage_error(&format!(
                    "schedule {} is not a valid fault schedule: {e}",
                    path.display()
                ))
            }
        }
        spec.schedule_path = Some(path);
    }
    let report = match scenario.run(&spec) {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("reports serialise")
        );
    } else {
        print_report(&report);
    }
    if report.ok {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}

fn print_report(r: &Report) {
    let verdict = if r.ok { "ok" } else { "VIOLATION" };
    println!("{} seed {}: {verdict}", r.scenario, r.seed);
    println!("  faults:     {}", r.faults.swarm.join(", "));
    println!("  events:     {}", r.events);
    println!("  sim time:   {}", faultline::Time(r.sim_time_ns));
    println!("  trace hash: {}", r.trace_hash);
    for (k, v) in &r.metrics {
        println!("  {k}: {v}");
    }
    if let Some(v) = &r.violation {
        println!("{v}");
    }
}

fn run_sweep(name: &str, seeds: &str, jobs: Option<usize>, shard: Option<&str>, json: bool) -> u8 {
    let Some(scenario) = catalog::find(name) else {
        return unknown_scenario(name);
    };
    let range = match sweep::parse_range(seeds).and_then(sweep::seeds_from_env) {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    let seed_list = match shard.map(sweep::parse_shard).transpose() {
        Ok(Some(shard)) => sweep::shard_seeds(range.clone(), shard),
        Ok(None) => range.clone().collect(),
        Err(e) => return usage_error(&e),
    };
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        return usage_error("--jobs must be at least 1");
    }
    let total = seed_list.len() as u64;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix} [{bar:30}] {pos}/{len} seeds, {msg} ({eta} left)",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        bar.set_message("0 failed");
        bar
    } else {
        ProgressBar::hidden()
    };
    let failed_so_far = std::sync::atomic::AtomicU64::new(0);
    let on_done = |r: &Result<Report, String>| {
        if !matches!(r, Ok(report) if report.ok) {
            let n = failed_so_far.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            bar.set_message(format!("{n} failed"));
        }
        bar.inc(1);
    };
    let results = sweep::sweep_seeds(scenario.as_ref(), &seed_list, jobs, &on_done);
    bar.finish_and_clear();

    let mut failed = 0u64;
    let mut unusable = 0u64;
    for (seed, result) in &results {
        match result {
            Ok(report) if report.ok => {}
            Ok(report) => {
                failed += 1;
                let v = report
                    .violation
                    .as_ref()
                    .expect("a failed report has a violation");
                if json {
                    println!(
                        "{}",
                        serde_json::to_string(report).expect("reports serialise")
                    );
                } else {
                    println!(
                        "seed {seed}: `{}` at {}: {}",
                        v.invariant,
                        faultline::Time(v.time_ns),
                        v.detail
                    );
                    println!("  replay: {}", v.replay);
                }
            }
            Err(e) => {
                unusable += 1;
                let spec = RunSpec {
                    seed: *seed,
                    ..RunSpec::default()
                };
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"scenario": name, "seed": seed, "ok": false, "error": e, "replay": replay_command(name, &spec)})
                    );
                } else {
                    println!("seed {seed}: could not run: {e}");
                }
            }
        }
    }
    let bad = failed + unusable;
    if json {
        println!(
            "{}",
            serde_json::json!({"scenario": name, "seeds": format!("{}..{}", range.start, range.end), "shard": shard, "total": total, "failed": bad})
        );
    } else {
        println!("{name}: {total} seeds, {bad} failed");
    }
    if bad > 0 {
        EXIT_VIOLATION
    } else {
        EXIT_OK
    }
}

fn bench_sim(nodes: u32, seconds: u64, seed: u64, json: bool) -> u8 {
    if nodes == 0 || seconds == 0 {
        return usage_error("--nodes and --seconds must be at least 1");
    }
    let r = scenarios::exercise::bench::run_sim_bench(nodes, seconds, seed);
    if json {
        println!("{}", serde_json::to_string(&r).expect("serialises"));
    } else {
        println!(
            "nodes {}, simulated {} s: {} events in {:.2} s wall",
            r.nodes, r.sim_seconds, r.events, r.wall_seconds
        );
        println!("  {:.2} M events/s (wall clock)", r.events_per_second / 1e6);
        if let (Some(rate), Some(cpu)) = (r.events_per_cpu_second, r.cpu_seconds) {
            println!(
                "  {:.2} M events per CPU second ({cpu:.2} s of CPU)",
                rate / 1e6
            );
        }
        match r.peak_rss_kib {
            Some(kib) => println!("  peak memory {:.1} MiB", kib as f64 / 1024.0),
            None => println!("  peak memory: unknown (no /proc/self/status)"),
        }
        println!("  trace hash {}", r.trace_hash);
    }
    EXIT_OK
}
