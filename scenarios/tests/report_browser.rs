//! The HTML reports in a real browser: a failing run's report and a sweep report opened in
//! headless Chromium, which runs their scripts; the page it leaves must have no script
//! errors, one lane per node, as many arrows drawn as the data holds messages in the window
//! shown, the violation marked, and the sweep's plots.
//!
//! Chromium is driven with `--headless --dump-dom`: it loads the file, runs its scripts to
//! completion and prints the resulting DOM. That is all the check needs (the pages put
//! their counts in `data-*` attributes), so no WebDriver session, crate or Node script is
//! involved, and there is nothing to leave running: one process per page, with a deadline,
//! killed if it overruns, and its profile in a temporary directory removed at the end.
//! Without Chromium the browser half is skipped with a note, unless
//! `FAULTLINE_BROWSER_TEST=required` (as `.ci/run` sets after installing it).

// The deadline is wall-clock time by nature.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(120);

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("faultline-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `cmd` to its end within the deadline (killed past it): exit code, stdout, stderr.
fn run(mut cmd: Command) -> (i32, String, String) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let out_path = std::env::temp_dir().join(format!(
        "faultline-out-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let err_path = out_path.with_extension("err");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("out file"))
        .stderr(std::fs::File::create(&err_path).expect("err file"))
        .spawn()
        .expect("start");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} overran its deadline of {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let (out, err) = (read(&out_path), read(&err_path));
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    (status.code().unwrap_or(-1), out, err)
}

fn faultline(args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline"));
    cmd.args(args).env_remove("FAULTLINE_SEED");
    run(cmd)
}

/// The Chromium binary, if there is one.
fn chromium() -> Option<PathBuf> {
    let names = ["chromium", "chromium-browser", "google-chrome"];
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// The DOM Chromium leaves after running `page`'s scripts, and its log.
fn render(browser: &Path, page: &Path, profile: &Path) -> (String, String) {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--window-size=1400,1000",
        "--dump-dom",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("file://{}", page.display()));
    let (code, dom, log) = run(cmd);
    assert_eq!(code, 0, "chromium failed on {}: {log}", page.display());
    (dom, log)
}

/// The value of attribute `name` on the page's body.
fn body_attr(dom: &str, name: &str) -> Option<String> {
    let body = &dom[dom.find("<body")?..];
    let tag = &body[..body.find('>')?];
    let key = format!("{name}=\"");
    let at = tag.find(&key)? + key.len();
    Some(tag[at..at + tag[at..].find('"')?].to_string())
}

fn num(dom: &str, name: &str) -> u64 {
    body_attr(dom, name)
        .unwrap_or_else(|| panic!("no {name} on the page"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

/// The page's embedded trace data.
fn trace_data(html: &str) -> serde_json::Value {
    let open = "<script type=\"application/json\" id=\"trace-data\">";
    let start = html.find(open).expect("trace data") + open.len();
    let end = start + html[start..].find("</script>").expect("end of data");
    serde_json::from_str(&html[start..end].replace("<\\/", "</")).expect("data is JSON")
}

/// A page must stand alone: nothing loaded from anywhere.
fn assert_self_contained(html: &str) {
    for bad in ["<link", "src=\"http", "src='http", "@import", "url(http"] {
        assert!(!html.contains(bad), "the page loads something: {bad}");
    }
}

/// A report's console, as Chromium logs it: no script error.
fn assert_no_console_errors(dom: &str, log: &str) {
    assert_eq!(
        body_attr(dom, "data-ready").as_deref(),
        Some("1"),
        "the script finished"
    );
    assert_eq!(
        body_attr(dom, "data-errors").as_deref(),
        Some("0"),
        "errors on the page"
    );
    for line in log.lines() {
        let console = line.contains("CONSOLE") || line.contains("Uncaught");
        assert!(
            !(console && (line.contains("rror") || line.contains("Uncaught"))),
            "console error: {line}"
        );
    }
}

/// The page drew one arrow per message (datagram or stream write) the data holds in the
/// window it shows; the window's arrows, as the data has them.
fn assert_arrows_match(dom: &str, data: &serde_json::Value) -> Vec<serde_json::Value> {
    let (v0, v1) = (
        num(dom, "data-view-start-us") as i64,
        num(dom, "data-view-end-us") as i64,
    );
    let in_view: Vec<serde_json::Value> = data["arrows"]
        .as_array()
        .expect("arrows")
        .iter()
        .filter(|a| {
            let (sent, recv) = (a[0].as_i64().expect("t"), a[1].as_i64().expect("t"));
            let last = if recv < 0 { sent } else { recv };
            last >= v0 && sent <= v1
        })
        .cloned()
        .collect();
    let n = in_view.len() as u64;
    assert!(n > 0, "the first window shows messages");
    assert_eq!(num(dom, "data-arrows-in-view"), n);
    assert_eq!(num(dom, "data-arrows-shown"), n, "all drawn");
    assert_eq!(
        dom.matches("<line class=\"arrow").count() as u64,
        n,
        "one arrow per message in the window"
    );
    in_view
}

/// Run `faultline run ARGS --report` into `dir`, expecting exit `code`: the page and stdout.
fn report_of(dir: &TempDir, args: &[&str], code: i32) -> (PathBuf, String, String) {
    let page = dir.0.join("report.html");
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--report", page.to_str().expect("path")]);
    let (got, out, err) = faultline(&all);
    assert_eq!(got, code, "{out}{err}");
    let html = std::fs::read_to_string(&page).expect("report");
    assert_self_contained(&html);
    (page, html, out)
}

/// Chromium, or None when the browser half may be skipped (it may not under CI).
fn browser_or_skip() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        let required = std::env::var("FAULTLINE_BROWSER_TEST").is_ok_and(|v| v == "required");
        assert!(
            !required,
            "FAULTLINE_BROWSER_TEST=required but no chromium on PATH"
        );
        eprintln!("note: no chromium on PATH; the browser half of this test is skipped");
    }
    found
}

/// The role labels on the lanes (`L7`, `C7`, `F7`), in time order.
fn role_tags(data: &serde_json::Value) -> Vec<String> {
    data["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter(|p| p[2] == "role")
        .filter_map(|p| p.get(5).and_then(|t| t.as_str()).map(str::to_string))
        .collect()
}

/// Arrow flags in the page's data (scenarios/src/cmd/report/run.rs).
const STREAM: u64 = 16;

#[test]
fn reports_render_in_a_browser_with_exact_counts() {
    let dir = TempDir::new("reports");
    let run_page = dir.0.join("run.html");
    let sweep_page = dir.0.join("sweep.html");
    // No randomness in the election timeouts: every follower times out together, votes
    // split forever, and the run fails its liveness check.
    let (code, out, err) = faultline(&[
        "run",
        "raft-election-downtime",
        "--seed",
        "3",
        "--set",
        "election=150..150",
        "--set",
        "give_up_ms=3000",
        "--report",
        run_page.to_str().expect("path"),
    ]);
    assert_eq!(code, 3, "a liveness finding: {out}{err}");
    let (code, out, err) = faultline(&[
        "sweep",
        "raft-election-downtime",
        "--seeds",
        "0..60",
        "--set",
        "election=150..200",
        "--metrics",
        "--json",
        "--report",
        sweep_page.to_str().expect("path"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let metrics: serde_json::Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["record"] == "metrics")
        .expect("a metrics record");
    let d = &metrics["metrics"]["downtime_ms"];
    assert_eq!(d["n"], 60);
    let (min, p50, max) = (
        d["min"].as_f64().expect("min"),
        d["p50"].as_f64().expect("p50"),
        d["max"].as_f64().expect("max"),
    );
    // The crash lands within a heartbeat (75 ms) of the last one; a follower waits at
    // least 150 ms from it, so downtime is at least 75 ms.
    assert!(75.0 <= min && min <= p50 && p50 <= max, "{d}");

    let run_html = std::fs::read_to_string(&run_page).expect("run report");
    let sweep_html = std::fs::read_to_string(&sweep_page).expect("sweep report");
    assert_self_contained(&run_html);
    assert_self_contained(&sweep_html);
    let data = trace_data(&run_html);
    assert_eq!(data["meta"]["nodes"], 5);
    // Split votes forever: every server stands in every term (and none follows).
    let tags = role_tags(&data);
    for term in 1..=5 {
        let stood = tags.iter().filter(|t| **t == format!("C{term}")).count();
        assert_eq!(stood, 5, "all five candidates in term {term}: {tags:?}");
    }

    let Some(browser) = browser_or_skip() else {
        return;
    };
    let profile = dir.0.join("profile");

    let (dom, log) = render(&browser, &run_page, &profile);
    assert_no_console_errors(&dom, &log);
    assert_eq!(num(&dom, "data-lanes"), 5);
    assert_eq!(
        dom.matches("<g class=\"lane\"").count(),
        5,
        "one lane per node"
    );
    assert_arrows_match(&dom, &data);
    assert_eq!(body_attr(&dom, "data-violation").as_deref(), Some("1"));
    assert_eq!(
        body_attr(&dom, "data-violation-marked").as_deref(),
        Some("1")
    );
    assert!(
        dom.contains("id=\"violation-mark\""),
        "the violation is drawn"
    );
    assert!(num(&dom, "data-lead-shown") > 0, "what led to it is marked");
    assert!(
        dom.contains("<text class=\"tag\""),
        "roles labelled on the lanes"
    );

    let (dom, log) = render(&browser, &sweep_page, &profile);
    assert_eq!(body_attr(&dom, "data-report").as_deref(), Some("sweep"));
    assert_no_console_errors(&dom, &log);
    let plots = num(&dom, "data-plots");
    assert!(plots >= 2, "plots for the metrics");
    assert_eq!(dom.matches("<svg class=\"plot ").count() as u64, plots);
    assert!(dom.contains("class=\"plot hist\" data-metric=\"downtime_ms\""));
    assert!(dom.contains("class=\"plot cdf\" data-metric=\"downtime_ms\""));
    assert!(dom.contains("class=\"curve\"") && dom.contains("class=\"bar\""));
}

/// A 20 s swarm run of the key-value store, the longest kind of run, stays a small page.
#[test]
fn a_twenty_second_swarm_report_stays_small() {
    let dir = TempDir::new("swarm-report");
    let (_, html, _) = report_of(&dir, &["raft-kv-swarm", "--seed", "1"], 0);
    assert!(html.len() < 10 << 20, "{} bytes", html.len());
    let data = trace_data(&html);
    let arrows = data["arrows"].as_array().expect("arrows").len();
    assert!(arrows > 1000, "the run's messages are drawn: {arrows}");
    assert!(html.contains("id=\"links\"") && html.contains("id=\"per-op\""));
}

/// A linearizability failure's page: the failing key's operations as a timeline (whole and
/// close-up), the longest linearizable prefix numbered, the operation that cannot be placed
/// marked there and on the space-time diagram, which opens on it.
#[test]
fn a_linearizability_failure_shows_its_timeline_in_a_browser() {
    let dir = TempDir::new("lin-report");
    let args = ["raft-kv-swarm", "--seed", "9", "--bug", "raft-apply-twice"];
    // Exit 1: a safety finding.
    let (page, html, out) = report_of(&dir, &args, 1);
    assert!(out.contains("`linearizable`"), "{out}");
    assert!(!html.contains("Operation {"), "no Debug dump of operations");
    let data = trace_data(&html);
    let stuck = data["meta"]["stuck_us"]
        .as_array()
        .expect("the stuck op's span");
    let (inv, ret) = (stuck[0].as_u64().expect("t"), stuck[1].as_u64().expect("t"));
    assert!(inv <= ret);
    let tags = role_tags(&data);
    for role in ['L', 'C', 'F'] {
        assert!(
            tags.iter().any(|t| t.starts_with(role)),
            "{role} on the lanes: {tags:?}"
        );
    }

    let Some(browser) = browser_or_skip() else {
        return;
    };
    let (dom, log) = render(&browser, &page, &dir.0.join("profile"));
    assert_no_console_errors(&dom, &log);
    for id in ["lin", "lin-close"] {
        let at = dom
            .find(&format!("<svg id=\"{id}\""))
            .unwrap_or_else(|| panic!("timeline {id}"));
        let svg = &dom[at..at + dom[at..].find("</svg>").expect("svg end")];
        let ops = svg.matches("<g class=\"op ").count();
        let said: usize = svg
            .split("data-lin-ops=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|n| n.parse().ok())
            .expect("data-lin-ops");
        assert_eq!(ops, said, "{id}: one bar per operation");
        assert!(
            svg.matches("<g class=\"op placed\"").count() > 0,
            "{id}: the prefix"
        );
        assert_eq!(svg.matches("<g class=\"op stuck\"").count(), 1, "{id}");
        assert!(svg.contains(">cannot be placed</text>"), "{id}: marked");
    }
    assert!(
        dom.contains("<td>cannot be placed</td>"),
        "the table names it"
    );
    // The diagram opens on the stuck operation, with its messages.
    assert_eq!(body_attr(&dom, "data-stuck-marked").as_deref(), Some("1"));
    assert!(dom.contains("id=\"stuck-mark\""));
    let (v0, v1) = (
        num(&dom, "data-view-start-us"),
        num(&dom, "data-view-end-us"),
    );
    assert!(
        v0 <= inv && ret <= v1,
        "window {v0}..{v1} holds {inv}..{ret}"
    );
    assert_arrows_match(&dom, &data);
    assert!(num(&dom, "data-lead-shown") > 0, "what led to it is marked");
}

/// Stream writes are messages too: a CMUD swarm's streams (reset by its faults) drawn as
/// arrows, the lost ones with why, counted like datagrams.
#[test]
fn stream_writes_are_drawn_as_messages() {
    let dir = TempDir::new("stream-report");
    let (page, html, _) = report_of(&dir, &["cmud-swarm", "--seed", "1"], 0);
    let data = trace_data(&html);
    let arrows = data["arrows"].as_array().expect("arrows");
    let stream = |a: &&serde_json::Value| a[4].as_u64().expect("flags") & STREAM != 0;
    let writes = arrows.iter().filter(stream).count();
    assert!(writes > 100, "stream writes drawn: {writes}");
    let lost: Vec<&serde_json::Value> = arrows
        .iter()
        .filter(stream)
        .filter(|a| a[1].as_i64() == Some(-1))
        .collect();
    assert!(
        lost.iter().any(|a| a[5] == "stream reset"),
        "a reset loses writes in flight: {lost:?}"
    );
    let points = data["points"].as_array().expect("points");
    let cat = |c: &str| points.iter().filter(|p| p[2] == c).count();
    assert!(cat("sync") > 0, "CMUD syncs on the lanes");
    assert!(cat("reset") > 0, "stream resets on the lanes");
    assert!(html.contains("<th>stream writes</th>"));

    let Some(browser) = browser_or_skip() else {
        return;
    };
    let (dom, log) = render(&browser, &page, &dir.0.join("profile"));
    assert_no_console_errors(&dom, &log);
    let shown = assert_arrows_match(&dom, &data);
    let streams_shown = shown.iter().filter(|a| stream(a)).count();
    assert!(streams_shown > 0);
    assert_eq!(
        dom.matches("<line class=\"arrow stream").count(),
        streams_shown,
        "each stream write in the window drawn as one"
    );
}
