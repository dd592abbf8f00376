//! [`KvChecker`]: the safety invariants, checked on every history event.
//!
//! - `get-matches-model`: the reply lines of every Get are exactly the model's list for the
//!   key at that point, in order (each one either sent, queued or dropped);
//! - `counts-exact`: `CountActive` / `CountDropped` after every connect and disconnect (and
//!   in every `Stats` event) equal the checker's own count of open and closed connections;
//! - `queue-bound`: the checker tracks each client's queue length from the `Reply` and
//!   `Written` events; it never exceeds 500, a message is dropped only when it is 500, and
//!   a message skips the queue only when it is empty;
//! - `delivery-in-order`: every line a client receives is the next line the server sent or
//!   queued for that stream (so nothing is reordered, duplicated or invented, and dropped
//!   messages never arrive);
//! - `client-expected`: no client received a line its own model did not expect;
//! - `ops-on-open-streams`: requests are applied only for connected clients.
//!
//! It also answers the scenario's count probes (`counts-true-after-wait`): the server's
//! `Stats` events in a scenario world are the probes' readings, in the order they were
//! asked for.

use super::{
    CLIENT_EXPECTED, COUNTS_EXACT, COUNTS_TRUE_AFTER_WAIT, DELIVERY_IN_ORDER, EVENT_SOURCE,
    GET_MATCHES_MODEL, OPS_ON_OPEN_STREAMS, QUEUE_BOUND,
};
use crate::kv::nodes::{ClientEvent, KvWorldEvent};
use faultline::{Addr, Checker, Failure, StreamId, Time};
use kv::{KvEvent, QueueOutcome, QUEUE_MAX_MESSAGES};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The model: key -> values, with SPEC.md §2's semantics written out independently.
pub type Model = BTreeMap<Vec<u8>, Vec<Vec<u8>>>;

/// What the checker knows about one server-side stream.
#[derive(Default, Debug)]
struct StreamState {
    /// Messages in the server's queue, by the checker's own count.
    queue_len: usize,
    /// Lines sent or queued and not yet received by the client.
    in_flight: VecDeque<Vec<u8>>,
    /// The client side saw this stream close; lines for it are no longer expected.
    client_closed: bool,
    server_closed: bool,
}

/// Figures the checker gathered.
#[derive(Default, Debug, Clone)]
pub struct CheckStats {
    /// Requests applied, and of them Gets.
    pub applied: u64,
    pub gets: u64,
    /// Reply messages that went out or into a queue, that a full queue dropped, and that
    /// reached their client.
    pub replies_sent_or_queued: u64,
    pub replies_dropped: u64,
    pub replies_delivered: u64,
    /// Lines the server ignored (SPEC.md §5).
    pub malformed: u64,
    /// Connections accepted and ended.
    pub joins: u64,
    pub leaves: u64,
    /// The longest any queue was, by the checker's count.
    pub max_queue_len: usize,
}

/// The kv checker. The world owns it; a scenario reads it after the run with
/// `world.checker::<KvChecker>()`.
#[derive(Debug)]
pub struct KvChecker {
    server: Addr,
    model: Model,
    streams: BTreeMap<StreamId, StreamState>,
    open: BTreeSet<StreamId>,
    dropped: u64,
    /// Reply lines the last Get still owes: (stream, lines in order).
    owed: Option<(StreamId, VecDeque<Vec<u8>>)>,
    /// Count probes not answered yet, in the order of their times.
    probes: VecDeque<Probe>,
    /// Figures for the report.
    pub stats: CheckStats,
}

/// A count check the scenario asked for (SPEC.md §10: the tests read the counts between
/// rounds): what the counts must be when the server next records them.
#[derive(Clone, Debug)]
struct Probe {
    label: String,
    expected: (u64, u64),
}

impl KvChecker {
    /// A checker for a world whose server is `server`.
    pub fn new(server: Addr) -> KvChecker {
        KvChecker {
            server,
            model: Model::new(),
            streams: BTreeMap::new(),
            open: BTreeSet::new(),
            dropped: 0,
            owed: None,
            probes: VecDeque::new(),
            stats: CheckStats::default(),
        }
    }

    /// The sequential model of every applied operation so far.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Reply lines sent or queued on `stream` and not received by its client (yet).
    pub fn undelivered(&self, stream: StreamId) -> usize {
        self.streams.get(&stream).map_or(0, |s| s.in_flight.len())
    }

