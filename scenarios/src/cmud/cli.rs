//! `faultline cmud ...`: the store as real programs on TCP (systems/cmud/SPEC.md §9).
//!
//! - `faultline cmud server --port P [--actors N] [--join DESC]...` runs the same
//!   [`ServerNode`] the scenarios test on `faultline::real`, bound to 127.0.0.1 by default.
//!   Its first stdout line is its desc (`ADDRESS/C1,C2,...`), which later servers pass to
//!   `--join`. Its LWW clock is the wall clock in ms.
//! - `faultline cmud client HOST:PORT|DESC` reads `Get k`, `Put k v`, `List [prefix]` lines
//!   from stdin and prints the value (or `not found`), `ok`, or sorted `key value` lines.
//!   Given a desc, its router cycles over the server's query actors; given HOST:PORT, it
//!   uses `--actors N` of them (default 1).
//! - `faultline cmud bench` measures Puts/s on one server and the visibility latency from
//!   a Put on one server to a Get that sees it on another (see [`super::bench`]).

use cmud::actor::Resolve;
use cmud::server::{desc_text, parse_desc, ServerConfig, ServerNode};
use cmud::wire::{self, Answer, Decoder, Frame, Query};
use faultline::real::{RealConfig, Runtime};
use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Arguments of `faultline cmud`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run a store server: one actor system with N query actors on one TCP port. The
    /// first stdout line is its desc, for `--join` of later servers.
    Server {
        /// TCP port (0 picks a free one).
        #[arg(long, default_value_t = 6000)]
        port: u16,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
        /// Query actors (replicas) on this server.
        #[arg(long, default_value_t = 4)]
        actors: u32,
        /// The desc of an existing server (repeat for each).
        #[arg(long)]
        join: Vec<String>,
        /// Stop after this many seconds (default: run until killed).
        #[arg(long)]
        for_secs: Option<u64>,
    },
    /// Read `Get k`, `Put k v`, `List [prefix]` lines from stdin and run them.
    Client {
        /// HOST:PORT of a server, or its desc.
        server: String,
        /// Query actors to cycle over when given HOST:PORT.
        #[arg(long, default_value_t = 1)]
        actors: u32,
    },
    /// Play the CMUD game (systems/cmud/GAME.md) on a server: a prompt, one command per
    /// line, `quit` or end of input to leave.
    Play {
        /// HOST:PORT of a server.
        server: String,
        /// Your player's name.
        #[arg(long)]
        name: String,
        /// The query actor to talk to: one actor, so a player reads its own writes.
        #[arg(long, default_value_t = 0)]
        actor: u32,
    },
    /// Benchmark on loopback: Puts/s on one server, and the visibility latency from a Put
    /// on one server to a Get that sees it on another.
    Bench(super::bench::BenchArgs),
    /// Simulator speed: cmud-swarm seeds/s and events/s on one thread.
    SimBench(super::bench::SimBenchArgs),
}

/// Run the command; returns the process exit code.
pub fn main(args: Args) -> anyhow::Result<i32> {
    match args.command {
        Command::Server {
            port,
            bind,
            actors,
            join,
            for_secs,
        } => {
            if actors == 0 {
                eprintln!("faultline cmud server: --actors must be at least 1");
                return Ok(2);
            }
            let mut descs = Vec::new();
            for d in &join {
                match parse_desc(d) {
                    Ok(refs) => descs.push(refs),
                    Err(e) => {
                        eprintln!("faultline cmud server: --join: {e}");
                        return Ok(2);
                    }
                }
            }
            let stop = Arc::new(AtomicBool::new(false));
            let timeout = for_secs.map(Duration::from_secs);
            serve(
                SocketAddr::new(bind, port),
                actors,
                descs,
                timeout,
                stop,
                |desc| {
                    println!("{desc}");
                    let _ = std::io::stdout().flush();
                },
            )?;
            Ok(0)
        }
        Command::Client { server, actors } => {
            let mut client = match RealClient::parse(&server, actors) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("faultline cmud client: {e}");
                    return Ok(2);
                }
            };
            run_client(
                &mut client,
                std::io::stdin().lock(),
                std::io::stdout().lock(),
            )
        }
        Command::Play {
            server,
            name,
            actor,
        } => {
            if let Err(e) = cmud::game::Player::new(&name) {
                eprintln!("faultline cmud play: {e}");
                return Ok(2);
            }
            let sock = match server.to_socket_addrs().ok().and_then(|mut a| a.next()) {
                Some(s) => s,
                None => {
                    eprintln!("faultline cmud play: bad server address `{server}`");
                    return Ok(2);
                }
            };
            let mut client = RealClient::new(vec![(sock, actor)]);
            let mut input = std::io::stdin().lock();
            let mut output = std::io::stdout().lock();
            cmud::game::play(&mut client, &name, &mut input, &mut output)?;
            Ok(0)
        }
        Command::Bench(b) => super::bench::run(b),
        Command::SimBench(b) => super::bench::run_sim(b),
    }
}

