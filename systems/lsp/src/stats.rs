//! Counters an endpoint keeps: what it sent, and every datagram it refused and why.

/// Per-endpoint counters. Rejects never change protocol state; they are only counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to the endpoint.
    pub datagrams_in: u64,
    /// Not a JSON LSP message (bad JSON, bad base64, unknown type, out-of-range field).
    pub malformed: u64,
    /// A Data whose checksum did not match (after truncation to `Size`).
    pub bad_checksum: u64,
    /// A Data whose payload was shorter than its `Size` (or had a negative `Size`).
    pub short_payload: u64,
    /// A Data whose payload was longer than `Size` and was truncated (then accepted if the
    /// checksum matched). Not a reject; counted to show the rule fired.
    pub truncated: u64,
    /// A message for a connection this endpoint does not have, or from the wrong address.
    pub unknown_conn: u64,
    /// A message that cannot be right for this connection: an Ack of a sequence number
    /// never sent, a Data with a sequence number outside any window, a Connect sent to a
    /// client, a Data before the connection exists.
    pub unexpected: u64,
    /// Data already delivered or already buffered (acked again, not delivered again).
    pub duplicate_data: u64,
    /// First transmissions of Data.
    pub data_sent: u64,
    /// Retransmissions of Data.
    pub data_resent: u64,
    /// Retransmissions after which the message's back-off stood at MaxBackOffInterval
    /// (counted only when that is above 0).
    pub backoff_at_cap: u64,
    /// Acks of Data (not heartbeats).
    pub acks_sent: u64,
    /// Heartbeats `(Ack, id, 0)`.
    pub heartbeats_sent: u64,
    /// Connect messages (first and resent) and, on the server, connect Acks.
    pub connects_sent: u64,
}

impl Stats {
    /// Every datagram refused, whatever the reason.
    pub fn rejects(&self) -> u64 {
        self.malformed
            + self.bad_checksum
            + self.short_payload
            + self.unknown_conn
            + self.unexpected
    }
}