    /// The next `Stats` event of the server must show `expected` (active, dropped). Call
    /// it in the order of the probes' times.
    pub fn expect_counts(&mut self, label: String, expected: (u64, u64)) {
        self.probes.push_back(Probe { label, expected });
    }

    /// End of run: the last Get answered every line it owed, and every probe was answered.
    pub fn finish(&mut self) -> Result<(), Failure> {
        if let Some((stream, owed)) = self.owed.take().filter(|(_, owed)| !owed.is_empty()) {
            return Err(GET_MATCHES_MODEL.fail(format!(
                "the last Get on {stream:?} answered {} lines too few",
                owed.len()
            )));
        }
        match self.probes.front() {
            Some(p) => Err(COUNTS_TRUE_AFTER_WAIT
                .fail(format!("{}: the server was not up to be asked", p.label))),
            None => Ok(()),
        }
    }

    /// Connections open and closed, by the checker's count.
    pub fn counts(&self) -> (u64, u64) {
        (self.open.len() as u64, self.dropped)
    }

    fn apply_model(&mut self, req: &kv::protocol::Request) -> Option<VecDeque<Vec<u8>>> {
        use kv::protocol::Request::*;
        match req {
            Put { key, value } => self
                .model
                .entry(key.clone())
                .or_default()
                .push(value.clone()),
            Delete { key } => {
                self.model.remove(key);
            }
            Update { key, old, new } => {
                let list = self.model.entry(key.clone()).or_default();
                if let Some(i) = list.iter().position(|v| v == old) {
                    list.remove(i);
                }
                list.push(new.clone());
            }
            Get { key } => {
                let list = self.model.get(key).cloned().unwrap_or_default();
                return Some(
                    list.iter()
                        .map(|v| kv::protocol::encode_reply(key, v))
                        .collect(),
                );
            }
        }
        None
    }

    fn on_server(&mut self, event: &KvEvent) -> Result<(), Failure> {
        if !matches!(event, KvEvent::Reply { .. }) {
            if let Some((stream, owed)) = self.owed.take() {
                if !owed.is_empty() {
                    return Err(GET_MATCHES_MODEL.fail(format!(
                        "Get on {stream:?} answered {} lines too few",
                        owed.len()
                    )));
                }
            }
        }
        match event {
            KvEvent::Joined {
                stream,
                active,
                dropped,
            } => {
                if !self.open.insert(*stream) {
                    return Err(COUNTS_EXACT.fail(format!("{stream:?} joined twice")));
                }
                self.stats.joins += 1;
                self.streams.entry(*stream).or_default();
                self.check_counts(*active, *dropped, "join")
            }
            KvEvent::Left {
                stream,
                active,
                dropped,
                ..
            } => {
                if !self.open.remove(stream) {
                    return Err(COUNTS_EXACT.fail(format!("{stream:?} left but was not connected")));
                }
                self.dropped += 1;
                self.stats.leaves += 1;
                if let Some(s) = self.streams.get_mut(stream) {
                    s.server_closed = true;
                    s.queue_len = 0;
                }
                self.gc(*stream);
                self.check_counts(*active, *dropped, "leave")
            }
            KvEvent::Stats(stats) => {
                self.check_counts(stats.active, stats.dropped, "stats")?;
                self.answer_probe((stats.active, stats.dropped))
            }
            KvEvent::Applied { stream, req } => {
                if !self.open.contains(stream) {
                    return Err(OPS_ON_OPEN_STREAMS.fail(format!(
                        "{req:?} applied for {stream:?}, which is not connected"
                    )));
                }
                self.stats.applied += 1;
                if let Some(owed) = self.apply_model(req) {
                    self.stats.gets += 1;
                    self.owed = Some((*stream, owed));
                }
                Ok(())
            }
            KvEvent::Reply {
                stream,
                line,
                outcome,
            } => self.on_reply(*stream, line, *outcome),
            KvEvent::Written { stream, messages } => {
                let s = self.streams.entry(*stream).or_default();
                let n = *messages as usize;
                if n > s.queue_len {
                    return Err(QUEUE_BOUND.fail(format!(
                        "{stream:?} wrote {n} queued messages but held {}",
                        s.queue_len
                    )));
                }
                s.queue_len -= n;
                Ok(())
            }
            KvEvent::Malformed { .. } => {
                self.stats.malformed += 1;
                Ok(())
            }
        }
    }

