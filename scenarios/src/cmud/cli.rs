//! `faultline cmud ...`: real programs (to come).

/// Arguments of `faultline cmud`.
#[derive(clap::Args, Debug)]
pub struct Args {}
