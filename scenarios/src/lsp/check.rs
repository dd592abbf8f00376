//! Invariants of an LSP run (issue 3, spec "P1 Part A"), checked two ways:
//!
//! - [`LspChecker`] reads the history: every read is the next message its peer wrote
//!   (exactly once, in order, never corrupted); a loss comes only after EpochLimit silent
//!   epochs; a close that reports success means the server read everything the client wrote.
//! - [`WireMonitor`] sniffs every datagram as it is sent (before link faults) and checks
//!   that no sender ever has more than M unacked Data in flight or sends past
//!   `oldest + ω - 1`. The sender may know of fewer acks than were sent (some are lost), so
//!   counting every ack seen on the wire can only under-count what is outstanding: a
//!   violation seen here is a real one.

use super::node::LspEvent;
use faultline::{Addr, Checker, Failure, Time};
use lsp::{Message, MsgType, Params};
use std::collections::{BTreeMap, BTreeSet};

/// History checker for runs where the server reads everything (it never closes first).
pub struct LspChecker {
    params: Params,
    written: BTreeMap<Addr, Vec<Vec<u8>>>,
    conn_client: BTreeMap<i64, Addr>,
    client_conn: BTreeMap<Addr, i64>,
    server_read: BTreeMap<i64, usize>,
    server_wrote: BTreeMap<i64, Vec<Vec<u8>>>,
    client_read: BTreeMap<Addr, usize>,
    /// Lost events seen (client side, server side).
    pub losses: (u64, u64),
}

impl LspChecker {
    pub fn new(params: Params) -> LspChecker {
        LspChecker {
            params,
            written: BTreeMap::new(),
            conn_client: BTreeMap::new(),
            client_conn: BTreeMap::new(),
            server_read: BTreeMap::new(),
            server_wrote: BTreeMap::new(),
            client_read: BTreeMap::new(),
            losses: (0, 0),
        }
    }

    fn min_silence_ns(&self) -> u64 {
        (self.params.epoch_limit.max(1) as u64 - 1) * self.params.epoch_millis * 1_000_000
    }

    fn check_silence(&self, who: String, silent_ns: u64) -> Result<(), Failure> {
        if silent_ns < self.min_silence_ns() {
            return Err(Failure::new(
                "lost-only-after-epoch-limit",
                format!(
                    "{who} declared lost after {} ms of silence; EpochLimit {} x {} ms allows no less than {} ms",
                    silent_ns / 1_000_000,
                    self.params.epoch_limit,
                    self.params.epoch_millis,
                    self.min_silence_ns() / 1_000_000
                ),
            ));
        }
        Ok(())
    }
}

fn next_in_order(
    what: &str,
    sent: Option<&Vec<Vec<u8>>>,
    idx: &mut usize,
    got: &[u8],
) -> Result<(), Failure> {
    let expected = sent.and_then(|s| s.get(*idx));
    if expected.map(Vec::as_slice) != Some(got) {
        return Err(Failure::new(
            "exactly-once-in-order",
            format!(
                "{what} read #{} = {:?}, but the peer's message #{} is {:?}",
                *idx,
                String::from_utf8_lossy(got),
                *idx,
                expected.map(|e| String::from_utf8_lossy(e).into_owned())
            ),
        ));
    }
    *idx += 1;
    Ok(())
}

impl Checker<LspEvent> for LspChecker {
    fn on_event(&mut self, _now: Time, _node: Addr, event: &LspEvent) -> Result<(), Failure> {
        match event {
            LspEvent::ClientWrote { client, payload } => {
                self.written
                    .entry(*client)
                    .or_default()
                    .push(payload.clone());
            }
            LspEvent::ClientConnected { client, conn } => {
                self.client_conn.insert(*client, *conn);
            }
            LspEvent::ServerAccepted { conn, from } => {
                self.conn_client.insert(*conn, *from);
            }
            LspEvent::ServerWrote { conn, payload } => {
                self.server_wrote
                    .entry(*conn)
                    .or_default()
                    .push(payload.clone());
            }
            LspEvent::ServerRead { conn, payload } => {
                let client = self.conn_client.get(conn).copied();
                let sent = client.and_then(|c| self.written.get(&c));
                let idx = self.server_read.entry(*conn).or_default();
                next_in_order(&format!("server conn {conn}"), sent, idx, payload)?;
            }
            LspEvent::ClientRead { client, payload } => {
                let conn = self.client_conn.get(client).copied();
                let sent = conn.and_then(|c| self.server_wrote.get(&c));
                let idx = self.client_read.entry(*client).or_default();
                next_in_order(&format!("client {client}"), sent, idx, payload)?;
            }
            LspEvent::ClientLost { client, silent_ns } => {
                self.losses.0 += 1;
                self.check_silence(format!("client {client}"), *silent_ns)?;
            }
            LspEvent::ServerLost { conn, silent_ns } => {
                self.losses.1 += 1;
                self.check_silence(format!("server conn {conn}"), *silent_ns)?;
            }
            LspEvent::ClientClosed {
                client,
                lost: false,
            } => {
                let wrote = self.written.get(client).map_or(0, Vec::len);
                let conn = self.client_conn.get(client).copied().unwrap_or(0);
                let read = self.server_read.get(&conn).copied().unwrap_or(0);
                if read != wrote {
                    return Err(Failure::new(
                        "close-only-when-all-acked",
                        format!("client {client} closed cleanly after writing {wrote}, but the server read {read}"),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// One direction of one connection, as seen on the wire.
#[derive(Default)]
struct Flow {
    /// Highest sequence number sent so far: first transmissions go out in order, so a
    /// Data at or below it is a retransmission.
    max_sent: Option<i64>,
    /// Sent and not acked by anything seen on the wire.
    outstanding: BTreeSet<i64>,
}

/// Sniffs datagrams for the window and MaxUnackedMessages rules (spec §6).
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
