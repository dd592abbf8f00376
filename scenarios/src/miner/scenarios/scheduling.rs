//! The scheduler's response times (systems/miner/SPEC.md §7, §10), with no faults:
//!
//! - `miner-response`: reports the mean response time against two bounds (each request
//!   alone on all miners, and all requests served in arrival order by one machine as fast
//!   as all miners together);
//! - `miner-small-after-huge`: a small request arriving after a huge one must finish first.

use super::{put, run_clean};
use crate::miner::invariants::{ClientRun, MinerChecker, SMALL_AFTER_HUGE_FINISHES_FIRST};
use crate::miner::nodes::workload;
use crate::miner::world::Setup;
use faultline::harness::{Report, RunSpec, Scenario};
use faultline::Time;
use std::time::Duration;

/// Response times of answered requests against the two bounds, in milliseconds.
#[derive(Clone, Debug, Default)]
pub struct ResponseFigures {
    pub answered: usize,
    pub mean_response_ms: f64,
    /// Mean of size / total rate: each request alone on every miner.
    pub mean_alone_bound_ms: f64,
    /// Mean response if one machine as fast as all miners served requests in arrival order.
    pub mean_fifo_bound_ms: f64,
}

impl ResponseFigures {
    /// Mean response over the arrival-order bound.
    pub fn factor(&self) -> f64 {
        self.mean_response_ms / self.mean_fifo_bound_ms
    }
}

/// The figures of the answered requests among `runs`, on miners of `total_rate` in all.
pub fn response_figures(runs: &[ClientRun], total_rate: u64) -> ResponseFigures {
    let mut runs: Vec<_> = runs
        .iter()
        .filter(|r| r.answered.is_some())
        .cloned()
        .collect();
    runs.sort_by_key(|r| (r.asked, r.node));
    let n = runs.len().max(1) as f64;
    let ms = |ns: f64| ns / 1e6;
    let work_ns = |upper: u64| (upper as f64 + 1.0) * 1e9 / total_rate as f64;
    let mut fifo_free = 0.0f64;
    let (mut resp, mut alone, mut fifo) = (0.0, 0.0, 0.0);
    for r in &runs {
        let asked = r.asked.as_nanos() as f64;
        resp += r.answered.expect("filtered").as_nanos() as f64 - asked;
        alone += work_ns(r.upper);
        fifo_free = fifo_free.max(asked) + work_ns(r.upper);
        fifo += fifo_free - asked;
    }
    ResponseFigures {
        answered: runs.len(),
        mean_response_ms: ms(resp / n),
        mean_alone_bound_ms: ms(alone / n),
        mean_fifo_bound_ms: ms(fifo / n),
    }
}

/// Run a fault-free `setup` and add its response figures to the report.
fn run_timed(
    name: &str,
    spec: &RunSpec,
    setup: &Setup,
    run_for: Duration,
) -> Result<(Report, Vec<ClientRun>), String> {
    let checks = MinerChecker::default();
    let (mut report, runs) = run_clean(name, spec, setup, run_for, checks, |_, _| Ok(()))?;
    let f = response_figures(&runs, setup.total_rate());
    put(&mut report, "answered", f.answered as u64);
    put(&mut report, "mean_response_ms", f.mean_response_ms);
    put(&mut report, "mean_alone_bound_ms", f.mean_alone_bound_ms);
    put(&mut report, "mean_fifo_bound_ms", f.mean_fifo_bound_ms);
    put(&mut report, "factor_vs_fifo_bound", f.factor());
    Ok((report, runs))
}

/// `miner-response`: the fault-free response-time report.
pub struct Response;

impl Response {
    pub const MINER_RATES: [u64; 4] = [50_000, 100_000, 200_000, 400_000];

    fn setup(seed: u64) -> Setup {
        Setup {
            miners: Self::MINER_RATES.iter().map(|&r| (r, Time::ZERO)).collect(),
            clients: workload(seed, 16, Duration::from_secs(8), 25_000..300_000),
        }
    }
}

impl Scenario for Response {
    fn name(&self) -> &'static str {
        "miner-response"
    }

    fn about(&self) -> &'static str {
        "miner: no faults, 4 miners (50k..400k nonces/s), 16 requests; mean response time vs the arrival-order bound"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        run_timed(
            self.name(),
            spec,
            &Self::setup(spec.seed),
            Duration::from_secs(20),
        )
        .map(|(report, _)| report)
    }
}

/// `miner-small-after-huge`.
pub struct SmallAfterHuge;

impl SmallAfterHuge {
    pub const HUGE: u64 = 1_000_000 - 1;
    pub const SMALL: u64 = 30_000 - 1;
    const RATES: [u64; 3] = [100_000, 200_000, 300_000];

    fn setup(seed: u64) -> Setup {
        Setup {
            miners: Self::RATES.iter().map(|&r| (r, Time::ZERO)).collect(),
            clients: vec![
                (format!("huge {seed}"), Self::HUGE, Time::from_millis(100)),
                (
                    format!("small {seed}"),
                    Self::SMALL,
                    Time::from_millis(1000),
                ),
            ],
        }
    }
}

impl Scenario for SmallAfterHuge {
    fn name(&self) -> &'static str {
        "miner-small-after-huge"
    }

    fn about(&self) -> &'static str {
        "miner: no faults; a 30k-nonce request arriving 0.9 s after a 1M-nonce one finishes first"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let (mut report, runs) = run_timed(
            self.name(),
            spec,
            &Self::setup(spec.seed),
            Duration::from_secs(10),
        )?;
        let done = |upper: u64| {
            runs.iter()
                .find(|r| r.upper == upper)
                .and_then(|r| r.answered.map(|t| (t, r.asked)))
        };
        let (Some((huge_done, _)), Some((small_done, small_asked))) =
            (done(Self::HUGE), done(Self::SMALL))
        else {
            return Err("small-after-huge: a request was not answered".into());
        };
        put(
            &mut report,
            "small_response_ms",
            (small_done.as_nanos() - small_asked.as_nanos()) as f64 / 1e6,
        );
        put(
            &mut report,
            "small_done_ms",
            small_done.as_nanos() as f64 / 1e6,
        );
        put(
            &mut report,
            "huge_done_ms",
            huge_done.as_nanos() as f64 / 1e6,
        );
        if small_done >= huge_done && report.violation.is_none() {
            report.ok = false;
            let failure = SMALL_AFTER_HUGE_FINISHES_FIRST
                .fail(format!("small done at {small_done}, huge at {huge_done}"));
            let halt = faultline::Halt {
                at: small_done,
                failure,
            };
            report.violation = Some(faultline::harness::violation(self.name(), spec, halt));
        }
        Ok(report)
    }
}
