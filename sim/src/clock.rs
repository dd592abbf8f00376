//! Per-node clocks with offset and drift.
//!
//! A node's local clock is piecewise linear in true time: `local = base_local + (true -
//! base_true) * (1 + ppm / 10^6)`. Changing the drift rebases it at the current instant,
//! so the local clock never jumps except by an explicit offset.

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
    pub fn to_true(&self, d: Duration) -> u64 {
        if self.ppm == 0 {
            return crate::time::duration_nanos(d);
        }
        let ns = d.as_nanos().min(u64::MAX as u128) as i128;
        let t = ns * MILLION / (MILLION + self.ppm as i128);
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
}
