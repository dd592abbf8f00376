//! LSP messages on the wire: one JSON object per datagram, exactly as Go's
//! `encoding/json` writes the original `Message` struct (SPEC.md §1).
//!
//! Fields are written in the original order (`Type, ConnID, SeqNum, Size, Checksum,
//! Payload`); the payload is standard base64 with padding, `null` when absent and `""`
//! when empty. Decoding is as lenient as Go's: any field order, missing fields are zero,
//! unknown fields ignored. Anything that is not such an object is [`DecodeError`].
//!
//! Every datagram is encoded and decoded, so both have a hand-written fast path for the one
//! shape LSP sends; serde is the reference and the fallback for every other input.

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

    /// The JSON bytes Go's `json.Marshal` would produce, written by hand: the shape is
    /// fixed, so the header is written into a stack buffer and copied once, and the payload
    /// is base64-encoded in place (the same bytes as [`Message::encode_serde`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut head = Head::default();
        head.field(b"{\"Type\":", self.ty as i64);
        head.field(b",\"ConnID\":", self.conn_id);
        head.field(b",\"SeqNum\":", self.seq_num);
        head.field(b",\"Size\":", self.size);
        head.field(b",\"Checksum\":", self.checksum as i64);
        head.put(b",\"Payload\":");
        let text_len = self
            .payload
            .as_ref()
            .map_or(4, |p| p.len().div_ceil(3) * 4 + 2);
        let mut out = Vec::with_capacity(head.len + text_len + 1);
        out.extend_from_slice(&head.bytes[..head.len]);
        match &self.payload {
            None => out.extend_from_slice(b"null}"),
            Some(bytes) => {
                out.push(b'"');
                let start = out.len();
                out.resize(start + text_len - 2, 0);
                base64_into(bytes, &mut out[start..]);
                out.extend_from_slice(b"\"}");
            }
        }
        out
    }

    /// The same bytes through serde: the reference [`Message::encode`] is tested against.
    pub fn encode_serde(&self) -> Vec<u8> {
        // Serialising plain integers and a base64 string cannot fail.
        serde_json::to_vec(self).expect("an LSP message always serialises")
    }

    /// Parse one datagram. A datagram in exactly the shape [`Message::encode`] writes (all
    /// that LSP endpoints send) is read by a direct scan; anything else goes to the
    /// general JSON parser, so the result is always that of [`Message::decode_serde`].
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        match decode_canonical(bytes) {
            Some(m) => Ok(m),
            None => Message::decode_serde(bytes),
        }
    }

    /// Parse one datagram with the general JSON parser (any field order, whitespace,
    /// missing and unknown fields).
    pub fn decode_serde(bytes: &[u8]) -> Result<Message, DecodeError> {
        // serde would also read a struct from a JSON array; Go only from an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(DecodeError("not a JSON object".into()));
        }
        serde_json::from_slice(bytes).map_err(|e| DecodeError(e.to_string()))
    }
}

/// The longest header: five names, five integers of at most 20 characters, and the
/// payload's name.
const HEAD_MAX: usize = 160;

/// A message's header, written into a fixed buffer before one copy into the datagram.
struct Head {
    bytes: [u8; HEAD_MAX],
    len: usize,
}

impl Default for Head {
    fn default() -> Head {
        Head {
            bytes: [0; HEAD_MAX],
            len: 0,
        }
    }
}

