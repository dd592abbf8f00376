//! A cheap clock for telling handler time from simulator time, on both simulators.
//!
//! madsim replaces the process's clock with its virtual one while a simulation runs, so
//! `Instant::now` inside a run measures simulated time. The time-stamp counter is the
//! machine's own: ticks are converted to seconds by the share of a run's total ticks.

/// The CPU's time-stamp counter (0 where there is none: the shares then read as zero).
pub fn now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: rdtsc reads a counter; it has no preconditions on x86_64.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}
