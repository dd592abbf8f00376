//! `faultline lsp ...`: the LSP endpoints as real programs over UDP, and the benchmark.
//!
//! - `faultline lsp server --port P`: an echo server (every message goes back to its
//!   sender). Runs until killed.
//! - `faultline lsp client HOST:PORT`: sends each stdin line as one message, prints each
//!   echo on its own line, and exits 0 once stdin has ended and every message is
//!   acknowledged and echoed; exits 1 with a message on stderr if the connection cannot be
//!   made or is lost.
//! - `faultline lsp bench`: see [`super::bench`].

use super::nodes::{ClientNode, ClientPlan, LspEvent, Outcome, ServerNode};
use crate::tell;
use anyhow::{bail, Context};
use clap::Subcommand;
use faultline::real::{RealConfig, Runtime};
use lsp::Params;
use std::io::{BufRead, Write};
use std::net::{SocketAddr, ToSocketAddrs};

/// Arguments of `faultline lsp`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// The protocol parameters (systems/lsp/SPEC.md §2), with the original's defaults.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ParamArgs {
    /// K: epochs with nothing heard before the connection is lost.
    #[arg(long, default_value_t = 5)]
    epoch_limit: u32,
    /// δ: epoch length in milliseconds (at least 1: a zero epoch would spin a core).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    epoch_millis: u64,
    /// ω: sliding window size.
    #[arg(long, default_value_t = 1)]
    window: u64,
    /// Cap on the per-message back-off, in epochs (0: resend every epoch).
    #[arg(long, default_value_t = 0)]
    max_backoff: u32,
    /// M: most unacknowledged messages in flight.
    #[arg(long, default_value_t = 1)]
    max_unacked: u64,
}

impl ParamArgs {
    fn params(&self) -> Params {
        Params::new(
            self.epoch_limit,
            self.epoch_millis,
            self.window,
            self.max_backoff,
            self.max_unacked,
        )
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Echo server: writes every message back to its sender.
    Server {
        /// UDP port to listen on.
        #[arg(long)]
        port: u16,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Send each stdin line as a message and print the echoes.
    Client {
        /// The server, as HOST:PORT.
        server: String,
        /// Initial sequence number, 0 to 2^62 - 1 (default: random in 0..=255). A
        /// negative one would number a message 0, which heartbeats use.
        #[arg(long, allow_hyphen_values = true, value_parser = clap::value_parser!(i64).range(0..=lsp::MAX_ISN))]
        isn: Option<i64>,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Measure LSP on real UDP loopback against TCP, and the simulator on LSP.
    Bench {
        /// Messages per real-UDP measurement.
        #[arg(long, default_value_t = 20_000)]
        msgs: usize,
        /// Only the simulator figures.
        #[arg(long)]
        sim_only: bool,
        /// Only the real-socket figures.
        #[arg(long)]
        real_only: bool,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
}

/// Run the command; returns the process exit code.
pub fn main(args: Args) -> anyhow::Result<i32> {
    match args.command {
        Command::Server { port, bind, params } => {
            server(SocketAddr::new(bind, port), params.params())
        }
        Command::Client {
            server,
            isn,
            params,
        } => client(&server, isn, params.params()),
        Command::Bench {
            msgs,
            sim_only,
            real_only,
            json,
        } => {
            super::bench::run(msgs, !sim_only, !real_only, json)?;
            Ok(0)
        }
    }
}

fn server(bind: SocketAddr, params: Params) -> anyhow::Result<i32> {
    let config = RealConfig {
        udp_bind: Some(bind),
        ..RealConfig::default()
    };
    let mut rt: Runtime<ServerNode> =
        Runtime::new(config).with_context(|| format!("cannot bind UDP {bind}"))?;
    let local = rt.local_udp_addr().context("no UDP socket")?;
    tell!("faultline lsp server: echoing on udp {local}");
    // A closed stderr must not stop the server, so log lines ignore write errors.
    rt.on_history(|e| {
        let mut err = std::io::stderr();
        let _ = match e {
            LspEvent::ServerAccepted { conn, from } => {
                writeln!(err, "conn {conn}: connected ({from})")
            }
            LspEvent::ServerLost { conn, .. } => writeln!(err, "conn {conn}: lost"),
            _ => Ok(()),
        };
    });
    rt.start(ServerNode::new(params, true).without_log());
    rt.run_until(|_| false, None)?;
    Ok(0)
}

fn client(server: &str, isn: Option<i64>, params: Params) -> anyhow::Result<i32> {
    let server_addr = server
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {server}"))?
        .next()
        .with_context(|| format!("{server} has no address"))?;
    let bind: SocketAddr = if server_addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    }
    .parse()?;
    let bind = if server_addr.ip().is_loopback() {
        bind
    } else {
        SocketAddr::new(
            if server_addr.is_ipv4() {
                [0, 0, 0, 0].into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            },
            0,
        )
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64;
    let config = RealConfig {
        udp_bind: Some(bind),
        seed,
        ..RealConfig::default()
    };
    let mut rt: Runtime<ClientNode> = Runtime::new(config).context("cannot bind a UDP socket")?;
    let to = rt.peer(server_addr);
    let isn = isn.unwrap_or((seed % 256) as i64);
    rt.on_history(|e| {
        if let LspEvent::ClientRead { payload: data, .. } = e {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(data);
            let _ = out.write_all(b"\n");
            let _ = out.flush();
        }
    });
    rt.start(ClientNode::new(to, params, Some(isn), ClientPlan::default()).without_log());
    // Stdin is read on its own thread; each line is handed to the node's loop.
    let external = rt.external();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for (n, line) in stdin.lock().split(b'\n').enumerate() {
            let Ok(mut line) = line else { break };
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.len() > lsp::MAX_PAYLOAD {
                tell!(
                    "faultline lsp client: line {} has {} bytes, more than one message can carry ({}); skipped",
                    n + 1,
                    line.len(),
                    lsp::MAX_PAYLOAD
                );
                continue;
            }
            external.run(move |node, ctx| {
                let _ = node.write(ctx, line);
            });
        }
        external.run(|node, ctx| node.finish_input(ctx, true));
    });
    rt.run_until(|node| node.outcome.is_some(), None)?;
    let node = rt.node();
    let window = params.epoch_limit as u64 * params.epoch_millis;
    match node.outcome {
        Some(Outcome::Done) => Ok(0),
        Some(Outcome::Lost) => {
            tell!(
                "faultline lsp client: connection to {server} lost (nothing heard for {} epochs of {} ms); {} of {} messages echoed",
                params.epoch_limit, params.epoch_millis, node.read_count, node.written
            );
            Ok(1)
        }
        Some(Outcome::ConnectFailed) => {
            tell!("faultline lsp client: cannot connect to {server}: no answer in {window} ms");
            Ok(1)
        }
        None => bail!("the client stopped without an outcome"),
    }
}
