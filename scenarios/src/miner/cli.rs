//! `faultline miner ...`: the bitcoin miner's three real programs (systems/miner/SPEC.md
//! §4) on the real runtime over UDP, and its benchmarks.
//!
//! - `faultline miner server PORT [--one-chunk]` prints `Server listening on port <port>`
//!   and serves forever (PORT 0 picks a free port; the line names it). `--one-chunk`
//!   turns prefetch off: each miner holds one chunk at a time.
//! - `faultline miner miner HOST:PORT` joins and mines until it loses the server.
//! - `faultline miner client HOST:PORT MESSAGE MAXNONCE` prints exactly
//!   `Result <hash> <nonce>` and exits 0, or `Disconnected` and exits 1 if it cannot
//!   connect or loses the server.
//!
//! All three take the LSP parameters as options (defaults: the original's, K = 5 epochs
//! of 2000 ms); every process of one deployment must use the same ones.

use super::bench;
use crate::{say, tell};
use anyhow::Context;
use clap::Subcommand;
use faultline::real::{RealConfig, Runtime};
use miner::{ClientNode, Outcome, ServerNode, WorkerNode};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Arguments of `faultline miner`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// LSP parameters shared by the three programs.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct LspOpts {
    /// Epochs without a message before a connection is lost (K).
    #[arg(long, default_value_t = lsp::Params::default().epoch_limit)]
    epoch_limit: u32,
    /// Length of an epoch in milliseconds (at least 1: a zero epoch would spin a core).
    #[arg(long, default_value_t = lsp::Params::default().epoch_millis,
          value_parser = clap::value_parser!(u64).range(1..))]
    epoch_millis: u64,
    /// Sliding window size (and the limit of unacknowledged messages).
    #[arg(long, default_value_t = lsp::Params::default().window_size)]
    window: u64,
}

impl LspOpts {
    fn params(self) -> lsp::Params {
        lsp::Params::new(
            self.epoch_limit,
            self.epoch_millis,
            self.window,
            0,
            self.window,
        )
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server: splits requests into chunks for the miners.
    Server {
        port: u16,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// One chunk per miner at a time (no prefetch), as the course's server: for
        /// miners whose LSP client cannot take a second queued request.
        #[arg(long)]
        one_chunk: bool,
        #[command(flatten)]
        lsp: LspOpts,
    },
    /// Run a miner that joins the server at HOST:PORT.
    Miner {
        hostport: String,
        #[command(flatten)]
        lsp: LspOpts,
    },
    /// Ask the server at HOST:PORT for the nonce in [0, MAXNONCE] with the smallest hash.
    Client {
        hostport: String,
        #[arg(allow_hyphen_values = true)]
        message: String,
        #[arg(allow_hyphen_values = true)]
        maxnonce: String,
        #[command(flatten)]
        lsp: LspOpts,
    },
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
    /// End to end on loopback UDP: one server, N miners (threads), one client request;
    /// nonces per second of wall time, for each N given.
    EndToEnd {
        /// Nonces in the request.
        #[arg(long, default_value_t = 100_000_000)]
        nonces: u64,
        /// Miner counts to run, comma-separated.
        #[arg(long, default_value = "1,2", value_delimiter = ',')]
        miners: Vec<usize>,
        #[arg(long)]
        json: bool,
    },
}

/// Run the command; returns the process exit code.
pub fn main(args: Args) -> anyhow::Result<i32> {
    match args.command {
        Command::Server {
            port,
            bind,
            one_chunk,
            lsp,
        } => {
            let cfg = miner::scheduler::Config {
                prefetch: !one_chunk,
                ..Default::default()
            };
            server(SocketAddr::new(bind, port), lsp.params(), cfg)
        }
        Command::Miner { hostport, lsp } => worker(&hostport, lsp.params()),
        Command::Client {
            hostport,
            message,
            maxnonce,
            lsp,
        } => client(&hostport, &message, &maxnonce, lsp.params()),
        Command::Bench(BenchCommand::Hash { seconds, json }) => {
            let b = bench::hash(Duration::from_secs_f64(seconds));
            if json {
                say!("{}", serde_json::to_string(&b)?);
            } else {
                say!("miner hash loop: {:.2} M hashes/s", b.loop_rate / 1e6);
                say!(
                    "plain sha2:      {:.2} M digests/s (one-block message)",
                    b.plain_rate / 1e6
                );
                say!(
                    "ratio:           {:.1}% (target >= 80%), median of {} rounds",
                    b.ratio * 100.0,
                    b.rounds
                );
            }
            Ok(0)
        }
        Command::Bench(BenchCommand::EndToEnd {
            nonces,
            miners,
            json,
        }) => {
            for n in miners {
                let r = bench::end_to_end(nonces, n)?;
                if json {
                    say!("{}", serde_json::to_string(&r)?);
                } else {
                    say!(
                        "{} miner(s): {} nonces in {:.3} s = {:.2} M nonces/s",
                        r.miners,
                        r.nonces,
                        r.seconds,
                        r.rate / 1e6
                    );
                }
            }
            Ok(0)
        }
    }
}

/// A seed for a real process's RNG (the ISN): different per process and run.
pub(crate) fn process_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ ((std::process::id() as u64) << 32)
}

