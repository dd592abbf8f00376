//! `faultline lsp bench`: how fast LSP runs, in the simulator and on real sockets.
//!
//! - Simulator: a fault-free streaming world (clients write at once, the server echoes)
//!   and a sweep of the `lsp-stream` catalog scenario (faults on): events per wall second
//!   and simulated seconds per wall second.
//! - Real: LSP on UDP loopback against a plain TCP loopback stream moving the same
//!   messages in the same run. LSP: a sink server and a client in two threads of this
//!   process, each on its own [`faultline::real::Runtime`]; the client writes every
//!   message at once and the clock stops when its close completes (everything
//!   acknowledged, so everything was read). TCP: one thread writes length-prefixed
//!   messages through a buffered stream, another reads them; the clock stops when the
//!   reader has them all. Figures count payload bytes only.

use super::nodes::{ClientNode, ClientPlan, Outcome, ServerNode};
use super::world::{echo_plan, Lab, LabSpec};
use anyhow::{bail, Context};
use faultline::harness::RunSpec;
use faultline::real::{RealConfig, Runtime};
use lsp::Params;
use serde::Serialize;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// One simulator measurement.
#[derive(Debug, Serialize)]
pub struct SimFigures {
    pub workload: String,
    pub events: u64,
    pub sim_seconds: f64,
    pub wall_seconds: f64,
    pub events_per_second: f64,
    pub sim_seconds_per_wall_second: f64,
}

impl SimFigures {
    fn new(workload: String, events: u64, sim_ns: u64, wall: f64) -> SimFigures {
        let sim_seconds = sim_ns as f64 / 1e9;
        SimFigures {
            workload,
            events,
            sim_seconds,
            wall_seconds: wall,
            events_per_second: events as f64 / wall,
            sim_seconds_per_wall_second: sim_seconds / wall,
        }
    }
}

/// `clients` clients stream `msgs` echoed messages each with window and M = `window`.
pub fn sim_stream(clients: usize, msgs: usize, window: u64) -> SimFigures {
    let params = Params::new(5, 100, window, 0, window);
    let spec =
        LabSpec::new(1, params).clients(clients, Some(0), |i| echo_plan(i, msgs, false, true));
    let mut lab = Lab::new(spec);
    let start = Instant::now();
    let limit = faultline::Time::from_secs(3600);
    let done = lab.start().and_then(|()| {
        lab.run_until(limit, |l| {
            (0..clients).all(|i| l.client(i).reads.len() == msgs)
        })
    });
    assert!(
        done.is_ok_and(|d| d),
        "the benchmark workload did not finish or broke an invariant"
    );
    let wall = start.elapsed().as_secs_f64();
    SimFigures::new(
        format!("{clients} clients x {msgs} echoed msgs, w=M={window}, no faults"),
        lab.world.events(),
        lab.world.now().as_nanos(),
        wall,
    )
}

/// The `lsp-stream` scenario over `seeds` seeds (faults on), its endpoints on `codec`.
/// Returns the figures and the runs' trace hashes.
pub fn sim_catalog(seeds: u64, codec: lsp::Codec) -> (SimFigures, Vec<String>) {
    let scenario = super::scenarios::swarm::all()
        .into_iter()
        .find(|s| faultline::harness::Scenario::name(s) == "lsp-stream")
        .expect("lsp-stream is a swarm scenario")
        .with_codec(codec);
    let start = Instant::now();
    let (mut events, mut sim_ns) = (0, 0);
    let mut hashes = Vec::new();
    for seed in 0..seeds {
        let r = faultline::harness::Scenario::run(
            &scenario,
            &RunSpec {
                seed,
                ..RunSpec::default()
            },
        )
        .expect("runs");
        events += r.events;
        sim_ns += r.sim_time_ns;
        hashes.push(r.trace_hash);
    }
    let wall = start.elapsed().as_secs_f64();
    let figures = SimFigures::new(
        format!("lsp-stream catalog scenario, seeds 0..{seeds}, {codec:?} codec"),
        events,
        sim_ns,
        wall,
    );
    (figures, hashes)
}

/// `lsp-stream` with the hand-written codec against the same runs with serde_json for
/// every datagram, one after the other in this process.
#[derive(Debug, Serialize)]
pub struct CodecInSim {
    pub seeds: u64,
    pub serde_seeds_per_second: f64,
    pub hand_written_seeds_per_second: f64,
    /// The hand-written codec's rate over serde's.
    pub speedup: f64,
    /// Both codecs write the same bytes, so every run's trace hash agrees.
    pub same_trace_hashes: bool,
}

