//! Frames on a stream (SPEC.md §3): a 4-byte big-endian length, then a bincode body.
//!
//! One server listens on one port. Remote actor systems send `Tell` frames; clients send
//! `Rpc` frames naming the query actor they address and get `Reply` frames back. Every
//! frame is checked as it is decoded: a peer's bad bytes close that stream, never panic.

use serde::{Deserialize, Serialize};

/// The most a frame body may hold. A bigger length prefix is treated as garbage.
pub const MAX_FRAME: usize = 64 << 20;

/// A client query (SPEC.md §3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    Get { key: String },
    Put { key: String, value: String },
    List { prefix: String },
}

/// The answer to a [`Query`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// Get: the value, or `None` if the key is absent.
    Value(Option<String>),
    /// Put done.
    Done,
    /// List: every entry with the prefix, sorted by key.
    Entries(Vec<(String, String)>),
    /// The server could not answer (no such actor, closed).
    Error(String),
}

/// One frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// A remote tell: marshalled message bytes for the actor or channel with this counter.
    Tell { to: u64, payload: Vec<u8> },
    /// A client RPC to query actor number `actor` of the server.
    Rpc { id: u64, actor: u32, query: Query },
    /// The answer to RPC `id`.
    Reply { id: u64, answer: Answer },
}

/// The bytes of one frame, length prefix included.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let body = bincode::serialize(frame).expect("frames always serialise");
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Reassembles frames from a stream's bytes.
#[derive(Debug, Default, Clone)]
pub struct Decoder {
    buf: Vec<u8>,
    start: usize,
}

impl Decoder {
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next whole frame, `Ok(None)` if more bytes are needed, or an error for garbage.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, String> {
        let rest = &self.buf[self.start..];
        if rest.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len > MAX_FRAME {
            return Err(format!("frame of {len} bytes is over the limit"));
        }
        if rest.len() < 4 + len {
            return Ok(None);
        }
        let frame = bincode::deserialize(&rest[4..4 + len])
            .map_err(|e| format!("undecodable frame: {e}"))?;
        self.start += 4 + len;
        if self.start > 1 << 16 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split_and_garbage_is_an_error() {
        let frames = vec![
            Frame::Tell {
                to: 3,
                payload: vec![1, 2, 3],
            },
            Frame::Rpc {
                id: 9,
                actor: 1,
                query: Query::Put {
                    key: "k".into(),
                    value: "v".into(),
                },
            },
            Frame::Reply {
                id: 9,
                answer: Answer::Entries(vec![("a".into(), "b".into())]),
            },
        ];
        let bytes: Vec<u8> = frames.iter().flat_map(encode).collect();
        for cut in 0..bytes.len() {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for part in [&bytes[..cut], &bytes[cut..]] {
                d.push(part);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got, frames);
        }
        let mut d = Decoder::default();
        d.push(&[0, 0, 0, 3, 0xff, 0xff, 0xff]);
        assert!(d.next_frame().is_err());
        let mut d = Decoder::default();
        d.push(&[0xff, 0xff, 0xff, 0xff]);
        assert!(d.next_frame().is_err());
    }
}
