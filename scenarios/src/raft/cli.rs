//! `faultline raft ...`: the real programs (being written).

/// Arguments of `faultline raft`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run the command; returns the process exit code.
pub fn main(_args: Args) -> anyhow::Result<i32> {
    eprintln!("faultline raft: not implemented yet");
    Ok(2)
}
