//! The run report: one run as a space-time diagram, drawn from the world's trace.
//!
//! The run's trace lines (delivered events, plus the notes a report asks for: each datagram
//! sent with its fate, each stream write with its delivery or loss, each history event) stream into a [`Collector`] as the run goes. It
//! keeps whole-run figures (per-link counts, faults) and only the last [`MAX_ITEMS`] arrows
//! and events, so memory and the page stay bounded however long the run: a failing run
//! stops at its violation, so what is kept is what led to it. The page draws a window of
//! that (zoom and pan with the buttons); the first window ends at the violation, or at the
//! end of the run.

use super::{escape, page};
use faultline::harness::{Report, TraceSink};
use faultline::Fault;
use serde::Deserialize;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Arrows and events kept for the diagram (the last ones of the run).
pub const MAX_ITEMS: usize = 40_000;
/// Faults kept (a schedule has far fewer).
const MAX_FAULTS: usize = 20_000;
/// Sends waiting for their delivery; the oldest are forgotten beyond this.
const MAX_IN_FLIGHT: usize = 100_000;
/// Longest event text kept.
const MAX_TEXT: usize = 160;
/// Events before the violation marked as leading to it.
const LEAD: usize = 25;

/// Arrow flags.
const DROPPED: u8 = 1;
const DUPLICATED: u8 = 2;
const CORRUPTED: u8 = 4;
const LEADS: u8 = 8;
/// A stream write rather than a datagram.
const STREAM: u8 = 16;

/// Why the world says a stream write was lost (sim/src/world/streams.rs).
const LOST_WHY: [&str; 5] = [
    "stream reset",
    "the stream closed",
    "the connect was refused",
    "the reader had closed",
    "unread when the reader closed",
];

/// One message: sent at `sent` (µs) by `from` to `to`, delivered at `recv` (µs) unless
/// dropped.
#[derive(Clone, Debug)]
struct Arrow {
    sent: u64,
    recv: Option<u64>,
    from: u32,
    to: u32,
    flags: u8,
    why: &'static str,
}

/// A point on a lane: a history event, a start, a stream event.
#[derive(Clone, Debug)]
struct Point {
    at: u64,
    node: u32,
    cat: &'static str,
    text: String,
    lead: bool,
    /// A short label drawn on the lane (a Raft role and term: `L7`).
    tag: Option<String>,
}

#[derive(Clone, Debug)]
enum Item {
    Arrow(Arrow),
    Point(Point),
}

impl Item {
    fn at(&self) -> u64 {
        match self {
            Item::Arrow(a) => a.sent,
            Item::Point(p) => p.at,
        }
    }
}

/// Per-link counts over the whole run.
#[derive(Clone, Copy, Debug, Default)]
struct LinkCount {
    sent: u64,
    delivered: u64,
    dropped: u64,
    duplicated: u64,
    corrupted: u64,
    /// Stream writes, and those lost (a reset, a crash, a close before they were read).
    writes: u64,
    writes_lost: u64,
}

/// A send waiting for its delivery.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    sent: u64,
    from: u32,
    flags: u8,
}

/// Reads a run's trace lines as they are written.
#[derive(Default)]
pub struct Collector {
    partial: Vec<u8>,
    items: VecDeque<Item>,
    /// Items forgotten from the front of `items`.
    forgotten: u64,
    faults: Vec<(u64, Fault)>,
    in_flight: BTreeMap<u64, InFlight>,
    /// Stream writes waiting to be read, by write number.
    writes_in_flight: BTreeMap<u64, InFlight>,
    links: BTreeMap<(u32, u32), LinkCount>,
    sends: u64,
    writes: u64,
    events: u64,
    last_us: u64,
}

/// The parts of a trace line the report reads.
#[derive(Deserialize)]
struct Line {
    t_ns: u64,
    node: u32,
    kind: String,
    #[serde(default)]
    a: u64,
    #[serde(default)]
    b: u64,
    #[serde(default)]
    data: serde_json::Value,
    #[serde(default)]
    fate: Option<String>,
    #[serde(default)]
    more: serde_json::Value,
    #[serde(default)]
    why: Option<String>,
}

impl Collector {
    /// A collector and the sink that feeds it, for [`faultline::harness::RunSpec::trace_sink`].
    pub fn new() -> (Arc<Mutex<Collector>>, TraceSink) {
        let c = Arc::new(Mutex::new(Collector::default()));
        let sink = TraceSink(c.clone());
        (c, sink)
    }

    fn push(&mut self, item: Item) {
        if self.items.len() >= MAX_ITEMS {
            self.items.pop_front();
            self.forgotten += 1;
        }
        self.items.push_back(item);
    }

    fn line(&mut self, bytes: &[u8]) {
        let Ok(l) = serde_json::from_slice::<Line>(bytes) else {
            return;
        };
        let at = l.t_ns / 1_000;
        self.last_us = self.last_us.max(at);
        match l.kind.as_str() {
            "send" => self.send(at, &l),
            "datagram" => {
                self.events += 1;
                let (from, to, id) = (l.a as u32, l.node, l.b);
                self.links.entry((from, to)).or_default().delivered += 1;
                let Some(f) = self.in_flight.get(&id).copied() else {
                    return;
                };
                if f.flags & DUPLICATED == 0 {
                    self.in_flight.remove(&id);
                }
                self.arrow(f, to, Some(at), "");
            }
            "undelivered" => {
                let (from, to) = (l.a as u32, l.node);
                self.links.entry((from, to)).or_default().dropped += 1;
                if let Some(f) = self.in_flight.remove(&l.b) {
                    self.arrow(InFlight { from, ..f }, to, None, "to a down node");
                }
            }
            "stream_send" => self.stream_send(at, &l),
            "stream_recv" => {
                if let Some(f) = self.writes_in_flight.remove(&l.b) {
                    self.arrow(f, l.node, Some(at), "");
                }
            }
            "stream_lost" => {
                let (from, to) = (l.a as u32, l.node);
                self.links.entry((from, to)).or_default().writes_lost += 1;
                let Some(f) = self.writes_in_flight.remove(&l.b) else {
                    return;
                };
                let why = LOST_WHY
                    .iter()
                    .find(|w| Some(**w) == l.why.as_deref())
                    .copied()
                    .unwrap_or("lost");
                self.arrow(InFlight { from, ..f }, to, None, why);
            }
            "history" => {
                let text = l.data.as_str().unwrap_or_default();
                self.point(at, l.node, history_category(text), text);
            }
            "fault" => {
                self.events += 1;
                let fault = l
                    .data
                    .as_str()
                    .and_then(|text| serde_json::from_str::<Fault>(text).ok());
                if let (Some(f), true) = (fault, self.faults.len() < MAX_FAULTS) {
                    self.faults.push((at, f));
                }
            }
            "start" => {
                self.events += 1;
                let text = if l.a == 0 {
                    "start".to_string()
                } else {
                    format!("restart (life {})", l.a + 1)
                };
                self.point(at, l.node, "start", &text);
            }
            "accepted" | "connected" => {
                self.events += 1;
                let text = format!("stream {} {}", l.a, l.kind);
                self.point(at, l.node, "stream", &text);
            }
            "closed" => {
                self.events += 1;
                // `b` is the node's CloseReason.
                let why = ["by the peer", "reset", "refused"];
                let why = why.get(l.b as usize).copied().unwrap_or("");
                let text = format!("stream {} closed {why}", l.a);
                let cat = if l.b == 0 { "stream" } else { "reset" };
                self.point(at, l.node, cat, &text);
            }
            _ => self.events += 1,
        }
    }

