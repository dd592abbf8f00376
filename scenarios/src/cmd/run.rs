//! `faultline run`: one scenario, one seed, optionally twice to check determinism.

use super::report::run::Collector;
use super::{exit_code, usage_error, OneRun, EXIT_OK};
use clap::Args;
use faultline::finding::{execute, Finding, Outcome};
use faultline::harness::Report;
use scenarios::{say, tell};
use std::path::PathBuf;

/// `faultline run`.
#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub run: OneRun,
    /// Write every delivered event as a JSON line to FILE.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write an HTML report of the run (one self-contained file that works offline): a
    /// space-time diagram with one lane per node, messages, faults, history events and the
    /// violation, and tables of metrics and per-link network figures.
    #[arg(long, value_name = "FILE", conflicts_with = "check_determinism")]
    pub report: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Run twice and compare every event; on a difference, name the first event where the
    /// runs part (index, virtual time, node, kind) and exit 6.
    #[arg(long)]
    pub check_determinism: bool,
}

/// Run it; the exit code.
pub fn main(args: RunArgs) -> u8 {
    let (scenario, mut spec) = match args.run.choose() {
        Ok(c) => c,
        Err(code) => return code,
    };
    spec.trace = args.trace;
    let collector = args.report.as_ref().map(|_| {
        let (collector, sink) = Collector::new();
        spec.trace_sink = Some(sink);
        spec.trace_notes = true;
        collector
    });
    let outcome = if args.check_determinism {
        faultline::determinism::check(scenario.as_ref(), &spec)
    } else {
        execute(scenario.as_ref(), &spec)
    };
    // A run the scenario could not carry out is bad input here (a schedule that does not
    // fit, a trace file that cannot be written).
    if let Outcome::Error(e) = &outcome {
        return usage_error(e);
    }
    let finding = Finding::of(scenario.name(), &spec, &outcome);
    if let (Some(path), Some(collector)) = (&args.report, &collector) {
        match outcome.report() {
            Some(report) => {
                let collector = collector.lock().unwrap_or_else(|e| e.into_inner());
                let drawn = super::report::run::html(report, &collector);
                if let Err(e) = super::report::write(path, &drawn.html) {
                    return usage_error(&e);
                }
                tell!(
                    "report: {} ({} messages drawn)",
                    path.display(),
                    drawn.arrows
                );
            }
            None => tell!("no report: the run ended without one (see the finding)"),
        }
    }
    if args.json {
        say!("{}", json(&outcome, finding.as_ref(), &spec.params));
    } else {
        if let Some(report) = outcome.report() {
            print_report(report, args.check_determinism);
        }
        match &finding {
            Some(f) => say!("{}", f.to_text()),
            None if args.check_determinism => {
                say!(
                    "  deterministic: two runs gave the same {} events",
                    outcome.report().map_or(0, |r| r.events)
                )
            }
            None => {}
        }
    }
    match finding {
        Some(f) => exit_code([f.kind]),
        None => EXIT_OK,
    }
}

/// The run as one JSON object: the report (when the run got that far) with `kind`, the
/// parameters set, and the finding's panic location or divergence.
fn json(
    outcome: &Outcome,
    finding: Option<&Finding>,
    params: &std::collections::BTreeMap<String, u64>,
) -> String {
    let mut value = match outcome.report() {
        Some(r) => serde_json::to_value(r).unwrap_or_default(),
        None => serde_json::to_value(finding).unwrap_or_default(),
    };
    if let Some(map) = value.as_object_mut() {
        map.insert("ok".into(), finding.is_none().into());
        map.insert(
            "params".into(),
            serde_json::to_value(params).unwrap_or_default(),
        );
        map.insert(
            "kind".into(),
            serde_json::to_value(finding.map(|f| f.kind)).unwrap_or_default(),
        );
        if let Outcome::Diverged { divergence, .. } = outcome {
            map.insert(
                "divergence".into(),
                serde_json::to_value(divergence).unwrap_or_default(),
            );
        }
    }
    value.to_string()
}

fn print_report(r: &Report, checked_twice: bool) {
    let verdict = match &r.violation {
        None => "ok".to_string(),
        Some(v) => format!("{} VIOLATION", v.kind),
    };
    let twice = if checked_twice {
        " (first of two runs)"
    } else {
        ""
    };
    say!("{} seed {}: {verdict}{twice}", r.scenario, r.seed);
    say!("  faults:     {}", r.faults.swarm.join(", "));
    say!("  events:     {}", r.events);
    say!("  sim time:   {}", faultline::Time(r.sim_time_ns));
    say!("  trace hash: {}", r.trace_hash);
    for (k, v) in &r.metrics {
        say!("  {k}: {v}");
    }
}
