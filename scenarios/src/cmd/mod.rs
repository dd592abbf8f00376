//! The subcommands of `faultline` that run scenarios, and what they share: finding a
//! scenario by name, budget and parameter options, exit codes.

pub mod bugs;
pub mod merge;
pub mod metrics;
pub mod report;
pub mod run;
pub mod shrink;
pub mod sweep;

use clap::Args;
use faultline::budget::Limits;
use faultline::harness::RunSpec;
use faultline::harness::{Param, Scenario};
use faultline::FindingKind;
use scenarios::catalog;
use scenarios::tell;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// All invariants held.
pub const EXIT_OK: u8 = 0;
/// Bad usage or bad input.
pub const EXIT_USAGE: u8 = 2;

/// The exit code of what runs found: 0, or the smallest code of the kinds found.
pub fn exit_code(kinds: impl IntoIterator<Item = FindingKind>) -> u8 {
    kinds
        .into_iter()
        .map(FindingKind::exit_code)
        .min()
        .unwrap_or(EXIT_OK)
}

/// Print a usage error and return its exit code.
pub fn usage_error(message: &str) -> u8 {
    tell!("faultline: {message}");
    EXIT_USAGE
}

/// The scenario called `name`, or the usage error that lists them.
pub fn find(name: &str) -> Result<Box<dyn Scenario>, u8> {
    catalog::find(name).ok_or_else(|| {
        let names: Vec<&'static str> = catalog::all().iter().map(|s| s.name()).collect();
        usage_error(&format!(
            "no scenario named `{name}`; `faultline list` shows them: {}",
            names.join(", ")
        ))
    })
}

/// The planted bug `--bug` names (its catalog name), or the usage error that lists them.
pub fn planted_bug(name: Option<&str>) -> Result<Option<&'static str>, u8> {
    let Some(name) = name else { return Ok(None) };
    match scenarios::bugs::find(name) {
        Some(b) => Ok(Some(b.name)),
        None => {
            let names: Vec<&str> = scenarios::bugs::ALL.iter().map(|b| b.name).collect();
            Err(usage_error(&format!(
                "no planted bug named `{name}`; `faultline bugs` lists them: {}",
                names.join(", ")
            )))
        }
    }
}

