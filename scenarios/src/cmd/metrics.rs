//! A sweep's metrics as distributions: per scenario and metric, the values of every run
//! that reported it, and their min / p50 / p90 / p99 / max / mean.

use faultline::sweep::SeedRun;
use serde::Serialize;
use std::collections::BTreeMap;

/// One metric's values across a sweep's runs, sorted.
#[derive(Clone, Debug, Default)]
pub struct Dist {
    pub values: Vec<f64>,
}

/// The figures of a [`Dist`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    pub n: usize,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Dist {
    /// The `p`-th percentile (nearest rank: the smallest value with at least p% of the
    /// values at or below it). `values` must not be empty.
    pub fn percentile(&self, p: f64) -> f64 {
        let n = self.values.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.values[rank.clamp(1, n) - 1]
    }

    pub fn stats(&self) -> Option<Stats> {
        let (first, last) = (self.values.first()?, self.values.last()?);
        let sum: f64 = self.values.iter().sum();
        Some(Stats {
            n: self.values.len(),
            min: *first,
            p50: self.percentile(50.0),
            p90: self.percentile(90.0),
            p99: self.percentile(99.0),
            max: *last,
            mean: sum / self.values.len() as f64,
        })
    }
}

/// Every numeric metric of every scenario's runs, by scenario then metric name.
pub fn collect(runs: &[SeedRun]) -> BTreeMap<String, BTreeMap<String, Dist>> {
    let mut out: BTreeMap<String, BTreeMap<String, Dist>> = BTreeMap::new();
    for run in runs {
        let Some(report) = run.report() else { continue };
        let mine = out.entry(run.scenario.clone()).or_default();
        for (name, value) in &report.metrics {
            if let Some(v) = value.as_f64().filter(|v| v.is_finite()) {
                mine.entry(name.clone()).or_default().values.push(v);
            }
        }
    }
    for metrics in out.values_mut() {
        for d in metrics.values_mut() {
            d.values.sort_by(f64::total_cmp);
        }
    }
    out
}

/// A number as short as it reads well.
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The text table of one scenario's metrics.
pub fn text(scenario: &str, metrics: &BTreeMap<String, Dist>) -> Vec<String> {
    let mut lines = vec![format!(
        "{scenario} metrics: {:<22} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "", "n", "min", "p50", "p90", "p99", "max", "mean"
    )];
    for (name, d) in metrics {
        let Some(s) = d.stats() else { continue };
        lines.push(format!(
            "  {name:<22} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            s.n,
            num(s.min),
            num(s.p50),
            num(s.p90),
            num(s.p99),
            num(s.max),
            num(s.mean)
        ));
    }
    lines
}

/// The JSON line of one scenario's metrics (`"record": "metrics"`).
pub fn json(scenario: &str, metrics: &BTreeMap<String, Dist>) -> String {
    let stats: BTreeMap<&String, Stats> = metrics
        .iter()
        .filter_map(|(name, d)| d.stats().map(|s| (name, s)))
        .collect();
    serde_json::json!({ "record": "metrics", "scenario": scenario, "metrics": stats }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let d = Dist {
            values: (1..=100).map(f64::from).collect(),
        };
        let s = d.stats().expect("values");
        assert_eq!(
            (s.min, s.p50, s.p90, s.p99, s.max),
            (1.0, 50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(s.mean, 50.5);
        let one = Dist { values: vec![7.0] };
        assert_eq!(one.percentile(99.0), 7.0);
        assert_eq!(Dist::default().stats(), None);
    }
}
