//! Generic checker plumbing: invariants checked as history events happen and at the end.
//!
//! A system's scenario implements [`Checker`] over its nodes' history events. The world
//! calls [`Checker::on_event`] for every recorded event, in order, and stops the run at the
//! first [`Failure`]; the scenario adds its end-of-run checks. A [`Violation`] is a failure
//! with where and how to replay it.

use crate::node::Addr;
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::fmt;

/// What an invariant promises: that nothing bad ever happens, or that something good
/// eventually does (checked once the faults have stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Property {
    /// Violated at one moment, by one bad state or step.
    Safety,
    /// Violated when a deadline after the heal passes without the good thing happening.
    Liveness,
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Property::Safety => "safety",
            Property::Liveness => "liveness",
        })
    }
}

/// What kind of problem a run found. Each kind has its own exit code (see
/// [`FindingKind::exit_code`]), so a script can tell a broken invariant from a crash of
/// the code under test or a run that never ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    /// A safety invariant was violated.
    Safety,
    /// A liveness invariant was violated.
    Liveness,
    /// The code under test (or the scenario) panicked.
    Panic,
    /// The run went over its budget of events or virtual time (a livelock, an RPC storm).
    Budget,
    /// The same seed gave two different runs.
    Nondeterminism,
    /// The scenario could not carry out the run (its own error, not the system's).
    Error,
}

impl FindingKind {
    /// Every kind, in the order of their exit codes.
    pub const ALL: [FindingKind; 6] = [
        FindingKind::Safety,
        FindingKind::Liveness,
        FindingKind::Panic,
        FindingKind::Budget,
        FindingKind::Nondeterminism,
        FindingKind::Error,
    ];

    /// The process exit code for this kind: 1 safety, 3 liveness, 4 panic, 5 budget,
    /// 6 nondeterminism, 7 error (0 is success and 2 bad usage). A sweep that finds
    /// several kinds exits with the smallest of their codes.
    pub fn exit_code(self) -> u8 {
        match self {
            FindingKind::Safety => 1,
            FindingKind::Liveness => 3,
            FindingKind::Panic => 4,
            FindingKind::Budget => 5,
            FindingKind::Nondeterminism => 6,
            FindingKind::Error => 7,
        }
    }

    /// The kind's name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Safety => "safety",
            FindingKind::Liveness => "liveness",
            FindingKind::Panic => "panic",
            FindingKind::Budget => "budget",
            FindingKind::Nondeterminism => "nondeterminism",
            FindingKind::Error => "error",
        }
    }
}

impl From<Property> for FindingKind {
    fn from(p: Property) -> FindingKind {
        match p {
            Property::Safety => FindingKind::Safety,
            Property::Liveness => FindingKind::Liveness,
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named invariant of a system, declared once (in the scenario's `invariants.rs`) and
/// used by its checkers to report failures.
///
/// ```
/// use faultline::check::{Invariant, Property};
/// const ONE_LEADER: Invariant = Invariant::safety("one-leader-per-term", "at most one leader per term");
/// let failure = ONE_LEADER.fail("n1 and n2 lead term 3");
/// assert_eq!((failure.invariant.as_str(), failure.kind), ("one-leader-per-term", Property::Safety.into()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invariant {
    pub name: &'static str,
    pub property: Property,
    /// One line on what it demands.
    pub about: &'static str,
}

impl Invariant {
    pub const fn safety(name: &'static str, about: &'static str) -> Invariant {
        Invariant {
            name,
            property: Property::Safety,
            about,
        }
    }

    pub const fn liveness(name: &'static str, about: &'static str) -> Invariant {
        Invariant {
            name,
            property: Property::Liveness,
            about,
        }
    }

    /// This invariant failed: `detail` says what was seen.
    pub fn fail(&self, detail: impl Into<String>) -> Failure {
        Failure {
            invariant: self.name.to_string(),
            kind: self.property.into(),
            detail: detail.into(),
            evidence: None,
        }
    }
}

/// An invariant that does not hold: its name, its kind (a safety or liveness property, or
/// the run's budget), and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub invariant: String,
    pub kind: FindingKind,
    pub detail: String,
    /// What a report can draw of it, beyond the detail's text (a linearizability
    /// failure's operations and how far they linearize). Absent for most failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<serde_json::Value>,
}

impl Failure {
    /// A safety failure of an invariant named on the spot; prefer declaring an
    /// [`Invariant`] and calling [`Invariant::fail`].
    pub fn new(invariant: impl Into<String>, detail: impl Into<String>) -> Failure {
        Failure {
            invariant: invariant.into(),
            kind: FindingKind::Safety,
            detail: detail.into(),
            evidence: None,
        }
    }

    /// This failure with `evidence` for reports.
    pub fn with_evidence(self, evidence: serde_json::Value) -> Failure {
        Failure {
            evidence: Some(evidence),
            ..self
        }
    }

    /// A liveness failure of an invariant named on the spot.
    pub fn liveness(invariant: impl Into<String>, detail: impl Into<String>) -> Failure {
        Failure {
            kind: FindingKind::Liveness,
            ..Failure::new(invariant, detail)
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant `{}` violated: {}",
            self.invariant, self.detail
        )
    }
}

/// A failure, with the virtual time it was seen at, the seed, and the command that
/// replays it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub invariant: String,
    pub kind: FindingKind,
    pub detail: String,
    pub time_ns: u64,
    pub seed: u64,
    pub replay: String,
    /// The failure's evidence (see [`Failure::evidence`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<serde_json::Value>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} invariant `{}` violated at {} (seed {}): {}\n  replay: {}",
            self.kind,
            self.invariant,
            Time(self.time_ns),
            self.seed,
            self.detail,
            self.replay
        )
    }
}

/// Checks a run's history events as they happen.
pub trait Checker<E> {
    /// `node` recorded `event` at true time `now`.
    fn on_event(&mut self, now: Time, node: Addr, event: &E) -> Result<(), Failure>;
}

/// A checker the world holds, kept reachable by its concrete type (see
/// [`World::checker`](crate::World::checker)), so a scenario can read what its checker saw
/// after the run without sharing it through an `Rc<RefCell<..>>`.
pub(crate) trait HeldChecker<E>: Checker<E> {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<E, C: Checker<E> + 'static> HeldChecker<E> for C {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A checker that accepts everything.
pub struct NoChecks;

impl<E> Checker<E> for NoChecks {
    fn on_event(&mut self, _: Time, _: Addr, _: &E) -> Result<(), Failure> {
        Ok(())
    }
}

impl<E, F> Checker<E> for F
where
    F: FnMut(Time, Addr, &E) -> Result<(), Failure>,
{
    fn on_event(&mut self, now: Time, node: Addr, event: &E) -> Result<(), Failure> {
        self(now, node, event)
    }
}
