//! Running a scenario so that nothing it does is lost: a panic becomes a finding with its
//! message and location, a run over budget becomes a finding with its figures, and every
//! finding has a kind and a replay line.
//!
//! [`execute`] is how the CLI, the sweeps and the shrinker run a scenario once; a
//! [`Finding`] is what they print (one JSON object per finding, the `record` field
//! `"finding"`).

use crate::budget::Budget;
use crate::check::FindingKind;
use crate::determinism::Divergence;
use crate::harness::{replay_command, Report, RunSpec, Scenario};
use crate::Schedule;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// How one run ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// It ran: its report says whether an invariant (or the budget) was violated.
    Ran(Report),
    /// The code under test or the scenario panicked.
    Panicked(PanicReport),
    /// It ran twice and the runs differ (see [`crate::determinism`]).
    Diverged {
        report: Report,
        divergence: Divergence,
    },
    /// The scenario could not run it (its own error, e.g. a schedule that does not fit).
    Error(String),
}

impl Outcome {
    /// The report, if the run got as far as one.
    pub fn report(&self) -> Option<&Report> {
        match self {
            Outcome::Ran(r) | Outcome::Diverged { report: r, .. } => Some(r),
            Outcome::Panicked(_) | Outcome::Error(_) => None,
        }
    }

    /// Whether the run found nothing.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ran(r) if r.ok)
    }

    /// What the run found, if anything.
    pub fn kind(&self) -> Option<FindingKind> {
        match self {
            Outcome::Ran(r) => r.violation.as_ref().map(|v| v.kind),
            Outcome::Panicked(_) => Some(FindingKind::Panic),
            Outcome::Diverged { .. } => Some(FindingKind::Nondeterminism),
            Outcome::Error(_) => Some(FindingKind::Error),
        }
    }

    /// A short text that is equal for equal runs: the trace hash, or the panic or error.
    pub fn fingerprint(&self) -> String {
        match self {
            Outcome::Ran(r) => r.trace_hash.clone(),
            Outcome::Diverged { divergence, .. } => {
                format!("diverged:{}", divergence.hashes.join(":"))
            }
            Outcome::Panicked(p) => format!("panic:{}:{}", p.location, p.message),
            Outcome::Error(e) => format!("error:{e}"),
        }
    }
}

/// A panic, caught.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanicReport {
    pub message: String,
    /// `file:line:column` of the panic.
    pub location: String,
}

/// Run `scenario` once under `spec`, with the scenario's default budget unless the spec
/// sets one, and catch a panic. Nothing the run does can unwind past this.
///
/// A panic leaves no world behind to reuse: each run builds its own, so the next run is
/// unaffected. (A scenario that keeps state of its own across runs must not rely on it
/// after a panic.)
pub fn execute(scenario: &dyn Scenario, spec: &RunSpec) -> Outcome {
    let mut spec = spec.clone();
    spec.default_budget = scenario.budget();
    match catch_panic(|| scenario.run(&spec)) {
        Ok(Ok(report)) => Outcome::Ran(report),
        Ok(Err(e)) => Outcome::Error(e),
        Err(p) => Outcome::Panicked(p),
    }
}

thread_local! {
    /// While a run is being caught on this thread: the last panic seen, filled by the hook.
    static CAUGHT: RefCell<Option<Option<PanicReport>>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Run `f`, turning a panic into its message and location. While `f` runs, the panic is
/// not printed by the default hook (it is reported as a finding instead); panics on other
/// threads, and outside `catch_panic`, print as usual.
pub fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, PanicReport> {
    // The hook is process-wide, so it is installed once and only records panics of the
    // threads that asked for it (a thread-local flag); it runs outside the simulator.
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
                s.to_string()
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.clone()
            } else {
                "a panic with a non-text payload".to_string()
            };
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_else(|| "an unknown location".to_string());
            let recorded = CAUGHT
                .try_with(|c| match c.try_borrow_mut() {
                    Ok(mut slot) => match slot.as_mut() {
                        Some(last) => {
                            *last = Some(PanicReport { message, location });
                            true
                        }
                        None => false,
                    },
                    Err(_) => false,
                })
                .unwrap_or(false);
            if !recorded {
                previous(info);
            }
        }));
    });
    let outer = CAUGHT.with(|c| c.borrow_mut().replace(None));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    let caught = CAUGHT.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer));
    result.map_err(|_| {
        caught.flatten().unwrap_or_else(|| PanicReport {
            message: "a panic the hook did not see".to_string(),
            location: "an unknown location".to_string(),
        })
    })
}