/// `--jobs`, or the number of CPUs; a usage error for 0.
pub fn jobs(given: Option<usize>) -> Result<usize, u8> {
    match given {
        Some(0) => Err(usage_error("--jobs must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// The run `run` and `shrink` start from.
#[derive(Args)]
pub struct OneRun {
    /// Scenario name (see `faultline list`).
    pub scenario: String,
    /// The master seed: it picks the faults (unless --schedule) and every random draw.
    #[arg(long)]
    pub seed: u64,
    /// Use this fault schedule (JSON, as printed by `run --json` under "faults", or written
    /// by `faultline shrink`) instead of the one the seed draws.
    #[arg(long, value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// Set a scenario parameter (see `faultline list --params`), e.g. `--set clients=2`.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    /// Plant this bug (see `faultline bugs`) in the systems the scenario builds.
    #[arg(long, value_name = "NAME")]
    pub bug: Option<String>,
    #[command(flatten)]
    pub budget: BudgetArgs,
}

impl OneRun {
    /// The scenario named and the spec of the run, its options checked against it.
    pub fn choose(&self) -> Result<(Box<dyn Scenario>, RunSpec), u8> {
        let bug = planted_bug(self.bug.as_deref())?;
        let scenario = scenarios::bugs::plant(find(&self.scenario)?, bug);
        let limits = self.budget.limits()?;
        let mut spec = RunSpec {
            bug: bug.map(str::to_string),
            budget: limits.over(scenario.budget()),
            default_budget: scenario.budget(),
            params: params(scenario.as_ref(), &self.sets)?,
            ..RunSpec::new(self.seed)
        };
        if let Some(path) = &self.schedule {
            spec.schedule = Some(read_schedule(path)?);
            spec.schedule_path = Some(path.clone());
        }
        Ok((scenario, spec))
    }
}

/// Per-run limits over each scenario's default budget.
#[derive(Args, Clone, Debug, Default)]
pub struct BudgetArgs {
    /// Stop a run after N events (delivered to nodes) and report it as a `budget` finding.
    /// Default: the scenario's own budget (1,000,000 unless it sets another).
    #[arg(long, value_name = "N")]
    pub max_events: Option<u64>,
    /// Stop a run whose next event is due after S seconds of virtual time, as a `budget`
    /// finding. Default: the scenario's own (one hour unless it sets another).
    #[arg(long, value_name = "S")]
    pub max_sim_time: Option<f64>,
}

impl BudgetArgs {
    /// The limits, or a usage error.
    pub fn limits(&self) -> Result<Limits, u8> {
        let max_sim_time_ns = match self.max_sim_time {
            None => None,
            Some(s) if s.is_finite() && s > 0.0 => Some((s * 1e9).round() as u64),
            Some(s) => {
                return Err(usage_error(&format!(
                    "--max-sim-time takes a positive number of seconds, not {s}"
                )))
            }
        };
        Ok(Limits {
            max_events: self.max_events,
            max_sim_time_ns,
        })
    }
}

/// Parse `--set NAME=VALUE` options against the scenario's parameters. A range pair
/// (`X_min`, `X_max`) is set at once with `--set X=A..B` (or `--set X=V` for both).
pub fn params(scenario: &dyn Scenario, sets: &[String]) -> Result<BTreeMap<String, u64>, u8> {
    parse_params(scenario, sets).map_err(|e| usage_error(&e))
}

/// [`params`], the error as text.
pub fn parse_params(
    scenario: &dyn Scenario,
    sets: &[String],
) -> Result<BTreeMap<String, u64>, String> {
    let declared = scenario.params();
    let names = || {
        if declared.is_empty() {
            format!("{} has no parameters", scenario.name())
        } else {
            let list: Vec<String> = declared
                .iter()
                .map(|p| {
                    format!(
                        "{} (default {}, at least {}: {})",
                        p.name, p.default, p.min, p.about
                    )
                })
                .collect();
            format!("{} has: {}", scenario.name(), list.join("; "))
        }
    };
    let find = |name: &str| declared.iter().find(|p| p.name == name);
    let mut out = BTreeMap::new();
    for set in sets {
        let Some((name, value)) = set.split_once('=') else {
            return Err(format!("--set takes NAME=VALUE, not `{set}`"));
        };
        let (name, value) = (name.trim(), value.trim());
        let number = |text: &str| -> Result<u64, String> {
            text.trim()
                .parse()
                .map_err(|_| format!("--set {name}: `{text}` is not a whole number"))
        };
        // The parameters this one sets, with their values.
        let targets: Vec<(&Param, u64)> = match find(name) {
            Some(p) => vec![(p, number(value)?)],
            None => {
                let (lo, hi) = (format!("{name}_min"), format!("{name}_max"));
                let (Some(lo), Some(hi)) = (find(&lo), find(&hi)) else {
                    return Err(format!("no parameter `{name}`: {}", names()));
                };
                let (a, b) = match value.split_once("..") {
                    Some((a, b)) => (number(a)?, number(b)?),
                    None => (number(value)?, number(value)?),
                };
                if a > b {
                    return Err(format!(
                        "--set {name}={value}: the range ends before it starts"
                    ));
                }
                vec![(lo, a), (hi, b)]
            }
        };
        for (p, v) in targets {
            if v < p.min {
                return Err(format!(
                    "--set {name}={value}: {} is at least {}",
                    p.name, p.min
                ));
            }
            out.insert(p.name.to_string(), v);
        }
    }
    scenario
        .check_params(&out)
        .map_err(|e| format!("{}: {e}", scenario.name()))?;
    Ok(out)
}

/// Read a schedule file, or the usage error.
fn read_schedule(path: &std::path::Path) -> Result<faultline::Schedule, u8> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage_error(&format!("cannot read schedule {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        usage_error(&format!(
            "schedule {} is not a valid fault schedule: {e}",
            path.display()
        ))
    })
}