    /// The arrow of message `f` to `to`: delivered at `recv`, or dropped (`why`).
    fn arrow(&mut self, f: InFlight, to: u32, recv: Option<u64>, why: &'static str) {
        let dropped = if recv.is_none() { DROPPED } else { 0 };
        self.push(Item::Arrow(Arrow {
            sent: f.sent,
            recv,
            from: f.from,
            to,
            flags: f.flags | dropped,
            why,
        }));
    }

    fn point(&mut self, at: u64, node: u32, cat: &'static str, full: &str) {
        let mut text: String = full.chars().take(MAX_TEXT).collect();
        if text.len() < full.len() {
            text.push('…');
        }
        let tag = if cat == "role" {
            role_tag(full, node)
        } else {
            None
        };
        self.push(Item::Point(Point {
            at,
            node,
            cat,
            text,
            lead: false,
            tag,
        }));
    }

    /// A stream write: an arrow once it is read (or lost).
    fn stream_send(&mut self, at: u64, l: &Line) {
        self.writes += 1;
        let (from, to, id) = (l.node, l.a as u32, l.b);
        self.links.entry((from, to)).or_default().writes += 1;
        if self.writes_in_flight.len() >= MAX_IN_FLIGHT {
            self.writes_in_flight.pop_first();
        }
        let flags = STREAM;
        self.writes_in_flight.insert(
            id,
            InFlight {
                sent: at,
                from,
                flags,
            },
        );
    }

    fn send(&mut self, at: u64, l: &Line) {
        self.sends += 1;
        let (from, to, id) = (l.node, l.a as u32, l.b);
        let link = self.links.entry((from, to)).or_default();
        link.sent += 1;
        let copies = l.more.get("copies").and_then(|c| c.as_u64()).unwrap_or(0);
        let damaged = ["corrupt", "truncate"]
            .iter()
            .any(|k| l.more.get(*k).and_then(|v| v.as_bool()) == Some(true));
        let mut flags = 0;
        if damaged {
            flags |= CORRUPTED;
            link.corrupted += 1;
        }
        if copies > 1 {
            flags |= DUPLICATED;
            link.duplicated += 1;
        }
        let why = match l.fate.as_deref() {
            Some("sent") => {
                if self.in_flight.len() >= MAX_IN_FLIGHT {
                    self.in_flight.pop_first();
                }
                self.in_flight.insert(
                    id,
                    InFlight {
                        sent: at,
                        from,
                        flags,
                    },
                );
                return;
            }
            Some("lost") => "lost",
            Some("cut") => "cut (partition)",
            Some("middlebox") => "dropped by the scenario's middlebox",
            _ => "to no such node",
        };
        link.dropped += 1;
        self.push(Item::Arrow(Arrow {
            sent: at,
            recv: None,
            from,
            to,
            flags: flags | DROPPED,
            why,
        }));
    }
}

impl Write for Collector {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut partial = std::mem::take(&mut self.partial);
        faultline::trace::feed_lines(&mut partial, buf, |line| self.line(line));
        self.partial = partial;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What kind of history event `text` (its Debug form) is, so the page can tell Raft role
/// and term changes, connection states and syncs from the rest at a glance.
fn history_category(text: &str) -> &'static str {
    const ROLE: [&str; 4] = [
        "Raft(BecameLeader",
        "Raft(BecameFollower",
        "Raft(Voted",
        "Raft(Started",
    ];
    const CONN: [&str; 8] = [
        "ClientConnected",
        "ConnectFailed",
        "ClientLost",
        "ClientClosed",
        "ServerAccepted",
        "ServerLost",
        "ServerConnClosed",
        "ServerClosed",
    ];
    if ROLE.iter().any(|k| text.starts_with(k)) {
        "role"
    } else if CONN.iter().any(|k| text.contains(k)) {
        "conn"
    } else if text.contains("Synced") {
        "sync"
    } else {
        "history"
    }
}

