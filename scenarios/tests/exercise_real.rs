//! The exercise system's stream echo as real processes on TCP loopback.
// Real processes and sockets: wall-clock deadlines are the point here.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{faultline, run_to_end, Proc};
use std::process::Stdio;
use std::time::Duration;

/// Starts an echo server on a port the OS picks and returns it (killed when dropped) with
/// its address.
fn server() -> (Proc, String) {
    let mut server = Proc::spawn(
        "echo-server",
        faultline(&["exercise", "echo-server", "--port", "0", "--for-secs", "60"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let line = server.stdout_lines().next(Duration::from_secs(30));
    let addr = line
        .strip_prefix("exercise: echoing on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (server, addr)
}

/// Runs a client to the end, killing it if it overstays `limit`.
fn client(args: &[&str], limit: Duration) -> (i32, String) {
    let out = run_to_end(
        "echo-client",
        faultline(&["exercise", "echo-client"]).args(args),
        limit,
    );
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_megabyte_comes_back_intact_through_a_real_echo_server() {
    let _w = common::watchdog(
        "a_megabyte_comes_back_intact_through_a_real_echo_server",
        std::time::Duration::from_secs(120),
    );
    let (_server, addr) = server();
    let (code, text) = client(
        &[&addr, "--bytes", "1000000", "--timeout-ms", "20000"],
        Duration::from_secs(40),
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("echoed 1000000 bytes intact"), "{text}");
}

#[test]
fn a_client_with_no_server_fails_with_a_reason() {
    let _w = common::watchdog(
        "a_client_with_no_server_fails_with_a_reason",
        std::time::Duration::from_secs(120),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, text) = client(
        &[
            &format!("127.0.0.1:{port}"),
            "--bytes",
            "10",
            "--timeout-ms",
            "3000",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("ended early") || text.contains("within"),
        "{text}"
    );
}
