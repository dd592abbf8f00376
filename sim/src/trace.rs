//! The trace: a running SHA-256 over every delivered event, and an optional JSON-lines log.
//!
//! Each event is folded in as a header (true time, node, kind, and the kind's numbers)
//! followed by its bytes, so two runs hash alike only if they delivered the same events, in the same
//! order, at the same times, with the same contents.

use crate::node::Addr;
use crate::time::Time;
use sha2::{Digest, Sha256};
use std::io::Write;

/// What kind of event was delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TraceKind {
    Start = 1,
    Datagram = 2,
    Timer = 3,
    Accepted = 4,
    Connected = 5,
    StreamData = 6,
    Writable = 7,
    Closed = 8,
    Fault = 9,
    Call = 10,
}

impl TraceKind {
    fn name(self) -> &'static str {
        match self {
            TraceKind::Start => "start",
            TraceKind::Datagram => "datagram",
            TraceKind::Timer => "timer",
            TraceKind::Accepted => "accepted",
            TraceKind::Connected => "connected",
            TraceKind::StreamData => "stream_data",
            TraceKind::Writable => "writable",
            TraceKind::Closed => "closed",
            TraceKind::Fault => "fault",
            TraceKind::Call => "call",
        }
    }
}

const BATCH: usize = 4096;

/// The running hash and the optional log.
pub struct Trace {
    hasher: Sha256,
    /// Records wait here and are hashed a few KiB at a time: one hasher call per batch,
    /// not two per event. The bytes hashed are the same either way.
    pending: Vec<u8>,
    log: Option<Box<dyn Write>>,
    log_error: Option<String>,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            hasher: Sha256::new(),
            pending: Vec::with_capacity(BATCH * 2),
            log: None,
            log_error: None,
        }
    }
}

impl Trace {
    /// Also write every event as a JSON line to `log`.
    pub fn set_log(&mut self, log: Box<dyn Write>) {
        self.log = Some(log);
    }

    /// Fold one delivered event into the hash (and the log).
    pub fn record(&mut self, at: Time, node: Addr, kind: TraceKind, a: u64, b: u64, data: &[u8]) {
        // Time, node, kind and `a` always; `b` and the length only where the kind has them,
        // so the common event costs fewer bytes of hashing.
        let mut head = [0u8; 33];
        head[..8].copy_from_slice(&at.0.to_le_bytes());
        head[8..12].copy_from_slice(&node.0.to_le_bytes());
        head[12] = kind as u8;
        head[13..21].copy_from_slice(&a.to_le_bytes());
        let len = match kind {
            TraceKind::Datagram | TraceKind::StreamData | TraceKind::Fault => {
                head[21..25].copy_from_slice(&(data.len() as u32).to_le_bytes());
                25
            }
            _ => {
                head[21..29].copy_from_slice(&b.to_le_bytes());
                29
            }
        };
        self.pending.extend_from_slice(&head[..len]);
        self.pending.extend_from_slice(data);
        if self.pending.len() >= BATCH {
            self.hasher.update(&self.pending);
            self.pending.clear();
        }
        if self.log.is_some() {
            self.write_line(at, node, kind, a, b, data);
        }
    }

    fn write_line(&mut self, at: Time, node: Addr, kind: TraceKind, a: u64, b: u64, data: &[u8]) {
        let data = match std::str::from_utf8(data) {
            Ok(text) => serde_json::Value::String(text.to_string()),
            Err(_) => serde_json::json!({ "hex": hex::encode(data) }),
        };
        let line = serde_json::json!({
            "t_ns": at.0, "node": node.0, "kind": kind.name(), "a": a, "b": b, "data": data,
        });
        if let Some(log) = self.log.as_mut() {
            if let Err(e) = writeln!(log, "{line}") {
                self.log_error.get_or_insert_with(|| e.to_string());
                self.log = None;
            }
        }
    }

    /// Flush the log; an error if any write failed.
    pub fn finish_log(&mut self) -> Result<(), String> {
        if let Some(log) = self.log.as_mut() {
            if let Err(e) = log.flush() {
                self.log_error.get_or_insert_with(|| e.to_string());
            }
        }
        match &self.log_error {
            Some(e) => Err(format!("writing the trace failed: {e}")),
            None => Ok(()),
        }
    }

    /// The hash of everything so far, hex.
    pub fn hash_hex(&self) -> String {
        let mut hasher = self.hasher.clone();
        hasher.update(&self.pending);
        hex::encode(hasher.finalize())
    }
}
