//! The kv invariants, checked on every history event (spec P0; issue "Scenarios and
//! invariants").
//!
//! The server is the serialisation point, so its `Applied` events, in order, are the
//! store's history. The checker replays them on its own sequential model (a plain map, not
//! the server's `Store`) and checks:
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
//! The final store is compared with the model at the end of the run by the scenario.

use faultline::{Addr, Checker, Failure, StreamId, Time};
use kv::{KvEvent, QueueOutcome, QUEUE_MAX_MESSAGES};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

/// The model: key -> values, with the spec's semantics written out independently.
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
    pub applied: u64,
    pub gets: u64,
    pub replies_sent_or_queued: u64,
    pub replies_dropped: u64,
    pub replies_delivered: u64,
    pub malformed: u64,
    pub joins: u64,
    pub leaves: u64,
    pub max_queue_len: usize,
}

/// The kv checker; share it with [`SharedChecker`] to read it after the run.
#[derive(Debug)]
pub struct KvChecker {
    server: Addr,
    model: Model,
    streams: BTreeMap<StreamId, StreamState>,
    open: BTreeSet<StreamId>,
    dropped: u64,
    /// Reply lines the last Get still owes: (stream, lines in order).
    owed: Option<(StreamId, VecDeque<Vec<u8>>)>,
    pub stats: CheckStats,
}

