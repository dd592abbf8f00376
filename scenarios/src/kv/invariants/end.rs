//! The checks at the end of a kv run: the final store against the models, and the liveness
//! properties once the faults have stopped (systems/kv/SPEC.md §10, §11).

use super::KvChecker;
use super::{
    Model, CLIENT_MODEL_APPLIED, COUNTS_TRUE_AFTER_WAIT, EVERY_REPLY_DELIVERED,
    FAST_CLIENTS_NOT_HELD_UP, FINAL_STORE_EQUALS_CLIENTS_MODELS, FINAL_STORE_EQUALS_MODEL,
    NEVER_READER_READS_NOTHING, SERVER_UP, SLOW_READER_GETS_ITS_QUEUE,
    SLOW_READER_MESSAGES_DROPPED, WORKLOAD_DONE_AFTER_HEAL,
};
use crate::kv::nodes::{KvNode, Reading};
use crate::kv::world::{checker, checker_mut, latencies_of, percentile};
use faultline::{Addr, Failure, World};
use std::collections::BTreeMap;

/// Which of the shared end checks a scenario wants.
#[derive(Clone, Copy, Debug, Default)]
pub struct EndChecks {
    /// Clients' own models together equal the store exactly (no client lost a stream, so
    /// every request it sent was applied: the official tests' final comparison).
    pub clients_cover_store: bool,
    /// Every client that reads normally received every reply it expected.
    pub normal_readers_complete: bool,
    /// Every running client finished its workload and got every reply that was not dropped.
    pub settled: bool,
    /// Fast clients' Get latency stays below this (ns), while slow readers exist.
    pub latency_bound_ns: Option<u64>,
}

impl EndChecks {
    /// Run the checks on the world at the end of the run.
    pub fn run(
        &self,
        world: &mut World<KvNode>,
        server: Addr,
        clients: &[Addr],
    ) -> Result<(), Failure> {
        checker_mut(world).finish()?;
        self.check(|a| world.node(a), checker(world), server, clients)
    }

    /// The checks after the checker's own `finish`, over the nodes `node` looks up (in a
    /// world, or in another simulator running the same nodes) and what `seen` saw.
    pub fn check<'a>(
        &self,
        node: impl Fn(Addr) -> Option<&'a KvNode> + Copy,
        seen: &KvChecker,
        server: Addr,
        clients: &[Addr],
    ) -> Result<(), Failure> {
        let server = node(server)
            .and_then(KvNode::as_server)
            .ok_or_else(|| SERVER_UP.fail("the server is down at the end"))?;
        // The final store equals the sequential model of the applied operations.
        let stored = as_model(server.store().backdoor());
        if &stored != seen.model() {
            return Err(FINAL_STORE_EQUALS_MODEL.fail(diff(&stored, seen.model())));
        }
        let mut union = BTreeMap::new();
        for &addr in clients {
            let Some(c) = node(addr).and_then(KvNode::as_client) else {
                continue;
            };
            union.extend(as_model(c.model().backdoor()));
            // The client's current namespace is fully applied once its stream is quiet.
            if self.settled && c.stream().is_some() {
                for (key, values) in c.model().backdoor() {
                    if server.store().get(key) != values.as_slice() {
                        return Err(CLIENT_MODEL_APPLIED.fail(format!(
                            "{addr}: key {:?} differs",
                            String::from_utf8_lossy(key)
                        )));
                    }
                }
            }
            let normal = c.config().reading == Reading::Normal;
            if (self.normal_readers_complete && normal) && c.replies_missing() > 0 {
                return Err(EVERY_REPLY_DELIVERED.fail(format!(
                    "{addr} misses {} of its replies",
                    c.replies_missing()
                )));
            }
            if self.settled && c.stream().is_some() {
                if !c.workload_done() {
                    return Err(WORKLOAD_DONE_AFTER_HEAL.fail(format!(
                        "{addr} sent {} of {} events",
                        c.stats().events_sent,
                        c.config().events
                    )));
                }
                let owed = seen.undelivered(c.stream().expect("checked"));
                if owed > 0 {
                    return Err(EVERY_REPLY_DELIVERED.fail(format!(
                        "{addr}: {owed} replies sent or queued but never received"
                    )));
                }
            }
        }
        if self.clients_cover_store && union != stored {
            return Err(FINAL_STORE_EQUALS_CLIENTS_MODELS.fail(diff(&stored, &union)));
        }
        if self.settled {
            let live = clients
                .iter()
                .filter(|&&a| client_stream_up(node, a))
                .count() as u64;
            if server.count_active() != live {
                return Err(COUNTS_TRUE_AFTER_WAIT.fail(format!(
                    "after heal: CountActive {} but {live} clients connected",
                    server.count_active()
                )));
            }
        }
        if let Some(bound) = self.latency_bound_ns {
            let worst = latencies_of(node, clients).last().copied().unwrap_or(0);
            if worst > bound {
                return Err(FAST_CLIENTS_NOT_HELD_UP.fail(format!(
                    "a fast client waited {} ms for a Get (bound {} ms)",
                    worst / 1_000_000,
                    bound / 1_000_000
                )));
            }
        }
        Ok(())
    }
}

