//! `faultline kv bench`: operations per second on real TCP loopback.
//!
//! Each measurement runs a server node on `faultline::real` in a thread of this process and
//! closed-loop client threads on plain `std::net` sockets. A fast client sends batches of
//! `Put:key_c_i:value_i` + `Get:key_c_i` pairs (fresh keys, so each Get answers exactly one
//! line), reads the replies and compares them whole with what it expects, and repeats: two
//! operations per pair. Slow readers send Gets of a key with a 1 KiB value and never read.
//! The echo baseline runs the same clients against a node that writes back every byte it
//! reads, on the same runtime and sockets, counting each echoed line as an operation: it is
//! what the runtime and the kernel give with no key-value work at all.

use faultline::real::{RealConfig, Runtime};
use faultline::{Ctx, Node, StreamEvent, StreamId};
use kv::{History, Server, ServerNode};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Client counts to measure, comma-separated.
    #[arg(long, default_value = "1,10,100", value_delimiter = ',')]
    pub clients: Vec<usize>,
    /// Slow readers for the extra measurement (with 10 fast clients); 0 skips it.
    #[arg(long, default_value_t = 10)]
    pub slow: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 2.0)]
    pub secs: f64,
    /// Put/Get pairs per batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Print one JSON object per measurement.
    #[arg(long)]
    pub json: bool,
}

/// Writes back every byte it reads; pauses reading a stream whose echo is backed up.
#[derive(Default)]
pub struct EchoNode {
    pending: BTreeMap<StreamId, Vec<u8>>,
}

const ECHO_BACKLOG_BYTES: usize = 1 << 20;

impl EchoNode {
    fn flush(&mut self, ctx: &mut Ctx<'_, ()>, stream: StreamId) {
        let Some(buf) = self.pending.get_mut(&stream) else {
            return;
        };
        let was_backed_up = buf.len() >= ECHO_BACKLOG_BYTES;
        let taken = ctx.write(stream, buf).unwrap_or(0);
        buf.drain(..taken);
        if was_backed_up && buf.len() < ECHO_BACKLOG_BYTES {
            ctx.resume_reading(stream);
        }
    }
}

impl Node for EchoNode {
    type Event = ();
    type Timer = ();
    fn on_start(&mut self, _ctx: &mut Ctx<'_, ()>) {}
    fn on_stream(&mut self, ctx: &mut Ctx<'_, ()>, event: StreamEvent) {
        match event {
            StreamEvent::Accepted { stream, .. } => {
                self.pending.insert(stream, Vec::new());
            }
            StreamEvent::Data { stream, data } => {
                let Some(buf) = self.pending.get_mut(&stream) else {
                    return;
                };
                buf.extend_from_slice(&data);
                self.flush(ctx, stream);
                if self
                    .pending
                    .get(&stream)
                    .is_some_and(|b| b.len() >= ECHO_BACKLOG_BYTES)
                {
                    ctx.pause_reading(stream);
                }
            }
            StreamEvent::Writable { stream } => self.flush(ctx, stream),
            StreamEvent::Closed { stream, .. } => {
                self.pending.remove(&stream);
            }
            StreamEvent::Connected { .. } => {}
        }
    }
}

/// A node running on its own thread until `stop`.
struct Served {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<String>,
}

fn serve<N: Node + 'static>(
    make: impl FnOnce() -> N + Send + 'static,
    summary: impl FnOnce(&N) -> String + Send + 'static,
) -> anyhow::Result<Served> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let stop_in = stop.clone();
    let thread = thread::spawn(move || {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let config = RealConfig {
            tcp_listen: Some(any),
            ..RealConfig::default()
        };
        let mut runtime = match Runtime::new(config) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return String::new();
            }
        };
        let _ = tx.send(Ok(runtime.local_tcp_addr().expect("listening")));
        runtime.start(make());
        while !stop_in.load(Ordering::Relaxed) {
            if let Err(e) = runtime.run_until(|_| false, Some(Duration::from_millis(50))) {
                return format!("runtime error: {e}");
            }
        }
        summary(runtime.node())
    });
    let addr = rx.recv()?.map_err(anyhow::Error::msg)?;
    Ok(Served { addr, stop, thread })
}

/// What a fast client checks in its replies.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Kv,
    Echo,
}

/// One fast client: batches until `deadline`; returns operations done.
fn fast_client(
    addr: SocketAddr,
    cid: usize,
    batch: usize,
    mode: Mode,
    deadline: Instant,
) -> anyhow::Result<u64> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut ops = 0;
    let mut i = 0u64;
    let (mut out, mut want, mut got) = (Vec::new(), Vec::new(), Vec::new());
    while Instant::now() < deadline {
        // Both modes build what they send and what they expect back, and compare it whole,
        // so the clients' own cost is the same for kv and echo.
        out.clear();
        want.clear();
        for n in i..i + batch as u64 {
            write!(out, "Put:key_{cid}_{n}:value_{n}\nGet:key_{cid}_{n}\n")?;
            if mode == Mode::Kv {
                writeln!(want, "key_{cid}_{n}:value_{n}")?;
            }
        }
        if mode == Mode::Echo {
            want.extend_from_slice(&out);
        }
        stream.write_all(&out)?;
        got.resize(want.len(), 0);
        stream.read_exact(&mut got)?;
        anyhow::ensure!(got == want, "client {cid}: wrong replies in batch from {i}");
        i += batch as u64;
        ops += 2 * batch as u64;
    }
    Ok(ops)
}

