//! `faultline miner bench ...`: the miner's speed.
//!
//! `bench hash` measures the miner's loop ([`miner::hash::min_hash`]) against a plain
//! `sha2` digest of a one-block message, in the same process, in alternating rounds (so
//! both see the same machine load), and reports the median of each. The plain digest
//! hashes the same kind of message, `"<msg> <nonce>"` of under 56 bytes, with the nonce
//! bytes changing each time so nothing is hoisted out of the loop. The target is
//! a loop rate of at least 80% of the plain rate.

use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Rates in hashes per second.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HashBench {
    pub loop_rate: f64,
    pub plain_rate: f64,
    pub ratio: f64,
    pub rounds: usize,
}

const MSG: &str = "faultline bitcoin";

fn time_loop(nonces: u64, start: u64) -> f64 {
    let t = Instant::now();
    black_box(miner::min_hash(black_box(MSG), start, start + nonces - 1));
    nonces as f64 / t.elapsed().as_secs_f64()
}

fn time_plain(nonces: u64, start: u64) -> f64 {
    // "<msg> <nonce>" with a 9-digit nonce: 27 bytes, one block, like the loop's.
    let mut buf = format!("{MSG} {start:09}").into_bytes();
    let n = buf.len();
    let mut acc = u64::MAX;
    let t = Instant::now();
    for i in 0..nonces {
        // Change the last three digits as a counter would; the digest sees new bytes.
        buf[n - 1] = b'0' + (i % 10) as u8;
        buf[n - 2] = b'0' + (i / 10 % 10) as u8;
        buf[n - 3] = b'0' + (i / 100 % 10) as u8;
        let d = Sha256::digest(black_box(&buf));
        acc = acc.min(u64::from_be_bytes(
            d[..8].try_into().expect("32-byte digest"),
        ));
    }
    black_box(acc);
    nonces as f64 / t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("rates are finite"));
    v[v.len() / 2]
}

/// Alternate rounds of both for about `duration` in total.
pub fn hash(duration: Duration) -> HashBench {
    // Size a round to about 100 ms from a short warm-up.
    let probe = time_plain(200_000, 100_000_000);
    let per_round = ((probe * 0.1) as u64).max(100_000);
    let rounds = ((duration.as_secs_f64() / 0.2).ceil() as usize).max(3);
    let (mut looped, mut plain) = (Vec::new(), Vec::new());
    for r in 0..rounds as u64 {
        // 9-digit nonces for both.
        let start = 100_000_000 + r * per_round;
        looped.push(time_loop(per_round, start));
        plain.push(time_plain(per_round, start));
    }
    let (loop_rate, plain_rate) = (median(looped), median(plain));
    HashBench {
        loop_rate,
        plain_rate,
        ratio: loop_rate / plain_rate,
        rounds,
    }
}