fn client_stream_up<'a>(node: impl Fn(Addr) -> Option<&'a KvNode>, addr: Addr) -> bool {
    node(addr)
        .and_then(KvNode::as_client)
        .is_some_and(|c| c.stream().is_some())
}

/// SPEC.md §10 slow-client tests: each slow reader read at least a queue's worth of
/// replies, and once it read again it got everything that was queued for it (SPEC.md §6).
pub fn slow_readers_got_their_queues(world: &World<KvNode>, slow: &[Addr]) -> Result<(), Failure> {
    for &addr in slow {
        let Some(c) = world.node(addr).and_then(KvNode::as_client) else {
            return Err(SLOW_READER_GETS_ITS_QUEUE.fail(format!("{addr} is down")));
        };
        if c.stats().replies_received < kv::QUEUE_MAX_MESSAGES as u64 {
            return Err(SLOW_READER_GETS_ITS_QUEUE.fail(format!(
                "{addr} read only {} replies",
                c.stats().replies_received
            )));
        }
        let owed = c.stream().map_or(0, |s| checker(world).undelivered(s));
        if owed > 0 {
            return Err(SLOW_READER_GETS_ITS_QUEUE.fail(format!(
                "{addr}: {owed} queued replies never arrived after it read again"
            )));
        }
    }
    Ok(())
}

/// SPEC.md §10: a slow-reader run without a single dropped message never reached the
/// situation it is about.
pub fn messages_were_dropped(world: &World<KvNode>) -> Result<(), Failure> {
    if checker(world).stats.replies_dropped == 0 {
        return Err(SLOW_READER_MESSAGES_DROPPED
            .fail("no message was dropped: the slow readers never filled their queues"));
    }
    Ok(())
}

/// No client that never reads received a reply.
pub fn never_readers_read_nothing(world: &World<KvNode>, clients: &[Addr]) -> Result<(), Failure> {
    let read = clients
        .iter()
        .filter_map(|&a| world.node(a).and_then(KvNode::as_client))
        .filter(|c| c.config().reading == Reading::Never)
        .any(|c| c.stats().replies_received > 0);
    if read {
        return Err(NEVER_READER_READS_NOTHING.fail("a client that never reads got a reply"));
    }
    Ok(())
}

/// The fast clients' Get latencies `with` slow readers present match those of the same
/// clients run `alone`, up to the noise of the network's latency draws ([`held_up`]).
pub fn fast_clients_not_held_up(alone: &[u64], with: &[u64]) -> Result<(), Failure> {
    match held_up(alone, with) {
        Some(detail) => Err(FAST_CLIENTS_NOT_HELD_UP.fail(detail)),
        None => Ok(()),
    }
}

/// Why the latencies `with` (slow readers present) look held up next to `alone`, if they
/// do: a percentile more than 1.5 times the baseline's plus 5 ms. The links' latency is
/// 1-2 ms, so this only allows for different draws, not for waiting on another client.
pub fn held_up(alone: &[u64], with: &[u64]) -> Option<String> {
    if alone.len() != with.len() {
        return Some(format!(
            "{} Gets timed alone, {} with slow readers",
            alone.len(),
            with.len()
        ));
    }
    for (name, p) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
        let (a, w) = (percentile(alone, p), percentile(with, p));
        if w > a + a / 2 + 5_000_000 {
            return Some(format!(
                "{name} Get latency {} us with slow readers, {} us alone",
                w / 1000,
                a / 1000
            ));
        }
    }
    None
}

/// The first difference between two stores, in words.
/// A store's contents as the checker's model spells them (owned bytes, not shared ones).
fn as_model(map: &kv::store::Map) -> Model {
    map.iter()
        .map(|(k, v)| (k.to_vec(), v.iter().map(|x| x.to_vec()).collect()))
        .collect()
}

fn diff(store: &Model, model: &Model) -> String {
    let show = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .chars()
            .take(60)
            .collect::<String>()
    };
    for (k, v) in store {
        match model.get(k) {
            None => return format!("store has key {:?}, model does not", show(k)),
            Some(m) if m != v => {
                return format!(
                    "key {:?}: store has {} values, model {} (first store value {:?})",
                    show(k),
                    v.len(),
                    m.len(),
                    v.first().map(|x| show(x))
                )
            }
            _ => {}
        }
    }
    match model.keys().find(|k| !store.contains_key(*k)) {
        Some(k) => format!("model has key {:?}, store does not", show(k)),
        None => "stores are equal".into(),
    }
}