/// The game's store is a real client: each game operation is one call.
impl cmud::game::Store for RealClient {
    fn get(&mut self, key: &str) -> cmud::game::StoreResult<Option<String>> {
        RealClient::get(self, key).map_err(|e| e.to_string())
    }
    fn put(&mut self, key: &str, value: &str) -> cmud::game::StoreResult<()> {
        RealClient::put(self, key, value).map_err(|e| e.to_string())
    }
    fn list(&mut self, prefix: &str) -> cmud::game::StoreResult<Vec<(String, String)>> {
        RealClient::list(self, prefix).map_err(|e| e.to_string())
    }
}

/// The wall clock in ms since the Unix epoch.
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Run a server until `timeout` passes or `stop` is set; `ready` gets its desc first.
pub fn serve(
    addr: SocketAddr,
    actors: u32,
    join: Vec<Vec<cmud::actor::ActorRef>>,
    timeout: Option<Duration>,
    stop: Arc<AtomicBool>,
    ready: impl FnOnce(String),
) -> anyhow::Result<()> {
    let config = RealConfig {
        tcp_listen: Some(addr),
        ..RealConfig::default()
    };
    let mut runtime: Runtime<ServerNode> =
        Runtime::new(config).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = runtime.local_tcp_addr().expect("listening");
    let cfg = ServerConfig {
        actors,
        join,
        address: Some(local.to_string()),
        resolve: Resolve::Book,
        latency: BTreeMap::new(),
        default_latency: Duration::ZERO,
        // The node's clock starts near zero: add the wall clock, so stamps are comparable
        // across processes (SPEC.md §4 assumes synchronised clocks).
        epoch_ms: wall_ms().saturating_sub(runtime.now().as_millis()),
        bugs: faultline::bugs::BugSet::NONE,
    };
    runtime.start(ServerNode::new(cfg));
    ready(desc_text(runtime.node().refs()));
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let slice = Duration::from_millis(100);
        runtime.run_until(|n| n.has_unresolved(), Some(slice))?;
        let unresolved = runtime.node_mut().take_unresolved();
        for address in unresolved {
            let Some(sock) = address.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
                eprintln!("cmud: cannot resolve {address}; messages to it are dropped");
                continue;
            };
            let peer = runtime.peer(sock);
            runtime.with_node(|n, ctx| n.set_addr(ctx, &address, peer));
        }
        if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| std::time::Instant::now() >= d)
        {
            return Ok(());
        }
    }
}

/// A blocking client: one RPC per call, to the router's next address.
pub struct RealClient {
    routes: Vec<(SocketAddr, u32)>,
    conns: BTreeMap<SocketAddr, (TcpStream, Decoder)>,
    next: usize,
    next_id: u64,
    pub timeout: Duration,
}

impl RealClient {
    /// A client of `server` (HOST:PORT, with `actors` actors, or a desc).
    pub fn parse(server: &str, actors: u32) -> Result<RealClient, String> {
        let (host, actors): (&str, Vec<u32>) = match parse_desc(server) {
            Ok(refs) if server.contains('/') => {
                let n = refs.len() as u32;
                (
                    server.rsplit_once('/').expect("a desc has /").0,
                    (0..n).collect(),
                )
            }
            _ => (server, (0..actors.max(1)).collect()),
        };
        let sock = host
            .to_socket_addrs()
            .map_err(|e| format!("bad server address `{host}`: {e}"))?
            .next()
            .ok_or_else(|| format!("`{host}` resolves to nothing"))?;
        Ok(RealClient::new(
            actors.into_iter().map(|a| (sock, a)).collect(),
        ))
    }

