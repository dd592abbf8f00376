//! One LSP connection's reliable-delivery state, shared by client and server: the send
//! queue under the sliding window and MaxUnackedMessages (SPEC.md §6), the in-order
//! receive buffer (§7), and the per-epoch work: retransmission with exponential back-off,
//! heartbeats and loss detection (§8). Pure: it only fills an outbox of [`Message`]s.
//! Sections are those of `SPEC.md`.

use crate::params::{Bug, Params, MAX_PAYLOAD, MAX_QUEUED_BYTES};
use crate::stats::Stats;
use crate::wire::{Message, MsgType};
use std::collections::{BTreeMap, VecDeque};

/// How far past the next expected sequence number a Data may be and still be buffered.
/// A sender never sends past its own window, so this only limits what a misbehaving or
/// differently configured peer can make us hold.
const RECV_AHEAD_MIN: i64 = 1024;

/// A sent, unacknowledged Data message and its back-off state (SPEC.md §8a).
#[derive(Debug)]
struct Unacked {
    payload: Vec<u8>,
    /// Epochs to wait between resends; 0, 1, 2, 4, ... capped at MaxBackOffInterval.
    backoff: u32,
    /// Epochs since the last transmission.
    since: u32,
}

/// What an epoch did to the connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Epoch {
    Alive,
    /// EpochLimit epochs passed with nothing received.
    Lost,
}

/// The reliable-delivery state of one connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub id: i64,
    /// Sequence number the next `write` gets.
    next_seq: i64,
    /// Written, not yet sent (waiting for the window or the unacked limit).
    queue: VecDeque<(i64, Vec<u8>)>,
    unacked: BTreeMap<i64, Unacked>,
    /// Next sequence number to deliver.
    expect: i64,
    /// Arrived early, waiting for the gap before them to fill.
    early: BTreeMap<i64, Vec<u8>>,
    silent_epochs: u32,
    /// Payload bytes in `queue` and `unacked` together.
    held_bytes: usize,
    /// Some Data went out (first send or resend) since the last epoch.
    sent_data: bool,
}

impl Conn {
    /// A connection whose data is numbered from `isn + 1` in both directions (SPEC.md §5).
    pub fn new(id: i64, isn: i64) -> Conn {
        Conn {
            id,
            next_seq: isn + 1,
            queue: VecDeque::new(),
            unacked: BTreeMap::new(),
            expect: isn + 1,
            early: BTreeMap::new(),
            silent_epochs: 0,
            held_bytes: 0,
            sent_data: false,
        }
    }

    /// Nothing written is still unsent or unacknowledged.
    pub fn is_flushed(&self) -> bool {
        self.queue.is_empty() && self.unacked.is_empty()
    }

    /// Sent and not yet acknowledged.
    pub fn unacked_len(&self) -> usize {
        self.unacked.len()
    }

    /// The smallest unacknowledged sequence number sent, else the next to send (SPEC.md §6).
    pub fn oldest(&self) -> i64 {
        match self.unacked.keys().next() {
            Some(&s) => s,
            None => self.queue.front().map_or(self.next_seq, |(s, _)| *s),
        }
    }

    /// The highest sequence number in flight, if any.
    pub fn newest_unacked(&self) -> Option<i64> {
        self.unacked.keys().next_back().copied()
    }

    /// Queue a payload; it gets the next sequence number. Refused (with the bytes held)
    /// if the connection already holds [`MAX_QUEUED_BYTES`] not yet acknowledged.
    pub fn write(&mut self, payload: Vec<u8>) -> Result<(), usize> {
        if self.held_bytes >= MAX_QUEUED_BYTES {
            return Err(self.held_bytes);
        }
        self.held_bytes += payload.len();
        self.queue.push_back((self.next_seq, payload));
        self.next_seq += 1;
        Ok(())
    }

    /// Send every queued message the window and the unacked limit allow (SPEC.md §6).
    pub fn pump(&mut self, params: &Params, stats: &mut Stats, out: &mut Vec<Message>) {
        let (window, max_unacked) = params.limits();
        while let Some((seq, _)) = self.queue.front() {
            let seq = *seq;
            let slack = i64::from(params.bugs.has(Bug::WindowOffByOne));
            let in_window = (seq - self.oldest()) < window as i64 + slack;
            if !in_window || self.unacked.len() as u64 >= max_unacked {
                break;
            }
            let (_, payload) = self.queue.pop_front().expect("front exists");
            out.push(Message::data(self.id, seq, payload.clone()));
            stats.data_sent += 1;
            self.sent_data = true;
            self.unacked.insert(
                seq,
                Unacked {
                    payload,
                    backoff: 0,
                    since: 0,
                },
            );
        }
    }

