//! The wire monitor: it sees every datagram as it is sent (before link faults) and checks
//! that no sender ever has more than M unacked Data in flight or sends past
//! `oldest + ω - 1` (systems/lsp/SPEC.md §6). The sender may know of fewer acks than were
//! sent (some are lost), so counting every ack seen on the wire can only under-count what
//! is outstanding: a violation seen here is a real one.

use faultline::{Addr, Time};
use lsp::{Message, MsgType, Params};
use std::collections::{BTreeMap, BTreeSet};

/// One direction of one connection, as seen on the wire.
#[derive(Default)]
struct Flow {
    /// Highest sequence number sent so far: first transmissions go out in order, so a
    /// Data at or below it is a retransmission.
    max_sent: Option<i64>,
    /// Sent and not acked by anything seen on the wire.
    outstanding: BTreeSet<i64>,
}

/// Sniffs datagrams for the window and MaxUnackedMessages rules (SPEC.md §6).
pub struct WireMonitor {
    params: Params,
    /// (data sender, data receiver, conn) -> flow.
    flows: BTreeMap<(Addr, Addr, i64), Flow>,
    pub violations: Vec<String>,
    pub data_first_sends: u64,
    pub data_resends: u64,
    pub max_outstanding_seen: usize,
}

impl WireMonitor {
    pub fn new(params: Params) -> WireMonitor {
        WireMonitor {
            params,
            flows: BTreeMap::new(),
            violations: Vec::new(),
            data_first_sends: 0,
            data_resends: 0,
            max_outstanding_seen: 0,
        }
    }

    /// A datagram `from -> to` as sent (the middlebox hook).
    pub fn observe(&mut self, now: Time, from: Addr, to: Addr, bytes: &[u8]) {
        let Ok(m) = Message::decode(bytes) else {
            return;
        };
        match m.ty {
            MsgType::Data => self.on_data(now, from, to, &m),
            MsgType::Ack if m.seq_num != 0 => {
                if let Some(f) = self.flows.get_mut(&(to, from, m.conn_id)) {
                    f.outstanding.remove(&m.seq_num);
                }
            }
            MsgType::CAck => {
                if let Some(f) = self.flows.get_mut(&(to, from, m.conn_id)) {
                    f.outstanding = f.outstanding.split_off(&m.seq_num.saturating_add(1));
                }
            }
            _ => {}
        }
    }

    fn on_data(&mut self, now: Time, from: Addr, to: Addr, m: &Message) {
        let window = self.params.window_size.max(1) as i64;
        let max_unacked = self.params.max_unacked_messages.max(1) as usize;
        let f = self.flows.entry((from, to, m.conn_id)).or_default();
        if f.max_sent.is_some_and(|max| m.seq_num <= max) {
            self.data_resends += 1;
            return;
        }
        self.data_first_sends += 1;
        let oldest = f.outstanding.first().copied().unwrap_or(m.seq_num);
        if m.seq_num - oldest >= window {
            self.violations.push(format!(
                "{now}: {from}->{to} conn {} sent seq {} while seq {oldest} is unacked (window {window})",
                m.conn_id, m.seq_num
            ));
        }
        if f.outstanding.len() >= max_unacked {
            self.violations.push(format!(
                "{now}: {from}->{to} conn {} sent seq {} with {} unacked (MaxUnackedMessages {max_unacked})",
                m.conn_id,
                m.seq_num,
                f.outstanding.len()
            ));
        }
        f.max_sent = Some(m.seq_num);
        f.outstanding.insert(m.seq_num);
        self.max_outstanding_seen = self.max_outstanding_seen.max(f.outstanding.len());
    }
}
