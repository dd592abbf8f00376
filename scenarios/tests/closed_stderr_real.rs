//! A server whose stderr is a closed pipe (`faultline kv server 2>&1 >/dev/null | head -c 1`
//! once `head` has gone) keeps serving: a log line it cannot write is dropped, not a panic.
// These tests drive real processes and sockets: wall-clock deadlines and threads are the
// point here, not a leak into simulated code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{faultline, watchdog, LineConn, Proc};
use std::net::UdpSocket;
use std::process::Stdio;
use std::time::Duration;

const TEST: Duration = Duration::from_secs(120);

/// Start `cmd` with its stderr a pipe whose reading end is already closed.
fn with_closed_stderr(what: &str, cmd: &mut std::process::Command) -> Proc {
    let mut p = Proc::spawn(what, cmd.stderr(Stdio::piped()));
    drop(p.take_stderr());
    p
}

#[test]
fn kv_server_keeps_serving_when_its_stderr_is_closed() {
    let _w = watchdog("kv_server_keeps_serving_when_its_stderr_is_closed", TEST);
    let mut server = with_closed_stderr(
        "kv server",
        faultline(&["kv", "server", "--port", "0", "--stats-every-ms", "10"])
            .stdout(Stdio::piped()),
    );
    let line = server.stdout_lines().next(Duration::from_secs(30));
    let addr = line
        .strip_prefix("kv: listening on ")
        .unwrap_or_else(|| panic!("not a listening line: {line}"))
        .to_string();
    // Each connect and leave is logged; so are the stats every 10 ms.
    for round in 0..3 {
        let mut conn =
            LineConn::connect(&format!("client {round}"), &addr, Duration::from_secs(30));
        conn.send(format!("Put:k:v{round}\nGet:k\n").as_bytes());
        assert_eq!(conn.line("the reply to Get:k"), "k:v0\n", "round {round}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        server.try_status().is_none(),
        "the server exited: {:?}",
        server.try_status()
    );
}

#[test]
fn raft_node_keeps_serving_when_its_stderr_is_closed() {
    let _w = watchdog("raft_node_keeps_serving_when_its_stderr_is_closed", TEST);
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cluster = format!("127.0.0.1:{port}");
    let dir = std::env::temp_dir().join(format!("faultline-closed-stderr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // One node: it logs its start and its election at once.
    let mut node = with_closed_stderr(
        "raft node",
        faultline(&["raft", "node", "--id", "0", "--cluster", &cluster])
            .arg("--storage")
            .arg(&dir)
            .stdout(Stdio::null()),
    );
    let out = Proc::spawn(
        "raft kv",
        faultline(&["raft", "kv", "--cluster", &cluster, "--timeout-ms", "20000"])
            .args(["put", "k", "v"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .output(Duration::from_secs(60));
    let status = node.try_status();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.is_none(), "the node exited: {status:?}");
    assert!(
        out.status.success(),
        "put failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
}
