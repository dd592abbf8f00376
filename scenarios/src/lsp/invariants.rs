//! Every invariant of an LSP run, by name, each a safety or a liveness property, with the
//! checkers that report them: the history checker ([`LspChecker`], the world's own), the
//! wire monitor ([`WireMonitor`], in the middlebox) and the end checks ([`end`]).
//! The intents' scripts report the rest at the moment they see it. Sections are those of
//! systems/lsp/SPEC.md.

pub mod end;
mod history;
mod wire;

pub use history::LspChecker;
pub use wire::WireMonitor;

use faultline::Invariant;

// Checked on every run.

/// Checked by [`LspChecker`] as events happen (§7).
pub const EXACTLY_ONCE_IN_ORDER: Invariant = Invariant::safety(
    "exactly-once-in-order",
    "every read is the next message its peer wrote: nothing skipped, repeated, reordered or corrupted (§7)",
);
/// Checked by [`LspChecker`] as events happen (§8b).
pub const LOST_ONLY_AFTER_EPOCH_LIMIT: Invariant = Invariant::safety(
    "lost-only-after-epoch-limit",
    "a connection is declared lost only after at least K-1 whole epochs without a datagram from the peer (§8b)",
);
/// Checked by [`LspChecker`] and at the end of the swarm scenarios (§9).
pub const CLOSE_ONLY_WHEN_ALL_ACKED: Invariant = Invariant::safety(
    "close-only-when-all-acked",
    "a Close that reports success comes only after the peer read everything written (§9)",
);
/// Seen by [`WireMonitor`]; reported at the end of a run or phase (§6).
pub const WINDOW_AND_MAX_UNACKED: Invariant = Invariant::safety(
    "window-and-max-unacked",
    "no sender has more than M unacked Data in flight or sends past oldest unacked + w - 1 (§6)",
);
/// A node a scenario needs is down.
pub const NODES_UP: Invariant = Invariant::liveness(
    "nodes-up",
    "every node is running when the scenario needs it (no LSP scenario crashes nodes)",
);

// The swarm scenarios' end checks, after the heal phase.

pub const EVERY_CLIENT_FINISHES: Invariant = Invariant::liveness(
    "every-client-finishes",
    "after the heal phase every client has closed or lost its connection (§8b, §9)",
);
pub const SERVER_DROPS_GONE_CLIENTS: Invariant = Invariant::liveness(
    "server-drops-gone-clients",
    "once every client has finished, the server holds no connection (§8b)",
);
pub const LOST_WITHIN_BOUND: Invariant = Invariant::liveness(
    "lost-within-bound",
    "with the server cut off, every connection is lost within K+1 epochs and one latency of the cut (§8b)",
);

// The official intents' checks (§12).

pub const CONNECTS: Invariant = Invariant::liveness(
    "connects",
    "every client connects within half an epoch, or by resending Connect once a late server is up (§4)",
);
pub const WRITES_ACCEPTED: Invariant = Invariant::safety(
    "writes-accepted",
    "Write on a live connection never fails (§9, §10)",
);
pub const DELIVERED_BY_DEADLINE: Invariant = Invariant::liveness(
    "delivered-by-deadline",
    "every message written reaches its reader, and every Close completes, within the intent's deadline (§12)",
);
pub const READS_EXACT: Invariant = Invariant::safety(
    "reads-exact",
    "each side has read exactly the messages written to it, in order, and nothing else (§7, §9, §10)",
);
pub const NO_CONNECTION_LOST: Invariant = Invariant::safety(
    "no-connection-lost",
    "no connection is lost while the network never falls silent for K epochs (§8b)",
);
pub const NO_RESEND: Invariant = Invariant::safety(
    "no-resend",
    "no Data is retransmitted where nothing was lost, or once a CAck acknowledged it (§6, §8a)",
);
pub const FAULT_EXERCISED: Invariant = Invariant::liveness(
    "fault-exercised",
    "the intent's network fault happened: datagrams dropped and Data resent, or datagrams delayed (§11)",
);
pub const HELD_BY_WINDOW: Invariant = Invariant::safety(
    "held-by-window",
    "while acks are blocked exactly min(w, M) messages per connection get through and stay unacked (§6)",
);
pub const NO_READ_PAST_GAP: Invariant = Invariant::safety(
    "no-read-past-gap",
    "Read delivers nothing while an earlier message is still missing (§7)",
);
pub const BACKOFF_SCHEDULE: Invariant = Invariant::safety(
    "backoff-schedule",
    "an unacked message is resent on epochs 1, 3, 6 and 11 after its first send: 5w Data per client in 14 epochs, inside [4w, 6w] (§8a)",
);
pub const CACK_ACKS_ALL: Invariant = Invariant::safety(
    "cack-acks-all",
    "one CAck acknowledges every message up to its number: each sent once, none left unacked (§6)",
);
pub const ISN_SEQUENCE: Invariant = Invariant::safety(
    "isn-sequence",
    "per connection the wire shows Ack isn, Data isn+1, Ack isn+1 (heartbeats aside), ISNs random in 1..=256 (§5)",
);
pub const CLOSE_COMPLETES: Invariant = Invariant::liveness(
    "close-completes",
    "Close and CloseConn complete once everything written is acknowledged (§9, §10)",
);
pub const LOSS_DETECTED: Invariant = Invariant::liveness(
    "loss-detected",
    "a peer that stops answering (closed server, closed connection, closed client) is seen lost within the intent's epochs (§8b, §10)",
);
pub const CALLS_AFTER_CLOSE_FAIL: Invariant = Invariant::safety(
    "calls-after-close-fail",
    "after Close, CloseConn or a loss every call on that end fails with its error, and a closed server reports nothing more (§9, §10)",
);
pub const NOTHING_WHILE_OFF: Invariant = Invariant::safety(
    "nothing-while-off",
    "while the network is off nothing is read and no Close completes (§9, §10)",
);
pub const TAMPERED_NEVER_DELIVERED: Invariant = Invariant::safety(
    "tampered-never-delivered",
    "a shortened or corrupted payload is never read, a lengthened one is read cut to its Size, and each is counted (§7)",
);

/// Every invariant above.
pub const ALL: &[Invariant] = &[
    EXACTLY_ONCE_IN_ORDER,
    LOST_ONLY_AFTER_EPOCH_LIMIT,
    CLOSE_ONLY_WHEN_ALL_ACKED,
    WINDOW_AND_MAX_UNACKED,
    NODES_UP,
    EVERY_CLIENT_FINISHES,
    SERVER_DROPS_GONE_CLIENTS,
    LOST_WITHIN_BOUND,
    CONNECTS,
    WRITES_ACCEPTED,
    DELIVERED_BY_DEADLINE,
    READS_EXACT,
    NO_CONNECTION_LOST,
    NO_RESEND,
    FAULT_EXERCISED,
    HELD_BY_WINDOW,
    NO_READ_PAST_GAP,
    BACKOFF_SCHEDULE,
    CACK_ACKS_ALL,
    ISN_SEQUENCE,
    CLOSE_COMPLETES,
    LOSS_DETECTED,
    CALLS_AFTER_CLOSE_FAIL,
    NOTHING_WHILE_OFF,
    TAMPERED_NEVER_DELIVERED,
];

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn every_invariant_has_its_own_name() {
        let names: std::collections::BTreeSet<&str> = ALL.iter().map(|i| i.name).collect();
        assert_eq!(names.len(), ALL.len());
    }
}