    /// Anything valid arrived from the peer: it is alive.
    pub fn heard(&mut self) {
        self.silent_epochs = 0;
    }

    /// `(Ack, id, sn)`: acknowledges exactly `sn`; 0 is a heartbeat. Returns false if `sn`
    /// was never sent (the caller counts it).
    pub fn on_ack(&mut self, seq: i64) -> bool {
        if seq == 0 {
            return true;
        }
        if let Some(u) = self.unacked.remove(&seq) {
            self.held_bytes -= u.payload.len();
            return true;
        }
        // An Ack of something sent and acked before is a harmless duplicate.
        seq < self.next_seq && !self.queue.iter().any(|(s, _)| *s == seq)
    }

    /// `(CAck, id, sn)`: acknowledges everything sent up to `sn`.
    pub fn on_cack(&mut self, seq: i64) -> bool {
        let keep = self.unacked.split_off(&seq.saturating_add(1));
        let acked = std::mem::replace(&mut self.unacked, keep);
        self.held_bytes -= acked.values().map(|u| u.payload.len()).sum::<usize>();
        seq < self.next_seq
    }

    /// An Ack, CAck or Data for this connection, from either end's point of view
    /// (SPEC.md §6, §7): apply it and, if the connection expected it, count the peer as heard from and send
    /// whatever became eligible. Returns false if it was dropped (invalid Data) or
    /// unexpected; both are counted. A Connect is the caller's business and is unexpected
    /// here.
    pub fn on_message(
        &mut self,
        params: &Params,
        msg: Message,
        stats: &mut Stats,
        out: &mut Vec<Message>,
        deliver: &mut Vec<Vec<u8>>,
    ) -> bool {
        let expected = match msg.ty {
            MsgType::Connect => false,
            MsgType::Ack => self.on_ack(msg.seq_num),
            MsgType::CAck => self.on_cack(msg.seq_num),
            MsgType::Data => {
                let seq = msg.seq_num;
                let Some(payload) = validate_data(msg, stats, params) else {
                    return false;
                };
                self.on_data(params, seq, payload, stats, out, deliver)
            }
        };
        if !expected {
            stats.unexpected += 1;
            return false;
        }
        self.heard();
        self.pump(params, stats, out);
        true
    }

    /// A valid Data (size and checksum already checked). Acks it and moves whatever is now
    /// in order to `deliver` (SPEC.md §7). Returns false if it is too far ahead to accept.
    pub fn on_data(
        &mut self,
        params: &Params,
        seq: i64,
        payload: Vec<u8>,
        stats: &mut Stats,
        out: &mut Vec<Message>,
        deliver: &mut Vec<Vec<u8>>,
    ) -> bool {
        let ahead_limit = (params.window_size as i64).max(RECV_AHEAD_MIN);
        if seq >= self.expect.saturating_add(ahead_limit) {
            return false;
        }
        // Ack every valid Data, duplicates included: the earlier Ack may have been lost.
        out.push(Message::ack(self.id, seq));
        stats.acks_sent += 1;
        if seq < self.expect || self.early.contains_key(&seq) {
            stats.duplicate_data += 1;
            if params.bugs.has(Bug::DeliverDuplicates) {
                deliver.push(payload);
            }
            return true;
        }
        if seq > self.expect {
            if params.bugs.has(Bug::DeliverOutOfOrder) {
                deliver.push(payload);
                return true;
            }
            self.early.insert(seq, payload);
            return true;
        }
        deliver.push(payload);
        self.expect += 1;
        while let Some(next) = self.early.remove(&self.expect) {
            deliver.push(next);
            self.expect += 1;
        }
        true
    }