/// "00", "01", ..., "99": two decimal digits at a time.
const DIGIT_PAIRS: [u8; 200] = {
    let mut table = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        table[2 * i] = b'0' + (i / 10) as u8;
        table[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    table
};

impl Head {
    fn put<const N: usize>(&mut self, text: &[u8; N]) {
        self.bytes[self.len..self.len + N].copy_from_slice(text);
        self.len += N;
    }

    /// `name` then `v` in decimal, as JSON writes an integer.
    fn field<const N: usize>(&mut self, name: &[u8; N], v: i64) {
        self.put(name);
        if v < 0 {
            self.put(b"-");
        }
        let mut n = v.unsigned_abs();
        let digits = n.checked_ilog10().map_or(1, |l| l as usize + 1);
        self.len += digits;
        // Digits are written from the last one back, two at a time.
        let mut end = self.len;
        while n >= 100 {
            let pair = (n % 100) as usize * 2;
            n /= 100;
            end -= 2;
            self.bytes[end..end + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if n >= 10 {
            let pair = n as usize * 2;
            self.bytes[end - 2..end].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        } else {
            self.bytes[end - 1] = b'0' + n as u8;
        }
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `bytes` as standard base64 with padding (what Go writes for a `[]byte`) into `out`,
/// which is exactly as long as the text.
fn base64_into(bytes: &[u8], out: &mut [u8]) {
    let chunks = bytes.chunks_exact(3);
    let rest = chunks.remainder();
    let mut quads = out.chunks_exact_mut(4);
    for (c, q) in chunks.zip(&mut quads) {
        let n = (c[0] as usize) << 16 | (c[1] as usize) << 8 | c[2] as usize;
        q.copy_from_slice(&[
            BASE64[n >> 18],
            BASE64[(n >> 12) & 63],
            BASE64[(n >> 6) & 63],
            BASE64[n & 63],
        ]);
    }
    if let Some(q) = quads.next() {
        let n = match *rest {
            [a] => (a as usize) << 16,
            [a, b] => (a as usize) << 16 | (b as usize) << 8,
            _ => unreachable!("a last quad is for one or two bytes"),
        };
        q.copy_from_slice(&[
            BASE64[n >> 18],
            BASE64[(n >> 12) & 63],
            if rest.len() == 2 {
                BASE64[(n >> 6) & 63]
            } else {
                b'='
            },
            b'=',
        ]);
    }
}

/// Each byte's base64 value, or 0xff for a byte outside the alphabet.
const UNBASE64: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 64 {
        table[BASE64[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Canonical standard base64 (padded, zero trailing bits) back to bytes; `None` for
/// anything else, which the general parser then judges.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let Some(last) = text.len().checked_sub(4) else {
        return Some(Vec::new());
    };
    let pad = match (text[last + 2], text[last + 3]) {
        (b'=', b'=') => 2,
        (_, b'=') => 1,
        _ => 0,
    };
    let mut out = vec![0u8; text.len() / 4 * 3 - pad];
    let full = last / 4 * 3;
    // Every quad but the last: four table lookups; a byte outside the alphabet has its
    // top bit set, so one test per quad catches it.
    for (q, o) in text[..last]
        .chunks_exact(4)
        .zip(out[..full].chunks_exact_mut(3))
    {
        let [a, b, c, d] = [q[0], q[1], q[2], q[3]].map(|x| UNBASE64[x as usize]);
        if (a | b | c | d) & 0x80 != 0 {
            return None;
        }
        let n = (a as u32) << 18 | (b as u32) << 12 | (c as u32) << 6 | d as u32;
        o.copy_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let mut n = 0u32;
    for &c in &text[last..last + 4 - pad] {
        let v = UNBASE64[c as usize];
        if v == 0xff {
            return None;
        }
        n = n << 6 | v as u32;
    }
    n <<= 6 * pad as u32;
    let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    // The bits a padded quad leaves over must be zero, as in canonical base64.
    if bytes[3 - pad..].iter().any(|&b| b != 0) {
        return None;
    }
    out[full..].copy_from_slice(&bytes[..3 - pad]);
    Some(out)
}

/// A scan of a datagram in the one shape [`Message::encode`] writes; `None` at the first
/// byte that differs from it (the general parser then decides).
struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scan<'_> {
    fn literal<const N: usize>(&mut self, text: &[u8; N]) -> Option<()> {
        let rest: &[u8; N] = self.bytes.get(self.at..self.at + N)?.try_into().ok()?;
        (rest == text).then(|| self.at += N)
    }

    /// A JSON integer that fits an i64: an optional minus, then digits without a
    /// leading zero (as serde_json reads one into an integer field). At most 19 digits
    /// (every i64 has fewer but `i64::MIN`, which the general parser takes).
    fn int(&mut self) -> Option<i64> {
        let negative = self.bytes.get(self.at) == Some(&b'-');
        self.at += negative as usize;
        let start = self.at;
        let mut magnitude: u64 = 0;
        while let Some(&b) = self.bytes.get(self.at).filter(|b| b.is_ascii_digit()) {
            if self.at - start == 19 {
                return None;
            }
            magnitude = magnitude * 10 + (b - b'0') as u64;
            self.at += 1;
        }
        let len = self.at - start;
        // serde_json reads "-0" as a float, which no integer field takes.
        if len == 0 || (len > 1 && self.bytes[start] == b'0') || (negative && magnitude == 0) {
            return None;
        }
        let value = i64::try_from(magnitude).ok()?;
        Some(if negative { -value } else { value })
    }

    fn field<const N: usize>(&mut self, name: &[u8; N]) -> Option<i64> {
        self.literal(name)?;
        self.int()
    }
}

fn decode_canonical(bytes: &[u8]) -> Option<Message> {
    let mut scan = Scan { bytes, at: 0 };
    let ty = MsgType::from_wire(scan.field(b"{\"Type\":")?)?;
    let conn_id = scan.field(b",\"ConnID\":")?;
    let seq_num = scan.field(b",\"SeqNum\":")?;
    let size = scan.field(b",\"Size\":")?;
    let checksum = u16::try_from(scan.field(b",\"Checksum\":")?).ok()?;
    scan.literal(b",\"Payload\":")?;
    let rest = &bytes[scan.at..];
    let payload = if rest == b"null}" {
        None
    } else {
        // `"text"}`: the text must be all base64 (no quote, no escape), which decoding
        // checks byte by byte.
        let text = rest.strip_prefix(b"\"")?.strip_suffix(b"\"}")?;
        Some(decode_base64(text)?)
    };
    Some(Message {
        ty,
        conn_id,
        seq_num,
        size,
        checksum,
        payload,
    })
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
    fn hand_written_codec_agrees_with_serde() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
        for _ in 0..5_000 {
            let int = |rng: &mut rand_chacha::ChaCha8Rng| match rng.gen_range(0..4) {
                0 => 0,
                1 => rng.gen_range(-10..10),
                2 => rng.gen(),
                _ => [i64::MIN, i64::MAX, -1][rng.gen_range(0..3)],
            };
            let payload = match rng.gen_range(0..3) {
                0 => None,
                _ => Some((0..rng.gen_range(0..40)).map(|_| rng.gen()).collect()),
            };
            let m = Message {
                ty: MsgType::from_wire(rng.gen_range(0..4)).unwrap(),
                conn_id: int(&mut rng),
                seq_num: int(&mut rng),
                size: int(&mut rng),
                checksum: rng.gen(),
                payload,
            };
            let bytes = m.encode();
            assert_eq!(bytes, m.encode_serde());
            assert_eq!(Message::decode(&bytes), Ok(m));
            // Damaged copies: whatever the scan accepts, serde reads the same way.
            let mut damaged = bytes.clone();
            let bit = rng.gen_range(0..damaged.len() * 8);
            damaged[bit / 8] ^= 1 << (bit % 8);
            damaged.truncate(rng.gen_range(damaged.len() / 2..=damaged.len()));
            assert_eq!(
                Message::decode(&damaged).ok(),
                Message::decode_serde(&damaged).ok(),
                "{}",
                String::from_utf8_lossy(&damaged)
            );
        }
        for odd in [
            &br#"{"Type":1,"ConnID":01,"SeqNum":1,"Size":0,"Checksum":0,"Payload":null}"#[..],
            br#"{"Type":1,"ConnID":-0,"SeqNum":1,"Size":0,"Checksum":0,"Payload":null}"#,
            br#"{"Type":1,"ConnID":1,"SeqNum":1,"Size":0,"Checksum":0,"Payload":"a\/8="}"#,
            br#"{"Type":1,"ConnID":1,"SeqNum":1.0,"Size":0,"Checksum":0,"Payload":null}"#,
            br#"{"Type":1,"ConnID":9223372036854775808,"SeqNum":1,"Size":0,"Checksum":0,"Payload":null}"#,
            br#"{"Type":1,"ConnID":1,"SeqNum":1,"Size":0,"Checksum":0,"Payload":null} "#,
        ] {
            assert_eq!(
                Message::decode(odd).ok(),
                Message::decode_serde(odd).ok(),
                "{}",
                String::from_utf8_lossy(odd)
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
