//! The miner's three real programs as separate processes over loopback UDP: a server,
//! two miners and a client; then a miner killed in the middle of a request; then a miner
//! given one long chunk by a server with a short epoch limit.
// These tests drive real processes and sockets: wall-clock deadlines and threads are the
// point here, not a leak into simulated code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{watchdog, Proc};
use faultline::real::{RealConfig, Runtime};
use faultline::{Addr, Ctx, Node, TimerId};
use lsp::{LspTimer, ServerEndpoint, ServerEvent};
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Epochs of 200 ms, and 25 of them (5 s) before a peer counts as lost: a loaded machine
/// may stall a process for a second or two without any of them losing its peers, and a
/// killed miner is still noticed within seconds.
const LSP: [&str; 4] = ["--epoch-millis", "200", "--epoch-limit", "25"];
/// How long any one process may take before the test fails.
const EXIT: Duration = Duration::from_secs(60);
/// The whole test's limit (processes included).
const TEST: Duration = Duration::from_secs(120);

fn faultline(args: &[&str]) -> Command {
    let mut cmd = common::faultline(&["miner"]);
    cmd.args(args).args(LSP);
    cmd
}

/// Start a server on a free port; returns it and "127.0.0.1:<port>".
fn server(extra: &[&str]) -> (Proc, String) {
    let mut p = Proc::spawn(
        "miner server",
        faultline(&["server", "0"])
            .args(extra)
            .stdout(Stdio::piped()),
    );
    let line = p.stdout_lines().next(Duration::from_secs(30));
    let port = line
        .trim()
        .strip_prefix("Server listening on port ")
        .unwrap_or_else(|| panic!("not a listening line: {line}"))
        .to_string();
    (p, format!("127.0.0.1:{port}"))
}

fn miner(hostport: &str) -> Proc {
    Proc::spawn(
        "miner",
        faultline(&["miner", hostport]).stderr(Stdio::piped()),
    )
}

fn client(hostport: &str, msg: &str, max: u64) -> Proc {
    Proc::spawn(
        "miner client",
        faultline(&["client", hostport, msg, &max.to_string()]).stdout(Stdio::piped()),
    )
}

fn expected(msg: &str, max: u64) -> String {
    let best = miner::min_hash(msg, 0, max).unwrap();
    format!("Result {} {}\n", best.hash, best.nonce)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn server_two_miners_and_a_client() {
    let _w = watchdog("server_two_miners_and_a_client", TEST);
    let (_server, hp) = server(&[]);
    let _m1 = miner(&hp);
    let _m2 = miner(&hp);
    let out = client(&hp, "msg", 2).output(EXIT);
    assert!(out.status.success(), "client failed: {}", stdout(&out));
    assert_eq!(stdout(&out), "Result 4754799531757243342 1\n");
    let out = client(&hp, "hello world", 3_000_000).output(EXIT);
    assert!(out.status.success(), "client failed: {}", stdout(&out));
    assert_eq!(stdout(&out), expected("hello world", 3_000_000));
}

#[test]
fn killing_a_miner_mid_request_still_gives_the_right_answer() {
    let _w = watchdog(
        "killing_a_miner_mid_request_still_gives_the_right_answer",
        TEST,
    );
    let (_server, hp) = server(&[]);
    let mut m1 = miner(&hp);
    let mut m2 = miner(&hp);
    std::thread::sleep(Duration::from_millis(300));
    // Long enough that both miners are busy when one dies.
    let max = 60_000_000;
    let mut c = client(&hp, "kill a miner", max);
    // Both miners have had chunks for a while (1.5 s of work even at 40M nonces/s).
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        c.try_status().is_none(),
        "request finished before the kill; make it larger"
    );
    m1.kill();
    let want = expected("kill a miner", max);
    let out = c.output(EXIT);
    assert!(
        m2.try_status().is_none(),
        "the surviving miner exited: {:?}",
        m2.stderr_lines().ready()
    );
    assert!(out.status.success(), "client failed: {}", stdout(&out));
    assert_eq!(stdout(&out), want);
}

