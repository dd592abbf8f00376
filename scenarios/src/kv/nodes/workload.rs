//! What a scenario client does: its workload (the official tests' `runTest`,
//! systems/kv/SPEC.md §9), how it reads its replies, and the figures it gathers.

use faultline::Addr;
use std::time::Duration;

/// How a client reads its replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Reads everything at once.
    Normal,
    /// Stops reading at connect and starts `after` the client started (SPEC.md §9 slow clients).
    PausedUntil(Duration),
    /// Alternates: paused for `paused`, then reading for `reading`, from connect on, until
    /// `until` after the client started; from then on it reads normally.
    Intermittent {
        paused: Duration,
        reading: Duration,
        until: Duration,
    },
    /// Never reads.
    Never,
}

/// What one client does.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The server to connect to.
    pub server: Addr,
    /// The client's number, which names its keys.
    pub cid: u32,
    /// Write events to send (SPEC.md §9 `events`); 0 makes an idle client (the count
    /// tests of SPEC.md §10).
    pub events: u32,
    /// Deletes to send at most (SPEC.md §9 `deletes`).
    pub deletes: u32,
    /// Use `key_slow_` keys (SPEC.md §9 slow clients).
    pub slow_keys: bool,
    /// Random letters added to every value (SPEC.md §9: 4096 when slow clients are present).
    pub inflate: usize,
    /// Write events per burst, and the sleep after each burst (SPEC.md §9: 100, 100 ms).
    pub burst: u32,
    pub burst_pause: Duration,
    /// How it reads its replies.
    pub reading: Reading,
    /// Reconnect this long after the stream is lost (not after `disconnect`).
    pub reconnect_after: Option<Duration>,
    /// Send a malformed line before every `n`th write event (0: never), to exercise the
    /// server's "ignored and counted" rule.
    pub garbage_every: u32,
}

impl ClientConfig {
    /// A normal `runTest` client.
    pub fn workload(server: Addr, cid: u32, events: u32, deletes: u32) -> ClientConfig {
        ClientConfig {
            server,
            cid,
            events,
            deletes,
            slow_keys: false,
            inflate: 0,
            burst: 100,
            burst_pause: Duration::from_millis(100),
            reading: Reading::Normal,
            reconnect_after: None,
            garbage_every: 0,
        }
    }

    /// A client that connects and sends nothing (SPEC.md §10 Count tests).
    pub fn idle(server: Addr, cid: u32) -> ClientConfig {
        ClientConfig::workload(server, cid, 0, 0)
    }
}

/// Figures a client gathered, for checks and reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    pub events_sent: u32,
    /// Malformed lines sent on purpose.
    pub garbage_sent: u64,
    pub gets_sent: u64,
    /// Reply lines expected, received, and received but not expected.
    pub replies_expected: u64,
    pub replies_received: u64,
    pub replies_unexpected: u64,
    /// Streams opened and lost (not counting `disconnect`).
    pub connects: u64,
    pub streams_lost: u64,
    /// Get latencies in nanoseconds, for clients that read normally.
    pub get_latencies_ns: Vec<u64>,
}
