//! A run's budget: how many events and how much virtual time one seed may take.
//!
//! A bug can turn a run of thousands of events into one of millions (an RPC storm, a
//! livelock at one instant). The world stops a run that goes over its budget, and the
//! stop is a finding of kind [`FindingKind::Budget`] with the figures, so a runaway seed is
//! reported in seconds instead of stalling a sweep. Budgets count simulated work, not the
//! wall clock, so a budget finding replays like any other.

use crate::check::{Failure, FindingKind};
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The invariant name of a budget stop.
pub const BUDGET_INVARIANT: &str = "budget";

/// Limits on one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Events delivered to nodes (a report's `events`).
    pub max_events: u64,
    /// True virtual time, in ns.
    pub max_sim_time_ns: u64,
}

impl Budget {
    /// No limits: what a world has unless told otherwise.
    pub const UNLIMITED: Budget = Budget {
        max_events: u64::MAX,
        max_sim_time_ns: u64::MAX,
    };

    /// The default of a scenario that does not choose its own: a million events (the
    /// catalog's runs take at most about 15,000, and a simulator delivers a million in
    /// seconds) and one hour of virtual time.
    pub const DEFAULT: Budget = Budget {
        max_events: 1_000_000,
        max_sim_time_ns: 3_600_000_000_000,
    };

    /// A budget of `max_events` events and `max_sim_time` of virtual time.
    pub fn new(max_events: u64, max_sim_time: Duration) -> Budget {
        Budget {
            max_events,
            max_sim_time_ns: crate::time::duration_nanos(max_sim_time),
        }
    }

    /// Whether one more event, due at `next_ns`, after `events` so far, is over budget.
    pub fn exceeded(&self, events: u64, next_ns: u64) -> bool {
        events >= self.max_events || next_ns > self.max_sim_time_ns
    }

    /// The failure of a run stopped by this budget after `events` events at `now`, with
    /// its next event due at `next_ns`.
    pub fn failure(&self, events: u64, now: Time, next_ns: u64) -> Failure {
        let detail = if events >= self.max_events {
            let secs = now.as_nanos() as f64 / 1e9;
            let rate = if secs > 0.0 {
                format!("{:.0} events per virtual second", events as f64 / secs)
            } else {
                "all at virtual time zero".to_string()
            };
            format!(
                "{events} events by {now} reached the budget of {} events ({rate}); \
                 a livelock or a message storm? (--max-events raises it)",
                self.max_events
            )
        } else {
            format!(
                "the next event is due at {}, past the budget of {} of virtual time, \
                 after {events} events (--max-sim-time raises it)",
                Time(next_ns),
                Time(self.max_sim_time_ns)
            )
        };
        Failure {
            invariant: BUDGET_INVARIANT.to_string(),
            kind: FindingKind::Budget,
            detail,
            evidence: None,
        }
    }
}

/// Limits chosen on the command line (`--max-events`, `--max-sim-time`), each over a
/// scenario's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub max_events: Option<u64>,
    pub max_sim_time_ns: Option<u64>,
}

impl Limits {
    /// The budget these limits make of a scenario's `default`; `None` when they set
    /// nothing (the run keeps its scenario's default, and the replay line stays short).
    pub fn over(&self, default: Budget) -> Option<Budget> {
        if self.max_events.is_none() && self.max_sim_time_ns.is_none() {
            return None;
        }
        Some(Budget {
            max_events: self.max_events.unwrap_or(default.max_events),
            max_sim_time_ns: self.max_sim_time_ns.unwrap_or(default.max_sim_time_ns),
        })
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::UNLIMITED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_budget_by_events_or_by_time() {
        let b = Budget::new(10, Duration::from_secs(1));
        assert!(!b.exceeded(9, 1_000_000_000));
        assert!(b.exceeded(10, 0));
        assert!(b.exceeded(0, 1_000_000_001));
        let f = b.failure(10, Time::from_secs(2), 0);
        assert_eq!(f.kind, FindingKind::Budget);
        assert!(f.detail.contains("10 events"), "{}", f.detail);
        let f = b.failure(3, Time::from_millis(999), 1_000_000_001);
        assert!(f.detail.contains("past the budget"), "{}", f.detail);
    }
}
