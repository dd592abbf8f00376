//! `faultline`: list, run, sweep, shrink and merge scenarios; run the five systems as real
//! programs.

mod cmd;

use clap::{Parser, Subcommand};
use cmd::{usage_error, EXIT_OK};
use scenarios::catalog;
use scenarios::{say, tell};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "faultline",
    version,
    about = "Deterministic simulation testbed for distributed systems",
    long_about = "Deterministic simulation testbed for distributed systems.\n\n\
        Every scenario runs real system code in a seeded discrete-event simulator that injects \
        network, node and clock faults, and checks invariants. The same seed always gives the \
        same run (same trace hash), so any failure replays from its seed, and `shrink` cuts it \
        down to the few faults that matter.\n\n\
        Every finding has a kind, and each kind its exit code:\n  \
        0  every run kept every invariant\n  \
        1  safety: a safety invariant was violated\n  \
        2  bad usage or bad input (unknown scenario, unreadable schedule, missing shard)\n  \
        3  liveness: a liveness invariant was violated (something did not happen in time)\n  \
        4  panic: the code under test or the scenario panicked\n  \
        5  budget: a run went over its budget of events or virtual time (a livelock, a storm)\n  \
        6  nondeterminism: the same seed gave two different runs\n  \
        7  error: a scenario could not carry out a run (its own bug)\n\
        A sweep that finds several kinds exits with the smallest of their codes."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the scenarios, one per line: name, then what it checks.
    List {
        /// Also show each scenario's budget and the parameters `--set` can change, with
        /// their defaults.
        #[arg(long)]
        params: bool,
        /// Only this scenario (its parameters are shown).
        scenario: Option<String>,
    },
    /// Run one scenario with one seed.
    #[command(
        long_about = "Run one scenario with one seed and print what it found.\n\n\
        A panic is reported with its message and location, a run over its budget \
        (--max-events, --max-sim-time) as a budget finding with its figures. \
        --check-determinism runs twice and names the first event where the runs part. \
        The exit code is the finding's kind (see `faultline --help`)."
    )]
    Run(cmd::run::RunArgs),
    /// Run scenarios over a range of seeds and list every finding.
    #[command(
        long_about = "Run scenarios over a range of seeds on all cores and list every \
        finding with its kind and replay command.\n\n\
        Nothing is lost: a seed that panics is a `panic` finding and the sweep goes on; a \
        runaway seed stops at its budget as a `budget` finding. Several scenarios \
        (`sweep a,b,c`, `sweep --all`) run interleaved, seed by seed. --time-limit stops \
        starting runs after S seconds and reports what was done; --shard K/N runs one of N \
        disjoint parts, for N machines, joined with `faultline merge`. Output is in plan \
        order and does not depend on --jobs. The exit code is that of the kinds found (see \
        `faultline --help`)."
    )]
    Sweep(cmd::sweep::SweepArgs),
    /// Shrink a failing run to a small schedule that fails the same way.
    #[command(
        long_about = "Shrink a failing run to a small schedule that fails with the same \
        kind and invariant.\n\n\
        Delta debugging deletes whole fault episodes (a fault and its undo), then the \
        scenario's parameters are lowered (fewer clients, fewer operations) and what is left \
        is narrowed: shorter episodes, later starts, lower loss and corruption rates, narrower \
        latency ranges, smaller clock faults. Writes the schedule (-o FILE), prints the \
        replay command and what is left. The same input gives the same result, whatever \
        --jobs. Exit 0 when a schedule was written, 2 if the run does not fail."
    )]
    Shrink(cmd::shrink::ShrinkArgs),
    /// List the planted bugs: classic mistakes that `--bug NAME` switches on.
    Bugs(cmd::bugs::BugsArgs),
    /// Sweep a planted bug's scenarios until one catches it (or --all bugs).
    #[command(
        long_about = "Sweep the scenarios meant to catch a planted bug, with the bug \
        planted, over seeds 0, 1, 2, ... until one fails or the time limit (the bug's budget \
        unless --time-limit) passes; then run the same seeds without the bug, which must \
        pass. Reports caught or not, scenario, invariant, first failing seed, runs and \
        seconds to the first failure. Exit 0 if every bug hunted was caught within its \
        budget and its seeds pass unplanted, 1 if not, 2 on bad usage."
    )]
    Hunt(cmd::bugs::HuntArgs),
    /// Merge the --json outputs of a sweep's shards into one result.
    #[command(
        long_about = "Merge the `sweep --json` outputs of the shards of one sweep (each \
        run with --shard K/N, on a CI matrix or as Kubernetes indexed jobs) into the findings \
        and summary of the whole sweep: counts summed, findings in plan order, and the run \
        digests combined, so the merge of all N shards has the digest of the whole sweep. \
        Exits with the code of the kinds found, or 2 if a shard is missing or twice."
    )]
    Merge(cmd::merge::MergeArgs),
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
    /// P3 CMUD: the geo-replicated store's servers and clients as real programs over TCP.
    Cmud(scenarios::cmud::cli::Args),
    /// The simulator's exercise system: its stream echo as real programs over TCP.
    Exercise(scenarios::exercise::cli::Args),
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
    /// The linearizability checker on 50-client key-value histories: a hard key before a
    /// failing one, ten easy keys, and the hard key alone (peak memory).
    Checker {
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::List { params, scenario } => list(params, scenario.as_deref()),
        Command::Run(args) => cmd::run::main(args),
        Command::Sweep(args) => cmd::sweep::main(args),
        Command::Shrink(args) => cmd::shrink::main(args),
        Command::Merge(args) => cmd::merge::main(args),
        Command::Bugs(args) => cmd::bugs::list(args),
        Command::Hunt(args) => cmd::bugs::hunt(args),
        Command::Bench(BenchCommand::Sim {
            nodes,
            seconds,
            seed,
            json,
        }) => bench_sim(nodes, seconds, seed, json),
        Command::Bench(BenchCommand::Checker { json }) => bench_checker(json),
        Command::Lsp(args) => system(scenarios::lsp::cli::main(args)),
        Command::Miner(args) => system(scenarios::miner::cli::main(args)),
        Command::Raft(args) => system(scenarios::raft::cli::main(args)),
        Command::Kv(args) => system(scenarios::kv::cli::main(args)),
        Command::Cmud(args) => system(scenarios::cmud::cli::main(args)),
        Command::Exercise(args) => system(scenarios::exercise::cli::main(args)),
    };
    ExitCode::from(code)
}

