//! `faultline kv ...`: the real programs (being written).

/// Arguments of `faultline kv`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run the command; returns the process exit code.
pub fn main(_args: Args) -> anyhow::Result<i32> {
    eprintln!("faultline kv: not implemented yet");
    Ok(2)
}
