//! `faultline kv ...`: the key-value server as a real program on TCP, and its benchmark.
//!
//! `faultline kv server --port P` runs the same [`kv::Server`] node the scenarios test, on
//! `faultline::real` (TCP, the OS clock), bound to 127.0.0.1 by default, so `nc 127.0.0.1 P`
//! talks to it by hand. It prints `kv: listening on ADDR` on stdout first. The counts
//! (`count_active` / `count_dropped`, plus malformed lines, dropped messages, queued
//! messages and buffered bytes) go to stderr as a log line whenever a client connects or
//! leaves, and every `--stats-every-ms` if they changed: a log line rather than a
//! `kv stats` command (systems/kv/SPEC.md §7), because the counts are the server's own and
//! a log needs no second channel into it.
//!
//! `faultline kv bench` measures operations per second on loopback (see [`super::bench`]).

use crate::{say, tell};
use faultline::real::{RealConfig, Runtime};
use kv::{History, KvEvent, Server, ServerNode, ServerStats};
use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

/// Arguments of `faultline kv`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run the key-value server on TCP (systems/kv/SPEC.md §3-§7). Talk to it with `nc`:
    /// `Put:k:v`, `Get:k`, `Delete:k`, `Update:k:old:new`, one per line.
    Server {
        /// TCP port to listen on (0 picks a free one; the address is printed).
        #[arg(long, default_value_t = 9000)]
        port: u16,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
        /// Log the counts this often if they changed (0: only on connect and leave).
        #[arg(long, default_value_t = 1000)]
        stats_every_ms: u64,
        /// Stop after this many seconds (default: run until killed).
        #[arg(long)]
        for_secs: Option<u64>,
    },
    /// Benchmark on TCP loopback: kv ops/s with N clients and with slow readers, against a
    /// plain echo over the same runtime and sockets in the same run.
    Bench(super::bench::BenchArgs),
}

/// Run the command; returns the process exit code.
pub fn main(args: Args) -> anyhow::Result<i32> {
    match args.command {
        Command::Server {
            port,
            bind,
            stats_every_ms,
            for_secs,
        } => serve(SocketAddr::new(bind, port), stats_every_ms, for_secs),
        Command::Bench(b) => super::bench::run(b),
    }
}

/// The stats log line.
pub fn stats_line(s: &ServerStats) -> String {
    format!(
        "kv: active={} dropped={} applied={} malformed={} messages_dropped={} queued={} queue_high_water={} buffered_bytes={}",
        s.active, s.dropped, s.applied, s.malformed, s.messages_dropped, s.queued_now, s.queue_high_water, s.buffered_bytes
    )
}

fn serve(addr: SocketAddr, stats_every_ms: u64, for_secs: Option<u64>) -> anyhow::Result<i32> {
    let config = RealConfig {
        tcp_listen: Some(addr),
        ..RealConfig::default()
    };
    let mut runtime: Runtime<ServerNode> =
        Runtime::new(config).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = runtime.local_tcp_addr().expect("listening");
    say!("kv: listening on {local}");
    let stats_every = (stats_every_ms > 0).then(|| Duration::from_millis(stats_every_ms));
    let last = Rc::new(Cell::new(ServerStats::default()));
    let last_in = last.clone();
    runtime.on_history(move |event| match event {
        KvEvent::Joined {
            stream,
            active,
            dropped,
        } => {
            tell!("kv: client {stream:?} connected (active={active} dropped={dropped})")
        }
        KvEvent::Left {
            stream,
            reason,
            active,
            dropped,
        } => {
            tell!("kv: client {stream:?} left: {reason:?} (active={active} dropped={dropped})")
        }
        KvEvent::Stats(s) if *s != last_in.get() => {
            last_in.set(*s);
            tell!("{}", stats_line(s));
        }
        _ => {}
    });
    runtime.start(ServerNode {
        server: Server::with_history(History::Counts),
        stats_every,
    });
    let timeout = for_secs.map(Duration::from_secs);
    runtime.run_until(|_| false, timeout)?;
    tell!("{}", stats_line(&runtime.node().server.stats()));
    Ok(0)
}
