//! The line protocol (SPEC.md §4): requests, replies, and a growing line reader.
//!
//! Client -> server, one request per `\n`-terminated line:
//! `Put:key:value`, `Get:key`, `Delete:key`, `Update:key:old:new`. Fields are split on `:`
//! with a bounded count (Put 3, Get and Delete 2, Update 4), as SPEC.md §4 says, so the last
//! field may itself hold colons. Server -> client: only Get answers, one `key:value\n` per
//! value.
//!
//! Decisions where the course is silent (SPEC.md §5; tested below):
//! - A trailing `\r` is stripped, so `nc -C` and telnet work; values never end in `\r`.
//! - A malformed line (empty, unknown command, missing field) is **ignored and counted**;
//!   the connection stays open. A faulty client then cannot hurt anyone but itself, and the
//!   count makes the fault visible (`KvEvent::Malformed`, the server's stats line).
//! - Lines may be of any length up to [`MAX_LINE_BYTES`] (1 MiB, far above the course's
//!   4 KiB-plus values). A longer line is discarded up to its newline and counted as
//!   malformed, so one client cannot make the server's memory grow without bound.

use serde::{Deserialize, Serialize};

/// The longest request line the server keeps, newline excluded.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// One client request (SPEC.md §4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Get {
        key: Vec<u8>,
    },
    Delete {
        key: Vec<u8>,
    },
    Update {
        key: Vec<u8>,
        old: Vec<u8>,
        new: Vec<u8>,
    },
}

/// Why a line is not a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParseError {
    /// Nothing on the line.
    Empty,
    /// The first field is not Put, Get, Delete or Update.
    UnknownCommand,
    /// Fewer fields than the command needs.
    MissingField,
    /// Longer than [`MAX_LINE_BYTES`]; discarded unread.
    TooLong,
}

impl Request {
    /// The key this request is about.
    pub fn key(&self) -> &[u8] {
        match self {
            Request::Put { key, .. }
            | Request::Get { key }
            | Request::Delete { key }
            | Request::Update { key, .. } => key,
        }
    }

    /// The request as a wire line, newline included. Fields must not hold `\n`, and every
    /// field but the last must not hold `:`, or the line parses differently.
    pub fn encode(&self) -> Vec<u8> {
        let fields: Vec<&[u8]> = match self {
            Request::Put { key, value } => vec![b"Put", key, value],
            Request::Get { key } => vec![b"Get", key],
            Request::Delete { key } => vec![b"Delete", key],
            Request::Update { key, old, new } => vec![b"Update", key, old, new],
        };
        let mut line = fields.join(&b':');
        line.push(b'\n');
        line
    }
}

/// Parse one request line (without its `\n`). Never panics, whatever the bytes.
pub fn parse_request(line: &[u8]) -> Result<Request, ParseError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(ParseError::Empty);
    }
    let command = line.split(|&b| b == b':').next().unwrap_or(line);
    let arity = match command {
        b"Put" => 3,
        b"Get" | b"Delete" => 2,
        b"Update" => 4,
        _ => return Err(ParseError::UnknownCommand),
    };
    let fields: Vec<&[u8]> = line.splitn(arity, |&b| b == b':').collect();
    if fields.len() < arity {
        return Err(ParseError::MissingField);
    }
    let f = |i: usize| fields[i].to_vec();
    Ok(match arity {
        3 => Request::Put {
            key: f(1),
            value: f(2),
        },
        4 => Request::Update {
            key: f(1),
            old: f(2),
            new: f(3),
        },
        _ if command == b"Get" => Request::Get { key: f(1) },
        _ => Request::Delete { key: f(1) },
    })
}

/// A Get reply line: `key:value\n` (SPEC.md §4: exactly one newline).
pub fn encode_reply(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(key.len() + value.len() + 2);
    line.extend_from_slice(key);
    line.push(b':');
    line.extend_from_slice(value);
    line.push(b'\n');
    line
}

/// Split a reply line (without its `\n`) into key and value at the first `:`.
pub fn parse_reply(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = line.iter().position(|&b| b == b':')?;
    Some((&line[..at], &line[at + 1..]))
}

/// Turns a byte stream into lines, whatever the chunk boundaries (SPEC.md §4: lines of any
/// length, in any chunks). A line longer than its limit is discarded up to its newline and
/// reported once as [`ParseError::TooLong`].
#[derive(Debug)]
pub struct LineReader {
    partial: Vec<u8>,
    /// Bytes of an over-long line are being skipped until the next newline.
    discarding: bool,
    max_line: usize,
}

impl Default for LineReader {
    fn default() -> Self {
        LineReader::new(MAX_LINE_BYTES)
    }
}

impl LineReader {
    pub fn new(max_line: usize) -> LineReader {
        LineReader {
            partial: Vec::new(),
            discarding: false,
            max_line,
        }
    }

