//! `faultline raft bench-snapshots`: a real 3-node cluster (three `faultline raft node`
//! processes on loopback UDP, storage in a directory) over many operations, once with the
//! default threshold raised out of reach (no snapshots) and once snapshotting every N
//! entries (SPEC.md §13).
//!
//! Client threads in this process each run a [`KvClient`] on the real runtime, one Put at a
//! time over a bounded set of keys, so the state machine stays small and whatever grows is
//! the log. Per window of operations it prints the operations per second and the largest
//! resident set (VmRSS of `/proc/PID/status`) and storage file of the three nodes; at the
//! end it kills one node, restarts it on its storage and times how long it takes to serve
//! again. It prints the ratios between the runs itself: the last window's rate over the
//! first (1.0 is flat), and each figure without snapshots over with them.

use anyhow::{bail, Context};
use faultline::real::{RealConfig, Runtime};
use raft::{ClientConfig, KvClient, Op};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    /// Operations in each run.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub ops: u64,
    /// Operations per reported window.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub window: u64,
    /// The threshold of the run with snapshots.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_every: u64,
    /// Client threads, one operation outstanding each.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub clients: u32,
    /// Keys the Puts spread over (the state machine's size).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub keys: u32,
    /// Parent of the nodes' storage directories (default: /dev/shm if present, else the
    /// temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// One window of operations.
#[derive(Debug, serde::Serialize)]
pub struct Window {
    pub ops_upto: u64,
    pub ops_per_second: f64,
    /// The largest VmRSS of the three nodes at the window's end, in KiB.
    pub max_rss_kib: u64,
    /// The largest storage file of the three nodes, in bytes.
    pub max_storage_bytes: u64,
}

/// One run of the cluster.
#[derive(Debug, serde::Serialize)]
pub struct Run {
    /// `None`: snapshots off (threshold out of reach).
    pub snapshot_every: Option<u64>,
    pub windows: Vec<Window>,
    /// Last window's rate over the first.
    pub last_over_first: f64,
    /// From spawning a killed node again to it serving, storage loaded.
    pub restart_ms: f64,
    /// The restarted node's VmRSS once serving, in KiB.
    pub restart_rss_kib: u64,
}

/// Both runs and their ratios.
#[derive(Debug, serde::Serialize)]
pub struct SnapshotBench {
    pub ops: u64,
    pub clients: u32,
    pub keys: u32,
    pub without: Run,
    pub with: Run,
    /// Without snapshots over with them, at the end.
    pub rss_ratio: f64,
    pub storage_ratio: f64,
    pub restart_ratio: f64,
}

/// The three node processes, killed when dropped.
struct Nodes {
    children: Vec<Option<Child>>,
    addrs: Vec<SocketAddr>,
    dir: PathBuf,
    snapshot_every: u64,
}

impl Nodes {
    fn start(dir: &Path, snapshot_every: u64) -> anyhow::Result<Nodes> {
        let socks = (0..3)
            .map(|_| UdpSocket::bind("127.0.0.1:0"))
            .collect::<Result<Vec<_>, _>>()?;
        let addrs = socks
            .iter()
            .map(|s| s.local_addr())
            .collect::<Result<Vec<_>, _>>()?;
        drop(socks);
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut nodes = Nodes {
            children: Vec::new(),
            addrs,
            dir: dir.to_path_buf(),
            snapshot_every,
        };
        for i in 0..3 {
            let child = nodes.spawn(i)?;
            nodes.children.push(Some(child));
        }
        Ok(nodes)
    }