    /// One epoch passed (SPEC.md §8): declare loss, or resend what its back-off allows and
    /// send a heartbeat if no Data went out in the epoch. `heartbeat` is false for a connection
    /// the server has stopped serving.
    pub fn on_epoch(
        &mut self,
        params: &Params,
        stats: &mut Stats,
        out: &mut Vec<Message>,
        heartbeat: bool,
    ) -> Epoch {
        self.silent_epochs += 1;
        let early = u32::from(params.bugs.has(Bug::LostOneEpochEarly));
        if self.silent_epochs + early >= params.epoch_limit.max(1) {
            return Epoch::Lost;
        }
        let resend = !params.bugs.has(Bug::NoRetransmit);
        for (&seq, u) in self.unacked.iter_mut() {
            if resend && u.since >= u.backoff {
                out.push(Message::data(self.id, seq, u.payload.clone()));
                stats.data_resent += 1;
                self.sent_data = true;
                let doubled = if u.backoff == 0 {
                    1
                } else {
                    u.backoff.saturating_mul(2)
                };
                u.backoff = doubled.min(params.max_backoff_interval);
                if params.max_backoff_interval > 0 && u.backoff == params.max_backoff_interval {
                    stats.backoff_at_cap += 1;
                }
                u.since = 0;
            } else {
                u.since += 1;
            }
        }
        if heartbeat && !self.sent_data {
            out.push(Message::ack(self.id, 0));
            stats.heartbeats_sent += 1;
        }
        self.sent_data = false;
        Epoch::Alive
    }

    /// Drop everything still to send (the connection is lost).
    pub fn discard_outgoing(&mut self) {
        self.queue.clear();
        self.unacked.clear();
        self.held_bytes = 0;
    }
}

