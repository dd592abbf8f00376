//! `faultline miner bench ...`: the miner's speed.
//!
//! `bench hash` measures the miner's loop ([`miner::hash::min_hash`]) against a plain
//! `sha2` digest of a one-block message, in the same process, in alternating rounds (so
//! both see the same machine load), and reports the median of each. The plain digest
//! hashes the same kind of message, `"<msg> <nonce>"` of under 56 bytes, with the nonce
//! bytes changing each time so nothing is hoisted out of the loop. The target is
//! a loop rate of at least 80% of the plain rate.

use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Rates in hashes per second.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HashBench {
    pub loop_rate: f64,
    pub plain_rate: f64,
    pub ratio: f64,
    pub rounds: usize,
}

const MSG: &str = "faultline bitcoin";

fn time_loop(nonces: u64, start: u64) -> f64 {
    let t = Instant::now();
    black_box(miner::min_hash(black_box(MSG), start, start + nonces - 1));
    nonces as f64 / t.elapsed().as_secs_f64()
}

fn time_plain(nonces: u64, start: u64) -> f64 {
    // "<msg> <nonce>" with a 9-digit nonce: 27 bytes, one block, like the loop's.
    let mut buf = format!("{MSG} {start:09}").into_bytes();
    let n = buf.len();
    let mut acc = u64::MAX;
    let t = Instant::now();
    for i in 0..nonces {
        // Change the last three digits as a counter would; the digest sees new bytes.
        buf[n - 1] = b'0' + (i % 10) as u8;
        buf[n - 2] = b'0' + (i / 10 % 10) as u8;
        buf[n - 3] = b'0' + (i / 100 % 10) as u8;
        let d = Sha256::digest(black_box(&buf));
        acc = acc.min(u64::from_be_bytes(
            d[..8].try_into().expect("32-byte digest"),
        ));
    }
    black_box(acc);
    nonces as f64 / t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("rates are finite"));
    v[v.len() / 2]
}

/// Alternate rounds of both for about `duration` in total.
pub fn hash(duration: Duration) -> HashBench {
    // Size a round to about 100 ms from a short warm-up.
    let probe = time_plain(200_000, 100_000_000);
    let per_round = ((probe * 0.1) as u64).max(100_000);
    let rounds = ((duration.as_secs_f64() / 0.2).ceil() as usize).max(3);
    let (mut looped, mut plain) = (Vec::new(), Vec::new());
    for r in 0..rounds as u64 {
        // 9-digit nonces for both.
        let start = 100_000_000 + r * per_round;
        looped.push(time_loop(per_round, start));
        plain.push(time_plain(per_round, start));
    }
    let (loop_rate, plain_rate) = (median(looped), median(plain));
    HashBench {
        loop_rate,
        plain_rate,
        ratio: loop_rate / plain_rate,
        rounds,
    }
}

/// One end-to-end measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EndToEnd {
    pub miners: usize,
    pub nonces: u64,
    pub seconds: f64,
    /// Nonces per second of wall time, from the client's start to its result.
    pub rate: f64,
}

/// One server and `miners` miners on loopback UDP, each on its own thread with its own
/// real runtime, then one client request for `[0, nonces - 1]`, timed.
pub fn end_to_end(nonces: u64, miners: usize) -> anyhow::Result<EndToEnd> {
    use faultline::real::{RealConfig, Runtime};
    use miner::{ClientNode, Outcome, ServerNode, WorkerNode};
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let params = lsp::Params::new(5, 200, 8, 0, 8);
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let mut threads = Vec::new();
    {
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let config = RealConfig {
                udp_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                ..RealConfig::default()
            };
            let mut rt: Runtime<ServerNode> = Runtime::new(config)?;
            tx.send(rt.local_udp_addr().expect("bound"))?;
            rt.start(ServerNode::new(params, miner::scheduler::Config::default()));
            rt.run_until(|_| stop.load(Ordering::Relaxed), None)?;
            Ok(())
        }));
    }
    let server = rx.recv()?;
    for i in 0..miners {
        let stop = stop.clone();
        let seed = super::cli::process_seed() ^ i as u64;
        threads.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let config = RealConfig {
                udp_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                seed,
                ..RealConfig::default()
            };
            let mut rt: Runtime<WorkerNode> = Runtime::new(config)?;
            let addr = rt.peer(server);
            rt.start(WorkerNode::new(addr, params, None));
            rt.run_until(|_| stop.load(Ordering::Relaxed), None)?;
            Ok(())
        }));
    }
    // Let the miners join.
    std::thread::sleep(Duration::from_millis(300));
    let config = RealConfig {
        udp_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        seed: super::cli::process_seed(),
        ..RealConfig::default()
    };
    let mut rt: Runtime<ClientNode> = Runtime::new(config)?;
    let addr = rt.peer(server);
    let t = Instant::now();
    rt.start(ClientNode::new(
        addr,
        params,
        "end to end".into(),
        nonces - 1,
    ));
    let outcome = |c: &mut ClientNode| c.client().and_then(|c| c.outcome());
    rt.run_until(|n| outcome(n).is_some(), Some(Duration::from_secs(600)))?;
    let seconds = t.elapsed().as_secs_f64();
    let got = outcome(rt.node_mut());
    stop.store(true, Ordering::Relaxed);
    for th in threads {
        th.join()
            .map_err(|_| anyhow::anyhow!("a bench thread panicked"))??;
    }
    anyhow::ensure!(
        matches!(got, Some(Outcome::Result(_))),
        "the request was not answered: {got:?}"
    );
    Ok(EndToEnd {
        miners,
        nonces,
        seconds,
        rate: nonces as f64 / seconds,
    })
}