    fn stderr_path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("n{i}.stderr"))
    }

    fn spawn(&self, i: usize) -> anyhow::Result<Child> {
        let cluster: Vec<String> = self.addrs.iter().map(|a| a.to_string()).collect();
        let stderr = std::fs::File::create(self.stderr_path(i))?;
        Command::new(std::env::current_exe()?)
            .args([
                "raft",
                "node",
                "--id",
                &i.to_string(),
                "--seed",
                &i.to_string(),
            ])
            .args(["--cluster", &cluster.join(",")])
            .args(["--snapshot-every", &self.snapshot_every.to_string()])
            .arg("--storage")
            .arg(self.dir.join(format!("n{i}")))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("starting a raft node")
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn rss_kib(&self, i: usize) -> u64 {
        self.children[i].as_ref().map_or(0, |c| rss_kib(c.id()))
    }

    fn storage_bytes(&self, i: usize) -> u64 {
        let log = self.dir.join(format!("n{i}")).join("storage.log");
        std::fs::metadata(log).map_or(0, |m| m.len())
    }

    /// Kill node `i`, start it again, and time it until it says it serves.
    fn restart(&mut self, i: usize) -> anyhow::Result<Duration> {
        self.kill(i);
        let start = Instant::now();
        let child = self.spawn(i)?;
        self.children[i] = Some(child);
        while start.elapsed() < Duration::from_secs(60) {
            let text = std::fs::read_to_string(self.stderr_path(i)).unwrap_or_default();
            if text.contains("serving on udp") {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        bail!("node {i} did not serve within 60 s of a restart")
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// VmRSS of process `pid` in KiB (0 if unreadable).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// One client thread: Puts until `left` runs out, counting each answer in `done`.
fn client(
    id: u64,
    servers: Vec<SocketAddr>,
    keys: u32,
    left: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let config = RealConfig {
        udp_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..RealConfig::default()
    };
    let mut rt: Runtime<KvClient> = Runtime::new(config)?;
    let addrs = servers.iter().map(|&a| rt.peer(a)).collect();
    rt.start(KvClient::new(id, ClientConfig::default(), addrs));
    let mut n = 0u64;
    while left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
        .is_ok()
    {
        n += 1;
        let op = Op::Put {
            key: format!("k{}", (id * 7919 + n) % keys as u64),
            value: format!("{id}.{n}"),
        };
        rt.with_node(|c, ctx| c.submit(ctx, op));
        if !rt.run_until(|c| c.is_idle(), Some(Duration::from_secs(30)))? {
            bail!("client {id}: no answer within 30 s");
        }
        done.fetch_add(1, Ordering::SeqCst);
    }
    Ok(())
}

/// One run of the cluster with `snapshot_every` (`None`: out of reach).
fn run_one(o: &Options, snapshot_every: Option<u64>) -> anyhow::Result<Run> {
    let label = snapshot_every.map_or("off".into(), |n| n.to_string());
    let shm = Path::new("/dev/shm");
    let parent = o.dir.clone().unwrap_or_else(|| {
        if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        }
    });
    let dir = parent.join(format!(
        "faultline-bench-snapshots-{}-{label}",
        std::process::id()
    ));
    let mut nodes = Nodes::start(&dir, snapshot_every.unwrap_or(u64::MAX))?;
    // A few operations per client first, uncounted: the election and the clients finding
    // the leader are not what is measured.
    let warm = (o.window / 10).max(10 * o.clients as u64);
    let left = Arc::new(AtomicU64::new(warm + o.ops));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..o.clients)
        .map(|c| {
            let (servers, left, done, failed) = (
                nodes.addrs.clone(),
                left.clone(),
                done.clone(),
                failed.clone(),
            );
            let keys = o.keys;
            std::thread::spawn(move || {
                let r = client(c as u64 + 1, servers, keys, left, done);
                if r.is_err() {
                    failed.store(true, Ordering::SeqCst); // the main loop stops waiting
                }
                r
            })
        })
        .collect();
    let mut windows = Vec::new();
    while done.load(Ordering::SeqCst) < warm && !failed.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut since = Instant::now();
    let (mut prev, mut next) = (0, o.window.min(o.ops));
    while next > 0 && !failed.load(Ordering::SeqCst) {
        if done.load(Ordering::SeqCst) < warm + next {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let elapsed = since.elapsed().as_secs_f64();
        since = Instant::now();
        let w = Window {
            ops_upto: next,
            ops_per_second: (next - prev) as f64 / elapsed,
            max_rss_kib: (0..3).map(|i| nodes.rss_kib(i)).max().unwrap_or(0),
            max_storage_bytes: (0..3).map(|i| nodes.storage_bytes(i)).max().unwrap_or(0),
        };
        eprintln!(
            "  snapshots {label:>5}: ops {:>7}: {:>7.0} ops/s, max RSS {:>7} KiB, max storage {:>10} bytes",
            w.ops_upto, w.ops_per_second, w.max_rss_kib, w.max_storage_bytes
        );
        windows.push(w);
        prev = next;
        next = if next >= o.ops {
            0
        } else {
            (next + o.window).min(o.ops)
        };
    }
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
    }
    let restart = nodes.restart(2)?;
    // Let it load and catch up a moment before reading its memory.
    std::thread::sleep(Duration::from_millis(300));
    let restart_rss_kib = nodes.rss_kib(2);
    eprintln!(
        "  snapshots {label:>5}: restart of node 2: {:.1} ms to serve, RSS {restart_rss_kib} KiB",
        restart.as_secs_f64() * 1e3
    );
    let rate = |w: Option<&Window>| w.map_or(0.0, |w| w.ops_per_second);
    Ok(Run {
        snapshot_every,
        last_over_first: rate(windows.last()) / rate(windows.first()).max(1e-9),
        windows,
        restart_ms: restart.as_secs_f64() * 1e3,
        restart_rss_kib,
    })
}

/// Both runs, printing their windows on stderr as they go.
pub fn run(o: &Options) -> anyhow::Result<SnapshotBench> {
    if o.window == 0 || o.ops == 0 || o.clients == 0 || o.keys == 0 {
        bail!("--ops, --window, --clients and --keys must be at least 1");
    }
    eprintln!(
        "raft bench-snapshots: 3 nodes, {} ops (Puts over {} keys) from {} clients",
        o.ops, o.keys, o.clients
    );
    let without = run_one(o, None)?;
    let with = run_one(o, Some(o.snapshot_every))?;
    let last = |r: &Run, f: fn(&Window) -> u64| r.windows.last().map_or(0, f) as f64;
    let ratio = |a: f64, b: f64| a / b.max(1e-9);
    let b = SnapshotBench {
        ops: o.ops,
        clients: o.clients,
        keys: o.keys,
        rss_ratio: ratio(
            last(&without, |w| w.max_rss_kib),
            last(&with, |w| w.max_rss_kib),
        ),
        storage_ratio: ratio(
            last(&without, |w| w.max_storage_bytes),
            last(&with, |w| w.max_storage_bytes),
        ),
        restart_ratio: ratio(without.restart_ms, with.restart_ms),
        without,
        with,
    };
    Ok(b)
}

/// The figures and ratios as text.
pub fn print(b: &SnapshotBench) {
    for r in [&b.without, &b.with] {
        println!(
            "  snapshots {:>5}: ops/s last window over first {:.2}",
            r.snapshot_every.map_or("off".into(), |n| n.to_string()),
            r.last_over_first
        );
    }
    println!(
        "  without over with snapshots: RSS x{:.2}, storage x{:.2}, restart time x{:.2}",
        b.rss_ratio, b.storage_ratio, b.restart_ratio
    );
}
