//! `faultline raft ...`: the Raft key-value store as real programs over UDP, and its
//! benchmark.
//!
//! - `faultline raft node --id I --cluster A0,A1,A2 [--storage DIR] [--snapshot-every N]`:
//!   server I of the cluster, bound to the I-th address. With a storage directory its term,
//!   vote, snapshot and log survive a restart of the process; every N applied entries it
//!   snapshots its store and compacts its log.
//! - `faultline raft kv --cluster A0,A1,A2 put|append KEY VALUE` / `get KEY`: one client
//!   operation; a get prints the value on stdout. Exit 0 on an answer, 1 on a timeout.
//! - `faultline raft bench`: checker and simulator figures (see [`super::bench`]).
//! - `faultline raft bench-snapshots`: a real 3-node cluster over 100,000 operations with
//!   and without snapshots (see [`super::bench::snapshots`]).

use crate::{say, tell};
use anyhow::{bail, Context};
use faultline::real::{RealConfig, Runtime};
use raft::{ClientConfig, Config, Event, KvClient, KvServer, Op, RaftEvent, Reply};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `faultline raft`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Run one Raft + key-value server on real UDP until killed.
    Node {
        /// This server's index in --cluster (0-based).
        #[arg(long)]
        id: u32,
        /// Every server's UDP address, in the same order on every server and client.
        #[arg(long, value_delimiter = ',', required = true)]
        cluster: Vec<SocketAddr>,
        /// Keep term, vote and log here, so a restarted server recovers them.
        #[arg(long)]
        storage: Option<PathBuf>,
        /// Leader heartbeat interval in milliseconds; fractions allowed (0.5). The default
        /// is the course's 10 heartbeats per second.
        #[arg(long, default_value_t = 100.0)]
        heartbeat_ms: f64,
        /// Election timeout range, in milliseconds (fractions allowed); it must start above
        /// the heartbeat.
        #[arg(long, default_value_t = 400.0)]
        election_min_ms: f64,
        #[arg(long, default_value_t = 800.0)]
        election_max_ms: f64,
        /// Seed of the node's RNG (election timeouts); default: from the clock.
        #[arg(long)]
        seed: Option<u64>,
        /// Snapshot the store and compact the log every N applied entries.
        #[arg(long, default_value_t = raft::config::DEFAULT_SNAPSHOT_EVERY,
              value_parser = clap::value_parser!(u64).range(1..))]
        snapshot_every: u64,
    },
    /// Run one client operation against a cluster.
    Kv {
        /// Every server's UDP address.
        #[arg(long, value_delimiter = ',', required = true)]
        cluster: Vec<SocketAddr>,
        /// Give up after this long.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
        #[command(subcommand)]
        op: KvOp,
    },
    /// Benchmark the linearizability checker and the simulator on Raft + key-value.
    Bench {
        /// Seeds of raft-kv-swarm to time for seeds per second.
        #[arg(long, default_value_t = 50)]
        seeds: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A real 3-node cluster over many operations, without and with snapshots: ops/s per
    /// window, RSS, storage size and restart time, and their ratios.
    BenchSnapshots {
        #[command(flatten)]
        options: super::bench::snapshots::Options,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Subcommand, Debug, Clone)]
enum KvOp {
    /// Print the value of KEY ("" if unset).
    Get { key: String },
    /// Set KEY to VALUE.
    Put {
        key: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Append VALUE to KEY's value.
    Append {
        key: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
}

/// A duration given in milliseconds, fractions allowed; an error unless finite, positive and
/// under a day.
fn millis(option: &str, ms: f64) -> Result<Duration, String> {
    if !(ms.is_finite() && ms > 0.0 && ms < 86_400_000.0) {
        return Err(format!(
            "{option} takes a positive number of milliseconds, not {ms}"
        ));
    }
    Ok(Duration::from_nanos((ms * 1e6).round() as u64))
}

/// Run the command; returns the process exit code.
pub fn main(args: Args) -> anyhow::Result<i32> {
    match args.command {
        Command::Node {
            id,
            cluster,
            storage,
            heartbeat_ms,
            election_min_ms,
            election_max_ms,
            seed,
            snapshot_every,
        } => {
            let cfg = (|| -> Result<Config, String> {
                let cfg = Config {
                    heartbeat: millis("--heartbeat-ms", heartbeat_ms)?,
                    election_min: millis("--election-min-ms", election_min_ms)?,
                    election_max: millis("--election-max-ms", election_max_ms)?,
                    snapshot_every,
                    ..Config::default()
                };
                cfg.validate().map(|()| cfg)
            })();
            match cfg {
                Ok(cfg) => node(id, &cluster, storage, cfg, seed),
                Err(e) => {
                    // Bad timing is a usage error.
                    tell!("faultline raft node: {e}");
                    Ok(2)
                }
            }
        }
        Command::Kv {
            cluster,
            timeout_ms,
            op,
        } => kv(&cluster, op, Duration::from_millis(timeout_ms)),
        Command::Bench { seeds, json } => bench(seeds, json),
        Command::BenchSnapshots { options, json } => {
            let b = super::bench::snapshots::run(&options)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&b)?);
            } else {
                super::bench::snapshots::print(&b);
            }
            Ok(0)
        }
    }
}