/// One problem found by one run, as printed (one JSON line each, `record: "finding"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Always `"finding"`: tells finding lines from summary lines in a sweep's output.
    pub record: String,
    pub scenario: String,
    pub seed: u64,
    pub kind: FindingKind,
    /// The invariant that failed; `panic`, `budget`, `nondeterminism` or `error` for those.
    pub invariant: String,
    pub detail: String,
    /// Virtual time of the failure, when the run got that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ns: Option<u64>,
    /// Where a panic happened (`file:line:column`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim_time_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_hash: Option<String>,
    /// The limits of a budget finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// Where two runs of a nondeterministic seed parted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divergence: Option<Divergence>,
    /// The schedule of the run, when it got that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Schedule>,
    pub replay: String,
}

impl Finding {
    /// The finding of a run of `scenario` under `spec` that ended in `outcome`, if any.
    /// (A budget finding names `spec.budget()`: give the spec the scenario's
    /// `default_budget`, as [`execute`] does.)
    pub fn of(scenario: &str, spec: &RunSpec, outcome: &Outcome) -> Option<Finding> {
        let kind = outcome.kind()?;
        let mut f = Finding {
            record: "finding".to_string(),
            scenario: scenario.to_string(),
            seed: spec.seed,
            kind,
            invariant: kind.as_str().to_string(),
            detail: String::new(),
            time_ns: None,
            location: None,
            events: None,
            sim_time_ns: None,
            trace_hash: None,
            budget: None,
            divergence: None,
            faults: None,
            replay: replay_command(scenario, spec),
        };
        if let Some(r) = outcome.report() {
            f.events = Some(r.events);
            f.sim_time_ns = Some(r.sim_time_ns);
            f.trace_hash = Some(r.trace_hash.clone());
            f.faults = Some(r.faults.clone());
        }
        match outcome {
            Outcome::Ran(r) => {
                let v = r.violation.as_ref()?;
                f.invariant = v.invariant.clone();
                f.detail = v.detail.clone();
                f.time_ns = Some(v.time_ns);
                f.replay = v.replay.clone();
                if kind == FindingKind::Budget {
                    f.budget = Some(spec.budget());
                }
            }
            Outcome::Panicked(p) => {
                f.detail = p.message.clone();
                f.location = Some(p.location.clone());
            }
            Outcome::Diverged { divergence, .. } => {
                f.detail = divergence.to_string();
                f.time_ns = divergence.time_ns();
                f.divergence = Some(divergence.clone());
                f.replay.push_str(" --check-determinism");
            }
            Outcome::Error(e) => f.detail = e.clone(),
        }
        Some(f)
    }

    /// Two lines of text: what was found, and how to replay it.
    pub fn to_text(&self) -> String {
        let when = match (self.time_ns, &self.location) {
            (_, Some(loc)) => format!(" at {loc}"),
            (Some(t), None) => format!(" at {}", crate::Time(t)),
            (None, None) => String::new(),
        };
        format!(
            "{} seed {} [{}] `{}`{when}: {}\n  replay: {}",
            self.scenario, self.seed, self.kind, self.invariant, self.detail, self.replay
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_has_its_message_and_location() {
        let p = catch_panic(|| {
            if std::hint::black_box(true) {
                panic!("boom {}", 7);
            }
        })
        .unwrap_err();
        assert_eq!(p.message, "boom 7");
        assert!(p.location.contains("finding.rs"), "{}", p.location);
        // Nested catches each see their own panic.
        let outer = catch_panic(|| {
            let inner = catch_panic(|| panic!("inner"));
            assert_eq!(inner.unwrap_err().message, "inner");
            panic!("outer");
        });
        assert_eq!(outer.unwrap_err().message, "outer");
        assert_eq!(catch_panic(|| 5), Ok(5));
    }
}