impl KvChecker {
    pub fn new(server: Addr) -> KvChecker {
        KvChecker {
            server,
            model: Model::new(),
            streams: BTreeMap::new(),
            open: BTreeSet::new(),
            dropped: 0,
            owed: None,
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

    /// End of run: the last Get answered every line it owed.
    pub fn finish(&mut self) -> Result<(), Failure> {
        match self.owed.take() {
            Some((stream, owed)) if !owed.is_empty() => Err(Failure::new(
                "get-matches-model",
                format!(
                    "the last Get on {stream:?} answered {} lines too few",
                    owed.len()
                ),
            )),
            _ => Ok(()),
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
                    return Err(Failure::new(
                        "get-matches-model",
                        format!("Get on {stream:?} answered {} lines too few", owed.len()),
                    ));
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
                    return Err(Failure::new(
                        "counts-exact",
                        format!("{stream:?} joined twice"),
                    ));
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
                    return Err(Failure::new(
                        "counts-exact",
                        format!("{stream:?} left but was not connected"),
                    ));
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
            KvEvent::Stats(stats) => self.check_counts(stats.active, stats.dropped, "stats"),
            KvEvent::Applied { stream, req } => {
                if !self.open.contains(stream) {
                    return Err(Failure::new(
                        "ops-on-open-streams",
                        format!("{req:?} applied for {stream:?}, which is not connected"),
                    ));
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
                    return Err(Failure::new(
                        "queue-bound",
                        format!(
                            "{stream:?} wrote {n} queued messages but held {}",
                            s.queue_len
                        ),
                    ));
                }
                s.queue_len -= n;
                Ok(())
            }
            KvEvent::Malformed { .. } => {
                self.stats.malformed += 1;
                Ok(())
            }
            other => Err(Failure::new(
                "event-source",
                format!("server recorded {other:?}"),
            )),
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
            return Err(Failure::new(
                "get-matches-model",
                format!(
                    "reply {:?} on {stream:?}, model expected {:?}",
                    String::from_utf8_lossy(line),
                    expected.map(|e| String::from_utf8_lossy(&e).into_owned())
                ),
            ));
        }
        let s = self.streams.entry(stream).or_default();
        match outcome {
            QueueOutcome::Sent if s.queue_len != 0 => {
                return Err(Failure::new(
                    "queue-bound",
                    format!(
                        "{stream:?}: a reply overtook {} queued messages",
                        s.queue_len
                    ),
                ))
            }
            QueueOutcome::Sent => {}
            QueueOutcome::Queued { len } => {
                s.queue_len += 1;
                if s.queue_len != len || len > QUEUE_MAX_MESSAGES {
                    return Err(Failure::new(
                        "queue-bound",
                        format!(
                            "{stream:?}: queue reported {len}, checker counts {}",
                            s.queue_len
                        ),
                    ));
                }
            }
            QueueOutcome::Dropped => {
                if s.queue_len != QUEUE_MAX_MESSAGES {
                    return Err(Failure::new(
                        "queue-bound",
                        format!("{stream:?}: dropped a reply with {} queued", s.queue_len),
                    ));
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

    fn on_client(&mut self, event: &KvEvent) -> Result<(), Failure> {
        match event {
            KvEvent::ClientConnected { .. } => Ok(()),
            KvEvent::ClientGot { stream, line } => {
                let next = self
                    .streams
                    .get_mut(stream)
                    .and_then(|s| s.in_flight.pop_front());
                if next.as_deref() != Some(line.as_slice()) {
                    return Err(Failure::new(
                        "delivery-in-order",
                        format!(
                            "client got {:?} on {stream:?}, server sent {:?} next",
                            String::from_utf8_lossy(line),
                            next.map(|n| String::from_utf8_lossy(&n).into_owned())
                        ),
                    ));
                }
                self.stats.replies_delivered += 1;
                Ok(())
            }
            KvEvent::ClientUnexpected { stream, line } => Err(Failure::new(
                "client-expected",
                format!(
                    "client on {stream:?} got unexpected {:?}",
                    String::from_utf8_lossy(line)
                ),
            )),
            KvEvent::ClientClosed { stream, .. } => {
                let s = self.streams.entry(*stream).or_default();
                s.client_closed = true;
                s.in_flight.clear();
                self.gc(*stream);
                Ok(())
            }
            other => Err(Failure::new(
                "event-source",
                format!("client recorded {other:?}"),
            )),
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

    fn check_counts(&self, active: u64, dropped: u64, at: &str) -> Result<(), Failure> {
        let (open, closed) = self.counts();
        if (active, dropped) != (open, closed) {
            return Err(Failure::new(
                "counts-exact",
                format!(
                    "after {at}: server counts active {active} dropped {dropped}, \
                     connections say {open} and {closed}"
                ),
            ));
        }
        Ok(())
    }
}

impl Checker<KvEvent> for KvChecker {
    fn on_event(&mut self, _now: Time, node: Addr, event: &KvEvent) -> Result<(), Failure> {
        if node == self.server {
            self.on_server(event)
        } else {
            self.on_client(event)
        }
    }
}

/// A checker the world owns and the scenario reads after the run.
#[derive(Clone)]
pub struct SharedChecker(pub Rc<RefCell<KvChecker>>);

impl Checker<KvEvent> for SharedChecker {
    fn on_event(&mut self, now: Time, node: Addr, event: &KvEvent) -> Result<(), Failure> {
        self.0.borrow_mut().on_event(now, node, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline::CloseReason;
    use kv::protocol::Request;

    const SERVER: Addr = Addr(0);
    const CLIENT: Addr = Addr(1);
    const S: StreamId = StreamId(1 << 32);

    fn server(c: &mut KvChecker, e: KvEvent) -> Result<(), Failure> {
        c.on_event(Time::ZERO, SERVER, &e)
    }

    fn joined(c: &mut KvChecker) {
        server(
            c,
            KvEvent::Joined {
                stream: S,
                active: 1,
                dropped: 0,
            },
        )
        .unwrap();
    }

    fn put(c: &mut KvChecker, k: &str, v: &str) {
        let req = Request::Put {
            key: k.into(),
            value: v.into(),
        };
        server(c, KvEvent::Applied { stream: S, req }).unwrap();
    }

    fn get(c: &mut KvChecker, k: &str) {
        server(
            c,
            KvEvent::Applied {
                stream: S,
                req: Request::Get { key: k.into() },
            },
        )
        .unwrap();
    }

    fn reply(line: &str, outcome: QueueOutcome) -> KvEvent {
        KvEvent::Reply {
            stream: S,
            line: line.into(),
            outcome,
        }
    }

    #[test]
    fn wrong_or_missing_get_replies_fail() {
        let mut c = KvChecker::new(SERVER);
        joined(&mut c);
        put(&mut c, "k", "a");
        put(&mut c, "k", "b");
        get(&mut c, "k");
        server(&mut c, reply("k:a\n", QueueOutcome::Sent)).unwrap();
        let err = server(&mut c, reply("k:c\n", QueueOutcome::Sent)).unwrap_err();
        assert_eq!(err.invariant, "get-matches-model");

        let mut c = KvChecker::new(SERVER);
        joined(&mut c);
        put(&mut c, "k", "a");
        get(&mut c, "k");
        let req = Request::Delete { key: b"k".to_vec() };
        let err = server(&mut c, KvEvent::Applied { stream: S, req }).unwrap_err();
        assert_eq!(
            err.invariant, "get-matches-model",
            "a Get that answers too few lines"
        );
    }

    #[test]
    fn queue_claims_are_checked_against_the_checkers_count() {
        let mut c = KvChecker::new(SERVER);
        joined(&mut c);
        put(&mut c, "k", "a");
        get(&mut c, "k");
        let err = server(&mut c, reply("k:a\n", QueueOutcome::Dropped)).unwrap_err();
        assert_eq!(err.invariant, "queue-bound", "a drop with an empty queue");

        let mut c = KvChecker::new(SERVER);
        joined(&mut c);
        put(&mut c, "k", "a");
        get(&mut c, "k");
        server(&mut c, reply("k:a\n", QueueOutcome::Queued { len: 1 })).unwrap();
        get(&mut c, "k");
        let err = server(&mut c, reply("k:a\n", QueueOutcome::Sent)).unwrap_err();
        assert_eq!(err.invariant, "queue-bound", "a reply overtaking the queue");
    }

    #[test]
    fn client_lines_must_follow_what_the_server_sent() {
        let mut c = KvChecker::new(SERVER);
        joined(&mut c);
        put(&mut c, "k", "a");
        get(&mut c, "k");
        server(&mut c, reply("k:a\n", QueueOutcome::Sent)).unwrap();
        let got = |line: &str| KvEvent::ClientGot {
            stream: S,
            line: line.into(),
        };
        c.on_event(Time::ZERO, CLIENT, &got("k:a")).unwrap();
        let err = c.on_event(Time::ZERO, CLIENT, &got("k:a")).unwrap_err();
        assert_eq!(err.invariant, "delivery-in-order", "a duplicate delivery");
    }

    #[test]
    fn counts_must_match_connections() {
        let mut c = KvChecker::new(SERVER);
        joined(&mut c);
        let left = KvEvent::Left {
            stream: S,
            reason: CloseReason::Reset,
            active: 0,
            dropped: 0,
        };
        assert_eq!(server(&mut c, left).unwrap_err().invariant, "counts-exact");
        let mut c = KvChecker::new(SERVER);
        joined(&mut c);
        let left = KvEvent::Left {
            stream: S,
            reason: CloseReason::Reset,
            active: 0,
            dropped: 1,
        };
        server(&mut c, left.clone()).unwrap();
        assert_eq!(server(&mut c, left).unwrap_err().invariant, "counts-exact");
    }
}
