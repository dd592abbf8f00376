//! Every invariant of the Raft scenarios by name, each a safety or a liveness property
//! (systems/raft/SPEC.md §12), with the checker that sees them and the checks of the nodes'
//! state.
//!
//! - [`checker`]: [`RaftChecker`], fed every recorded history event: election safety,
//!   leader completeness, state machine safety, contiguous apply (Figure 3), and the
//!   clients' invoke / return bookkeeping;
//! - [`state`]: checks over the servers' state, run every 250 ms and at the end (log
//!   matching, committed prefixes) and the end check of the clients' history
//!   (linearizability, with the mapping of Raft's operations onto the checker's model).
//!
//! The course tester's own checks (one leader, agreement, RPC counts, ...) are declared here
//! too and used by the scenarios' tester.

pub mod checker;
pub mod state;

pub use checker::RaftChecker;
pub use state::{
    check_bounded, check_damage_was_made, check_linearizable, check_logs, check_server_logs,
    history, server_logs, LogChecks,
};

use faultline::harness::Sometimes;
use faultline::Invariant;

/// The risky situations a Raft sweep should reach (see `sweep --coverage`).
pub const SOMETIMES: &[Sometimes] = &[
    Sometimes {
        name: "crash-after-vote",
        about: "a server crashed right after granting a vote, before anything else happened to it",
    },
    Sometimes {
        name: "leader-with-old-uncommitted",
        about: "a new leader holds entries of older terms not known to be committed",
    },
    Sometimes {
        name: "suffix-truncated",
        about: "a follower truncated a conflicting suffix of its log",
    },
    Sometimes {
        name: "split-vote",
        about: "two servers stood for election in the same term",
    },
    Sometimes {
        name: "leader-restarted",
        about: "the leader of the latest term crashed and restarted",
    },
];

// Checked on every history event (Figure 3).

pub const ONE_LEADER_PER_TERM: Invariant = Invariant::safety(
    "one-leader-per-term",
    "at most one server leads each term (election safety)",
);
pub const LEADER_COMPLETENESS: Invariant = Invariant::safety(
    "leader-completeness",
    "a new leader holds every entry committed in an earlier term",
);
pub const SAME_COMMAND_PER_INDEX: Invariant = Invariant::safety(
    "same-command-per-index",
    "no two servers apply or commit different commands at one index (state machine safety)",
);
pub const CONTIGUOUS_APPLY: Invariant = Invariant::safety(
    "contiguous-apply",
    "each server applies 1, 2, 3, ... in its life, with no gap or repeat",
);
pub const CLIENT_SEQ_UNIQUE: Invariant = Invariant::safety(
    "client-seq-unique",
    "a client never reuses a sequence number",
);
pub const RETURN_AFTER_INVOKE: Invariant = Invariant::safety(
    "return-after-invoke",
    "an operation returns only after it was invoked",
);
pub const RETURN_ONCE: Invariant = Invariant::safety("return-once", "an operation returns once");
pub const SAME_SNAPSHOT_PER_INDEX: Invariant = Invariant::safety(
    "same-snapshot-per-index",
    "two snapshots ending at one index hold the same state, and end with the entry applied there",
);
pub const STORAGE_INTACT: Invariant = Invariant::safety(
    "storage-intact",
    "no server uses damaged storage: without storage faults none finds any damage; with them, a server that finds damage stays silent, and only damage the simulator made is found",
);

// Checked on the servers' state, every 250 ms and at the end.

pub const LOG_MATCHING: Invariant = Invariant::safety(
    "log-matching",
    "two logs with an entry of the same index and term agree up to it",
);
pub const COMMITTED_PREFIX: Invariant = Invariant::safety(
    "committed-prefix",
    "every server's committed prefix is what was applied",
);

pub const LOG_BOUNDED: Invariant = Invariant::safety(
    "log-bounded",
    "with snapshots on, no server holds more applied entries than the threshold, and its storage holds exactly its retained log",
);

// Checked at the end of a key-value run.

pub const LINEARIZABLE: Invariant =
    Invariant::safety("linearizable", "the clients' history is linearizable");
pub const SNAPSHOT_TAKEN: Invariant = Invariant::liveness(
    "snapshot-taken",
    "a snapshot scenario compacts some server's log at least once (it cannot pass without snapshots)",
);
pub const SNAPSHOT_INSTALLED: Invariant = Invariant::liveness(
    "snapshot-installed",
    "a lagging server catches up through InstallSnapshot (and, where servers crash, one restarts from its stored snapshot) at least once",
);

// The heal phase of a key-value run (SPEC.md §3).

pub const LEADER_AFTER_HEAL: Invariant =
    Invariant::liveness("leader-after-heal", "a leader within 5 s of the heal");
pub const OPS_COMPLETE_AFTER_HEAL: Invariant = Invariant::liveness(
    "ops-complete-after-heal",
    "every operation invoked by 5 s after the heal completes by the end",
);

// The course tester's checks (SPEC.md §3, §11).

pub const LEADER_ELECTED: Invariant = Invariant::liveness(
    "leader-elected",
    "a leader among the connected servers within 10 polls of 500 ms",
);
pub const NO_LEADER: Invariant =
    Invariant::safety("no-leader", "no connected server leads without a majority");