/// The lane label of a Raft role change (its Debug form): `L7` for leader of term 7, `C7`
/// for standing as candidate (a vote for itself), `F7` for following in term 7.
fn role_tag(text: &str, node: u32) -> Option<String> {
    let term = |text: &str| -> Option<u64> {
        let rest = &text[text.find("term: ")? + 6..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    };
    if text.contains("BecameLeader") {
        Some(format!("L{}", term(text)?))
    } else if text.contains("BecameFollower") {
        Some(format!("F{}", term(text)?))
    } else if text.contains(&format!(
        "Voted {{ term: {}, candidate: {node} }}",
        term(text)?
    )) {
        Some(format!("C{}", term(text)?))
    } else {
        None
    }
}

/// A band on a lane (a crash, a pause, a cut) or on the network row (`node` None).
#[derive(Clone, Debug)]
struct Band {
    from: u64,
    to: u64,
    node: Option<u32>,
    cls: &'static str,
    label: String,
}

/// The bands and point marks of a run's faults.
fn bands(faults: &[(u64, Fault)], nodes: u32, end: u64) -> (Vec<Band>, Vec<Point>) {
    let mut open: BTreeMap<(Option<u32>, &'static str, String), u64> = BTreeMap::new();
    let mut done = Vec::new();
    let mut marks = Vec::new();
    let close = |open: &mut BTreeMap<(Option<u32>, &'static str, String), u64>,
                 done: &mut Vec<Band>,
                 at: u64,
                 keep: &dyn Fn(Option<u32>, &str, &str) -> bool| {
        let ending: Vec<_> = open
            .keys()
            .filter(|(n, c, l)| keep(*n, c, l))
            .cloned()
            .collect();
        for key in ending {
            if let Some(from) = open.remove(&key) {
                done.push(Band {
                    from,
                    to: at,
                    node: key.0,
                    cls: key.1,
                    label: key.2,
                });
            }
        }
    };
    for (at, fault) in faults {
        let at = *at;
        let mut start = |node: Option<u32>, cls: &'static str, label: String| {
            open.entry((node, cls, label)).or_insert(at);
        };
        match fault {
            Fault::Crash { node } => start(Some(*node), "crash", "crashed".into()),
            Fault::Pause { node } => start(Some(*node), "pause", "paused".into()),
            Fault::Isolate { node } => start(Some(*node), "cut", "isolated".into()),
            Fault::CutOneWay { from, to } => start(Some(*from), "cut", format!("cut → {to}")),
            Fault::Partition { groups } => {
                for (g, group) in groups.iter().enumerate() {
                    for &n in group {
                        start(Some(n), "partition", format!("partition group {g}"));
                    }
                }
            }
            Fault::ClockDrift { node, ppm } => {
                start(Some(*node), "clock", format!("clock drift {ppm} ppm"))
            }
            Fault::Link { from, to, .. } => {
                let label = match (from, to) {
                    (None, None) => "link faults everywhere".to_string(),
                    (f, t) => format!("link faults {f:?} → {t:?}"),
                };
                start(None, "link", label)
            }
            Fault::ClockOffset { node, offset_ns } => marks.push(Point {
                at,
                node: *node,
                cat: "fault",
                text: format!("clock step {offset_ns} ns"),
                lead: false,
                tag: None,
            }),
            Fault::ResetStreams { node } => marks.push(Point {
                at,
                node: *node,
                cat: "fault",
                text: "streams reset".into(),
                lead: false,
                tag: None,
            }),
            _ => {}
        }
        let node_is = |want: u32| move |n: Option<u32>| n == Some(want);
        match fault {
            Fault::Restart { node } => {
                let is = node_is(*node);
                close(&mut open, &mut done, at, &|n, c, _| is(n) && c == "crash")
            }
            Fault::Resume { node } => {
                let is = node_is(*node);
                close(&mut open, &mut done, at, &|n, c, _| is(n) && c == "pause")
            }
            Fault::Rejoin { node } => {
                let is = node_is(*node);
                close(&mut open, &mut done, at, &|n, c, l| {
                    is(n) && c == "cut" && l == "isolated"
                })
            }
            Fault::Reconnect { from, to } => {
                let (is, label) = (node_is(*from), format!("cut → {to}"));
                close(&mut open, &mut done, at, &|n, c, l| {
                    is(n) && c == "cut" && l == label
                })
            }
            Fault::Unpartition { .. } => {
                close(&mut open, &mut done, at, &|_, c, _| c == "partition")
            }
            Fault::DriftStop { node, .. } => {
                let is = node_is(*node);
                close(&mut open, &mut done, at, &|n, c, _| is(n) && c == "clock")
            }
            Fault::LinkRestore { .. } => close(&mut open, &mut done, at, &|_, c, _| c == "link"),
            Fault::Repair => close(&mut open, &mut done, at, &|_, c, _| {
                c == "partition" || c == "cut"
            }),
            Fault::Heal => close(&mut open, &mut done, at, &|_, _, _| true),
            _ => {}
        }
    }
    close(&mut open, &mut done, end, &|_, _, _| true);
    done.retain(|b| b.node.is_none_or(|n| n < nodes));
    done.sort_by_key(|b| (b.from, b.node));
    (done, marks)
}

/// What the page shows of a run.
pub struct Drawn {
    pub html: String,
    /// Arrows in the data (every message kept).
    pub arrows: usize,
}

/// The page for `report`, drawn from what `collector` saw of its run.
pub fn html(report: &Report, collector: &Collector) -> Drawn {
    let nodes = report.nodes;
    let end_us = (report.sim_time_ns / 1_000).max(collector.last_us);
    let violation_us = report.violation.as_ref().map(|v| v.time_ns / 1_000);
    let evidence = report.violation.as_ref().and_then(|v| v.evidence.as_ref());
    let lin =
        evidence.filter(|e| e.get("kind").and_then(|k| k.as_str()) == Some("linearizability"));
    // A history checked at the end fails at the end; what went wrong is the operation that
    // cannot be placed, so the page looks there first and what led to it is what came before.
    let stuck_us = lin.and_then(stuck_span);
    let lead_until = stuck_us.map(|(_, ret)| ret).or(violation_us);
    let mut items: Vec<Item> = collector.items.iter().cloned().collect();
    let (bands, marks) = bands(&collector.faults, nodes, end_us);
    items.extend(marks.into_iter().map(Item::Point));
    items.sort_by_key(Item::at);
    // The events that led to the violation: the last ones at or before it.
    let mut lead_rows = Vec::new();
    if let Some(tv) = lead_until {
        for item in items.iter_mut().rev().filter(|i| i.at() <= tv).take(LEAD) {
            lead_rows.push(describe(item));
            match item {
                Item::Arrow(a) => a.flags |= LEADS,
                Item::Point(p) => p.lead = true,
            }
        }
        lead_rows.reverse();
    }
    let mut arrows = String::from("[");
    let mut points = String::from("[");
    let mut n_arrows = 0;
    for item in &items {
        match item {
            Item::Arrow(a) => {
                if n_arrows > 0 {
                    arrows.push(',');
                }
                n_arrows += 1;
                let recv = a.recv.map_or("-1".to_string(), |r| r.to_string());
                let _ = write!(
                    arrows,
                    "[{},{recv},{},{},{},{}]",
                    a.sent,
                    a.from,
                    a.to,
                    a.flags,
                    serde_json::Value::from(a.why)
                );
            }
            Item::Point(p) => {
                if points.len() > 1 {
                    points.push(',');
                }
                let _ = write!(
                    points,
                    "[{},{},{},{},{}{}]",
                    p.at,
                    p.node,
                    serde_json::Value::from(p.cat),
                    serde_json::Value::from(p.text.as_str()),
                    u8::from(p.lead),
                    p.tag.as_deref().map_or(String::new(), |t| format!(
                        ",{}",
                        serde_json::Value::from(t)
                    ))
                );
            }
        }
    }
    arrows.push(']');
    points.push(']');
    let bands_json: Vec<serde_json::Value> = bands
        .iter()
        .map(|b| serde_json::json!([b.from, b.to, b.node.map_or(-1, i64::from), b.cls, b.label]))
        .collect();
    let first_us = items.first().map_or(0, Item::at);
    let data = serde_json::json!({
        "nodes": nodes,
        "end_us": end_us,
        "first_us": first_us,
        "forgotten": collector.forgotten,
        "violation_us": violation_us,
        "stuck_us": stuck_us.map(|(inv, ret)| [inv, ret]),
        "bands": bands_json,
    });
    // Inside a script element, `</` must not appear.
    let data_text = format!(
        "{{\"meta\":{},\"arrows\":{arrows},\"points\":{points}}}",
        data
    )
    .replace("</", "<\\/");

    let mut body = String::new();
    let verdict = match &report.violation {
        None => "<span class=\"ok\">every invariant held</span>".to_string(),
        Some(v) => format!(
            "<span class=\"bad\">{} violation of <code>{}</code> at {}</span>",
            v.kind,
            escape(&v.invariant),
            faultline::Time(v.time_ns)
        ),
    };
    let _ = write!(
        body,
        "<h1>faultline run: {} seed {}</h1><p>{verdict}</p>",
        escape(&report.scenario),
        report.seed
    );
    if let Some(v) = &report.violation {
        let _ = write!(
            body,
            "<pre id=\"violation-detail\">{}</pre><p>replay: <code>{}</code></p>",
            escape(&v.detail),
            escape(&v.replay)
        );
    }
    let _ = write!(
        body,
        "<table><tr><th>nodes</th><td>{}</td></tr><tr><th>events</th><td>{}</td></tr>\
         <tr><th>virtual time</th><td>{}</td></tr><tr><th>trace hash</th><td><code>{}</code></td></tr>\
         <tr><th>faults</th><td>{}</td></tr></table>",
        nodes,
        report.events,
        faultline::Time(report.sim_time_ns),
        escape(&report.trace_hash),
        escape(&report.faults.swarm.join(", "))
    );
    body.push_str("<h2>Space-time diagram</h2>");
    if collector.forgotten > 0 {
        let _ = write!(
            body,
            "<p>The diagram holds the last {} messages and events of the run \
             (the {} before them are counted in the tables only).</p>",
            MAX_ITEMS, collector.forgotten
        );
    }
    body.push_str(
        "<div id=\"controls\"><button id=\"zin\">zoom in</button> <button id=\"zout\">zoom out</button> \
         <button id=\"left\">◀</button> <button id=\"right\">▶</button> \
         <button id=\"all\">everything kept</button> <button id=\"atv\">the violation</button> \
         <span id=\"viewinfo\"></span></div>\
         <div id=\"legend\"><span class=\"k ok\">— datagram delivered</span> <span class=\"k stw\">— stream write read</span> <span class=\"k drop\">✕ dropped</span> \
         <span class=\"k dup\">— duplicated</span> <span class=\"k bad2\">— corrupted or truncated</span> \
         <span class=\"k lead\">— leading to the violation</span> \
         <span class=\"ev\" style=\"color:#1f4fbf\">● Raft role or term (L leader, C candidate, F follower, with the term)</span> \
         <span class=\"ev\" style=\"color:#8a2be2\">● connection state</span> \
         <span class=\"ev\" style=\"color:#0b8a8a\">● sync</span> \
         <span class=\"ev\" style=\"color:#2d7a3e\">● other history event</span> \
         <span class=\"ev\" style=\"color:#888\">● stream opened or closed</span> \
         <span class=\"ev\" style=\"color:#b00020\">● stream reset or refused</span> \
         <span class=\"b crash\">crash</span> <span class=\"b pause\">pause</span> \
         <span class=\"b cut\">cut / isolated</span> <span class=\"b partition\">partition</span> \
         <span class=\"b clock\">clock drift</span> <span class=\"b link\">link faults</span></div>\
         <div id=\"diagram\"></div><div id=\"tip\"></div>",
    );
    if !lead_rows.is_empty() {
        body.push_str("<h2>Leading to the violation</h2><table id=\"lead\"><tr><th>time</th><th>what</th></tr>");
        for row in &lead_rows {
            body.push_str(row);
        }
        body.push_str("</table>");
    }
    if let Some(evidence) = lin {
        body.push_str(&linearizability(evidence));
    }
    body.push_str(&tables(report, collector));
    let attrs = format!(
        "data-report=\"run\" data-nodes=\"{nodes}\" data-violation=\"{}\"",
        u8::from(report.violation.is_some())
    );
    let script = format!(
        "</script><script type=\"application/json\" id=\"trace-data\">{data_text}</script><script>{SCRIPT}"
    );
    Drawn {
        html: page(
            &format!("faultline {} seed {}", report.scenario, report.seed),
            &attrs,
            STYLE,
            &body,
            &script,
        ),
        arrows: n_arrows,
    }
}

/// When the operation a linearizability failure cannot place ran (µs): invoke and return.
fn stuck_span(e: &serde_json::Value) -> Option<(u64, u64)> {
    let i = e.get("stuck")?.as_u64()? as usize;
    let op = e.get("ops")?.as_array()?.get(i)?;
    let inv = op.get("invoke_ns")?.as_u64()? / 1_000;
    let ret = op
        .get("return_ns")
        .and_then(|r| r.as_u64())
        .map_or(inv, |r| r / 1_000);
    Some((inv, ret))
}

/// One row of the table of events leading to the violation.
fn describe(item: &Item) -> String {
    let (at, what) = match item {
        Item::Arrow(a) => {
            let fate = match a.recv {
                Some(r) => format!("delivered at {}", faultline::Time(r * 1_000)),
                None => format!("dropped: {}", a.why),
            };
            let mut extra = String::new();
            if a.flags & DUPLICATED != 0 {
                extra.push_str(", duplicated");
            }
            if a.flags & CORRUPTED != 0 {
                extra.push_str(", corrupted");
            }
            let what = if a.flags & STREAM != 0 {
                "stream write"
            } else {
                "message"
            };
            (
                a.sent,
                format!("{what} {} → {}, {fate}{extra}", a.from, a.to),
            )
        }
        Item::Point(p) => (p.at, format!("node {}: {}", p.node, p.text)),
    };
    format!(
        "<tr><td>{}</td><td>{}</td></tr>",
        faultline::Time(at * 1_000),
        escape(&what)
    )
}

/// The summary tables: metrics, per-link network figures, messages per client operation.
fn tables(report: &Report, c: &Collector) -> String {
    let mut s = String::from(
        "<h2>Metrics</h2><table id=\"metrics\"><tr><th>metric</th><th>value</th></tr>",
    );
    for (k, v) in &report.metrics {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(k),
            escape(&v.to_string())
        );
    }
    s.push_str("</table>");
    let ops = report
        .metrics
        .get("client_ops")
        .and_then(|v| v.as_u64())
        .filter(|&n| n > 0);
    if let Some(ops) = ops {
        let _ = write!(
            s,
            "<p id=\"per-op\">Messages per client operation: {:.1} ({} datagrams sent and {} stream writes for {ops} operations)</p>",
            (c.sends + c.writes) as f64 / ops as f64,
            c.sends,
            c.writes
        );
    }
    s.push_str(
        "<h2>Network, per link</h2><table id=\"links\"><tr><th>link</th><th>sent</th><th>delivered</th>\
         <th>dropped</th><th>duplicated</th><th>corrupted</th><th>stream writes</th><th>writes lost</th></tr>",
    );
    let mut total = LinkCount::default();
    for ((from, to), l) in &c.links {
        let _ = write!(
            s,
            "<tr><td>{from} → {to}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.sent, l.delivered, l.dropped, l.duplicated, l.corrupted, l.writes, l.writes_lost
        );
        total.sent += l.sent;
        total.delivered += l.delivered;
        total.dropped += l.dropped;
        total.duplicated += l.duplicated;
        total.corrupted += l.corrupted;
        total.writes += l.writes;
        total.writes_lost += l.writes_lost;
    }
    let _ = write!(
        s,
        "<tr><th>all</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></table>",
        total.sent, total.delivered, total.dropped, total.duplicated, total.corrupted,
        total.writes, total.writes_lost
    );
    s
}

/// A linearizability failure's part as a timeline: one row per client, each operation a
/// bar from invoke to return; the longest linearizable prefix in order, and the operation
/// that cannot be placed after it. The whole part first, then a close-up of the last of
/// the prefix and the operation that cannot be placed.
fn linearizability(e: &serde_json::Value) -> String {
    let empty = Vec::new();
    let ops = e.get("ops").and_then(|o| o.as_array()).unwrap_or(&empty);
    let prefix: Vec<usize> = e
        .get("prefix")
        .and_then(|p| p.as_array())
        .map(|p| {
            p.iter()
                .filter_map(|i| i.as_u64())
                .map(|i| i as usize)
                .collect()
        })
        .unwrap_or_default();
    let stuck = e.get("stuck").and_then(|s| s.as_u64()).map(|s| s as usize);
    let get = |o: &serde_json::Value, k: &str| o.get(k).and_then(|v| v.as_u64());
    let lo = ops
        .iter()
        .filter_map(|o| get(o, "invoke_ns"))
        .min()
        .unwrap_or(0);
    let hi = ops
        .iter()
        .filter_map(|o| get(o, "return_ns").or(get(o, "invoke_ns")))
        .max()
        .unwrap_or(lo + 1)
        .max(lo + 1);
    let part = Part {
        ops,
        prefix: &prefix,
        stuck,
    };
    let mut s = format!(
        "<h2>Linearizability: key {}</h2><p>The smallest failing part: the {} operations on this key. \
         The longest linearizable prefix {} has {} operations (green, numbered in the order they \
         take effect); the red one cannot be placed after it.</p>",
        escape(&e.get("key").map(|k| k.to_string()).unwrap_or_default()),
        ops.len(),
        if e.get("complete").and_then(|c| c.as_bool()) == Some(true) {
            "there is"
        } else {
            "found"
        },
        prefix.len()
    );
    s.push_str(&part.timeline("lin", lo, hi));
    // The close-up: from the invoke of the prefix's last few operations to just after the
    // stuck one returned.
    if let Some(op) = stuck.and_then(|i| ops.get(i)) {
        let inv = get(op, "invoke_ns").unwrap_or(lo);
        let ret = get(op, "return_ns").unwrap_or(hi);
        let from = prefix
            .iter()
            .rev()
            .take(CLOSE_UP_PREFIX)
            .filter_map(|&i| ops.get(i).and_then(|o| get(o, "invoke_ns")))
            .chain([inv])
            .min()
            .unwrap_or(inv);
        let to = ret + (ret - from.min(ret)) / 10 + 1;
        let _ = write!(
            s,
            "<p>Close-up, {} – {}: the last {CLOSE_UP_PREFIX} operations of the prefix and the one that \
             cannot be placed (the others running then in grey).</p>",
            faultline::Time(from),
            faultline::Time(to)
        );
        s.push_str(&part.timeline("lin-close", from, to));
    }
    s.push_str("<table id=\"lin-table\"><tr><th>#</th><th>client</th><th>operation</th><th>invoked</th><th>returned</th></tr>");
    let row_of = |n: String, o: &serde_json::Value, cls: &str| {
        format!(
            "<tr class=\"{cls}\"><td>{n}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
            get(o, "client").unwrap_or(0),
            escape(o.get("input").and_then(|v| v.as_str()).unwrap_or("")),
            escape(o.get("output").and_then(|v| v.as_str()).unwrap_or("no answer")),
            faultline::Time(get(o, "invoke_ns").unwrap_or(0)),
            get(o, "return_ns").map_or("-".to_string(), |t| faultline::Time(t).to_string())
        )
    };
    for (n, &i) in prefix.iter().enumerate() {
        if let Some(o) = ops.get(i) {
            s.push_str(&row_of((n + 1).to_string(), o, "placed"));
        }
    }
    if let Some(o) = stuck.and_then(|i| ops.get(i)) {
        s.push_str(&row_of("cannot be placed".into(), o, "stuck"));
    }
    s.push_str("</table>");
    s
}

/// Operations of the prefix shown in the linearizability close-up.
const CLOSE_UP_PREFIX: usize = 5;

/// A failing part of a history, as its evidence gives it.
struct Part<'a> {
    ops: &'a [serde_json::Value],
    prefix: &'a [usize],
    stuck: Option<usize>,
}

