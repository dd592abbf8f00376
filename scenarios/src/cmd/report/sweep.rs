//! The sweep report: per scenario and metric, the distribution's figures, a histogram and
//! a CDF, drawn as inline SVG (no script needed to see them).

use super::{escape, page};
use crate::cmd::metrics::{num, Dist};
use faultline::sweep::Summary;
use std::collections::BTreeMap;
use std::fmt::Write;

const W: f64 = 520.0;
const H: f64 = 200.0;
const PAD: f64 = 40.0;
const BINS: usize = 30;

/// The page for a sweep summarised by `summary` with these metrics.
pub fn html(summary: &Summary, metrics: &BTreeMap<String, BTreeMap<String, Dist>>) -> String {
    let mut body = String::new();
    let mut plots = 0;
    let _ = write!(
        body,
        "<h1>faultline sweep: {}</h1><p>seeds {}, {} runs, <span class=\"{}\">{} failed</span></p>",
        escape(&summary.scenarios.join(", ")),
        escape(&summary.seeds),
        summary.total,
        if summary.failed == 0 { "ok" } else { "bad" },
        summary.failed
    );
    for (scenario, params) in &summary.params {
        let sets: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(
            body,
            "<p>{} parameters: <code>{}</code></p>",
            escape(scenario),
            escape(&sets.join(" "))
        );
    }
    for (scenario, by_name) in metrics {
        let _ = write!(body, "<h2>{}</h2><table><tr><th>metric</th><th>n</th><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>mean</th></tr>", escape(scenario));
        for (name, d) in by_name {
            if let Some(s) = d.stats() {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(name), s.n, num(s.min), num(s.p50), num(s.p90), num(s.p99), num(s.max), num(s.mean)
                );
            }
        }
        body.push_str("</table>");
        for (name, d) in by_name {
            if d.values.is_empty() {
                continue;
            }
            let _ = write!(body, "<div class=\"metric\"><h3>{}</h3>", escape(name));
            body.push_str(&histogram(name, d));
            body.push_str(&cdf(name, d));
            body.push_str("</div>");
            plots += 2;
        }
    }
    let attrs = format!("data-report=\"sweep\" data-plots=\"{plots}\"");
    page(
        "faultline sweep",
        &attrs,
        ".metric{display:inline-block;vertical-align:top;margin-right:1em}h3{font-size:1em}",
        &body,
        // The plots need no script; this one only tells a checker the page loaded clean.
        "var e=0;window.addEventListener('error',function(){e++;document.body.dataset.errors=e;});\
         document.body.dataset.errors=0;document.body.dataset.ready=1;",
    )
}

/// The x position of `v` on an axis over `lo..=hi`.
fn x_of(v: f64, lo: f64, hi: f64) -> f64 {
    if hi > lo {
        PAD + (v - lo) / (hi - lo) * (W - 2.0 * PAD)
    } else {
        W / 2.0
    }
}

/// The frame and x axis of a plot.
fn frame(kind: &str, name: &str, lo: f64, hi: f64, y_label: &str) -> String {
    let mut s = format!(
        "<svg class=\"plot {kind}\" data-metric=\"{}\" width=\"{W}\" height=\"{}\" viewBox=\"0 0 {W} {}\">",
        escape(name),
        H + 30.0,
        H + 30.0
    );
    let _ = write!(
        s,
        "<line x1=\"{PAD}\" y1=\"{H}\" x2=\"{}\" y2=\"{H}\" stroke=\"#444\"/><line x1=\"{PAD}\" y1=\"10\" x2=\"{PAD}\" y2=\"{H}\" stroke=\"#444\"/>",
        W - PAD
    );
    for v in [lo, (lo + hi) / 2.0, hi] {
        let x = x_of(v, lo, hi);
        let _ = write!(
            s,
            "<text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            H + 14.0,
            num(v)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text><text x=\"4\" y=\"10\">{y_label}</text>",
        W / 2.0,
        H + 28.0,
        escape(name)
    );
    s
}

fn histogram(name: &str, d: &Dist) -> String {
    let (lo, hi) = (d.values[0], d.values[d.values.len() - 1]);
    let bins = if hi > lo { BINS } else { 1 };
    let mut counts = vec![0usize; bins];
    for &v in &d.values {
        let i = if hi > lo {
            (((v - lo) / (hi - lo)) * bins as f64) as usize
        } else {
            0
        };
        counts[i.min(bins - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let mut s = frame("hist", name, lo, hi, &format!("runs (max {top})"));
    let width = (W - 2.0 * PAD) / bins as f64;
    for (i, &c) in counts.iter().enumerate() {
        let h = c as f64 / top * (H - 20.0);
        let _ = write!(
            s,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#4a78c2\"><title>{c}</title></rect>",
            PAD + i as f64 * width,
            H - h,
            (width - 1.0).max(1.0)
        );
    }
    s.push_str("</svg>");
    s
}

fn cdf(name: &str, d: &Dist) -> String {
    let (lo, hi) = (d.values[0], d.values[d.values.len() - 1]);
    let mut s = frame("cdf", name, lo, hi, "fraction of runs ≤ x");
    let n = d.values.len() as f64;
    let y = |f: f64| H - f * (H - 20.0);
    let mut points = format!("{PAD:.1},{H:.1}");
    for (i, &v) in d.values.iter().enumerate() {
        let x = x_of(v, lo, hi);
        let _ = write!(
            points,
            " {x:.1},{:.1} {x:.1},{:.1}",
            y(i as f64 / n),
            y((i + 1) as f64 / n)
        );
    }
    let _ = write!(
        s,
        "<polyline class=\"curve\" points=\"{points}\" fill=\"none\" stroke=\"#c2454a\" stroke-width=\"1.5\"/></svg>"
    );
    s
}
