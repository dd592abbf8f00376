//! `faultline bugs` lists the planted bugs; `faultline hunt` shows each is caught.

use super::{jobs, planted_bug, usage_error, EXIT_OK};
use clap::Args;
use faultline::harness::RunSpec;
use faultline::shrink;
use scenarios::bugs::{self, Hunt, PlantedBug};
use scenarios::say;
use serde::Serialize;
use serde_json::json;

// A hunt's time limit and its seconds to the first failure are wall-clock figures by
// nature: they measure the hunt, never a run.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> impl Fn() -> f64 + Sync {
    let start = std::time::Instant::now();
    move || start.elapsed().as_secs_f64()
}

/// `faultline bugs`.
#[derive(Args)]
pub struct BugsArgs {
    /// One JSON object per bug, one a line.
    #[arg(long)]
    pub json: bool,
}

/// List them.
pub fn list(args: BugsArgs) -> u8 {
    for b in bugs::ALL {
        if args.json {
            say!("{}", describe(b));
        } else {
            say!("{:<32} {} ({})", b.name, b.plant.system(), b.location);
            say!("{:<32}   {}", "", b.about);
            say!(
                "{:<32}   caught by: {} (budget {} s)",
                "",
                b.scenarios.join(", "),
                b.budget_s
            );
        }
    }
    EXIT_OK
}

fn describe(b: &PlantedBug) -> serde_json::Value {
    json!({
        "record": "bug",
        "name": b.name,
        "system": b.plant.system(),
        "about": b.about,
        "location": b.location,
        "scenarios": b.scenarios,
        "budget_s": b.budget_s,
    })
}

/// `faultline hunt`.
#[derive(Args)]
pub struct HuntArgs {
    /// The bug to hunt (see `faultline bugs`); or --all.
    pub bug: Option<String>,
    /// Hunt every bug, one after the other.
    #[arg(long, conflicts_with = "bug")]
    pub all: bool,
    /// Seconds each hunt may sweep (default: the bug's own budget).
    #[arg(long, value_name = "S")]
    pub time_limit: Option<f64>,
    /// Worker threads (default: the number of CPUs).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// One JSON line per bug (`"record": "hunt"`) and a summary line.
    #[arg(long)]
    pub json: bool,
    /// Shrink each bug's first failing run, as `faultline shrink` does, and report its
    /// fault events before and after and the seconds it took (with `--json`, under
    /// `"shrink"`, with the shrunk schedule).
    #[arg(long)]
    pub shrink: bool,
}

/// What shrinking a hunt's failure gave.
#[derive(Serialize)]
struct ShrinkFigures {
    /// Fault events (`faultline::shrink::units::events`): timed faults and what
    /// triggers fire.
    events_before: usize,
    events_after: usize,
    faults_before: usize,
    faults_after: usize,
    triggers_before: usize,
    triggers_after: usize,
    runs: u64,
    seconds: f64,
    /// The parameters shrinking lowered.
    params: std::collections::BTreeMap<String, u64>,
    schedule: faultline::Schedule,
}

/// Shrink the failure hunt `h` found for `bug`, `jobs` runs at a time.
fn shrink_found(
    bug: &'static PlantedBug,
    h: &Hunt,
    jobs: usize,
    clock: &dyn Fn() -> f64,
) -> Result<Option<ShrinkFigures>, String> {
    let (Some(name), Some(seed)) = (&h.scenario, h.seed) else {
        return Ok(None);
    };
    let found = scenarios::catalog::find(name).ok_or_else(|| format!("no scenario `{name}`"))?;
    let scenario = bugs::plant(found, Some(bug.name));
    let spec = RunSpec {
        bug: Some(bug.name.to_string()),
        default_budget: scenario.budget(),
        ..RunSpec::new(seed)
    };
    let options = shrink::Options {
        jobs,
        budget: None,
        progress: &|_| {},
    };
    let start = clock();
    let s = shrink::shrink(scenario.as_ref(), &spec, &options)
        .map_err(|e| format!("shrinking {} ({name} seed {seed}): {e}", bug.name))?;
    Ok(Some(ShrinkFigures {
        events_before: s.original_events,
        events_after: shrink::units::events(&s.schedule),
        faults_before: s.original_faults,
        faults_after: s.schedule.faults.len(),
        triggers_before: s.original_triggers,
        triggers_after: s.schedule.triggers.len(),
        runs: s.runs,
        seconds: clock() - start,
        params: s.params,
        schedule: s.schedule,
    }))
}

fn shrink_line(f: &ShrinkFigures) -> String {
    format!(
        "{:<32}   shrunk: {} -> {} fault events (timed faults {} -> {}, triggers {} -> {}), {} runs, {:.1} s",
        "",
        f.events_before,
        f.events_after,
        f.faults_before,
        f.faults_after,
        f.triggers_before,
        f.triggers_after,
        f.runs,
        f.seconds
    )
}