pub fn codec_in_sim(seeds: u64) -> (CodecInSim, [SimFigures; 2]) {
    let (serde, serde_hashes) = sim_catalog(seeds, lsp::Codec::Serde);
    let (hand, hand_hashes) = sim_catalog(seeds, lsp::Codec::HandWritten);
    let rate = |f: &SimFigures| seeds as f64 / f.wall_seconds;
    let c = CodecInSim {
        seeds,
        serde_seeds_per_second: rate(&serde),
        hand_written_seeds_per_second: rate(&hand),
        speedup: serde.wall_seconds / hand.wall_seconds,
        same_trace_hashes: serde_hashes == hand_hashes,
    };
    (c, [serde, hand])
}

/// One real-socket measurement.
#[derive(Debug, Serialize)]
pub struct RealFigures {
    pub payload_bytes: usize,
    pub window: u64,
    pub msgs: usize,
    pub lsp_msgs_per_s: f64,
    pub lsp_mb_per_s: f64,
    pub lsp_resends: u64,
    pub tcp_msgs_per_s: f64,
    pub tcp_mb_per_s: f64,
    /// LSP throughput as a fraction of TCP's.
    pub lsp_over_tcp: f64,
}

fn params(window: u64) -> Params {
    // A short epoch, so a datagram the OS drops costs 50 ms, not 2 s.
    Params::new(5, 50, window, 0, window)
}

/// Seconds for LSP to move `msgs` messages of `size` bytes with ω = M = `window`, and the
/// number of resends it needed.
fn lsp_run(msgs: usize, size: usize, window: u64) -> anyhow::Result<(f64, u64)> {
    let loopback = "127.0.0.1:0".parse()?;
    // A runtime stays on the thread that made it: the sink builds its own and reports
    // its address.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let sink = std::thread::spawn(move || -> anyhow::Result<(bool, u64)> {
        let mut server: Runtime<ServerNode> = Runtime::new(RealConfig {
            udp_bind: Some(loopback),
            ..RealConfig::default()
        })?;
        let _ = addr_tx.send(server.local_udp_addr());
        server.start(ServerNode::new(params(window), false).without_log());
        let done = server.run_until(
            |n| n.messages as usize >= msgs,
            Some(Duration::from_secs(300)),
        )?;
        Ok((done, server.node().bytes))
    });
    let server_addr = addr_rx.recv()?.context("server has no UDP socket")?;
    let mut client: Runtime<ClientNode> = Runtime::new(RealConfig {
        udp_bind: Some(loopback),
        ..RealConfig::default()
    })?;
    let to = client.peer(server_addr);
    let payload = vec![b'x'; size];
    let start = Instant::now();
    client.start(ClientNode::new(to, params(window), Some(0), ClientPlan::default()).without_log());
    client.with_node(|n, ctx| {
        for _ in 0..msgs {
            n.write(ctx, payload.clone())
                .expect("a fresh client takes writes");
        }
        n.finish_input(ctx, false);
    });
    client.run_until(|n| n.outcome.is_some(), Some(Duration::from_secs(300)))?;
    let secs = start.elapsed().as_secs_f64();
    let (sink_done, bytes) = sink
        .join()
        .map_err(|_| anyhow::anyhow!("sink thread panicked"))??;
    if client.node().outcome != Some(Outcome::Done) || !sink_done || bytes != (msgs * size) as u64 {
        bail!(
            "LSP run did not complete: {:?}, sink got {bytes} bytes",
            client.node().outcome
        );
    }
    let resends = client
        .node()
        .endpoint
        .as_ref()
        .map_or(0, |e| e.stats().data_resent);
    Ok((secs, resends))
}

/// Seconds for TCP to move the same messages, length-prefixed.
fn tcp_run(msgs: usize, size: usize) -> anyhow::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let reader = std::thread::spawn(move || -> std::io::Result<usize> {
        let (stream, _) = listener.accept()?;
        let mut r = BufReader::with_capacity(64 * 1024, stream);
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        for _ in 0..msgs {
            let mut len = [0u8; 4];
            r.read_exact(&mut len)?;
            let n = u32::from_le_bytes(len) as usize;
            r.read_exact(&mut buf[..n])?;
            got += n;
        }
        Ok(got)
    });
    let payload = vec![b'x'; size];
    let start = Instant::now();
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut w = BufWriter::with_capacity(64 * 1024, stream);
    for _ in 0..msgs {
        w.write_all(&(size as u32).to_le_bytes())?;
        w.write_all(&payload)?;
    }
    w.flush()?;
    let got = reader
        .join()
        .map_err(|_| anyhow::anyhow!("reader panicked"))??;
    let secs = start.elapsed().as_secs_f64();
    if got != msgs * size {
        bail!("TCP reader got {got} bytes");
    }
    Ok(secs)
}

fn real_figures(msgs: usize) -> anyhow::Result<Vec<RealFigures>> {
    let mut out = Vec::new();
    for size in [100usize, 1024] {
        let tcp = tcp_run(msgs, size)?;
        for window in [1u64, 8, 64] {
            let (lsp, resends) = lsp_run(msgs, size, window)?;
            let mb = (msgs * size) as f64 / 1e6;
            out.push(RealFigures {
                payload_bytes: size,
                window,
                msgs,
                lsp_msgs_per_s: msgs as f64 / lsp,
                lsp_mb_per_s: mb / lsp,
                lsp_resends: resends,
                tcp_msgs_per_s: msgs as f64 / tcp,
                tcp_mb_per_s: mb / tcp,
                lsp_over_tcp: tcp / lsp,
            });
        }
    }
    Ok(out)
}

