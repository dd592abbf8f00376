//! LSP messages on the wire: one JSON object per datagram, exactly as Go's
//! `encoding/json` writes the original `Message` struct (SPEC.md §1).
//!
//! Fields are written in the original order (`Type, ConnID, SeqNum, Size, Checksum,
//! Payload`); the payload is standard base64 with padding, `null` when absent and `""`
//! when empty. Decoding is as lenient as Go's: any field order, missing fields are zero,
//! unknown fields ignored. Anything that is not such an object is [`DecodeError`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The four message types, with their wire numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgType {
    Connect = 0,
    Data = 1,
    Ack = 2,
    CAck = 3,
}

impl MsgType {
    fn from_wire(v: i64) -> Option<MsgType> {
        Some(match v {
            0 => MsgType::Connect,
            1 => MsgType::Data,
            2 => MsgType::Ack,
            3 => MsgType::CAck,
            _ => return None,
        })
    }
}

impl Serialize for MsgType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(*self as i64)
    }
}

impl<'de> Deserialize<'de> for MsgType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MsgType, D::Error> {
        let v = i64::deserialize(d)?;
        MsgType::from_wire(v).ok_or_else(|| serde::de::Error::custom("unknown message type"))
    }
}

/// One LSP message. Integer fields are Go `int`s (64-bit) on the wire; the checksum is a
/// `uint16`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    #[serde(rename = "Type", default = "connect")]
    pub ty: MsgType,
    #[serde(rename = "ConnID", default)]
    pub conn_id: i64,
    #[serde(rename = "SeqNum", default)]
    pub seq_num: i64,
    #[serde(rename = "Size", default)]
    pub size: i64,
    #[serde(rename = "Checksum", default)]
    pub checksum: u16,
    #[serde(rename = "Payload", default, with = "payload_b64")]
    pub payload: Option<Vec<u8>>,
}

fn connect() -> MsgType {
    MsgType::Connect
}

/// Why a datagram is not an LSP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an LSP message: {0}")]
pub struct DecodeError(pub String);

impl Message {
    /// `(Connect, 0, isn)`.
    pub fn connect(isn: i64) -> Message {
        Message::header(MsgType::Connect, 0, isn)
    }

    /// `(Data, id, sn, len, checksum, payload)` with the checksum computed.
    pub fn data(conn_id: i64, seq_num: i64, payload: Vec<u8>) -> Message {
        let size = payload.len() as i64;
        let checksum = crate::checksum(conn_id, seq_num, size, &payload);
        Message {
            ty: MsgType::Data,
            conn_id,
            seq_num,
            size,
            checksum,
            payload: Some(payload),
        }
    }

    /// `(Ack, id, sn)`; `sn = 0` is a heartbeat.
    pub fn ack(conn_id: i64, seq_num: i64) -> Message {
        Message::header(MsgType::Ack, conn_id, seq_num)
    }

    /// `(CAck, id, sn)`: acknowledges every Data with a sequence number up to `sn`.
    pub fn cack(conn_id: i64, seq_num: i64) -> Message {
        Message::header(MsgType::CAck, conn_id, seq_num)
    }

    fn header(ty: MsgType, conn_id: i64, seq_num: i64) -> Message {
        Message {
            ty,
            conn_id,
            seq_num,
            size: 0,
            checksum: 0,
            payload: None,
        }
    }

    /// The JSON bytes Go's `json.Marshal` would produce.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain integers and a base64 string cannot fail.
        serde_json::to_vec(self).expect("an LSP message always serialises")
    }

    /// Parse one datagram.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        // serde would also read a struct from a JSON array; Go only from an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(DecodeError("not a JSON object".into()));
        }
        serde_json::from_slice(bytes).map_err(|e| DecodeError(e.to_string()))
    }
}

/// The original's `String()` form, for logs: `[Data id sn checksum payload]`, `[Ack id sn]`.
impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ty {
            MsgType::Connect => write!(f, "[Connect {} {}]", self.conn_id, self.seq_num),
            MsgType::Ack => write!(f, "[Ack {} {}]", self.conn_id, self.seq_num),
            MsgType::CAck => write!(f, "[CAck {} {}]", self.conn_id, self.seq_num),
            MsgType::Data => {
                let p = self.payload.as_deref().unwrap_or_default();
                write!(
                    f,
                    "[Data {} {} {} {}]",
                    self.conn_id,
                    self.seq_num,
                    self.checksum,
                    String::from_utf8_lossy(p)
                )
            }
        }
    }
}

/// Go encodes a `[]byte` as standard base64 with padding, and a nil one as `null`.
mod payload_b64 {
    use super::*;

    pub fn serialize<S: Serializer>(p: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            None => s.serialize_none(),
            Some(bytes) => s.serialize_str(&STANDARD.encode(bytes)),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<std::borrow::Cow<'de, str>> = Option::deserialize(d)?;
        match text {
            None => Ok(None),
            Some(t) => STANDARD
                .decode(t.as_bytes())
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(m: &Message) -> String {
        String::from_utf8(m.encode()).unwrap()
    }

    #[test]
    fn data_is_encoded_like_go() {
        let m = Message::data(1, 1, b"hello".to_vec());
        assert_eq!(
            text(&m),
            r#"{"Type":1,"ConnID":1,"SeqNum":1,"Size":5,"Checksum":11701,"Payload":"aGVsbG8="}"#
        );
    }

    #[test]
    fn headers_have_null_payload() {
        assert_eq!(
            text(&Message::connect(42)),
            r#"{"Type":0,"ConnID":0,"SeqNum":42,"Size":0,"Checksum":0,"Payload":null}"#
        );
        assert_eq!(
            text(&Message::ack(7, 0)),
            r#"{"Type":2,"ConnID":7,"SeqNum":0,"Size":0,"Checksum":0,"Payload":null}"#
        );
        assert_eq!(
            text(&Message::cack(7, 9)),
            r#"{"Type":3,"ConnID":7,"SeqNum":9,"Size":0,"Checksum":0,"Payload":null}"#
        );
    }

    #[test]
    fn empty_payload_is_empty_string() {
        let m = Message::data(2, 3, Vec::new());
        assert!(text(&m).ends_with(r#""Payload":""}"#), "{}", text(&m));
        assert_eq!(Message::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn round_trips_binary_payloads() {
        let m = Message::data(9, 1 << 40, (0..=255).collect());
        assert_eq!(Message::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn decodes_like_go_any_order_missing_and_unknown_fields() {
        let m = Message::decode(br#"{"Payload":"aGk=","Extra":[1],"SeqNum":4,"Type":1}"#).unwrap();
        assert_eq!(m.ty, MsgType::Data);
        assert_eq!((m.conn_id, m.seq_num, m.size, m.checksum), (0, 4, 0, 0));
        assert_eq!(m.payload.as_deref(), Some(&b"hi"[..]));
    }

    #[test]
    fn rejects_what_go_would_reject() {
        for bad in [
            &b""[..],
            b"[]",
            b"{",
            br#"{"Type":9}"#,
            br#"{"Type":1,"Checksum":70000}"#,
            br#"{"Type":1,"Payload":"not base64!"}"#,
            br#"{"Type":"1"}"#,
        ] {
            assert!(
                Message::decode(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn debug_form_matches_the_original_string() {
        assert_eq!(
            format!("{:?}", Message::data(1, 2, b"x".to_vec())),
            "[Data 1 2 65411 x]"
        );
        assert_eq!(format!("{:?}", Message::ack(1, 0)), "[Ack 1 0]");
    }
}