/// Hunt; exit 0 if every bug hunted was caught within its budget and its seeds pass
/// unplanted, 1 if not.
pub fn hunt(args: HuntArgs) -> u8 {
    let chosen: Vec<&'static PlantedBug> = match (&args.bug, args.all) {
        (_, true) => bugs::ALL.iter().collect(),
        (Some(name), false) => match planted_bug(Some(name)) {
            Ok(Some(name)) => vec![bugs::find(name).expect("named in the catalog")],
            Ok(None) => unreachable!("a name was given"),
            Err(code) => return code,
        },
        (None, false) => return usage_error("name the bug to hunt or give --all"),
    };
    if let Some(s) = args.time_limit {
        if !(s.is_finite() && s > 0.0) {
            return usage_error(&format!("--time-limit takes seconds, not {s}"));
        }
    }
    let jobs = match jobs(args.jobs) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let clock = wall_clock();
    let mut results: Vec<Hunt> = Vec::new();
    let mut shrunk: Vec<(&str, usize, f64)> = Vec::new();
    for b in chosen {
        let limit = args.time_limit.unwrap_or(b.budget_s as f64);
        let h = match bugs::hunt(b, limit, jobs, &clock) {
            Ok(h) => h,
            Err(e) => return usage_error(&e),
        };
        let figures = match args.shrink {
            true => match shrink_found(b, &h, jobs, &clock) {
                Ok(f) => f,
                Err(e) => return usage_error(&e),
            },
            false => None,
        };
        if let Some(f) = &figures {
            shrunk.push((b.name, f.events_after, f.seconds));
        }
        if args.json {
            let mut v = serde_json::to_value(&h).unwrap_or_default();
            if let Some(m) = v.as_object_mut() {
                m.insert("record".into(), "hunt".into());
                m.insert("passed".into(), h.passed().into());
                if let Some(f) = &figures {
                    m.insert("shrink".into(), serde_json::to_value(f).unwrap_or_default());
                }
            }
            say!("{v}");
        } else {
            say!("{}", line(&h));
            if let Some(f) = &figures {
                say!("{}", shrink_line(f));
            }
        }
        results.push(h);
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|h| !h.passed())
        .map(|h| h.bug.as_str())
        .collect();
    // The shrunk run with the most fault events left, for the summary.
    let largest = shrunk
        .iter()
        .max_by_key(|(_, events, _)| *events)
        .map(|(bug, events, _)| (*bug, *events));
    let shrink_seconds: f64 = shrunk.iter().map(|(_, _, s)| s).sum();
    if args.json {
        let mut summary = json!({
            "record": "summary",
            "bugs": results.len(),
            "caught": results.iter().filter(|h| h.passed()).count(),
            "not_caught": failed,
            "seconds": results.iter().map(|h| h.seconds).sum::<f64>(),
        });
        if let (Some(m), Some((bug, events))) = (summary.as_object_mut(), largest) {
            m.insert("shrunk_most_events".into(), events.into());
            m.insert("shrunk_most_events_bug".into(), bug.into());
            m.insert("shrink_seconds".into(), shrink_seconds.into());
        }
        say!("{summary}");
    } else if results.len() > 1 {
        say!(
            "{} of {} bugs caught within budget{}",
            results.len() - failed.len(),
            results.len(),
            if failed.is_empty() {
                String::new()
            } else {
                format!("; not: {}", failed.join(", "))
            }
        );
    }
    if let (false, Some((bug, events))) = (args.json, largest) {
        say!(
            "{} shrunk in {shrink_seconds:.1} s; the most fault events left: {events} ({bug})",
            shrunk.len()
        );
    }
    match failed.is_empty() {
        true => EXIT_OK,
        false => 1,
    }
}

fn line(h: &Hunt) -> String {
    if !h.caught {
        return format!(
            "{:<32} NOT CAUGHT in {} runs, {:.1} s",
            h.bug, h.runs, h.seconds
        );
    }
    let control = match h.control_failures {
        0 => format!("same {} runs pass unplanted", h.control_runs),
        n => format!("{n} of {} runs fail UNPLANTED too", h.control_runs),
    };
    format!(
        "{:<32} caught by {} `{}` ({}) seed {} after {} runs, {:.1} s (budget {} s); {control}\n{:<32}   {}",
        h.bug,
        h.scenario.as_deref().unwrap_or("?"),
        h.invariant.as_deref().unwrap_or("?"),
        h.kind.as_deref().unwrap_or("?"),
        h.seed.unwrap_or(0),
        h.runs,
        h.seconds,
        h.budget_s,
        "",
        h.replay.as_deref().unwrap_or(""),
    )
}
