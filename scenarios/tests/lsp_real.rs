//! The real programs as separate processes on UDP loopback: `faultline lsp server` echoes,
//! `faultline lsp client` sends stdin lines and prints the echoes.
// These tests drive real processes and sockets: wall-clock deadlines and threads are the
// point here, not a leak into simulated code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{faultline, run_to_end, Lines, Proc};
use std::io::Write;
use std::process::{Output, Stdio};
use std::time::Duration;

/// A port that was free a moment ago.
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server (killed when dropped) and its stderr, kept open.
struct Server(Proc, #[allow(dead_code)] Lines);

fn server(port: u16) -> Server {
    let mut child = Proc::spawn(
        "lsp server",
        faultline(&[
            "lsp",
            "server",
            "--port",
            &port.to_string(),
            "--epoch-millis",
            "200",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped()),
    );
    // Wait for its "echoing on" line, so the client does not race the bind.
    let err = child.stderr_lines();
    let line = err.next(Duration::from_secs(30));
    assert!(line.contains("echoing on udp"), "first line: {line}");
    Server(child, err)
}

fn client(port: u16) -> Proc {
    Proc::spawn(
        "lsp client",
        faultline(&[
            "lsp",
            "client",
            &format!("127.0.0.1:{port}"),
            "--epoch-millis",
            "200",
            "--window",
            "4",
            "--max-unacked",
            "4",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()),
    )
}

/// Wait for `child` with a deadline (killed and failed if it overstays): exit code, stdout
/// and stderr.
fn wait(child: Proc, limit: Duration) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = child.output(limit);
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (status.code().unwrap_or(-1), text(stdout), text(stderr))
}

#[test]
fn client_gets_every_line_echoed_then_exits_zero() {
    let _w = common::watchdog(
        "client_gets_every_line_echoed_then_exits_zero",
        std::time::Duration::from_secs(120),
    );
    let port = free_udp_port();
    let _server = server(port);
    let mut c = client(port);
    let lines: Vec<String> = (0..200)
        .map(|i| format!("line {i} {}", "x".repeat(i % 50)))
        .collect();
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    c.feed(input.as_bytes());
    let (code, out, err) = wait(c, Duration::from_secs(60));
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        lines.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

#[test]
fn two_clients_share_one_server() {
    let _w = common::watchdog(
        "two_clients_share_one_server",
        std::time::Duration::from_secs(120),
    );
    let port = free_udp_port();
    let _server = server(port);
    let mut a = client(port);
    let mut b = client(port);
    a.feed(b"from a\nagain a\n");
    b.feed(b"from b\n");
    let (ca, oa, _) = wait(a, Duration::from_secs(60));
    let (cb, ob, _) = wait(b, Duration::from_secs(60));
    assert_eq!((ca, oa.as_str()), (0, "from a\nagain a\n"));
    assert_eq!((cb, ob.as_str()), (0, "from b\n"));
}

#[test]
fn client_exits_nonzero_when_the_server_dies() {
    let _w = common::watchdog(
        "client_exits_nonzero_when_the_server_dies",
        std::time::Duration::from_secs(120),
    );
    let port = free_udp_port();
    let mut server = server(port);
    let mut c = client(port);
    let mut stdin = c.take_stdin();
    writeln!(stdin, "before").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    server.0.kill();
    // Stdin stays open: only the loss (5 epochs of 200 ms) can end the client.
    let (code, out, err) = wait(c, Duration::from_secs(30));
    drop(stdin);
    assert_eq!(code, 1);
    assert_eq!(out, "before\n");
    assert!(err.contains("lost"), "stderr: {err}");
}

#[test]
fn client_exits_nonzero_when_no_server_answers() {
    let _w = common::watchdog(
        "client_exits_nonzero_when_no_server_answers",
        std::time::Duration::from_secs(120),
    );
    let port = free_udp_port();
    let c = client(port);
    let (code, _, err) = wait(c, Duration::from_secs(30));
    assert_eq!(code, 1);
    assert!(err.contains("cannot connect"), "stderr: {err}");
}

#[test]
fn bench_sim_only_reports_simulator_figures_only() {
    let _w = common::watchdog(
        "bench_sim_only_reports_simulator_figures_only",
        std::time::Duration::from_secs(120),
    );
    let out = run_to_end(
        "lsp bench",
        &mut faultline(&["lsp", "bench", "--sim-only", "--json"]),
        Duration::from_secs(100),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["real_udp_vs_tcp"].as_array().unwrap().len(), 0);
    let sim = v["simulator"].as_array().unwrap();
    // Two echo workloads, then lsp-stream once per codec.
    assert_eq!(sim.len(), 4);
    assert!(sim.iter().all(|f| f["events"].as_u64().unwrap() > 1000));
    // Both codecs put the same bytes on the wire, so the runs are the same runs.
    assert_eq!(v["codec_in_lsp_stream"]["same_trace_hashes"], true);
}
