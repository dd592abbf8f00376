//! `faultline miner ...`: the real programs (being written).

/// Arguments of `faultline miner`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run the command; returns the process exit code.
pub fn main(_args: Args) -> anyhow::Result<i32> {
    eprintln!("faultline miner: not implemented yet");
    Ok(2)
}