    /// Bytes held for an unfinished line (what this reader costs in memory).
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Feed bytes; `on_line` gets every line completed by them, in order, without its `\n`.
    pub fn feed(&mut self, data: &[u8], mut on_line: impl FnMut(Result<&[u8], ParseError>)) {
        let mut rest = data;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            let head = &rest[..at];
            rest = &rest[at + 1..];
            if std::mem::take(&mut self.discarding) {
                on_line(Err(ParseError::TooLong));
            } else if self.partial.len() + head.len() > self.max_line {
                self.partial.clear();
                on_line(Err(ParseError::TooLong));
            } else if self.partial.is_empty() {
                on_line(Ok(head));
            } else {
                self.partial.extend_from_slice(head);
                on_line(Ok(&self.partial));
                self.partial.clear();
            }
        }
        if self.discarding {
            return;
        }
        if self.partial.len() + rest.len() > self.max_line {
            self.partial = Vec::new();
            self.discarding = true;
        } else {
            self.partial.extend_from_slice(rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> Request {
        Request::Put {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn parses_each_command_with_bounded_split() {
        assert_eq!(
            parse_request(b"Put:key_1_2:value_3"),
            Ok(put("key_1_2", "value_3"))
        );
        // Bounded split: Put has 3 fields, so the value keeps its colons.
        assert_eq!(parse_request(b"Put:k:a:b"), Ok(put("k", "a:b")));
        assert_eq!(
            parse_request(b"Get:k"),
            Ok(Request::Get { key: b"k".to_vec() })
        );
        assert_eq!(
            parse_request(b"Delete:k"),
            Ok(Request::Delete { key: b"k".to_vec() })
        );
        assert_eq!(
            parse_request(b"Update:k:old:new:x"),
            Ok(Request::Update {
                key: b"k".to_vec(),
                old: b"old".to_vec(),
                new: b"new:x".to_vec()
            })
        );
        assert_eq!(parse_request(b"Put:k:v\r"), Ok(put("k", "v")));
        assert_eq!(parse_request(b"Put:k:"), Ok(put("k", "")));
    }

    #[test]
    fn malformed_lines_are_errors_not_panics() {
        assert_eq!(parse_request(b""), Err(ParseError::Empty));
        assert_eq!(parse_request(b"\r"), Err(ParseError::Empty));
        assert_eq!(parse_request(b"Post:k:v"), Err(ParseError::UnknownCommand));
        assert_eq!(parse_request(b"put:k:v"), Err(ParseError::UnknownCommand));
        assert_eq!(parse_request(b"Put:k"), Err(ParseError::MissingField));
        assert_eq!(parse_request(b"Put"), Err(ParseError::MissingField));
        assert_eq!(parse_request(b"Get"), Err(ParseError::MissingField));
        assert_eq!(
            parse_request(b"Update:k:old"),
            Err(ParseError::MissingField)
        );
        assert_eq!(
            parse_request(&[0xff, b':', 0x00]),
            Err(ParseError::UnknownCommand)
        );
    }

    #[test]
    fn encode_round_trips_and_replies_have_one_newline() {
        let r = Request::Update {
            key: b"k".to_vec(),
            old: b"o".to_vec(),
            new: b"n".to_vec(),
        };
        assert_eq!(r.encode(), b"Update:k:o:n\n");
        assert_eq!(
            parse_request(r.encode().strip_suffix(b"\n").unwrap()),
            Ok(r)
        );
        let reply = encode_reply(b"key_1", b"value_2");
        assert_eq!(reply, b"key_1:value_2\n");
        assert_eq!(reply.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(
            parse_reply(b"key_1:v:w"),
            Some((&b"key_1"[..], &b"v:w"[..]))
        );
        assert_eq!(parse_reply(b"novalue"), None);
    }

    fn collect(reader: &mut LineReader, data: &[u8]) -> Vec<Result<Vec<u8>, ParseError>> {
        let mut out = Vec::new();
        reader.feed(data, |l| out.push(l.map(<[u8]>::to_vec)));
        out
    }

    #[test]
    fn line_reader_joins_chunks_and_handles_long_lines() {
        let mut r = LineReader::default();
        let long = vec![b'x'; 10_000];
        assert!(collect(&mut r, b"Put:k:").is_empty());
        assert!(collect(&mut r, &long).is_empty());
        let lines = collect(&mut r, b"\nGet:k\nDel");
        let mut first = b"Put:k:".to_vec();
        first.extend_from_slice(&long);
        assert_eq!(lines, vec![Ok(first), Ok(b"Get:k".to_vec())]);
        assert_eq!(r.buffered(), 3);
    }

    #[test]
    fn over_long_line_is_discarded_once_and_reading_goes_on() {
        let mut r = LineReader::new(8);
        assert!(collect(&mut r, b"0123456789").is_empty());
        assert_eq!(r.buffered(), 0, "an over-long line is not kept");
        assert!(collect(&mut r, b"abcdef").is_empty());
        let lines = collect(&mut r, b"gh\nGet:k\n0123456789abc\nGet:j\n");
        assert_eq!(
            lines,
            vec![
                Err(ParseError::TooLong),
                Ok(b"Get:k".to_vec()),
                Err(ParseError::TooLong),
                Ok(b"Get:j".to_vec())
            ]
        );
        // Exactly the limit is fine.
        assert_eq!(
            collect(&mut r, b"12345678\n"),
            vec![Ok(b"12345678".to_vec())]
        );
    }
}
