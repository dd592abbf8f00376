//! The miner's hash and the fast loop that finds the minimum over a nonce range.
//!
//! SPEC.md §3: `Hash(msg, nonce)` is the first 8 bytes, big-endian, of
//! SHA-256 over the UTF-8 string `"<msg> <nonce>"` (one space, decimal nonce). The task
//! for (M, N) is the nonce in [0, N] with the smallest hash; ties keep the first minimum.
//!
//! [`hash`] is the plain definition (one allocation and one digest per call): checkers and
//! tests use it as the reference. [`min_hash`] is the miner's loop. It never formats or
//! allocates per nonce:
//! - the constant prefix `"<msg> "` is compressed once, as far as it fills whole 64-byte
//!   blocks, into a saved SHA-256 state;
//! - the rest of the prefix, the decimal digits of the nonce, the padding and the length
//!   live in a final block buffer (one or two blocks) built once per digit count;
//! - going to the next nonce increments the decimal digits in place in that buffer (an
//!   odometer: usually one byte changes);
//! - each nonce then costs a copy of the saved 32-byte state and one or two calls of the
//!   raw compression function (`sha2::compress256`, which uses SHA-NI when the CPU has it),
//!   and the hash is the first two state words.

use sha2::digest::generic_array::GenericArray;
use sha2::digest::typenum::U64;
use sha2::{Digest, Sha256};

/// Hash(msg, nonce) by the definition: the reference the fast loop is checked against.
pub fn hash(msg: &str, nonce: u64) -> u64 {
    let digest = Sha256::digest(format!("{msg} {nonce}").as_bytes());
    u64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes"),
    )
}

/// The smallest hash over a range and the first nonce that reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Best {
    pub hash: u64,
    pub nonce: u64,
}

impl Best {
    /// Keep the smaller hash; on a tie keep the smaller nonce (the first minimum), so that
    /// merging chunk results in any order gives the answer of one pass over the range.
    pub fn merge(self, other: Best) -> Best {
        if (other.hash, other.nonce) < (self.hash, self.nonce) {
            other
        } else {
            self
        }
    }
}

/// Brute force by the definition, for checkers: the minimum over `[lower, upper]`.
pub fn min_hash_reference(msg: &str, lower: u64, upper: u64) -> Best {
    let mut best = Best {
        hash: hash(msg, lower),
        nonce: lower,
    };
    let mut n = lower;
    while n < upper {
        n += 1;
        let h = hash(msg, n);
        if h < best.hash {
            best = Best { hash: h, nonce: n };
        }
    }
    best
}

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

type Block = GenericArray<u8, U64>;

/// A message whose constant prefix is already compressed: hashes `"<msg> <nonce>"` for a
/// run of consecutive nonces at the cost of one or two compressions each.
pub struct Hasher {
    /// State after the whole 64-byte blocks of the prefix.
    state: [u32; 8],
    /// The prefix bytes after its whole blocks (fewer than 64).
    tail: Vec<u8>,
    /// Prefix length in bytes (for the padding's length field).
    prefix_len: u64,
}

impl Hasher {
    pub fn new(msg: &str) -> Hasher {
        let mut prefix = Vec::with_capacity(msg.len() + 1);
        prefix.extend_from_slice(msg.as_bytes());
        prefix.push(b' ');
        let whole = prefix.len() / 64 * 64;
        let mut state = IV;
        let blocks: Vec<Block> = prefix[..whole]
            .chunks_exact(64)
            .map(Block::clone_from_slice)
            .collect();
        sha2::compress256(&mut state, &blocks);
        Hasher {
            state,
            tail: prefix[whole..].to_vec(),
            prefix_len: prefix.len() as u64,
        }
    }

    /// The minimum over `[lower, upper]` (inclusive; `upper` may be `u64::MAX`). An
    /// empty range (`lower > upper`) gives `None`.
    pub fn min_over(&self, lower: u64, upper: u64) -> Option<Best> {
        if lower > upper {
            return None;
        }
        let mut odo = Odometer::new(self, lower);
        let mut best = Best {
            hash: u64::MAX,
            nonce: lower,
        };
        let mut first = true;
        let mut n = lower;
        loop {
            let h = odo.hash(&self.state);
            if first || h < best.hash {
                best = Best { hash: h, nonce: n };
                first = false;
            }
            if n == upper {
                return Some(best);
            }
            n += 1;
            odo.increment(self);
        }
    }
}

/// The final block(s) of `"<tail><digits>"` with SHA-256 padding, and the digits' position.
struct Odometer {
    blocks: [Block; 2],
    nblocks: usize,
    /// Byte offset of the first digit in `blocks` (seen as 128 contiguous bytes).
    start: usize,
    digits: usize,
}