fn sim_figures() -> (Vec<SimFigures>, CodecInSim) {
    let (codec, [serde, hand]) = codec_in_sim(20);
    let figures = vec![sim_stream(8, 2000, 8), sim_stream(8, 2000, 1), serde, hand];
    (figures, codec)
}

/// The wire codec alone: encoding and decoding LSP's message mix (Data with small
/// payloads, and the Acks for them) with the hand-written codec and with serde.
#[derive(Debug, Serialize)]
pub struct CodecFigures {
    pub messages: usize,
    pub serde_ns_per_message: f64,
    pub hand_written_ns_per_message: f64,
    /// serde's cost over the hand-written codec's.
    pub speedup: f64,
}

/// Time both codecs over the same messages, best of 5 rounds each.
pub fn codec_figures() -> CodecFigures {
    let messages: Vec<lsp::Message> = (0..2_000i64)
        .map(|i| match i % 2 {
            0 => lsp::Message::data(1 + i % 7, i, vec![b'x'; 8 + (i as usize * 37) % 200]),
            _ => lsp::Message::ack(1 + i % 7, i - 1),
        })
        .collect();
    let time = |encode: fn(&lsp::Message) -> Vec<u8>,
                decode: fn(&[u8]) -> Result<lsp::Message, lsp::wire::DecodeError>| {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            for m in &messages {
                let bytes = encode(std::hint::black_box(m));
                std::hint::black_box(decode(&bytes).expect("round trips"));
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        best * 1e9 / messages.len() as f64
    };
    let serde_ns = time(lsp::Message::encode_serde, lsp::Message::decode_serde);
    let hand_ns = time(lsp::Message::encode, lsp::Message::decode);
    CodecFigures {
        messages: messages.len(),
        serde_ns_per_message: serde_ns,
        hand_written_ns_per_message: hand_ns,
        speedup: serde_ns / hand_ns,
    }
}

/// Run the benchmark and print its figures.
pub fn run(msgs: usize, real: bool, simulated: bool, json: bool) -> anyhow::Result<()> {
    let real = if real {
        real_figures(msgs)?
    } else {
        Vec::new()
    };
    let (simf, in_sim) = if simulated {
        let (f, c) = sim_figures();
        (f, Some(c))
    } else {
        (Vec::new(), None)
    };
    let codec = codec_figures();
    if json {
        println!(
            "{}",
            serde_json::json!({ "real_udp_vs_tcp": real, "simulator": simf, "codec": codec, "codec_in_lsp_stream": in_sim })
        );
        return Ok(());
    }
    println!(
        "Wire codec, encode + decode of {} messages: serde {:.0} ns, hand-written {:.0} ns per message: {:.1}x cheaper",
        codec.messages, codec.serde_ns_per_message, codec.hand_written_ns_per_message, codec.speedup
    );
    if !real.is_empty() {
        println!("LSP on real UDP loopback vs a TCP loopback stream ({msgs} messages each; K=5, epoch 50 ms, w = M):");
        println!(
            "{:>6} {:>6} {:>12} {:>9} {:>8} {:>12} {:>9} {:>8}",
            "bytes",
            "window",
            "lsp msg/s",
            "lsp MB/s",
            "resends",
            "tcp msg/s",
            "tcp MB/s",
            "lsp/tcp"
        );
        for f in &real {
            println!(
                "{:>6} {:>6} {:>12.0} {:>9.2} {:>8} {:>12.0} {:>9.2} {:>8.3}",
                f.payload_bytes,
                f.window,
                f.lsp_msgs_per_s,
                f.lsp_mb_per_s,
                f.lsp_resends,
                f.tcp_msgs_per_s,
                f.tcp_mb_per_s,
                f.lsp_over_tcp
            );
        }
    }
    if !simf.is_empty() {
        println!("Simulator on LSP:");
        for f in &simf {
            println!(
                "  {}: {} events in {:.3} s wall = {:.0} events/s; {:.1} s simulated = {:.0} simulated s per wall s",
                f.workload, f.events, f.wall_seconds, f.events_per_second, f.sim_seconds, f.sim_seconds_per_wall_second
            );
        }
    }
    if let Some(c) = in_sim {
        println!(
            "lsp-stream seeds 0..{}: serde codec {:.2} seeds/s, hand-written {:.2} seeds/s: {:.2}x; same trace hashes: {}",
            c.seeds, c.serde_seeds_per_second, c.hand_written_seeds_per_second, c.speedup, c.same_trace_hashes
        );
    }
    Ok(())
}
