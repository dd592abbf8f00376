//! History events the server records for checkers (see `faultline::Ctx::record`).
//!
//! The server is the serialisation point (SPEC.md §2: the store is not safe to share and
//! every access is serialised), so the order of its `Applied` events *is* the order of the
//! store's history: a checker replays them on a sequential model. Every reply message gets
//! one `Reply` event saying what the queue did with it, and every batch of queued messages
//! handed to the stream gets a `Written`, so a checker can track each client's queue length
//! independently of the server's own count.

use crate::protocol::{ParseError, Request};
use faultline::{CloseReason, StreamId};
use serde::{Deserialize, Serialize};

/// What the server's outgoing queue did with one reply message (SPEC.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueueOutcome {
    /// The queue was empty and the stream took the whole message at once.
    Sent,
    /// The message waits in the queue, which now holds `len` messages.
    Queued { len: usize },
    /// The queue was full (500 messages): the message is dropped.
    Dropped,
}

/// One history event of the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvEvent {
    /// A client connected; the counts just after (SPEC.md §7).
    Joined {
        stream: StreamId,
        active: u64,
        dropped: u64,
    },
    /// A client's connection ended (EOF or error); the counts just after.
    Left {
        stream: StreamId,
        reason: CloseReason,
        active: u64,
        dropped: u64,
    },
    /// The server applied a request to the store; events are in application order.
    /// A `Get` is followed at once by one `Reply` per value of the key.
    Applied { stream: StreamId, req: Request },
    /// One Get reply message (`key:value\n`) and what the queue did with it.
    Reply {
        stream: StreamId,
        line: Vec<u8>,
        outcome: QueueOutcome,
    },
    /// `messages` queued messages were handed to the stream in full.
    Written { stream: StreamId, messages: u64 },
    /// A line that is not a request: ignored and counted (see [`crate::protocol`]).
    Malformed { stream: StreamId, error: ParseError },
    /// The counts, whenever something asks the server to record them
    /// ([`crate::Server::record_stats`]): the real program's periodic log line.
    Stats(crate::server::ServerStats),
}
