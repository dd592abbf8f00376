//! The history checker of every LSP world: every read is the next message its peer wrote
//! (exactly once, in order, never corrupted: systems/lsp/SPEC.md §7); a loss comes only
//! after EpochLimit silent epochs (§8b); a close that reports success means the server
//! read everything the client wrote (§9).

use super::{CLOSE_ONLY_WHEN_ALL_ACKED, EXACTLY_ONCE_IN_ORDER, LOST_ONLY_AFTER_EPOCH_LIMIT};
use crate::lsp::nodes::LspEvent;
use faultline::{Addr, Checker, Failure, Time};
use lsp::Params;
use std::collections::BTreeMap;

/// The history checker. It judges what was read, never what was left unread (a server
/// that closes first may leave messages unread; the intents check that themselves).
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
            return Err(LOST_ONLY_AFTER_EPOCH_LIMIT.fail(format!(
                    "{who} declared lost after {} ms of silence; EpochLimit {} x {} ms allows no less than {} ms",
                    silent_ns / 1_000_000,
                    self.params.epoch_limit,
                    self.params.epoch_millis,
                    self.min_silence_ns() / 1_000_000
            )));
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
        return Err(EXACTLY_ONCE_IN_ORDER.fail(format!(
            "{what} read #{} = {:?}, but the peer's message #{} is {:?}",
            *idx,
            String::from_utf8_lossy(got),
            *idx,
            expected.map(|e| String::from_utf8_lossy(e).into_owned())
        )));
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
                    return Err(CLOSE_ONLY_WHEN_ALL_ACKED.fail(format!(
                        "client {client} closed cleanly after writing {wrote}, but the server read {read}"
                    )));
                }
            }
            _ => {}
        }
        Ok(())
    }
}