/// Apply the size rule and the checksum to a Data (SPEC.md §7). Returns the payload to
/// accept, or `None` (counted) if it must be dropped as if lost.
pub(crate) fn validate_data(msg: Message, stats: &mut Stats, params: &Params) -> Option<Vec<u8>> {
    let mut payload = msg.payload.unwrap_or_default();
    let size = match usize::try_from(msg.size) {
        Ok(size) if size <= payload.len() => size,
        _ => {
            stats.short_payload += 1;
            return None;
        }
    };
    if payload.len() > size {
        payload.truncate(size);
        stats.truncated += 1;
    }
    // No conforming sender writes more than MAX_PAYLOAD, and our own write refuses it, so
    // accepting one would ack data whose echo could never be sent (SPEC.md §7).
    if payload.len() > MAX_PAYLOAD {
        stats.malformed += 1;
        return None;
    }
    if crate::checksum(msg.conn_id, msg.seq_num, msg.size, &payload) != msg.checksum
        && !params.bugs.has(Bug::ChecksumUnchecked)
    {
        stats.bad_checksum += 1;
        return None;
    }
    Some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(window: u64, max_unacked: u64, max_backoff: u32) -> Params {
        Params::new(5, 1000, window, max_backoff, max_unacked)
    }

    fn seqs(out: &[Message], ty: MsgType) -> Vec<i64> {
        out.iter()
            .filter(|m| m.ty == ty)
            .map(|m| m.seq_num)
            .collect()
    }

    #[test]
    fn window_and_max_unacked_both_limit_sending() {
        let p = params(3, 2, 0);
        let mut c = Conn::new(1, 10);
        let (mut st, mut out) = (Stats::default(), Vec::new());
        for i in 0..6 {
            c.write(vec![i]).unwrap();
        }
        c.pump(&p, &mut st, &mut out);
        assert_eq!(seqs(&out, MsgType::Data), vec![11, 12], "M = 2 limits");
        out.clear();
        // Ack 12 only: one unacked (11); window is 11..=13, so 13 may go, 14 may not.
        assert!(c.on_ack(12));
        c.pump(&p, &mut st, &mut out);
        assert_eq!(seqs(&out, MsgType::Data), vec![13]);
        out.clear();
        assert!(c.on_ack(13));
        c.pump(&p, &mut st, &mut out);
        assert!(
            out.is_empty(),
            "14 is outside the window while 11 is unacked"
        );
        assert!(c.on_ack(11));
        c.pump(&p, &mut st, &mut out);
        assert_eq!(seqs(&out, MsgType::Data), vec![14, 15]);
    }

    #[test]
    fn cack_acks_everything_up_to_its_number() {
        let p = params(10, 10, 0);
        let mut c = Conn::new(1, 0);
        let (mut st, mut out) = (Stats::default(), Vec::new());
        for i in 0..5 {
            c.write(vec![i]).unwrap();
        }
        c.pump(&p, &mut st, &mut out);
        assert!(c.on_cack(3));
        assert_eq!(c.unacked_len(), 2);
        assert_eq!(c.oldest(), 4);
        assert!(!c.on_cack(99), "a CAck past anything sent is refused");
        assert!(!c.on_ack(77));
    }

    #[test]
    fn backoff_resends_at_epochs_1_3_6_11() {
        let p = params(1, 1, 100);
        let mut c = Conn::new(1, 0);
        let (mut st, mut out) = (Stats::default(), Vec::new());
        c.write(b"x".to_vec()).unwrap();
        c.pump(&p, &mut st, &mut out);
        let mut resent_at = Vec::new();
        for epoch in 1..=20 {
            out.clear();
            c.heard(); // keep it alive
            assert_eq!(c.on_epoch(&p, &mut st, &mut out, true), Epoch::Alive);
            if !seqs(&out, MsgType::Data).is_empty() {
                resent_at.push(epoch);
            } else {
                assert_eq!(seqs(&out, MsgType::Ack), vec![0], "heartbeat when no data");
            }
        }
        assert_eq!(resent_at, vec![1, 3, 6, 11, 20]);
    }

    #[test]
    fn backoff_is_capped() {
        let p = params(1, 1, 2);
        let mut c = Conn::new(1, 0);
        let (mut st, mut out) = (Stats::default(), Vec::new());
        c.write(b"x".to_vec()).unwrap();
        c.pump(&p, &mut st, &mut out);
        let mut resent_at = Vec::new();
        for epoch in 1..=12 {
            out.clear();
            c.heard();
            c.on_epoch(&p, &mut st, &mut out, true);
            if !seqs(&out, MsgType::Data).is_empty() {
                resent_at.push(epoch);
            }
        }
        assert_eq!(resent_at, vec![1, 3, 6, 9, 12]);
    }

    #[test]
    fn lost_after_epoch_limit_silent_epochs() {
        let p = params(1, 1, 0);
        let mut c = Conn::new(1, 0);
        let (mut st, mut out) = (Stats::default(), Vec::new());
        for _ in 0..4 {
            assert_eq!(c.on_epoch(&p, &mut st, &mut out, true), Epoch::Alive);
        }
        assert_eq!(c.on_epoch(&p, &mut st, &mut out, true), Epoch::Lost);
    }

    #[test]
    fn receive_buffers_out_of_order_and_drops_duplicates() {
        let p = params(5, 5, 0);
        let mut c = Conn::new(1, 100);
        let (mut st, mut out, mut got) = (Stats::default(), Vec::new(), Vec::new());
        for seq in [103, 102, 103, 101, 101, 104] {
            assert!(c.on_data(&p, seq, vec![seq as u8], &mut st, &mut out, &mut got));
        }
        assert_eq!(got, vec![vec![101], vec![102], vec![103], vec![104]]);
        assert_eq!(seqs(&out, MsgType::Ack), vec![103, 102, 103, 101, 101, 104]);
        assert_eq!(st.duplicate_data, 2);
        assert!(!c.on_data(&p, 105 + 5000, vec![], &mut st, &mut out, &mut got));
    }

    #[test]
    fn size_rule_then_checksum() {
        let mut st = Stats::default();
        let p = Params::default();
        let good = Message::data(1, 1, b"hello".to_vec());
        assert_eq!(
            validate_data(good.clone(), &mut st, &p).as_deref(),
            Some(&b"hello"[..])
        );
        let mut long = good.clone();
        long.payload = Some(b"hello!!!".to_vec());
        assert_eq!(
            validate_data(long, &mut st, &p).as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(st.truncated, 1);
        let mut short = good.clone();
        short.payload = Some(b"hell".to_vec());
        assert_eq!(validate_data(short, &mut st, &p), None);
        let mut corrupt = good.clone();
        corrupt.payload = Some(b"jello".to_vec());
        assert_eq!(validate_data(corrupt, &mut st, &p), None);
        let mut negative = good;
        negative.size = -1;
        assert_eq!(validate_data(negative, &mut st, &p), None);
        assert_eq!((st.short_payload, st.bad_checksum), (2, 1));
    }
}