/// A reader that never reads: it asks for 1 KiB replies until `stop`.
fn slow_reader(
    addr: SocketAddr,
    cid: usize,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_write_timeout(Some(Duration::from_millis(100)))?;
    let value = "v".repeat(1024);
    stream.write_all(format!("Put:slow_{cid}:{value}\n").as_bytes())?;
    let gets = format!("Get:slow_{cid}\n").repeat(64);
    while !stop.load(Ordering::Relaxed) {
        match stream.write_all(gets.as_bytes()) {
            Ok(()) => {
                sent.fetch_add(64, Ordering::Relaxed);
            }
            // A full socket (the echo server stopped reading us): try again later.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
        thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

struct Measurement {
    mode: Mode,
    clients: usize,
    slow: usize,
    ops: u64,
    secs: f64,
    slow_gets_sent: u64,
    server: String,
}

fn measure(
    mode: Mode,
    clients: usize,
    slow: usize,
    args: &BenchArgs,
) -> anyhow::Result<Measurement> {
    let served = match mode {
        Mode::Kv => serve(
            || ServerNode::new(Server::with_history(History::Counts)),
            |n: &ServerNode| super::cli::stats_line(&n.server.stats()),
        )?,
        Mode::Echo => serve(EchoNode::default, |_| String::new())?,
    };
    let stop_slow = Arc::new(AtomicBool::new(false));
    let slow_sent = Arc::new(AtomicU64::new(0));
    let slow_threads: Vec<_> = (0..slow)
        .map(|cid| {
            let (addr, stop, sent) = (served.addr, stop_slow.clone(), slow_sent.clone());
            thread::spawn(move || slow_reader(addr, cid, stop, sent))
        })
        .collect();
    if slow > 0 {
        // Let the slow readers back up before measuring.
        thread::sleep(Duration::from_millis(300));
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.secs);
    let fast: Vec<_> = (0..clients)
        .map(|cid| {
            let (addr, batch) = (served.addr, args.batch);
            thread::spawn(move || fast_client(addr, cid, batch, mode, deadline))
        })
        .collect();
    let mut ops = 0;
    for t in fast {
        ops += t
            .join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
    }
    let secs = started.elapsed().as_secs_f64();
    stop_slow.store(true, Ordering::Relaxed);
    for t in slow_threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("slow reader panicked"))??;
    }
    served.stop.store(true, Ordering::Relaxed);
    let server = served
        .thread
        .join()
        .map_err(|_| anyhow::anyhow!("server thread panicked"))?;
    Ok(Measurement {
        mode,
        clients,
        slow,
        ops,
        secs,
        slow_gets_sent: slow_sent.load(Ordering::Relaxed),
        server,
    })
}

/// Run the benchmark and print the figures.
pub fn run(args: BenchArgs) -> anyhow::Result<i32> {
    let mut configs: Vec<(usize, usize)> = args.clients.iter().map(|&c| (c, 0)).collect();
    if args.slow > 0 {
        configs.push((10, args.slow));
    }
    if !args.json {
        println!(
            "{:>8} {:>6} {:>14} {:>14} {:>7}",
            "clients", "slow", "kv ops/s", "echo ops/s", "kv/echo"
        );
    }
    for (clients, slow) in configs {
        let kv = measure(Mode::Kv, clients, slow, &args)?;
        let echo = measure(Mode::Echo, clients, slow, &args)?;
        let rate = |m: &Measurement| m.ops as f64 / m.secs;
        if args.json {
            for m in [&kv, &echo] {
                let line = json!({
                    "system": if m.mode == Mode::Kv { "kv" } else { "echo" },
                    "clients": m.clients, "slow_readers": m.slow, "ops": m.ops,
                    "secs": m.secs, "ops_per_sec": rate(m),
                    "slow_gets_sent": m.slow_gets_sent, "server": m.server,
                });
                println!("{line}");
            }
        } else {
            println!(
                "{:>8} {:>6} {:>14.0} {:>14.0} {:>7.2}",
                clients,
                slow,
                rate(&kv),
                rate(&echo),
                rate(&kv) / rate(&echo)
            );
            if slow > 0 {
                println!(
                    "         slow readers sent {} Gets; server: {}",
                    kv.slow_gets_sent, kv.server
                );
            }
        }
    }
    Ok(0)
}