impl Part<'_> {
    /// The operations running between `lo` and `hi` (ns) as an SVG timeline, one row per
    /// client: placed ones green and numbered, the stuck one red, the rest grey.
    fn timeline(&self, id: &str, lo: u64, hi: u64) -> String {
        let get = |o: &serde_json::Value, k: &str| o.get(k).and_then(|v| v.as_u64());
        let hi = hi.max(lo + 1);
        let shown: Vec<(usize, &serde_json::Value)> = self
            .ops
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                let inv = get(o, "invoke_ns").unwrap_or(0);
                get(o, "return_ns").unwrap_or(u64::MAX) >= lo && inv <= hi
            })
            .collect();
        let mut clients: Vec<u64> = shown.iter().filter_map(|(_, o)| get(o, "client")).collect();
        clients.sort();
        clients.dedup();
        let (w, row) = (1100.0, 22.0);
        let x = |t: u64| 80.0 + (t.clamp(lo, hi) - lo) as f64 / (hi - lo) as f64 * (w - 100.0);
        let mut s = format!(
            "<svg id=\"{id}\" class=\"lin\" data-lin-ops=\"{}\" width=\"{w}\" height=\"{}\">",
            shown.len(),
            clients.len() as f64 * row + 30.0
        );
        for (r, c) in clients.iter().enumerate() {
            let _ = write!(
                s,
                "<text x=\"4\" y=\"{}\">client {c}</text>",
                r as f64 * row + 15.0
            );
        }
        for (i, o) in shown {
            let r = clients
                .iter()
                .position(|&c| Some(c) == get(o, "client"))
                .unwrap_or(0);
            let y = r as f64 * row;
            let ret = get(o, "return_ns");
            let (x0, x1) = (x(get(o, "invoke_ns").unwrap_or(lo)), x(ret.unwrap_or(hi)));
            let place = self.prefix.iter().position(|&p| p == i);
            let cls = if Some(i) == self.stuck {
                "stuck"
            } else if place.is_some() {
                "placed"
            } else {
                "left"
            };
            let label = format!(
                "{} → {}",
                o.get("input").and_then(|v| v.as_str()).unwrap_or(""),
                o.get("output")
                    .and_then(|v| v.as_str())
                    .unwrap_or("no answer")
            );
            let mark = match place {
                Some(p) => format!(
                    "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                    x0 + 2.0,
                    y + 15.0,
                    p + 1
                ),
                None if cls == "stuck" => format!(
                    "<text class=\"why\" x=\"{:.1}\" y=\"{:.1}\">cannot be placed</text>",
                    x1 + 3.0,
                    y + 15.0
                ),
                None => String::new(),
            };
            let _ = write!(
                s,
                "<g class=\"op {cls}\"><rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\"{}/>\
                 <title>{}{}</title>{mark}</g>",
                y + 4.0,
                (x1 - x0).max(2.0),
                if ret.is_none() { " stroke-dasharray=\"3 2\"" } else { "" },
                escape(&label),
                place.map(|p| format!(" (#{})", p + 1)).unwrap_or_default(),
            );
        }
        s.push_str("</svg>");
        s
    }
}