    fn on_reply(
        &mut self,
        stream: StreamId,
        line: &[u8],
        outcome: QueueOutcome,
    ) -> Result<(), Failure> {
        let expected = match &mut self.owed {
            Some((s, owed)) if *s == stream => owed.pop_front(),
            _ => None,
        };
        if expected.as_deref() != Some(line) {
            return Err(GET_MATCHES_MODEL.fail(format!(
                "reply {:?} on {stream:?}, model expected {:?}",
                String::from_utf8_lossy(line),
                expected.map(|e| String::from_utf8_lossy(&e).into_owned())
            )));
        }
        let s = self.streams.entry(stream).or_default();
        match outcome {
            QueueOutcome::Sent if s.queue_len != 0 => {
                return Err(QUEUE_BOUND.fail(format!(
                    "{stream:?}: a reply overtook {} queued messages",
                    s.queue_len
                )))
            }
            QueueOutcome::Sent => {}
            QueueOutcome::Queued { len } => {
                s.queue_len += 1;
                if s.queue_len != len || len > QUEUE_MAX_MESSAGES {
                    return Err(QUEUE_BOUND.fail(format!(
                        "{stream:?}: queue reported {len}, checker counts {}",
                        s.queue_len
                    )));
                }
            }
            QueueOutcome::Dropped => {
                if s.queue_len != QUEUE_MAX_MESSAGES {
                    return Err(QUEUE_BOUND.fail(format!(
                        "{stream:?}: dropped a reply with {} queued",
                        s.queue_len
                    )));
                }
                self.stats.replies_dropped += 1;
                return Ok(());
            }
        }
        self.stats.max_queue_len = self.stats.max_queue_len.max(s.queue_len);
        self.stats.replies_sent_or_queued += 1;
        if !s.client_closed {
            let mut full = line.to_vec();
            full.truncate(full.len().saturating_sub(1)); // clients report lines without '\n'
            s.in_flight.push_back(full);
        }
        Ok(())
    }

    fn on_client(&mut self, event: &ClientEvent) -> Result<(), Failure> {
        match event {
            ClientEvent::Connected { .. } => Ok(()),
            ClientEvent::Got { stream, line } => {
                let next = self
                    .streams
                    .get_mut(stream)
                    .and_then(|s| s.in_flight.pop_front());
                if next.as_deref() != Some(line.as_slice()) {
                    return Err(DELIVERY_IN_ORDER.fail(format!(
                        "client got {:?} on {stream:?}, server sent {:?} next",
                        String::from_utf8_lossy(line),
                        next.map(|n| String::from_utf8_lossy(&n).into_owned())
                    )));
                }
                self.stats.replies_delivered += 1;
                Ok(())
            }
            ClientEvent::Unexpected { stream, line } => Err(CLIENT_EXPECTED.fail(format!(
                "client on {stream:?} got unexpected {:?}",
                String::from_utf8_lossy(line)
            ))),
            ClientEvent::Closed { stream, .. } => {
                let s = self.streams.entry(*stream).or_default();
                s.client_closed = true;
                s.in_flight.clear();
                self.gc(*stream);
                Ok(())
            }
        }
    }

    /// Forget a stream both ends have closed.
    fn gc(&mut self, stream: StreamId) {
        if self
            .streams
            .get(&stream)
            .is_some_and(|s| s.client_closed && s.server_closed)
        {
            self.streams.remove(&stream);
        }
    }

    fn answer_probe(&mut self, got: (u64, u64)) -> Result<(), Failure> {
        match self.probes.pop_front() {
            Some(p) if p.expected != got => Err(COUNTS_TRUE_AFTER_WAIT.fail(format!(
                "{}: server said {got:?}, expected {:?}",
                p.label, p.expected
            ))),
            _ => Ok(()),
        }
    }

    fn check_counts(&self, active: u64, dropped: u64, at: &str) -> Result<(), Failure> {
        let (open, closed) = self.counts();
        if (active, dropped) != (open, closed) {
            return Err(COUNTS_EXACT.fail(format!(
                "after {at}: server counts active {active} dropped {dropped}, \
                     connections say {open} and {closed}"
            )));
        }
        Ok(())
    }
}

impl Checker<KvWorldEvent> for KvChecker {
    fn on_event(&mut self, _now: Time, node: Addr, event: &KvWorldEvent) -> Result<(), Failure> {
        match event {
            KvWorldEvent::Server(e) if node == self.server => self.on_server(e),
            KvWorldEvent::Client(e) if node != self.server => self.on_client(e),
            other => Err(EVENT_SOURCE.fail(format!("{node} recorded {other:?}"))),
        }
    }
}