fn resolve(hostport: &str) -> anyhow::Result<SocketAddr> {
    hostport
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {hostport}"))?
        .next()
        .with_context(|| format!("{hostport} has no address"))
}

/// A runtime for a program that only connects out.
fn outbound<N: faultline::Node + 'static>(seed: u64) -> anyhow::Result<Runtime<N>> {
    let config = RealConfig {
        udp_bind: Some(SocketAddr::from(([0, 0, 0, 0], 0))),
        seed,
        ..RealConfig::default()
    };
    Runtime::new(config).context("cannot open a UDP socket")
}

fn server(
    bind: SocketAddr,
    params: lsp::Params,
    cfg: miner::scheduler::Config,
) -> anyhow::Result<i32> {
    let config = RealConfig {
        udp_bind: Some(bind),
        seed: process_seed(),
        ..RealConfig::default()
    };
    let mut rt: Runtime<ServerNode> =
        Runtime::new(config).with_context(|| format!("cannot listen on {bind}"))?;
    let port = rt.local_udp_addr().map_or(bind.port(), |a| a.port());
    say!("Server listening on port {port}");
    rt.start(ServerNode::new(params, cfg));
    rt.run_until(|_| false, None)?;
    Ok(0)
}

fn worker(hostport: &str, params: lsp::Params) -> anyhow::Result<i32> {
    let server = resolve(hostport)?;
    let mut rt: Runtime<WorkerNode> = outbound(process_seed())?;
    let addr = rt.peer(server);
    rt.start(WorkerNode::new(addr, params, None));
    rt.run_until(|w| w.worker().is_some_and(|w| w.is_stopped()), None)?;
    let joined = rt.node().worker().is_some_and(|w| w.lsp().conn_id() > 0);
    if joined {
        tell!("Lost the server; shutting down");
    } else {
        tell!("Failed to join with server: no answer from {server}");
    }
    Ok(1)
}

fn client(
    hostport: &str,
    message: &str,
    maxnonce: &str,
    params: lsp::Params,
) -> anyhow::Result<i32> {
    let Ok(upper) = maxnonce.parse::<u64>() else {
        say!("{maxnonce} is not a number.");
        return Ok(2);
    };
    let server = resolve(hostport)?;
    let mut rt: Runtime<ClientNode> = outbound(process_seed())?;
    let addr = rt.peer(server);
    rt.start(ClientNode::new(addr, params, message.to_string(), upper));
    let outcome = |c: &mut ClientNode| c.client().and_then(|c| c.outcome());
    rt.run_until(|n| outcome(n).is_some(), None)?;
    match outcome(rt.node_mut()) {
        Some(Outcome::Result(best)) => {
            say!("Result {} {}", best.hash, best.nonce);
            // Let the close finish (our acks reach the server) for up to one epoch.
            let done = |c: &mut ClientNode| c.client().is_none_or(|c| c.is_done());
            rt.run_until(done, Some(params.epoch()))?;
            Ok(0)
        }
        _ => {
            say!("Disconnected");
            Ok(1)
        }
    }
}