const STYLE: &str = "#diagram{overflow-x:auto;border:1px solid #ddd}#tip{position:fixed;pointer-events:none;\
background:#fffbe6;border:1px solid #caa;padding:2px 6px;font-size:12px;display:none;max-width:40em}\
#legend .k,#legend .b{margin-right:1em;font-size:12px}#legend .drop{color:#b00020}#legend .dup{color:#7b3fb8}\
#legend .bad2{color:#d97a00}#legend .stw{color:#2a9d8f}#legend .ev{margin-right:1em;font-size:12px}#legend .lead{color:#e0115f;font-weight:bold}#legend .ok{color:#6b8fbf}\
.b{padding:0 4px}.b.crash{background:#f4b4b4}.b.pause{background:#f6e1a6}.b.cut{background:#c9d8f2}\
.b.partition{background:#d6c7ef}.b.clock{background:#cdebd3}.b.link{background:#eee}\
.lin .placed rect{fill:#8fd19e;stroke:#2d7a3e}.lin .stuck rect{fill:#f28b82;stroke:#b00020}\
.lin .left rect{fill:#ddd;stroke:#999}.lin text{font-size:10px}.lin .why{fill:#b00020;font-weight:bold}tr.stuck td{background:#fde0dd}#lead td:last-child{text-align:left}";