fn clock_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u64) ^ ((std::process::id() as u64) << 40)
}

fn node(
    id: u32,
    cluster: &[SocketAddr],
    storage: Option<PathBuf>,
    cfg: Config,
    seed: Option<u64>,
) -> anyhow::Result<i32> {
    let Some(&bind) = cluster.get(id as usize) else {
        tell!(
            "faultline raft node: --id {id} is not an index of --cluster ({} servers: 0..={})",
            cluster.len(),
            cluster.len() - 1
        );
        return Ok(2);
    };
    let config = RealConfig {
        udp_bind: Some(bind),
        storage_dir: storage,
        seed: seed.unwrap_or_else(clock_seed),
        ..RealConfig::default()
    };
    let dir = config.storage_dir.clone();
    let mut rt: Runtime<KvServer> =
        Runtime::new(config).with_context(|| format!("raft node {id} cannot start"))?;
    if let Err(damage) = raft::persist::load(rt.storage()) {
        let place = dir.map_or("memory".into(), |d| {
            d.join("storage.log").display().to_string()
        });
        bail!("raft node {id}: storage {place}: {damage}; refusing to start on damaged state");
    }
    let peers: Vec<faultline::Addr> = cluster.iter().map(|&a| rt.peer(a)).collect();
    rt.on_history(move |e: &Event| match e {
        Event::Raft(RaftEvent::Started { term, log_len }) => {
            tell!("raft node {id}: started at term {term} with {log_len} log entries")
        }
        Event::Raft(RaftEvent::BecameLeader { term, .. }) => {
            tell!("raft node {id}: leader of term {term}")
        }
        Event::Raft(RaftEvent::Snapshot {
            how, index, term, ..
        }) if *how != raft::SnapshotHow::Taken => {
            eprintln!("raft node {id}: snapshot {how:?} up to index {index} of term {term}")
        }
        _ => {}
    });
    rt.start(KvServer::new(cfg, id, peers));
    tell!("raft node {id}: serving on udp {bind}");
    rt.run_until(|_| false, None)?;
    Ok(0)
}

fn kv(cluster: &[SocketAddr], op: KvOp, timeout: Duration) -> anyhow::Result<i32> {
    let config = RealConfig {
        udp_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..RealConfig::default()
    };
    let mut rt: Runtime<KvClient> = Runtime::new(config)?;
    let servers: Vec<faultline::Addr> = cluster.iter().map(|&a| rt.peer(a)).collect();
    // A fresh id per process: sequence numbers restart at 1, so an id must never be reused.
    let id = clock_seed() >> 1;
    rt.start(KvClient::new(id, ClientConfig::default(), servers));
    let input = match op.clone() {
        KvOp::Get { key } => Op::Get { key },
        KvOp::Put { key, value } => Op::Put { key, value },
        KvOp::Append { key, value } => Op::Append { key, value },
    };
    rt.with_node(|c, ctx| c.submit(ctx, input));
    let done = rt.run_until(|c| c.is_idle(), Some(timeout))?;
    if !done {
        tell!("faultline raft kv: no answer within {timeout:?}");
        return Ok(1);
    }
    let answer = rt.node().last_output().cloned().map(|(_, o)| o);
    let from = rt.node().answered_by().and_then(|a| rt.resolve(a));
    if let Some(from) = from {
        tell!("answered by {from}");
    }
    match answer {
        Some(Reply::Value(v)) => say!("{v}"),
        Some(Reply::Done) => say!("ok"),
        None => bail!("the client finished without an answer"),
    }
    Ok(0)
}

fn bench(seeds: u64, json: bool) -> anyhow::Result<i32> {
    let b = super::bench::run(seeds);
    if json {
        say!("{}", serde_json::to_string_pretty(&b)?);
        return Ok(0);
    }
    for c in &b.checker {
        say!(
            "checker  {:<24} {} ops, {} clients, {} keys: {} in {:.3} ms",
            c.scenario,
            c.ops,
            c.clients,
            c.keys,
            if c.linearizable {
                "linearizable"
            } else {
                "NOT linearizable"
            },
            c.check_seconds * 1e3
        );
    }
    say!(
        "sim      raft-kv-swarm whole runs (20 s simulated each): {:.1} seeds/s over {} seeds",
        b.seeds_per_second,
        b.seeds
    );
    for (name, f) in [("idle", &b.idle), ("load", &b.load)] {
        say!(
            "sim      5 servers {name:<4}: {:.0} s simulated in {:.3} s wall: {} events, {:.0} events/s, {:.0} simulated s per wall s, {} client ops",
            f.sim_seconds, f.wall_seconds, f.events, f.events_per_second, f.sim_seconds_per_wall_second, f.client_ops
        );
    }
    Ok(0)
}