    pub fn new(routes: Vec<(SocketAddr, u32)>) -> RealClient {
        RealClient {
            routes,
            conns: BTreeMap::new(),
            next: 0,
            next_id: 0,
            timeout: Duration::from_secs(10),
        }
    }

    /// One call: exactly one RPC.
    pub fn call(&mut self, query: Query) -> std::io::Result<Answer> {
        let (sock, actor) = self.routes[self.next % self.routes.len()];
        self.next += 1;
        let result = self.rpc(sock, actor, query);
        if result.is_err() {
            // The next call dials again.
            self.conns.remove(&sock);
        }
        result
    }

    fn rpc(&mut self, sock: SocketAddr, actor: u32, query: Query) -> std::io::Result<Answer> {
        let timeout = self.timeout;
        let (stream, decoder) = match self.conns.entry(sock) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let s = TcpStream::connect_timeout(&sock, timeout)?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(timeout))?;
                e.insert((s, Decoder::default()))
            }
        };
        let id = self.next_id;
        self.next_id += 1;
        stream.write_all(&wire::encode(&Frame::Rpc { id, actor, query }))?;
        let mut buf = [0u8; 64 * 1024];
        loop {
            match decoder.next_frame() {
                Ok(Some(Frame::Reply { id: got, answer })) if got == id => return Ok(answer),
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::other(e)),
            }
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(std::io::Error::other("server closed the connection"));
            }
            decoder.push(&buf[..n]);
        }
    }

    pub fn get(&mut self, key: &str) -> std::io::Result<Option<String>> {
        match self.call(Query::Get { key: key.into() })? {
            Answer::Value(v) => Ok(v),
            other => Err(unexpected(other)),
        }
    }

    pub fn put(&mut self, key: &str, value: &str) -> std::io::Result<()> {
        match self.call(Query::Put {
            key: key.into(),
            value: value.into(),
        })? {
            Answer::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    pub fn list(&mut self, prefix: &str) -> std::io::Result<Vec<(String, String)>> {
        match self.call(Query::List {
            prefix: prefix.into(),
        })? {
            Answer::Entries(mut e) => {
                e.sort();
                Ok(e)
            }
            other => Err(unexpected(other)),
        }
    }
}

fn unexpected(a: Answer) -> std::io::Error {
    match a {
        Answer::Error(e) => std::io::Error::other(format!("server error: {e}")),
        other => std::io::Error::other(format!("unexpected answer {other:?}")),
    }
}

/// The client's command loop: exit 0 at end of input, 1 on a network error. A bad line is
/// reported on stderr and skipped.
pub fn run_client(
    client: &mut RealClient,
    input: impl BufRead,
    mut out: impl Write,
) -> anyhow::Result<i32> {
    for line in input.lines() {
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        let result = match (cmd, rest.trim()) {
            ("Get", k) if !k.is_empty() && !k.contains(' ') => client
                .get(k)
                .map(|v| vec![v.unwrap_or_else(|| "not found".into())]),
            ("Put", kv) if kv.contains(' ') => {
                let (k, v) = kv.split_once(' ').expect("checked");
                client
                    .put(k, v.trim_start())
                    .map(|()| vec!["ok".to_string()])
            }
            ("List", p) if !p.contains(' ') => client
                .list(p)
                .map(|e| e.into_iter().map(|(k, v)| format!("{k} {v}")).collect()),
            _ => {
                eprintln!("error: `{line}`: expected `Get k`, `Put k v` or `List [prefix]`");
                continue;
            }
        };
        match result {
            Ok(lines) => {
                for l in lines {
                    writeln!(out, "{l}")?;
                }
                out.flush()?;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(1);
            }
        }
    }
    Ok(0)
}