/// The page's script: draws the window of the diagram the controls choose.
const SCRIPT: &str = r#"
(function(){
var errors=0;
window.addEventListener('error',function(){errors++;document.body.dataset.errors=errors;});
document.body.dataset.errors=0;
var t0=performance.now();
var D=JSON.parse(document.getElementById('trace-data').textContent);
var M=D.meta,A=D.arrows,P=D.points,N=M.nodes;
var CAP=3000,LANE=34,TOP=36,LEFT=70,W=Math.max(1000,(document.getElementById('diagram').clientWidth||1200)-20);
var ns='http://www.w3.org/2000/svg';
var lo=M.first_us,hi=Math.max(M.end_us,lo+1);
function inView(a,v0,v1){var r=a[1]<0?a[0]:a[1];return r>=v0&&a[0]<=v1;}
function countIn(v0,v1){var n=0;for(var i=0;i<A.length;i++){if(inView(A[i],v0,v1))n++;}return n;}
// The first window: ends at the violation (or the end), reaching back until about 600 arrows.
function firstView(){
  var end=(M.violation_us!==null&&M.violation_us!==undefined)?M.violation_us:hi;
  // A linearizability failure: the operation that cannot be placed, and what came before.
  if(M.stuck_us){end=M.stuck_us[1]+Math.max(1000,(M.stuck_us[1]-M.stuck_us[0])>>1);}
  var k=0,start=end;
  for(var i=A.length-1;i>=0;i--){if(A[i][0]<=end){k++;start=A[i][0];if(k>=600)break;}}
  if(k<600){start=lo;}
  var span=Math.max(end-start,1000);
  return [Math.floor(Math.max(lo,end-span*1.02)),Math.ceil(end+span*0.05+1)];
}
var view=firstView();
function el(tag,attrs,parent){var e=document.createElementNS(ns,tag);for(var k in attrs)e.setAttribute(k,attrs[k]);if(parent)parent.appendChild(e);return e;}
function fmt(us){if(us>=1e6)return (us/1e6).toFixed(3)+' s';if(us>=1e3)return (us/1e3).toFixed(2)+' ms';return us+' µs';}
var tip=document.getElementById('tip');
function hover(e,text){e.addEventListener('mousemove',function(ev){tip.style.display='block';tip.style.left=(ev.clientX+12)+'px';tip.style.top=(ev.clientY+12)+'px';tip.textContent=text;});e.addEventListener('mouseleave',function(){tip.style.display='none';});}
function draw(){
  var v0=view[0],v1=view[1],H=TOP+N*LANE+20;
  var x=function(t){return LEFT+(t-v0)/(v1-v0)*(W-LEFT-10);};
  var y=function(n){return TOP+n*LANE+LANE/2;};
  var box=document.getElementById('diagram');box.innerHTML='';
  var svg=el('svg',{width:W,height:H,id:'spacetime'},box);
  var net=el('g',{'class':'netlane'},svg);
  el('text',{x:4,y:20},net).textContent='network';
  for(var n=0;n<N;n++){
    var g=el('g',{'class':'lane','data-node':n},svg);
    el('line',{x1:LEFT,y1:y(n),x2:W-10,y2:y(n),stroke:'#bbb'},g);
    el('text',{x:4,y:y(n)+4},g).textContent='node '+n;
  }
  var colors={crash:'#f4b4b4',pause:'#f6e1a6',cut:'#c9d8f2',partition:'#d6c7ef',clock:'#cdebd3',link:'#e4e4e4'};
  var nb=0;
  M.bands.forEach(function(b){
    if(b[1]<v0||b[0]>v1)return;nb++;
    var x0=x(Math.max(b[0],v0)),x1=x(Math.min(b[1],v1));
    var yy=b[2]<0?8:TOP+b[2]*LANE+3,hh=b[2]<0?18:LANE-6;
    var r=el('rect',{'class':'band '+b[3],x:x0,y:yy,width:Math.max(x1-x0,1),height:hh,fill:colors[b[3]]||'#eee',opacity:0.8},svg);
    hover(r,b[4]+' '+fmt(b[0])+' – '+fmt(b[1]));
  });
  var shown=0,inv=0,lead=0;
  for(var i=0;i<A.length;i++){
    var a=A[i];if(!inView(a,v0,v1))continue;inv++;
    if(shown>=CAP)continue;shown++;
    var f=a[4],dropped=a[1]<0;
    var c=(f&8)?'#e0115f':(f&4)?'#d97a00':(f&2)?'#7b3fb8':dropped?'#b00020':(f&16)?'#2a9d8f':'#6b8fbf';
    var x0=x(a[0]),y0=y(a[2]),x1,y1;
    if(dropped){x1=x0+Math.max(8,(y(a[3])-y0)===0?8:10);y1=y0+(y(a[3])-y0)*0.35;}else{x1=x(a[1]);y1=y(a[3]);}
    var cls='arrow'+((f&16)?' stream':'')+(dropped?' dropped':'')+((f&2)?' duplicated':'')+((f&4)?' corrupted':'')+((f&8)?' lead':'');
    var l=el('line',{'class':cls,x1:x0,y1:y0,x2:x1,y2:y1,stroke:c,'stroke-width':(f&8)?2:1},svg);
    if(f&8)lead++;
    if(dropped){el('text',{x:x1-3,y:y1+4,fill:'#b00020','class':'x'},svg).textContent='✕';}
    hover(l,(dropped?'dropped ('+a[5]+'): ':'')+((f&16)?'stream write, ':'')+'node '+a[2]+' → '+a[3]+', sent '+fmt(a[0])+(dropped?'':', delivered '+fmt(a[1]))+((f&2)?', duplicated':'')+((f&4)?', corrupted':''));
  }
  var np=0;
  var pc={history:'#2d7a3e',start:'#000',stream:'#888',reset:'#b00020',fault:'#b36b00',role:'#1f4fbf',conn:'#8a2be2',sync:'#0b8a8a'};
  for(var j=0;j<P.length;j++){
    var p=P[j];if(p[0]<v0||p[0]>v1)continue;
    np++;if(np>CAP)continue;
    var ci=el('circle',{'class':'event '+p[2]+(p[4]?' lead':''),cx:x(p[0]),cy:y(p[1]),r:p[4]?4:3,fill:p[4]?'#e0115f':(pc[p[2]]||'#555')},svg);
    hover(ci,fmt(p[0])+' node '+p[1]+': '+p[3]);
    // A role or term change also says it on the lane: L7 leader of term 7, C candidate, F follower.
    if(p[5]){var tg=el('text',{'class':'tag','x':x(p[0])+3,'y':y(p[1])-6,fill:pc[p[2]]||'#555'},svg);tg.textContent=p[5];}
  }
  if(M.violation_us!==null&&M.violation_us!==undefined&&M.violation_us>=v0&&M.violation_us<=v1){
    var vx=x(M.violation_us);
    el('line',{id:'violation-mark',x1:vx,y1:4,x2:vx,y2:H-4,stroke:'#e0115f','stroke-width':3},svg);
    el('text',{x:vx+4,y:H-6,fill:'#e0115f'},svg).textContent='violation';
    document.body.dataset.violationMarked=1;
  } else {document.body.dataset.violationMarked=0;}
  document.body.dataset.stuckMarked=0;
  if(M.stuck_us&&M.stuck_us[1]>=v0&&M.stuck_us[0]<=v1){
    var s0=x(Math.max(M.stuck_us[0],v0)),s1=x(Math.min(M.stuck_us[1],v1));
    var sr=el('rect',{id:'stuck-mark',x:s0,y:4,width:Math.max(s1-s0,3),height:H-8,fill:'#f28b82',opacity:0.35,stroke:'#b00020'},svg);
    hover(sr,'the operation that cannot be placed: invoked '+fmt(M.stuck_us[0])+', returned '+fmt(M.stuck_us[1]));
    el('text',{x:(s1+110<W)?s1+4:s0-104,y:H-18,fill:'#b00020'},svg).textContent='cannot be placed';
    document.body.dataset.stuckMarked=1;
  }
  for(var k=0;k<=4;k++){var t=v0+(v1-v0)*k/4;el('text',{x:x(t)-20,y:TOP-4,fill:'#555'},svg).textContent=fmt(Math.round(t));}
  var b=document.body.dataset;
  b.lanes=document.querySelectorAll('#spacetime g.lane').length;
  b.viewStartUs=v0;b.viewEndUs=v1;
  b.arrowsShown=shown;b.arrowsInView=inv;b.leadShown=lead;b.bandsShown=nb;
  document.getElementById('viewinfo').textContent=fmt(Math.round(v0))+' – '+fmt(Math.round(v1))+': '+inv+' messages'+(inv>shown?' ('+shown+' drawn; zoom in for the rest)':'');
}
// Views are whole microseconds, so the page's counts can be checked exactly.
function zoom(f){var m=(view[0]+view[1])/2,h=(view[1]-view[0])*f/2;view=[Math.floor(Math.max(lo,m-h)),Math.ceil(Math.min(hi+1,m+h))];if(view[1]-view[0]<10)view[1]=view[0]+10;draw();}
function pan(f){var w=view[1]-view[0];view=[Math.round(view[0]+w*f),Math.round(view[1]+w*f)];draw();}
document.getElementById('zin').onclick=function(){zoom(0.5);};
document.getElementById('zout').onclick=function(){zoom(2);};
document.getElementById('left').onclick=function(){pan(-0.5);};
document.getElementById('right').onclick=function(){pan(0.5);};
document.getElementById('all').onclick=function(){view=[lo,hi+1];draw();};
document.getElementById('atv').onclick=function(){view=firstView();draw();};
draw();
// How long parsing the data and the first draw took (ms), for measuring big runs.
document.body.dataset.firstDrawMs=Math.round(performance.now()-t0);
document.body.dataset.ready=1;
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linearizability_failure_shows_its_prefix_and_the_operation_left_over() {
        let op = |client: u64, input: &str, invoke: u64, ret: u64, out: &str| {
            serde_json::json!({"client": client, "input": input, "invoke_ns": invoke,
                "return_ns": ret, "output": out})
        };
        let evidence = serde_json::json!({
            "kind": "linearizability", "key": "k", "complete": true,
            "ops": [op(1, "Put a", 0, 10, "Done"), op(2, "Put b", 20, 30, "Done"),
                    op(3, "Get", 40, 50, "Value(a)")],
            "prefix": [0, 1], "stuck": 2,
        });
        let html = linearizability(&evidence);
        let (whole, close_up) = html.split_at(html.find("id=\"lin-close\"").expect("close-up"));
        assert!(
            whole.contains("id=\"lin\" class=\"lin\" data-lin-ops=\"3\""),
            "{html}"
        );
        assert_eq!(whole.matches("<g class=\"op placed\"").count(), 2);
        assert_eq!(whole.matches("<g class=\"op stuck\"").count(), 1);
        assert!(whole.contains("class=\"why\""), "the stuck one is labelled");
        // The close-up runs from the prefix's last operations to the stuck one: all three.
        assert!(close_up.starts_with("id=\"lin-close\" class=\"lin\" data-lin-ops=\"3\""));
        assert!(html.contains("<td>cannot be placed</td><td>3</td><td>Get → Value(a)</td>"));
    }

    #[test]
    fn stream_writes_become_arrows_read_or_lost() {
        let mut c = Collector::default();
        let lines = [
            r#"{"t_ns":1000,"node":0,"kind":"stream_send","a":1,"b":1,"stream":7,"len":3}"#,
            r#"{"t_ns":2000,"node":0,"kind":"stream_send","a":1,"b":2,"stream":7,"len":3}"#,
            r#"{"t_ns":5000,"node":1,"kind":"stream_recv","a":0,"b":1}"#,
            r#"{"t_ns":6000,"node":1,"kind":"stream_lost","a":0,"b":2,"why":"stream reset"}"#,
        ];
        for l in lines {
            c.line(l.as_bytes());
        }
        let arrows: Vec<&Arrow> = c
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Arrow(a) => Some(a),
                Item::Point(_) => None,
            })
            .collect();
        assert_eq!(arrows.len(), 2);
        let (read, lost) = (arrows[0], arrows[1]);
        assert_eq!(
            (read.sent, read.recv, read.from, read.to),
            (1, Some(5), 0, 1)
        );
        assert_eq!((read.flags, read.why), (STREAM, ""));
        assert_eq!(
            (lost.sent, lost.recv, lost.flags),
            (2, None, STREAM | DROPPED)
        );
        assert_eq!(lost.why, "stream reset");
        let link = c.links[&(0, 1)];
        assert_eq!((link.writes, link.writes_lost, link.sent), (2, 1, 0));
    }

    #[test]
    fn raft_role_changes_are_labelled_on_their_lane() {
        let voted = "Raft(Voted { term: 4, candidate: 2 })";
        assert_eq!(history_category(voted), "role");
        assert_eq!(role_tag(voted, 2).as_deref(), Some("C4"), "stood itself");
        assert_eq!(role_tag(voted, 1), None, "a vote for another");
        let led = "Raft(BecameLeader { term: 12, log_terms: [1], snapshot_index: 0 })";
        assert_eq!(role_tag(led, 0).as_deref(), Some("L12"));
        assert_eq!(
            role_tag("Raft(BecameFollower { term: 5 })", 3).as_deref(),
            Some("F5")
        );
        assert_eq!(
            history_category("ClientLost { client: Addr(3), silent_ns: 9 }"),
            "conn"
        );
        assert_eq!(history_category("Server(Synced(Synced { from: \"a\", hello: false, full: true, entries: 3, won: 1 }))"), "sync");
        assert_eq!(
            history_category("Client(Invoke { client: 5, seq: 1 })"),
            "history"
        );
    }

    #[test]
    fn bands_open_and_close_with_their_faults() {
        let faults = vec![
            (10, Fault::Crash { node: 1 }),
            (
                20,
                Fault::Partition {
                    groups: vec![vec![0], vec![1, 2]],
                },
            ),
            (30, Fault::Restart { node: 1 }),
            (40, Fault::Heal),
            (50, Fault::Pause { node: 2 }),
        ];
        let (bands, _) = bands(&faults, 3, 100);
        let got: Vec<(u64, u64, Option<u32>, &str)> = bands
            .iter()
            .map(|b| (b.from, b.to, b.node, b.cls))
            .collect();
        assert_eq!(
            got,
            vec![
                (10, 30, Some(1), "crash"),
                (20, 40, Some(0), "partition"),
                (20, 40, Some(1), "partition"),
                (20, 40, Some(2), "partition"),
                (50, 100, Some(2), "pause"),
            ]
        );
    }
}
