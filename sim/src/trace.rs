//! The trace: a running SHA-256 over every delivered event, and an optional JSON-lines log.
//!
//! Each event is folded in as a compact header (time since the previous event, node, kind,
//! and the kind's numbers) followed by its bytes, so two runs hash alike only if they delivered the same events, in the same
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
    /// A crash under a storage fault model did more than lose unsynced writes.
    Storage = 11,
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
            TraceKind::Storage => "storage",
        }
    }
}

/// Hash the buffer once it holds this much.
const BATCH: usize = 4096;
/// Payloads longer than this are hashed in place rather than copied.
const LARGE: usize = 512;
/// Room for a batch, one header copied whole, and one small payload.
const BUF: usize = BATCH + HEAD + LARGE;
/// Space for the longest header (five varints).
const HEAD: usize = 64;

/// The running hash and the optional log.
pub struct Trace {
    hasher: Sha256,
    /// Records wait here and are hashed a few KiB at a time: one hasher call per batch,
    /// not two per event. The bytes hashed are the same either way.
    buf: Box<[u8; BUF]>,
    pos: usize,
    /// Time of the last event recorded (records carry the difference).
    last_at: u64,
    log: Option<Box<dyn Write>>,
    log_error: Option<String>,
    /// Also log notes (see [`Trace::note`]).
    notes: bool,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            hasher: Sha256::new(),
            buf: Box::new([0; BUF]),
            pos: 0,
            last_at: 0,
            log: None,
            log_error: None,
            notes: false,
        }
    }
}

impl Trace {
    /// Also write every event as a JSON line to `log`.
    pub fn set_log(&mut self, log: Box<dyn Write>) {
        self.log = Some(log);
    }

    /// Also write notes to the log: what the world saw besides delivered events (each
    /// datagram sent and its fate, each history event). Off by default, so the log is the
    /// delivered events only.
    pub fn set_notes(&mut self, on: bool) {
        self.notes = on;
    }

    /// Whether [`Trace::note`] writes anything: notes are on and there is a log.
    pub fn noting(&self) -> bool {
        self.notes && self.log.is_some()
    }

    /// Write `line` (an object with `t_ns`, `node` and `kind`) to the log, if notes are on.
    /// Never hashed: a note explains a run, it is not part of it, so runs with and without
    /// notes have the same trace hash.
    pub fn note(&mut self, line: serde_json::Value) {
        if !self.noting() {
            return;
        }
        if let Some(log) = self.log.as_mut() {
            if let Err(e) = writeln!(log, "{line}") {
                self.log_error.get_or_insert_with(|| e.to_string());
                self.log = None;
            }
        }
    }

    /// Fold one delivered event into the hash (and the log).
    pub fn record(&mut self, at: Time, node: Addr, kind: TraceKind, a: u64, b: u64, data: &[u8]) {
        // A compact record: the time since the last event, then node, kind and the kind's
        // numbers, all as LEB128 varints, then the bytes. The kind fixes which fields follow,
        // so the encoding parses one way only and distinct traces hash differently; it is
        // about half the bytes of fixed-width fields, and hashing is paid per byte.
        let mut head = [0u8; HEAD];
        let mut len = 0;
        let mut put = |mut v: u64| loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                head[len] = byte;
                len += 1;
                break;
            }
            head[len] = byte | 0x80;
            len += 1;
        };
        put(at.0.wrapping_sub(self.last_at));
        put(node.0 as u64);
        put(kind as u64);
        put(a);
        match kind {
            TraceKind::Datagram | TraceKind::StreamData | TraceKind::Fault => {
                put(data.len() as u64)
            }
            _ => put(b),
        }
        self.last_at = at.0;
        // The whole header array is copied (a fixed-size copy, inlined) and `pos` moves by
        // its used length: a variable-length copy here costs a libc call per event.
        self.buf[self.pos..self.pos + HEAD].copy_from_slice(&head);
        self.pos += len;
        if data.len() > LARGE {
            self.flush();
            self.hasher.update(data);
        } else {
            self.buf[self.pos..self.pos + data.len()].copy_from_slice(data);
            self.pos += data.len();
        }
        if self.pos >= BATCH {
            self.flush();
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
        hasher.update(&self.buf[..self.pos]);
        hex::encode(hasher.finalize())
    }

    fn flush(&mut self) {
        self.hasher.update(&self.buf[..self.pos]);
        self.pos = 0;
    }
}

/// Cut `buf`, the next bytes of a stream of trace lines, into whole lines: each is passed to
/// `line` (without its newline); a part line waits in `partial` for the rest. What a writer
/// that reads a trace as it is written (a [`crate::harness::TraceSink`]) needs.
pub fn feed_lines(partial: &mut Vec<u8>, buf: &[u8], mut line: impl FnMut(&[u8])) {
    let mut rest = buf;
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        if partial.is_empty() {
            line(&rest[..nl]);
        } else {
            partial.extend_from_slice(&rest[..nl]);
            let whole = std::mem::take(partial);
            line(&whole);
        }
        rest = &rest[nl + 1..];
    }
    partial.extend_from_slice(rest);
}
