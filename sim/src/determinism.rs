//! Determinism that explains itself: run a seed twice and, if the runs differ, name the
//! first event where they part (its index, virtual time, node and kind).
//!
//! The first run's trace is kept as one small record per event (a hash of the event's
//! trace line, its time, node and kind); the second run is compared with it event by
//! event as it goes. A difference in what a node sent shows as a datagram or stream event
//! whose bytes differ; a difference in timing as an event at another time or of another
//! kind. Like madsim's determinism check, this finds the first divergence, not its cause;
//! the cause is usually in the handler that ran just before it, on that node.

use crate::finding::{execute, Outcome};
use crate::harness::{RunSpec, Scenario, TraceSink};
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// One event of a run, as the determinism check names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventAt {
    pub time_ns: u64,
    /// `n3` for a node, `world` for a fault.
    pub node: String,
    /// The trace kind: `datagram`, `timer`, `stream_data`, `fault`, ...
    pub kind: String,
}

impl fmt::Display for EventAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {} at {}",
            self.kind,
            self.node,
            Time(self.time_ns)
        )
    }
}

/// Where two runs of one seed part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// Index (from 0) of the first trace event that differs, when the check watched the
    /// events (`run --check-determinism`); a sweep's check compares hashes only.
    pub index: Option<u64>,
    /// That event in the first run (`None`: the first run had ended).
    pub first: Option<EventAt>,
    /// That event in the second run (`None`: the second run had ended).
    pub second: Option<EventAt>,
    /// Whether both runs had an event there at the same time, node and kind, which then
    /// differ in their contents (bytes sent, timer numbers).
    pub same_place: bool,
    /// The two runs' trace hashes.
    pub hashes: Vec<String>,
    /// The two runs' event counts.
    pub events: Vec<u64>,
}

impl Divergence {
    /// The virtual time of the first differing event.
    pub fn time_ns(&self) -> Option<u64> {
        self.first
            .as_ref()
            .or(self.second.as_ref())
            .map(|e| e.time_ns)
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |e: &Option<EventAt>| match e {
            Some(e) => e.to_string(),
            None => "nothing (the run had ended)".to_string(),
        };
        match self.index {
            Some(i) if self.same_place => write!(
                f,
                "the same seed gave two runs that part at trace event #{i}, {}: the same \
                 event with different contents",
                show(&self.first)
            )?,
            Some(i) => write!(
                f,
                "the same seed gave two runs that part at trace event #{i}: run 1 had {}, \
                 run 2 had {}",
                show(&self.first),
                show(&self.second)
            )?,
            None => write!(f, "the same seed gave two different runs")?,
        }
        let short = |h: &String| h.chars().take(12).collect::<String>();
        write!(
            f,
            " (events {} and {}, trace hashes {} and {})",
            self.events.first().copied().unwrap_or(0),
            self.events.get(1).copied().unwrap_or(0),
            self.hashes.first().map(short).unwrap_or_default(),
            self.hashes.get(1).map(short).unwrap_or_default()
        )
    }
}

/// Run the seed twice, watching every event, and say where the runs part. A run that
/// panics, errs or is over budget the first time is returned as it is (that is a finding
/// already); a difference is [`Outcome::Diverged`].
pub fn check(scenario: &dyn Scenario, spec: &RunSpec) -> Outcome {
    let first = Arc::new(Mutex::new(Recorder::default()));
    let mut spec1 = spec.clone();
    spec1.trace_sink = Some(TraceSink(first.clone()));
    let one = execute(scenario, &spec1);
    let Outcome::Ran(report) = one else {
        return one;
    };
    let expected = Arc::new(std::mem::take(
        &mut first.lock().expect("the run is over").entries,
    ));
    let second = Arc::new(Mutex::new(Recorder {
        expected: Some(expected.clone()),
        ..Recorder::default()
    }));
    let mut spec2 = spec.clone();
    spec2.trace = None;
    spec2.trace_sink = Some(TraceSink(second.clone()));
    let two = execute(scenario, &spec2);
    let mut rec = second.lock().expect("the run is over");
    rec.finish_line();
    let (hash2, events2) = match two.report() {
        Some(r) => (r.trace_hash.clone(), r.events),
        None => ("(no report)".to_string(), 0),
    };
    let same = matches!(&two, Outcome::Ran(r) if r.trace_hash == report.trace_hash && r.events == report.events);
    if same && rec.mismatch.is_none() {
        return Outcome::Ran(report);
    }
    let ended = rec.seen;
    let (index, first_ev, second_ev) = match rec.mismatch.take() {
        Some(m) => (Some(m.index), m.first, m.second),
        // The second run stopped early: it is missing the first run's next event.
        None if ended < expected.len() as u64 => {
            (Some(ended), expected.get(ended as usize).copied(), None)
        }
        None => (None, None, None),
    };
    let same_place = matches!((&first_ev, &second_ev), (Some(a), Some(b)) if a.same_place(b));
    let divergence = Divergence {
        index,
        first: first_ev.map(Entry::event),
        second: second_ev.map(Entry::event),
        same_place,
        hashes: vec![report.trace_hash.clone(), hash2],
        events: vec![report.events, events2],
    };
    Outcome::Diverged { report, divergence }
}

