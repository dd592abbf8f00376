//! `faultline miner ...`: the bitcoin miner's real programs and its benchmarks.

use super::bench;
use clap::Subcommand;
use std::time::Duration;

/// Arguments of `faultline miner`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Measure the miner's speed.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// The miner's hash loop against a plain sha2 digest of a one-block message.
    Hash {
        /// Seconds to measure for.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        #[arg(long)]
        json: bool,
    },
}

/// Run the command; returns the process exit code.
pub fn main(args: Args) -> anyhow::Result<i32> {
    match args.command {
        Command::Bench(BenchCommand::Hash { seconds, json }) => {
            let b = bench::hash(Duration::from_secs_f64(seconds));
            if json {
                println!("{}", serde_json::to_string(&b)?);
            } else {
                println!("miner hash loop: {:.2} M hashes/s", b.loop_rate / 1e6);
                println!(
                    "plain sha2:      {:.2} M digests/s (one-block message)",
                    b.plain_rate / 1e6
                );
                println!(
                    "ratio:           {:.1}% (target >= 80%), median of {} rounds",
                    b.ratio * 100.0,
                    b.rounds
                );
            }
            Ok(0)
        }
    }
}
