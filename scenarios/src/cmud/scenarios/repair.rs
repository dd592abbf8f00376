//! Scripted repairs: the two ways a server can lose sync messages, each at the moment it
//! hurts, so one run shows whether the repair works.
//!
//! - `cmud-link-reset`: anti-entropy. Two servers are cut apart both ways while both take
//!   Puts, so their sync messages wait in the stalled streams; then server 0's streams are
//!   reset, losing them. Only the full-state exchange after the reconnect brings those
//!   Puts across.
//! - `cmud-crash-after-put`: durability. A Put is acked by server 1, which crashes a few
//!   ms later, before its next tick could sync the entry anywhere: only durable storage,
//!   synced before the reply left, brings it back after the restart.

use super::super::world::Plan;
use super::remote;
use faultline::{Fault, Time};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// Both directions between servers 0 and 1 cut (`true`) or restored.
fn cut(at_ms: u64, on: bool) -> Vec<(Time, Fault)> {
    let at = Time::from_millis(at_ms);
    [(0, 1), (1, 0)]
        .into_iter()
        .map(|(from, to)| {
            let f = if on {
                Fault::CutOneWay { from, to }
            } else {
                Fault::Reconnect { from, to }
            };
            (at, f)
        })
        .collect()
}

/// `cmud-link-reset`: see the module docs. Puts from 1200 to 1790 ms on both servers, cut
/// from 1000 to 2300 ms, server 0's streams reset at 2000 ms; every actor must read every
/// Put 2.5 s after the reconnect (500 ms to redial, then the exchange).
pub fn link_reset(_: u64, _: &mut ChaCha8Rng) -> Plan {
    let mut p = remote(2, 2);
    p.latency = Duration::from_millis(50);
    p.faults = cut(1000, true);
    p.faults
        .push((Time::from_millis(2000), Fault::ResetStreams { node: 0 }));
    p.faults.extend(cut(2300, false));
    let mut keys = Vec::new();
    for i in 0..10u64 {
        let (s, a) = ((i % 2) as usize, ((i / 2) % 2) as u32);
        let k = format!("reset/{i}");
        p.put(1200 + i * 66, s, a, &k, &format!("v{i}"));
        keys.push((k, format!("v{i}")));
    }
    for (k, v) in &keys {
        p.get_everywhere(5000, k, Some(v));
    }
    p.end = Time::from_millis(5500);
    p
}

/// `cmud-crash-after-put`: see the module docs. On a fixed 1 ms network a Put sent at
/// `t` (1000-1059 ms, by the seed) to either actor is applied at `t + 1` and acked at
/// `t + 2`; server 1 crashes between `t + 3` and 1077 ms, before its actors' next tick (at
/// multiples of 120 ms, so 1080), and restarts at 1500.
pub fn crash_after_put(_: u64, r: &mut ChaCha8Rng) -> Plan {
    let mut p = remote(2, 2);
    p.latency = Duration::from_millis(50);
    p.fixed_latency = true;
    let t = 1000 + r.gen_range(0..60);
    p.put(t, 1, r.gen_range(0..2), "k", "acked");
    let crash = r.gen_range(t + 3..1078);
    p.faults = vec![
        (Time::from_millis(crash), Fault::Crash { node: 1 }),
        (Time::from_millis(1500), Fault::Restart { node: 1 }),
    ];
    p.get_everywhere(4000, "k", Some("acked"));
    p.end = Time::from_millis(4500);
    p
}
