//! The miner's wire messages: the original JSON of SPEC.md §2.
//!
//! Every message is one JSON object with the fields of the Go struct, in this order:
//! `{"Type":..,"Data":..,"Lower":..,"Upper":..,"Hash":..,"Nonce":..}`, sent as one LSP
//! payload. `Type` is 0 = Join (miner -> server), 1 = Request (client -> server and
//! server -> miner; uses Data, Lower, Upper, an inclusive range), 2 = Result (miner ->
//! server and server -> client; uses Hash, Nonce). Unused fields are zero.
//!
//! Decoding is strict about what our peers can legitimately send: all six fields present,
//! a known `Type`, numbers that fit a u64 and `Lower <= Upper` for a Request. Anything else
//! is a [`DecodeError`], never a panic: the caller drops it and counts it.

use serde::Deserialize;

/// One miner protocol message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A miner announces itself to the server.
    Join,
    /// Find the nonce in `[lower, upper]` (inclusive) with the smallest hash of `data`.
    Request {
        data: String,
        lower: u64,
        upper: u64,
    },
    /// The smallest hash found and its nonce.
    Result { hash: u64, nonce: u64 },
}

/// The Go struct as it appears on the wire. Field order is the JSON order.
#[derive(Deserialize)]
#[allow(non_snake_case)]
struct Wire {
    Type: u8,
    Data: String,
    Lower: u64,
    Upper: u64,
    Hash: u64,
    Nonce: u64,
}

impl Wire {
    /// The bytes Go's `json.Marshal` writes for this struct: fields in order, no spaces, and
    /// strings escaped as Go escapes them (see [`push_go_string`]), so the payload, and with
    /// it LSP's Size and Checksum, is byte for byte what a Go program sends.
    fn encode_as_go(&self) -> Vec<u8> {
        let mut out = String::with_capacity(80 + self.Data.len());
        out.push_str(&format!("{{\"Type\":{},\"Data\":", self.Type));
        push_go_string(&mut out, &self.Data);
        out.push_str(&format!(
            ",\"Lower\":{},\"Upper\":{},\"Hash\":{},\"Nonce\":{}}}",
            self.Lower, self.Upper, self.Hash, self.Nonce
        ));
        out.into_bytes()
    }
}

/// Append `s` as a JSON string the way Go's `encoding/json` (1.19) writes it: `"` and `\`
/// escaped; `\n`, `\r`, `\t` short; every other control character as `\u00XX` (so
/// backspace is `\u0008` and form feed `\u000c`, where serde_json writes `\b` and `\f`);
/// `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026` (Go's HTML-safe default); U+2028 and
/// U+2029 as `\u2028`, `\u2029`; everything else as is.
fn push_go_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                let b = c as u32 as u8;
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Why a payload is not a miner message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a miner message: {0}")]
    Json(String),
    #[error("unknown message type {0}")]
    UnknownType(u8),
    #[error("request range is empty: lower {lower} > upper {upper}")]
    EmptyRange { lower: u64, upper: u64 },
}

const TYPE_JOIN: u8 = 0;
const TYPE_REQUEST: u8 = 1;
const TYPE_RESULT: u8 = 2;

impl Message {
    /// The JSON bytes of this message, fields in the Go struct's order.
    pub fn encode(&self) -> Vec<u8> {
        let wire = match self {
            Message::Join => Wire {
                Type: TYPE_JOIN,
                Data: String::new(),
                Lower: 0,
                Upper: 0,
                Hash: 0,
                Nonce: 0,
            },
            Message::Request { data, lower, upper } => Wire {
                Type: TYPE_REQUEST,
                Data: data.clone(),
                Lower: *lower,
                Upper: *upper,
                Hash: 0,
                Nonce: 0,
            },
            Message::Result { hash, nonce } => Wire {
                Type: TYPE_RESULT,
                Data: String::new(),
                Lower: 0,
                Upper: 0,
                Hash: *hash,
                Nonce: *nonce,
            },
        };
        wire.encode_as_go()
    }

