//! cmud benchmarks (to come).
