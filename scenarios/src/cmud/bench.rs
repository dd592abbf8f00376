//! `faultline cmud bench`: two real servers on loopback (the second joined to the first),
//! in this process on their own threads, driven by blocking clients.
//!
//! - Puts/s: `--clients` threads each Put as fast as one outstanding call allows, on the
//!   first server, for `--secs` seconds.
//! - Visibility: a Put on the first server, then Gets on the second every millisecond
//!   until one sees the value: the time from the Put's start to that Get's return, over
//!   `--samples` keys. Printed next to the 2 s remote deadline and the sync tick.

use super::cli::{serve, RealClient};
use cmud::server::parse_desc;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Query actors per server.
    #[arg(long, default_value_t = 4)]
    pub actors: u32,
    /// Client threads for the Put rate.
    #[arg(long, default_value_t = 4)]
    pub clients: u32,
    /// Seconds of Puts.
    #[arg(long, default_value_t = 3)]
    pub secs: u64,
    /// Keys timed for visibility.
    #[arg(long, default_value_t = 100)]
    pub samples: u32,
    #[arg(long)]
    pub json: bool,
}

fn start(actors: u32, join: Vec<String>, stop: Arc<AtomicBool>) -> anyhow::Result<String> {
    let (tx, rx) = mpsc::channel();
    let join: Vec<_> = join
        .iter()
        .map(|d| parse_desc(d).expect("own desc"))
        .collect();
    std::thread::spawn(move || {
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("loopback");
        let r = serve(addr, actors, join, None, stop, |desc| {
            let _ = tx.send(desc);
        });
        if let Err(e) = r {
            eprintln!("cmud bench: server failed: {e:#}");
        }
    });
    rx.recv_timeout(Duration::from_secs(10))
        .map_err(|_| anyhow::anyhow!("a server did not start"))
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn run(args: BenchArgs) -> anyhow::Result<i32> {
    if args.actors == 0 || args.clients == 0 || args.secs == 0 || args.samples == 0 {
        eprintln!("faultline cmud bench: every count must be at least 1");
        return Ok(2);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let a = start(args.actors, Vec::new(), stop.clone())?;
    let b = start(args.actors, vec![a.clone()], stop.clone())?;
    std::thread::sleep(Duration::from_millis(500));

    // Puts/s on server a.
    let puts = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(args.secs);
    let workers: Vec<_> = (0..args.clients)
        .map(|c| {
            let (a, puts) = (a.clone(), puts.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut client = RealClient::parse(&a, 1).map_err(anyhow::Error::msg)?;
                let mut i = 0u64;
                while Instant::now() < until {
                    client.put(&format!("bench/{c}/{}", i % 1000), &i.to_string())?;
                    puts.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join()
            .map_err(|_| anyhow::anyhow!("a client panicked"))??;
    }
    let put_secs = t0.elapsed().as_secs_f64();
    let puts = puts.load(Ordering::Relaxed);
    let puts_per_sec = puts as f64 / put_secs;
    std::thread::sleep(Duration::from_millis(1000));

    // Visibility from a to b.
    let mut on_a = RealClient::parse(&a, 1).map_err(anyhow::Error::msg)?;
    let mut on_b = RealClient::parse(&b, 1).map_err(anyhow::Error::msg)?;
    let mut lat_ms = Vec::new();
    for i in 0..args.samples {
        let key = format!("vis/{i}");
        let start = Instant::now();
        on_a.put(&key, "seen")?;
        loop {
            if on_b.get(&key)?.as_deref() == Some("seen") {
                lat_ms.push(start.elapsed().as_micros() as u64);
                break;
            }
            if start.elapsed() > Duration::from_secs(10) {
                anyhow::bail!("{key} not visible on the second server after 10 s");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    stop.store(true, Ordering::Relaxed);
    lat_ms.sort_unstable();
    let (p50, p99, max) = (
        pct(&lat_ms, 0.5),
        pct(&lat_ms, 0.99),
        *lat_ms.last().unwrap_or(&0),
    );
    let tick_us = cmud::store::TICK.as_micros() as f64;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "actors": args.actors, "clients": args.clients, "puts": puts,
                "puts_per_second": puts_per_sec, "visibility_p50_us": p50,
                "visibility_p99_us": p99, "visibility_max_us": max, "samples": args.samples,
            })
        );
    } else {
        println!("cmud bench: 2 servers x {} actors on loopback", args.actors);
        println!(
            "  {puts} Puts in {put_secs:.2} s from {} clients: {puts_per_sec:.0} Puts/s",
            args.clients
        );
        println!(
            "  visibility a -> b over {} keys: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            args.samples,
            p50 as f64 / 1000.0,
            p99 as f64 / 1000.0,
            max as f64 / 1000.0
        );
        println!(
            "  p99 is {:.2} of the 2 s remote deadline, {:.1} sync ticks",
            p99 as f64 / 2_000_000.0,
            p99 as f64 / tick_us
        );
    }
    Ok(0)
}

#[derive(clap::Args, Debug)]
pub struct SimBenchArgs {
    /// Seeds of cmud-swarm to run (0..N), one after another on this thread.
    #[arg(long, default_value_t = 200)]
    pub seeds: u64,
}

/// `faultline cmud sim-bench`: cmud-swarm seeds/s and events/s on one thread.
pub fn run_sim(args: SimBenchArgs) -> anyhow::Result<i32> {
    use faultline::harness::{RunSpec, Scenario};
    if args.seeds == 0 {
        eprintln!("faultline cmud sim-bench: --seeds must be at least 1");
        return Ok(2);
    }
    let swarm = super::scenarios::Swarm;
    let (mut events, mut sim_ns, mut failed) = (0u64, 0u64, 0u64);
    let t0 = Instant::now();
    for seed in 0..args.seeds {
        let r = swarm.run(&RunSpec::new(seed)).map_err(anyhow::Error::msg)?;
        events += r.events;
        sim_ns += r.sim_time_ns;
        failed += u64::from(!r.ok);
    }
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "cmud-swarm: {} seeds ({failed} failed) in {wall:.2} s on one thread",
        args.seeds
    );
    println!(
        "  {:.1} seeds/s, {:.0} events/s, {events} events",
        args.seeds as f64 / wall,
        events as f64 / wall
    );
    println!(
        "  {:.0}x faster than real time ({:.0} simulated s)",
        sim_ns as f64 / 1e9 / wall,
        sim_ns as f64 / 1e9
    );
    Ok(0)
}
