//! Per-node clocks with offset and drift.
//!
//! A node's local clock is piecewise linear in true time: `local = base_local + (true -
//! base_true) * (1 + ppm / 10^6)`. Changing the drift rebases it at the current instant,
//! so the local clock never jumps except by an explicit offset. Drifts are episodes: each
//! lasts until its own stop, and the latest one in force sets the rate.

use crate::time::Time;
use std::time::Duration;

const MILLION: i128 = 1_000_000;
/// Drift is clamped so that a clock always moves forward at a sane rate.
pub const MAX_DRIFT_PPM: i64 = 500_000;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    base_true: u64,
    base_local: i128,
    ppm: i64,
    /// The drift episodes in force, oldest first.
    drifts: Vec<i64>,
}

impl Clock {
    /// The local reading at true time `now`, never below zero.
    pub fn local(&self, now: Time) -> Time {
        let elapsed = (now.0 - self.base_true.min(now.0)) as i128;
        let local = if self.ppm == 0 {
            self.base_local + elapsed
        } else {
            self.base_local + elapsed * (MILLION + self.ppm as i128) / MILLION
        };
        Time(local.clamp(0, u64::MAX as i128) as u64)
    }

    /// The true duration after which a local duration `d` has passed on this clock.
    /// Rounded up: rounding down would let a timer fire before its local duration has
    /// passed, and a node that re-arms for the remainder would spin at one instant.
    pub fn to_true(&self, d: Duration) -> u64 {
        if self.ppm == 0 {
            return crate::time::duration_nanos(d);
        }
        let ns = d.as_nanos().min(u64::MAX as u128) as i128;
        let rate = MILLION + self.ppm as i128;
        let t = (ns * MILLION + rate - 1) / rate;
        t.clamp(0, u64::MAX as i128) as u64
    }

    /// Step the clock by `offset_ns` at true time `now`.
    pub fn offset(&mut self, now: Time, offset_ns: i64) {
        self.rebase(now);
        self.base_local += offset_ns as i128;
    }

    /// Run fast or slow by `ppm` from true time `now` on.
    pub fn set_drift(&mut self, now: Time, ppm: i64) {
        self.rebase(now);
        self.ppm = ppm.clamp(-MAX_DRIFT_PPM, MAX_DRIFT_PPM);
    }

    /// Begin a drift episode of `ppm` at `now`: it sets the rate until it stops.
    pub fn start_drift(&mut self, now: Time, ppm: i64) {
        self.drifts.push(ppm);
        self.set_drift(now, ppm);
    }

    /// End the latest drift episode (of `ppm`, if given) at `now`: the rate falls back to
    /// the latest episode still in force, or to none. A stop that matches no episode in
    /// force does nothing.
    pub fn stop_drift(&mut self, now: Time, ppm: Option<i64>) {
        let Some(i) = self
            .drifts
            .iter()
            .rposition(|&d| ppm.is_none_or(|p| p == d))
        else {
            return;
        };
        self.drifts.remove(i);
        let rate = self.drifts.last().copied().unwrap_or(0);
        self.set_drift(now, rate);
    }

    /// End every drift at `now` (the clock keeps the time it gained or lost).
    pub fn stop_all_drift(&mut self, now: Time) {
        self.drifts.clear();
        self.set_drift(now, 0);
    }

    fn rebase(&mut self, now: Time) {
        self.base_local = self.local(now).0 as i128;
        self.base_true = now.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_and_drift() {
        let mut c = Clock::default();
        assert_eq!(c.local(Time::from_secs(1)), Time::from_secs(1));
        c.offset(Time::from_secs(1), 500_000_000);
        assert_eq!(c.local(Time::from_secs(2)), Time::from_millis(2500));
        c.set_drift(Time::from_secs(2), 100_000); // 10% fast
        assert_eq!(c.local(Time::from_secs(12)), Time::from_millis(13500));
        assert_eq!(c.to_true(Duration::from_millis(110)), 100_000_000);
    }

    #[test]
    fn a_drift_stop_ends_its_own_episode_only() {
        let mut c = Clock::default();
        c.start_drift(Time::ZERO, 100_000);
        c.start_drift(Time::from_secs(1), 200_000);
        // The first episode ends: the second still sets the rate.
        c.stop_drift(Time::from_secs(2), Some(100_000));
        assert_eq!(
            c.local(Time::from_secs(3)).0 - c.local(Time::from_secs(2)).0,
            1_200_000_000
        );
        c.stop_drift(Time::from_secs(3), None);
        assert_eq!(
            c.local(Time::from_secs(4)).0 - c.local(Time::from_secs(3)).0,
            1_000_000_000
        );
        // A stop with nothing in force changes nothing.
        c.stop_drift(Time::from_secs(4), Some(7));
        assert_eq!(
            c.local(Time::from_secs(5)).0 - c.local(Time::from_secs(4)).0,
            1_000_000_000
        );
    }

    #[test]
    fn a_timer_never_fires_before_its_local_duration() {
        for ppm in [-300_000, -7, 0, 3, 123_457, 500_000] {
            let mut c = Clock::default();
            c.set_drift(Time(12_345), ppm);
            for start in [12_345u64, 99_991, 1_000_003] {
                for d in [1u64, 2, 3, 999, 1_000_001] {
                    let fire = start + c.to_true(Duration::from_nanos(d));
                    let waited = c.local(Time(fire)).0 - c.local(Time(start)).0;
                    assert!(
                        waited >= d,
                        "ppm {ppm}: {d} ns timer fired after {waited} local ns"
                    );
                }
            }
        }
    }
}
