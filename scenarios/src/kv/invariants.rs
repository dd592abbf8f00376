//! Every kv invariant by name, each a safety or a liveness property (systems/kv/SPEC.md
//! §11), with the checker that sees them as events happen ([`checker`]) and the checks at
//! the end of a run ([`end`]).
//!
//! The server is the serialisation point, so its `Applied` events, in order, are the
//! store's history. [`KvChecker`] replays them on its own sequential model (a plain map, not
//! the server's `Store`) and checks every reply, count, queue length and delivery against
//! it. At the end the store is compared with that model and with the clients' own models,
//! and the liveness properties are checked: once the faults stop, the good things happen.

pub mod checker;
pub mod end;
#[cfg(test)]
mod tests;

pub use checker::{CheckStats, KvChecker, Model};
pub use end::EndChecks;

use faultline::Invariant;

/// The replies of every Get are exactly the model's list for the key at that point, in
/// order (each one sent, queued or dropped).
pub const GET_MATCHES_MODEL: Invariant = Invariant::safety(
    "get-matches-model",
    "every Get answers exactly the model's values for its key, in order (SPEC.md §2, §4)",
);
/// The counts the server reports with every connect, leave and `Stats` event equal the
/// checker's own count of open and closed connections.
pub const COUNTS_EXACT: Invariant = Invariant::safety(
    "counts-exact",
    "the server's active and dropped counts equal the connections opened and closed (SPEC.md §7)",
);
/// The checker's own count of each client's queue, from the `Reply` and `Written` events.
pub const QUEUE_BOUND: Invariant = Invariant::safety(
    "queue-bound",
    "no queue holds over 500 messages, only a full queue drops, only an empty one lets a reply skip it (SPEC.md §6)",
);
/// What a client receives follows what the server sent or queued for its stream.
pub const DELIVERY_IN_ORDER: Invariant = Invariant::safety(
    "delivery-in-order",
    "every line a client receives is the next one the server sent it: nothing reordered, duplicated, invented, or arriving after a drop",
);
/// The official tests' check that every reply is one the client expects.
pub const CLIENT_EXPECTED: Invariant = Invariant::safety(
    "client-expected",
    "no client receives a line its own model does not expect (SPEC.md §9)",
);
/// The server applies requests only for clients it counts as connected.
pub const OPS_ON_OPEN_STREAMS: Invariant = Invariant::safety(
    "ops-on-open-streams",
    "requests are applied only for connected clients",
);
/// History events come from the kind of node that records them.
pub const EVENT_SOURCE: Invariant = Invariant::safety(
    "event-source",
    "server events come from the server, client events from clients",
);
/// The store at the end of the run.
pub const FINAL_STORE_EQUALS_MODEL: Invariant = Invariant::safety(
    "final-store-equals-model",
    "at the end the store equals the sequential model of the applied requests",
);
/// The official tests' final comparison (runs without faults, where no request is lost).
pub const FINAL_STORE_EQUALS_CLIENTS_MODELS: Invariant = Invariant::safety(
    "final-store-equals-clients-models",
    "at the end the store equals what the clients' requests make of it (SPEC.md §9)",
);
/// No client waits on another: a bound, or the latencies of the same clients run alone.
pub const FAST_CLIENTS_NOT_HELD_UP: Invariant = Invariant::safety(
    "fast-clients-not-held-up",
    "fast clients' Gets are not slowed by clients that stop reading (SPEC.md §6)",
);
/// A client that never reads receives nothing.
pub const NEVER_READER_READS_NOTHING: Invariant = Invariant::safety(
    "never-reader-reads-nothing",
    "a client that never reads never gets a reply",
);
/// The server is up when the run ends (the heal restarts what crashed).
pub const SERVER_UP: Invariant =
    Invariant::liveness("server-up", "the server is up at the end of the run");
/// The counts are true once clients had time to come and go: at the official tests'
/// probes, and after the heal.
pub const COUNTS_TRUE_AFTER_WAIT: Invariant = Invariant::liveness(
    "counts-true-after-wait",
    "after a wait the counts equal the clients connected and the clients gone (SPEC.md §7, §10)",
);
/// A connected client's requests reach the store.
pub const CLIENT_MODEL_APPLIED: Invariant = Invariant::liveness(
    "client-model-applied",
    "after the heal, the store holds what each connected client's own model says of its keys",
);
/// Replies arrive.
pub const EVERY_REPLY_DELIVERED: Invariant = Invariant::liveness(
    "every-reply-delivered",
    "by the end, every client that reads has every reply it expected and every reply not dropped",
);
/// Workloads finish.
pub const WORKLOAD_DONE_AFTER_HEAL: Invariant = Invariant::liveness(
    "workload-done-after-heal",
    "after the heal, every connected client has sent its whole workload",
);
/// The official slow-client tests' check on the slow readers.
pub const SLOW_READER_GETS_ITS_QUEUE: Invariant = Invariant::liveness(
    "slow-reader-gets-its-queue",
    "a slow reader, once it reads, gets at least 500 replies and everything left in its queue (SPEC.md §6, §10)",
);
/// The slow-reader scenarios reached the situation they are about.
pub const SLOW_READER_MESSAGES_DROPPED: Invariant = Invariant::liveness(
    "slow-reader-messages-dropped",
    "slow readers filled their queues and messages were dropped (SPEC.md §10)",
);

/// Every kv invariant.
pub const ALL: &[Invariant] = &[
    GET_MATCHES_MODEL,
    COUNTS_EXACT,
    QUEUE_BOUND,
    DELIVERY_IN_ORDER,
    CLIENT_EXPECTED,
    OPS_ON_OPEN_STREAMS,
    EVENT_SOURCE,
    FINAL_STORE_EQUALS_MODEL,
    FINAL_STORE_EQUALS_CLIENTS_MODELS,
    FAST_CLIENTS_NOT_HELD_UP,
    NEVER_READER_READS_NOTHING,
    SERVER_UP,
    COUNTS_TRUE_AFTER_WAIT,
    CLIENT_MODEL_APPLIED,
    EVERY_REPLY_DELIVERED,
    WORKLOAD_DONE_AFTER_HEAL,
    SLOW_READER_GETS_ITS_QUEUE,
    SLOW_READER_MESSAGES_DROPPED,
];
