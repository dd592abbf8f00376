//! The simulator's exercise, part one: a replicated grow-only counter over datagrams.
//!
//! Each replica counts its own increments, syncs the count to storage, and gossips its
//! whole vector to every peer every [`GOSSIP_EVERY`]; a receiver keeps the maximum per
//! entry. Gossip carries a SHA-256 check, so corrupted or truncated datagrams are rejected
//! and counted. Safety: no replica ever believes another counted more than it did (that
//! would be a corrupted or invented update). Liveness: after the heal phase every replica
//! holds the same, complete vector.

use faultline::{Addr, Ctx, Node, Time, TimerId};
use sha2::{Digest, Sha256};
use std::time::Duration;

pub const GOSSIP_EVERY: Duration = Duration::from_millis(100);
pub const INCREMENT_EVERY: Duration = Duration::from_millis(40);
faultline::timer_tags! {
    /// A replica's timers: gossip its vector, count one more.
    pub enum CounterTimer {
        Gossip = 1,
        Increment = 2,
    }
}
const CHECK_LEN: usize = 8;

/// What a replica records for the checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CounterEvent {
    /// The replica's own count reached `value` and is synced.
    Incremented { value: u64 },
    /// The replica learned that replica `of` counted at least `value`.
    Observed { of: u32, value: u64 },
}

/// One replica.
pub struct Replica {
    me: usize,
    peers: Vec<Addr>,
    counts: Vec<u64>,
    /// No increments after this local time: the workload ends with the fault phase.
    stop_at: Time,
    pub rejected: u64,
}

/// `count` encoded with its check.
fn encode(counts: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(counts.len() * 8 + CHECK_LEN);
    for c in counts {
        out.extend_from_slice(&c.to_le_bytes());
    }
    let check = Sha256::digest(&out);
    out.extend_from_slice(&check[..CHECK_LEN]);
    out
}

/// The vector in `data`, if it is intact and of the right size.
fn decode(data: &[u8], n: usize) -> Option<Vec<u64>> {
    if data.len() != n * 8 + CHECK_LEN {
        return None;
    }
    let (body, check) = data.split_at(n * 8);
    if Sha256::digest(body)[..CHECK_LEN] != *check {
        return None;
    }
    Some(
        body.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
    )
}

impl Replica {
    pub fn new(me: Addr, replicas: usize, stop_at: Time) -> Replica {
        let peers = (0..replicas as u32)
            .map(Addr)
            .filter(|&a| a != me)
            .collect();
        Replica {
            me: me.index(),
            peers,
            counts: vec![0; replicas],
            stop_at,
            rejected: 0,
        }
    }

    pub fn counts(&self) -> &[u64] {
        &self.counts
    }
}

impl Node for Replica {
    type Event = CounterEvent;
    type Timer = CounterTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, CounterEvent>) {
        if let Some(bytes) = ctx.storage().get("count") {
            if let Ok(raw) = <[u8; 8]>::try_from(bytes) {
                self.counts[self.me] = u64::from_le_bytes(raw);
            }
        }
        ctx.set_timer(GOSSIP_EVERY, CounterTimer::Gossip);
        ctx.set_timer(INCREMENT_EVERY, CounterTimer::Increment);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CounterEvent>, _id: TimerId, tag: CounterTimer) {
        match tag {
            CounterTimer::Increment if ctx.now() < self.stop_at => {
                self.counts[self.me] += 1;
                let value = self.counts[self.me];
                // Synced before anyone can hear of it: a crash never un-counts a gossiped value.
                ctx.storage().put("count", value.to_le_bytes().to_vec());
                ctx.storage().sync();
                ctx.record(CounterEvent::Incremented { value });
                ctx.set_timer(INCREMENT_EVERY, CounterTimer::Increment);
            }
            CounterTimer::Gossip => {
                let message = encode(&self.counts);
                for &peer in &self.peers {
                    ctx.send(peer, message.clone());
                }
                ctx.set_timer(GOSSIP_EVERY, CounterTimer::Gossip);
            }
            _ => {}
        }
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, CounterEvent>, _from: Addr, data: &[u8]) {
        let Some(theirs) = decode(data, self.counts.len()) else {
            self.rejected += 1;
            return;
        };
        for (of, (mine, theirs)) in self.counts.iter_mut().zip(theirs).enumerate() {
            if theirs > *mine {
                *mine = theirs;
                ctx.record(CounterEvent::Observed {
                    of: of as u32,
                    value: theirs,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_rejects_damage() {
        let data = encode(&[1, 2, 3]);
        assert_eq!(decode(&data, 3), Some(vec![1, 2, 3]));
        assert_eq!(decode(&data, 2), None);
        assert_eq!(decode(&data[..data.len() - 1], 3), None);
        let mut flipped = data.clone();
        flipped[3] ^= 0x10;
        assert_eq!(decode(&flipped, 3), None);
    }
}