/// The exit code of a real program: its own, or 1 if it failed to run.
fn system(result: anyhow::Result<i32>) -> u8 {
    match result {
        Ok(code) => code.clamp(0, 255) as u8,
        Err(e) => {
            tell!("faultline: {e:#}");
            1
        }
    }
}

fn list(params: bool, only: Option<&str>) -> u8 {
    let chosen = match only {
        Some(name) => match cmd::find(name) {
            Ok(s) => vec![s],
            Err(code) => return code,
        },
        None => catalog::all(),
    };
    let params = params || only.is_some();
    for s in chosen {
        say!("{:<28} {}", s.name(), s.about());
        if params {
            let b = s.budget();
            say!(
                "{:<28}   budget: {} events, {} s of virtual time",
                "",
                b.max_events,
                faultline::harness::seconds(b.max_sim_time_ns)
            );
            for p in s.params() {
                say!(
                    "{:<28}   --set {}=N  (default {}, at least {}): {}",
                    "",
                    p.name,
                    p.default,
                    p.min,
                    p.about
                );
            }
        }
    }
    EXIT_OK
}

fn bench_sim(nodes: u32, seconds: u64, seed: u64, json: bool) -> u8 {
    if nodes == 0 || seconds == 0 {
        return usage_error("--nodes and --seconds must be at least 1");
    }
    let r = scenarios::exercise::bench::run_sim_bench(nodes, seconds, seed);
    if json {
        say!("{}", serde_json::to_string(&r).expect("serialises"));
    } else {
        say!(
            "nodes {}, simulated {} s: set-up {:.3} s, {} events in {:.2} s wall",
            r.nodes,
            r.sim_seconds,
            r.setup_seconds,
            r.events,
            r.wall_seconds
        );
        say!("  {:.2} M events/s (wall clock)", r.events_per_second / 1e6);
        if let (Some(rate), Some(cpu)) = (r.events_per_cpu_second, r.cpu_seconds) {
            say!(
                "  {:.2} M events per CPU second ({cpu:.2} s of CPU)",
                rate / 1e6
            );
        }
        say!(
            "  bare event loop: {} events, {:.2} M events/s wall{}",
            r.bare.events,
            r.bare.events_per_second / 1e6,
            match r.bare.events_per_cpu_second {
                Some(rate) => format!(", {:.2} M per CPU second", rate / 1e6),
                None => String::new(),
            }
        );
        say!("  ratio to bare: {:.1} %", r.ratio_to_bare * 100.0);
        match r.peak_rss_kib {
            Some(kib) => say!("  peak memory {:.1} MiB", kib as f64 / 1024.0),
            None => say!("  peak memory: unknown (no /proc/self/status)"),
        }
        say!("  trace hash {}", r.trace_hash);
    }
    EXIT_OK
}

fn bench_checker(json: bool) -> u8 {
    let b = scenarios::raft::bench::checker::run();
    if json {
        say!("{}", serde_json::to_string(&b).expect("serialises"));
        return EXIT_OK;
    }
    for c in &b.cases {
        let target = match (c.target_seconds, c.ratio_to_target) {
            (Some(t), Some(r)) => format!(" (target < {:.0} ms: {:.2} of it)", t * 1e3, r),
            _ => String::new(),
        };
        say!(
            "{}: {} ops on {} keys, {} in {:.1} ms{target}, {} steps",
            c.name,
            c.ops,
            c.keys,
            c.verdict,
            c.seconds * 1e3,
            c.steps
        );
        for u in &c.undecided {
            say!("  left undecided: {u}");
        }
    }
    match b.peak_rss_kib {
        Some(kib) => say!(
            "peak memory {:.0} MiB (target < {} MiB: {:.2} of it)",
            kib as f64 / 1024.0,
            b.memory_target_kib / 1024,
            kib as f64 / b.memory_target_kib as f64
        ),
        None => say!("peak memory: unknown (no /proc/self/status)"),
    }
    EXIT_OK
}