#[test]
fn client_without_server_prints_disconnected() {
    let _w = watchdog("client_without_server_prints_disconnected", TEST);
    // A port nobody listens on: bind one, then free it.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = Instant::now();
    let out = Proc::spawn(
        "miner client",
        common::faultline(&["miner", "client", &format!("127.0.0.1:{port}"), "msg", "2"])
            .args(["--epoch-millis", "200", "--epoch-limit", "5"])
            .stdout(Stdio::piped()),
    )
    .output(EXIT);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "Disconnected\n");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn client_whose_server_dies_prints_disconnected() {
    let _w = watchdog("client_whose_server_dies_prints_disconnected", TEST);
    let (mut server, hp) = server(&[]);
    // No miner: the request waits until the server is killed.
    let c = client(&hp, "orphan", 10);
    std::thread::sleep(Duration::from_millis(500));
    server.kill();
    let out = c.output(EXIT);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "Disconnected\n");
}

#[test]
fn non_numeric_max_nonce_is_refused() {
    let _w = watchdog("non_numeric_max_nonce_is_refused", TEST);
    let out = Proc::spawn(
        "miner client",
        faultline(&["client", "127.0.0.1:1", "msg", "abc"]).stdout(Stdio::piped()),
    )
    .output(EXIT);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "abc is not a number.\n");
}

/// A stand-in miner server on the real runtime: it hands whoever joins one request, and
/// notes whether the result came back or the connection was lost first.
struct OneRequest {
    params: lsp::Params,
    request: miner::Message,
    server: Option<ServerEndpoint>,
    result: Option<miner::Message>,
    lost: bool,
}

impl OneRequest {
    fn pump(&mut self, ctx: &mut Ctx<'_, ()>) {
        let Some(server) = &mut self.server else {
            return;
        };
        while let Some(event) = server.poll_event() {
            match event {
                ServerEvent::Message { conn, data } => match miner::Message::decode(&data) {
                    Ok(miner::Message::Join) => {
                        let _ = server.write(ctx, conn, self.request.encode());
                    }
                    Ok(result) => self.result = Some(result),
                    Err(_) => {}
                },
                ServerEvent::Lost { .. } => self.lost = true,
                _ => {}
            }
        }
    }
}

impl Node for OneRequest {
    type Event = ();
    type Timer = LspTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, ()>) {
        self.server = Some(ServerEndpoint::new(ctx, self.params));
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, ()>, from: Addr, data: &[u8]) {
        if let Some(s) = &mut self.server {
            s.on_datagram(ctx, from, data);
        }
        self.pump(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ()>, timer: TimerId, _tag: LspTimer) {
        if let Some(s) = &mut self.server {
            s.on_timer(ctx, timer);
        }
        self.pump(ctx);
    }
}

/// A chunk that takes the miner about three seconds, against a server that counts a
/// miner lost after one second of silence (10 epochs of 100 ms). A miner that hashed it in
/// one go would say nothing for the whole chunk and be dropped; one that lets its event
/// loop run between slices keeps heartbeating and delivers the result. The chunk is sized
/// from this machine's hash rate, measured first, so the test means the same on a fast
/// idle machine and a slow loaded one.
#[test]
fn a_miner_busy_on_a_long_chunk_still_heartbeats() {
    let _w = watchdog("a_miner_busy_on_a_long_chunk_still_heartbeats", TEST);
    let started = Instant::now();
    miner::min_hash("rate", 0, 999_999);
    let per_second = 1e6 / started.elapsed().as_secs_f64();
    let upper = (per_second * 3.0) as u64;
    let params = lsp::Params::new(10, 100, 1, 0, 1);
    let config = RealConfig {
        udp_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        seed: 1,
        ..RealConfig::default()
    };
    let mut rt: Runtime<OneRequest> = Runtime::new(config).expect("bind");
    let port = rt.local_udp_addr().expect("bound").port();
    rt.start(OneRequest {
        params,
        request: miner::Message::Request {
            data: "busy".to_string(),
            lower: 0,
            upper,
        },
        server: None,
        result: None,
        lost: false,
    });
    let _miner = Proc::spawn(
        "miner",
        common::faultline(&["miner", "miner", &format!("127.0.0.1:{port}")])
            .args([
                "--epoch-millis",
                "100",
                "--epoch-limit",
                "10",
                "--window",
                "1",
            ])
            .stderr(Stdio::null()),
    );
    let finished = rt
        .run_until(
            |n| n.result.is_some() || n.lost,
            Some(Duration::from_secs(90)),
        )
        .expect("run");
    assert!(finished, "neither a result nor a loss within 90 s");
    let node = rt.node();
    assert!(!node.lost, "the server lost the miner while it mined");
    let best = miner::min_hash("busy", 0, upper).unwrap();
    assert_eq!(
        node.result,
        Some(miner::Message::Result {
            hash: best.hash,
            nonce: best.nonce
        })
    );
}