impl Odometer {
    fn new(h: &Hasher, nonce: u64) -> Odometer {
        let mut digits = [0u8; 20];
        let mut len = 0;
        let mut v = nonce;
        loop {
            digits[len] = b'0' + (v % 10) as u8;
            len += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        digits[..len].reverse();
        let mut odo = Odometer {
            blocks: Default::default(),
            nblocks: 1,
            start: h.tail.len(),
            digits: 0,
        };
        odo.layout(h, &digits[..len]);
        odo
    }

    /// Build the padded final block(s) for this digit string.
    fn layout(&mut self, h: &Hasher, digits: &[u8]) {
        let end = h.tail.len() + digits.len();
        // 0x80 and the 8-byte length must fit after the message.
        self.nblocks = if end + 9 <= 64 { 1 } else { 2 };
        self.digits = digits.len();
        let total = self.nblocks * 64;
        let bits = (h.prefix_len + digits.len() as u64) * 8;
        let mut buf = [0u8; 128];
        buf[..h.tail.len()].copy_from_slice(&h.tail);
        buf[h.tail.len()..end].copy_from_slice(digits);
        buf[end] = 0x80;
        buf[total - 8..total].copy_from_slice(&bits.to_be_bytes());
        self.blocks[0].copy_from_slice(&buf[..64]);
        self.blocks[1].copy_from_slice(&buf[64..]);
    }

    #[inline(always)]
    fn byte(&mut self, i: usize) -> &mut u8 {
        &mut self.blocks[i / 64][i % 64]
    }

    /// Next nonce: add one to the decimal digits in place; on a carry out of the first
    /// digit the number grows a digit and the padding is laid out again.
    #[inline(always)]
    fn increment(&mut self, h: &Hasher) {
        let mut i = self.start + self.digits;
        while i > self.start {
            i -= 1;
            let d = self.byte(i);
            if *d != b'9' {
                *d += 1;
                return;
            }
            *d = b'0';
        }
        // 99..9 + 1 = 100..0, one digit longer.
        let mut digits = [b'0'; 21];
        digits[0] = b'1';
        let len = self.digits + 1;
        self.layout(h, &digits[..len]);
    }

    #[inline(always)]
    fn hash(&self, state: &[u32; 8]) -> u64 {
        let mut s = *state;
        sha2::compress256(&mut s, &self.blocks[..self.nblocks]);
        ((s[0] as u64) << 32) | s[1] as u64
    }
}

/// The miner's job: the minimum over `[lower, upper]` of Hash(msg, nonce), first minimum
/// on ties. `None` only for an empty range.
pub fn min_hash(msg: &str, lower: u64, upper: u64) -> Option<Best> {
    Hasher::new(msg).min_over(lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handout_vectors() {
        assert_eq!(hash("msg", 0), 13781283048668101583);
        assert_eq!(hash("msg", 1), 4754799531757243342);
        assert_eq!(hash("msg", 2), 5611725180048225792);
        let best = min_hash("msg", 0, 2).unwrap();
        assert_eq!(
            format!("Result {} {}", best.hash, best.nonce),
            "Result 4754799531757243342 1"
        );
        assert_eq!(min_hash_reference("msg", 0, 2), best);
    }

    #[test]
    fn fast_loop_matches_definition_nonce_by_nonce() {
        // Prefix lengths around every block boundary, so the tail is empty, short, and so
        // long that the digits or the padding spill into a second block.
        for len in [
            0usize, 1, 3, 44, 50, 53, 54, 55, 56, 57, 62, 63, 64, 65, 119, 127, 128, 200,
        ] {
            let msg: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            let h = Hasher::new(&msg);
            for (lo, hi) in [(0u64, 120), (995, 1005), (99_990, 100_010)] {
                for n in lo..=hi {
                    assert_eq!(
                        h.min_over(n, n).unwrap(),
                        Best {
                            hash: hash(&msg, n),
                            nonce: n
                        },
                        "len {len} n {n}"
                    );
                }
                assert_eq!(
                    h.min_over(lo, hi).unwrap(),
                    min_hash_reference(&msg, lo, hi),
                    "len {len}"
                );
            }
        }
    }

    #[test]
    fn extreme_nonces_and_utf8() {
        let msg = "héllo wörld ✓";
        for (lo, hi) in [
            (u64::MAX - 30, u64::MAX),
            (9_999_999_999_999_999_990, 10_000_000_000_000_000_010),
        ] {
            assert_eq!(
                min_hash(msg, lo, hi).unwrap(),
                min_hash_reference(msg, lo, hi)
            );
        }
        assert_eq!(min_hash(msg, u64::MAX, u64::MAX).unwrap().nonce, u64::MAX);
        assert_eq!(min_hash(msg, 5, 4), None);
    }

    #[test]
    fn merging_chunks_equals_one_pass() {
        let msg = "chunked";
        let whole = min_hash(msg, 0, 5000).unwrap();
        let mut parts: Vec<Best> = (0..50)
            .map(|i| min_hash(msg, i * 100, i * 100 + 99).unwrap())
            .collect();
        parts.push(min_hash(msg, 5000, 5000).unwrap());
        parts.reverse(); // order of arrival must not matter
        let merged = parts.into_iter().reduce(Best::merge).unwrap();
        assert_eq!(merged, whole);
        // First minimum on a tie.
        let a = Best { hash: 7, nonce: 3 };
        let b = Best { hash: 7, nonce: 9 };
        assert_eq!(a.merge(b), a);
        assert_eq!(b.merge(a), a);
    }
}
