//! The real programs as separate processes on UDP loopback: `faultline lsp server` echoes,
//! `faultline lsp client` sends stdin lines and prints the echoes.
// These tests drive real processes and sockets: wall-clock deadlines and threads are the
// point here, not a leak into simulated code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_faultline");

/// A port that was free a moment ago.
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the server when the test ends, however it ends. Keeps its stderr open.
struct Server(Child, #[allow(dead_code)] std::process::ChildStderr);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server(port: u16) -> Server {
    let child = Command::new(BIN)
        .args([
            "lsp",
            "server",
            "--port",
            &port.to_string(),
            "--epoch-millis",
            "200",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    // Wait for its "echoing on" line, so the client does not race the bind.
    let mut child = child;
    let mut err = child.stderr.take().unwrap();
    let mut buf = [0u8; 256];
    let n = err.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("echoing on udp"));
    Server(child, err)
}

fn client(port: u16) -> Child {
    Command::new(BIN)
        .args([
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
        .stderr(Stdio::piped())
        .spawn()
        .expect("client starts")
}

/// Wait for `child` with a deadline; kill it if it overstays.
fn wait(mut child: Child, limit: Duration) -> (i32, String, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            let mut err = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), out, err);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
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
    {
        let mut stdin = c.stdin.take().unwrap();
        for l in &lines {
            writeln!(stdin, "{l}").unwrap();
        }
    } // EOF
    let (code, out, err) = wait(c, Duration::from_secs(20));
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
    writeln!(a.stdin.take().unwrap(), "from a\nagain a").unwrap();
    writeln!(b.stdin.take().unwrap(), "from b").unwrap();
    let (ca, oa, _) = wait(a, Duration::from_secs(20));
    let (cb, ob, _) = wait(b, Duration::from_secs(20));
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
    let mut stdin = c.stdin.take().unwrap();
    writeln!(stdin, "before").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    server.0.kill().unwrap();
    let _ = server.0.wait();
    // Stdin stays open: only the loss (5 epochs of 200 ms) can end the client.
    let (code, out, err) = wait(c, Duration::from_secs(10));
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
    let (code, _, err) = wait(c, Duration::from_secs(10));
    assert_eq!(code, 1);
    assert!(err.contains("cannot connect"), "stderr: {err}");
}

#[test]
fn bench_sim_only_reports_simulator_figures_only() {
    let _w = common::watchdog(
        "bench_sim_only_reports_simulator_figures_only",
        std::time::Duration::from_secs(120),
    );
    let out = Command::new(BIN)
        .args(["lsp", "bench", "--sim-only", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["real_udp_vs_tcp"].as_array().unwrap().len(), 0);
    let sim = v["simulator"].as_array().unwrap();
    assert_eq!(sim.len(), 3);
    assert!(sim.iter().all(|f| f["events"].as_u64().unwrap() > 1000));
}