pub const TERMS_AGREE: Invariant =
    Invariant::safety("terms-agree", "the connected servers agree on the term");
pub const TERM_ADVANCES: Invariant =
    Invariant::safety("term-advances", "an elected leader's term is at least 1");
pub const TERM_STABLE: Invariant =
    Invariant::safety("term-stable", "the term stays put while nothing fails");
pub const LEADER_STAYS: Invariant = Invariant::safety(
    "leader-stays",
    "an old leader rejoining does not unseat the new one",
);
pub const AGREEMENT: Invariant = Invariant::liveness(
    "agreement",
    "a proposed command commits on the expected servers in 2 s, or 10 s with retries",
);
pub const INDEX: Invariant = Invariant::safety(
    "index",
    "a command lands at the index the course's test expects",
);
pub const NO_EARLY_COMMIT: Invariant = Invariant::safety(
    "no-early-commit",
    "nothing commits at an index before a command is proposed for it",
);
pub const LEADER_ACCEPTS: Invariant = Invariant::safety(
    "leader-accepts",
    "the leader the tester found accepts a command",
);
pub const NO_AGREE_WITHOUT_MAJORITY: Invariant = Invariant::safety(
    "no-agree-without-majority",
    "nothing commits while a majority is cut off",
);
pub const CONCURRENT_AGREEMENT: Invariant = Invariant::liveness(
    "concurrent-agreement",
    "5 commands proposed together in one term all commit, within 5 tries",
);
pub const FAST_BACKUP: Invariant = Invariant::safety(
    "fast-backup",
    "catching up diverged followers takes a few refused AppendEntries per server, not one per entry",
);
pub const RPC_COUNT_ELECTION: Invariant = Invariant::safety(
    "rpc-count-election",
    "at most 30 RPCs to elect the first leader of 3 servers",
);
pub const RPC_COUNT_AGREEMENT: Invariant = Invariant::safety(
    "rpc-count-agreement",
    "at most 42 RPCs to commit 11 commands on 3 servers",
);
pub const RPC_COUNT_IDLE: Invariant = Invariant::safety(
    "rpc-count-idle",
    "at most 60 RPCs in an idle second on 3 servers",
);
// Raft's rules (Figure 2) stated directly, where the safety properties they protect are
// too rarely broken for a sweep to see.
pub const COMMIT_CURRENT_TERM: Invariant = Invariant::safety(
    "commit-current-term",
    "a leader commits by counting replicas only an entry of its own term (Figure 2, §5.4.2)",
);
pub const ONE_VOTE_PER_TERM: Invariant = Invariant::safety(
    "one-vote-per-term",
    "no server grants two different votes in one term, across restarts (Figure 2)",
);
pub const HIGHER_TERM_ADOPTED: Invariant = Invariant::safety(
    "higher-term-adopted",
    "a server that received a message with a higher term has taken that term (Figure 2, all servers)",
);
pub const DURABLE_COMMIT: Invariant = Invariant::safety(
    "durable-commit",
    "a committed entry survives every server crashing and restarting",
);

pub const LEADER_AFTER_CRASH: Invariant = Invariant::liveness(
    "leader-after-crash",
    "a new leader within the give-up time of the old one crashing",
);

/// Every invariant of the Raft scenarios.
pub const ALL: &[Invariant] = &[
    ONE_LEADER_PER_TERM,
    LEADER_COMPLETENESS,
    SAME_COMMAND_PER_INDEX,
    CONTIGUOUS_APPLY,
    CLIENT_SEQ_UNIQUE,
    RETURN_AFTER_INVOKE,
    RETURN_ONCE,
    SAME_SNAPSHOT_PER_INDEX,
    STORAGE_INTACT,
    LOG_MATCHING,
    LOG_BOUNDED,
    COMMITTED_PREFIX,
    LINEARIZABLE,
    SNAPSHOT_TAKEN,
    SNAPSHOT_INSTALLED,
    LEADER_AFTER_HEAL,
    OPS_COMPLETE_AFTER_HEAL,
    LEADER_ELECTED,
    NO_LEADER,
    TERMS_AGREE,
    TERM_ADVANCES,
    TERM_STABLE,
    LEADER_STAYS,
    AGREEMENT,
    INDEX,
    NO_EARLY_COMMIT,
    LEADER_ACCEPTS,
    NO_AGREE_WITHOUT_MAJORITY,
    CONCURRENT_AGREEMENT,
    FAST_BACKUP,
    RPC_COUNT_ELECTION,
    RPC_COUNT_AGREEMENT,
    RPC_COUNT_IDLE,
    DURABLE_COMMIT,
    COMMIT_CURRENT_TERM,
    ONE_VOTE_PER_TERM,
    HIGHER_TERM_ADOPTED,
    LEADER_AFTER_CRASH,
];

#[cfg(test)]
mod tests {
    use super::ALL;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique() {
        let names: BTreeSet<&str> = ALL.iter().map(|i| i.name).collect();
        assert_eq!(names.len(), ALL.len());
    }
}