/// Run the seed twice and compare trace hashes only (what a sweep's
/// `--check-determinism` does: cheap, and `run --check-determinism` then names the event).
pub fn check_hashes(scenario: &dyn Scenario, spec: &RunSpec) -> Outcome {
    let one = execute(scenario, spec);
    let Outcome::Ran(report) = one else {
        return one;
    };
    let mut spec2 = spec.clone();
    spec2.trace = None;
    let two = execute(scenario, &spec2);
    if matches!(&two, Outcome::Ran(r) if r.trace_hash == report.trace_hash && r.events == report.events)
    {
        return Outcome::Ran(report);
    }
    let (hash2, events2) = match two.report() {
        Some(r) => (r.trace_hash.clone(), r.events),
        None => (two.fingerprint(), 0),
    };
    let divergence = Divergence {
        index: None,
        first: None,
        second: None,
        same_place: false,
        hashes: vec![report.trace_hash.clone(), hash2],
        events: vec![report.events, events2],
    };
    Outcome::Diverged { report, divergence }
}

/// The trace kinds, by the names the trace log uses; an entry keeps the index.
const KINDS: [&str; 11] = [
    "start",
    "datagram",
    "timer",
    "accepted",
    "connected",
    "stream_data",
    "writable",
    "closed",
    "fault",
    "call",
    "storage",
];

/// One event of the first run: 24 bytes, so a run of millions of events fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    line_hash: u64,
    time_ns: u64,
    node: u32,
    kind: u8,
}

impl Entry {
    fn same_place(&self, other: &Entry) -> bool {
        (self.time_ns, self.node, self.kind) == (other.time_ns, other.node, other.kind)
    }

    fn event(self) -> EventAt {
        EventAt {
            time_ns: self.time_ns,
            node: if self.node == u32::MAX {
                "world".to_string()
            } else {
                format!("n{}", self.node)
            },
            kind: KINDS
                .get(self.kind as usize)
                .copied()
                .unwrap_or("unknown")
                .to_string(),
        }
    }
}

struct Mismatch {
    index: u64,
    first: Option<Entry>,
    second: Option<Entry>,
}

/// Reads a run's trace lines as they are written: records them (first run) or compares
/// them with the first run's (second run).
#[derive(Default)]
struct Recorder {
    partial: Vec<u8>,
    seen: u64,
    entries: Vec<Entry>,
    expected: Option<Arc<Vec<Entry>>>,
    mismatch: Option<Mismatch>,
}

/// The fields of a trace line the check needs.
#[derive(Deserialize)]
struct Head<'a> {
    t_ns: u64,
    node: u32,
    #[serde(borrow)]
    kind: &'a str,
}

impl Recorder {
    fn line(&mut self, line: &[u8]) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        line.hash(&mut h);
        let (time_ns, node, kind) = match serde_json::from_slice::<Head>(line) {
            Ok(head) => (
                head.t_ns,
                head.node,
                KINDS.iter().position(|k| *k == head.kind).unwrap_or(255) as u8,
            ),
            Err(_) => (0, 0, 255),
        };
        let entry = Entry {
            line_hash: h.finish(),
            time_ns,
            node,
            kind,
        };
        let index = self.seen;
        self.seen += 1;
        match &self.expected {
            None => self.entries.push(entry),
            Some(expected) => {
                let want = expected.get(index as usize).copied();
                if self.mismatch.is_none() && want != Some(entry) {
                    self.mismatch = Some(Mismatch {
                        index,
                        first: want,
                        second: Some(entry),
                    });
                }
            }
        }
    }

    fn finish_line(&mut self) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut partial = std::mem::take(&mut self.partial);
        crate::trace::feed_lines(&mut partial, buf, |line| self.line(line));
        self.partial = partial;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
