//! `faultline shrink`: a failing run cut down to a small schedule that fails the same way.

use super::{jobs, usage_error, OneRun, EXIT_OK};
use clap::Args;
use faultline::harness::{replay_command, RunSpec};
use faultline::shrink::{self, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use scenarios::{say, tell};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

// The progress line shows wall-clock time spent; the shrinking itself never reads it.
#[allow(clippy::disallowed_methods)]
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

/// `faultline shrink`.
#[derive(Args)]
pub struct ShrinkArgs {
    /// The failing run: its seed, and its schedule and parameters if not the seed's own
    /// (shrinking lowers the parameters).
    #[command(flatten)]
    pub run: OneRun,
    /// Where to write the shrunk schedule (default: shrunk-SCENARIO-SEED.json).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Runs at a time (default: the number of CPUs). The result does not depend on it.
    #[arg(long)]
    pub jobs: Option<usize>,
}

/// Shrink; the exit code.
pub fn main(args: ShrinkArgs) -> u8 {
    let (scenario, spec) = match args.run.choose() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let jobs = match jobs(args.jobs) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let seed = spec.seed;
    let output = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("shrunk-{}-{}.json", scenario.name(), seed)));
    let started = now();
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} shrink {prefix}: {msg}") {
            bar.set_style(style);
        }
        bar.set_prefix(scenario.name());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    } else {
        ProgressBar::hidden()
    };
    let last_phase = Mutex::new("");
    let progress = |p: &Progress| {
        let line = format!(
            "{}: {} fault events left, {} runs, {:.1} s",
            p.phase,
            p.faults,
            p.runs,
            started.elapsed().as_secs_f64()
        );
        if bar.is_hidden() {
            // Not a terminal: one line per phase, not per run.
            let mut last = last_phase.lock().unwrap_or_else(|e| e.into_inner());
            if *last != p.phase {
                *last = p.phase;
                tell!("shrink {}: {line}", scenario.name());
            }
        } else {
            bar.set_message(line);
        }
    };
    let options = shrink::Options {
        jobs,
        budget: spec.budget,
        progress: &progress,
    };
    let result = shrink::shrink(scenario.as_ref(), &spec, &options);
    bar.finish_and_clear();
    let shrunk = match result {
        Ok(s) => s,
        Err(e) => return usage_error(&e),
    };
    let text = match serde_json::to_string_pretty(&shrunk.schedule) {
        Ok(t) => t,
        Err(e) => return usage_error(&format!("cannot write the schedule: {e}")),
    };
    if let Err(e) = std::fs::write(&output, text + "\n") {
        return usage_error(&format!("cannot write {}: {e}", output.display()));
    }
    let replay_spec = RunSpec {
        schedule_path: Some(output.clone()),
        params: shrunk.params.clone(),
        budget: options.budget,
        bug: spec.bug.clone(),
        ..RunSpec::new(seed)
    };
    let f = &shrunk.finding;
    say!(
        "shrunk {} seed {}: {} `{}` still fails",
        scenario.name(),
        seed,
        f.kind,
        f.invariant
    );
    say!(
        "  fault events: {} -> {} (timed faults {} -> {}, {} units -> {}; triggers {} -> {})",
        shrunk.original_events,
        shrink::units::events(&shrunk.schedule),
        shrunk.original_faults,
        shrunk.schedule.faults.len(),
        shrunk.original_units,
        shrunk.units.len(),
        shrunk.original_triggers,
        shrunk.schedule.triggers.len()
    );
    for p in &shrunk.declared {
        let now = shrunk.params.get(p.name).copied().unwrap_or(p.default);
        say!("  {}: {} -> {now}", p.name, p.default);
    }
    say!(
        "  runs: {} in {:.1} s ({jobs} at a time)",
        shrunk.runs,
        started.elapsed().as_secs_f64()
    );
    let triggers = shrunk.schedule.triggers.len();
    if shrunk.units.is_empty() && triggers == 0 {
        say!("  left: no faults at all (it fails without any)");
    } else if shrunk.units.is_empty() {
        say!("  left: no timed faults");
    } else {
        say!("  left:");
        for u in &shrunk.units {
            say!("    {}", shrink::units::describe(u));
        }
    }
    if triggers > 0 {
        say!("  triggers:");
        for t in &shrunk.schedule.triggers {
            say!("    {}", shrink::units::describe_trigger(t));
        }
    }
    let at = f
        .time_ns
        .map(|t| format!(" at {}", faultline::Time(t)))
        .unwrap_or_default();
    say!("  violation{at}: {}", truncate(&f.detail, 300));
    say!(
        "  was{}: {}",
        shrunk
            .original
            .time_ns
            .map(|t| format!(" at {}", faultline::Time(t)))
            .unwrap_or_default(),
        truncate(&shrunk.original.detail, 300)
    );
    say!("  schedule: {}", output.display());
    say!(
        "  replay: {}",
        replay_command(scenario.name(), &replay_spec)
    );
    EXIT_OK
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}...")
}
