//! Protocol parameters with the original's defaults (SPEC.md §2).

use crate::wire::{DecodeError, Message};
use faultline::bugs::BugSet;
use std::time::Duration;

faultline::planted_bugs! {
    /// Known-wrong behaviours that can be planted (see `faultline bugs`); none by default.
    pub enum Bug {
        /// Unacknowledged Data is never resent.
        NoRetransmit = 0,
        /// Data that arrives ahead of a gap is delivered at once, not held until the gap fills.
        DeliverOutOfOrder = 1,
        /// The window lets one message more than `w` past the oldest unacknowledged one.
        WindowOffByOne = 2,
        /// A Data's checksum is not checked.
        ChecksumUnchecked = 3,
        /// A duplicate Data already delivered is delivered again.
        DeliverDuplicates = 4,
        /// A connection is declared lost one silent epoch early.
        LostOneEpochEarly = 5,
    }
}

/// The largest payload a Data message may carry. A datagram must fit the 2000-byte receive
/// buffer of the original test network: base64 of 1400 bytes is 1868 characters, and the
/// JSON header around it is at most about 120, so every message stays below 2000 bytes.
pub const MAX_PAYLOAD: usize = 1400;

/// The largest initial sequence number a connection may have (SPEC.md §4, §5). A Connect
/// outside `0..=MAX_ISN` is refused: a negative ISN would number some Data 0, the number
/// heartbeats use, and one near `i64::MAX` would overflow `isn + 1`. Half the range leaves
/// 2^62 sequence numbers for the connection's data.
pub const MAX_ISN: i64 = i64::MAX / 2;

/// The most payload bytes one connection may hold written and not yet acknowledged (its
/// queue and its unacknowledged messages together). A `write` past it is refused with
/// [`crate::LspError::Full`] (back-pressure: the application decides, for example to
/// close the connection), so a peer that never acknowledges cannot grow our memory
/// without bound (SPEC.md §6).
pub const MAX_QUEUED_BYTES: usize = 1 << 20;

/// A receive buffer large enough for every datagram LSP sends.
pub const RECV_BUFFER: usize = 2000;

/// `Params{EpochLimit, EpochMillis, WindowSize, MaxBackOffInterval, MaxUnackedMessages}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// K: epochs with nothing received before a connection is lost; also bounds connecting.
    pub epoch_limit: u32,
    /// δ: length of one epoch, in milliseconds.
    pub epoch_millis: u64,
    /// ω: a Data with sequence number `s` goes out only if `s <= oldest unacked + ω - 1`.
    pub window_size: u64,
    /// Cap on a message's back-off, in epochs; 0 resends every epoch.
    pub max_backoff_interval: u32,
    /// M: at most this many sent-but-unacked Data messages (M <= ω).
    pub max_unacked_messages: u64,
    /// Planted bugs (none unless a bug hunt asks).
    pub bugs: BugSet<Bug>,
    /// How datagrams are encoded and decoded. The bytes are the same either way; only the
    /// cost differs (the benchmark's JSON baseline).
    pub codec: Codec,
}

/// The implementation of the wire format an endpoint uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Codec {
    /// The hand-written fast path ([`Message::encode`], [`Message::decode`]).
    #[default]
    HandWritten,
    /// serde_json for every datagram, the reference.
    Serde,
}

impl Codec {
    pub fn encode(self, m: &Message) -> Vec<u8> {
        match self {
            Codec::HandWritten => m.encode(),
            Codec::Serde => m.encode_serde(),
        }
    }

    pub fn decode(self, bytes: &[u8]) -> Result<Message, DecodeError> {
        match self {
            Codec::HandWritten => Message::decode(bytes),
            Codec::Serde => Message::decode_serde(bytes),
        }
    }
}

impl Default for Params {
    fn default() -> Params {
        Params {
            epoch_limit: 5,
            epoch_millis: 2000,
            window_size: 1,
            max_backoff_interval: 0,
            max_unacked_messages: 1,
            bugs: BugSet::NONE,
            codec: Codec::HandWritten,
        }
    }
}

impl Params {
    /// The positional form the official tests use: `{K, δ, ω, MaxBackOff, M}`.
    pub fn new(
        epoch_limit: u32,
        epoch_millis: u64,
        window_size: u64,
        max_backoff_interval: u32,
        max_unacked_messages: u64,
    ) -> Params {
        Params {
            epoch_limit,
            epoch_millis,
            window_size,
            max_backoff_interval,
            max_unacked_messages,
            bugs: BugSet::NONE,
            codec: Codec::HandWritten,
        }
    }

    /// One epoch.
    pub fn epoch(&self) -> Duration {
        Duration::from_millis(self.epoch_millis)
    }

    /// The window and unacked limits, made usable: both at least 1.
    pub(crate) fn limits(&self) -> (u64, u64) {
        (self.window_size.max(1), self.max_unacked_messages.max(1))
    }
}