    /// Parse one payload. Malformed input is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let wire: Wire =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::Json(e.to_string()))?;
        match wire.Type {
            TYPE_JOIN => Ok(Message::Join),
            TYPE_REQUEST if wire.Lower > wire.Upper => Err(DecodeError::EmptyRange {
                lower: wire.Lower,
                upper: wire.Upper,
            }),
            TYPE_REQUEST => Ok(Message::Request {
                data: wire.Data,
                lower: wire.Lower,
                upper: wire.Upper,
            }),
            TYPE_RESULT => Ok(Message::Result {
                hash: wire.Hash,
                nonce: wire.Nonce,
            }),
            other => Err(DecodeError::UnknownType(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_gos_encoding_json_writes_them() {
        let data = "a<b>&c\u{2028}\u{2029}\u{8}\u{c}\n\r\t\"\\\u{1}\u{1f}\u{7f}é€😀";
        let m = Message::Request {
            data: data.to_string(),
            lower: 1,
            upper: 2,
        };
        // As Go 1.19's json.Marshal writes it: DEL and non-ASCII go out as they are.
        let want = concat!(
            r#"{"Type":1,"Data":"a\u003cb\u003e\u0026c\u2028\u2029\u0008\u000c\n\r\t\"\\"#,
            r#"\u0001\u001f"#,
            "\u{7f}é€😀",
            r#"","Lower":1,"Upper":2,"Hash":0,"Nonce":0}"#
        );
        assert_eq!(String::from_utf8(m.encode()).unwrap(), want);
        assert_eq!(Message::decode(want.as_bytes()), Ok(m));
    }

    #[test]
    fn every_character_round_trips_and_plain_text_matches_serde_json() {
        for c in (0u32..0x3000)
            .chain([0xfffd, 0x10ffff])
            .filter_map(char::from_u32)
        {
            let data = format!("x{c}y");
            let m = Message::Request {
                data: data.clone(),
                lower: 0,
                upper: 0,
            };
            let bytes = m.encode();
            assert_eq!(Message::decode(&bytes), Ok(m), "{c:?}");
            let go_specific = (c as u32) < 0x20 || "<>&\u{2028}\u{2029}".contains(c);
            if !go_specific {
                let serde = serde_json::to_string(&data).unwrap();
                let text = String::from_utf8(bytes).unwrap();
                assert!(text.contains(&format!("\"Data\":{serde},")), "{c:?}");
            }
        }
    }

    #[test]
    fn encodes_fields_in_go_order() {
        let join = Message::Join.encode();
        assert_eq!(
            std::str::from_utf8(&join).unwrap(),
            r#"{"Type":0,"Data":"","Lower":0,"Upper":0,"Hash":0,"Nonce":0}"#
        );
        let req = Message::Request {
            data: "msg".into(),
            lower: 0,
            upper: 2,
        }
        .encode();
        assert_eq!(
            std::str::from_utf8(&req).unwrap(),
            r#"{"Type":1,"Data":"msg","Lower":0,"Upper":2,"Hash":0,"Nonce":0}"#
        );
        let res = Message::Result {
            hash: 4754799531757243342,
            nonce: 1,
        }
        .encode();
        assert_eq!(
            std::str::from_utf8(&res).unwrap(),
            r#"{"Type":2,"Data":"","Lower":0,"Upper":0,"Hash":4754799531757243342,"Nonce":1}"#
        );
    }

    #[test]
    fn round_trips() {
        let msgs = [
            Message::Join,
            Message::Request {
                data: "héllo \"world\" \\ \n".into(),
                lower: 5,
                upper: u64::MAX,
            },
            Message::Result {
                hash: u64::MAX,
                nonce: 0,
            },
        ];
        for m in msgs {
            assert_eq!(Message::decode(&m.encode()), Ok(m.clone()));
        }
    }

    #[test]
    fn accepts_go_html_escapes_and_whitespace() {
        // Go's encoding/json escapes <, > and & as \u003c etc.; any JSON reader must take it.
        let go =
            br#"{ "Type": 1, "Data": "a\u003cb", "Lower": 1, "Upper": 1, "Hash": 0, "Nonce": 0 }"#;
        assert_eq!(
            Message::decode(go),
            Ok(Message::Request {
                data: "a<b".into(),
                lower: 1,
                upper: 1
            })
        );
    }

    #[test]
    fn rejects_malformed_without_panicking() {
        let bad: &[&[u8]] = &[
            b"",
            b"{",
            b"null",
            b"[1,2]",
            br#"{"Type":3,"Data":"","Lower":0,"Upper":0,"Hash":0,"Nonce":0}"#,
            br#"{"Type":-1,"Data":"","Lower":0,"Upper":0,"Hash":0,"Nonce":0}"#,
            br#"{"Type":1,"Data":"x","Lower":5,"Upper":4,"Hash":0,"Nonce":0}"#,
            br#"{"Type":1,"Data":"x","Lower":0}"#,
            br#"{"Type":2,"Data":"","Lower":0,"Upper":0,"Hash":18446744073709551616,"Nonce":0}"#,
            br#"{"Type":2,"Data":7,"Lower":0,"Upper":0,"Hash":1,"Nonce":0}"#,
            &[0xff, 0xfe, 0x00],
        ];
        for b in bad {
            assert!(
                Message::decode(b).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(b)
            );
        }
        // Every truncation of a valid message is rejected too (a truncated datagram).
        let full = Message::Request {
            data: "abc".into(),
            lower: 0,
            upper: 99,
        }
        .encode();
        for cut in 0..full.len() {
            assert!(Message::decode(&full[..cut]).is_err());
        }
    }

    #[test]
    fn random_mutations_never_panic_and_valid_survivors_round_trip() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(440);
        let seeds = [
            Message::Join.encode(),
            Message::Request {
                data: "abc".into(),
                lower: 3,
                upper: 900,
            }
            .encode(),
            Message::Result {
                hash: 77,
                nonce: 12,
            }
            .encode(),
        ];
        for i in 0..20_000 {
            let mut b = seeds[i % 3].clone();
            for _ in 0..rng.gen_range(1..4) {
                match rng.gen_range(0..3) {
                    0 if !b.is_empty() => {
                        let at = rng.gen_range(0..b.len());
                        b[at] ^= 1 << rng.gen_range(0..8);
                    }
                    1 if !b.is_empty() => b.truncate(rng.gen_range(0..b.len())),
                    _ => b.insert(rng.gen_range(0..=b.len()), rng.gen()),
                }
            }
            if let Ok(m) = Message::decode(&b) {
                // Whatever is accepted is a well-formed message.
                assert_eq!(Message::decode(&m.encode()), Ok(m.clone()));
                if let Message::Request { lower, upper, .. } = m {
                    assert!(lower <= upper);
                }
            }
        }
    }
}
