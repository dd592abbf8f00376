//! The exercise system's stream echo as real processes on TCP loopback.
// Real processes and sockets: wall-clock deadlines are the point here.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_faultline");

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts an echo server on a port the OS picks and returns it with its address.
fn server() -> (Server, String) {
    let mut child = Command::new(BIN)
        .args(["exercise", "echo-server", "--port", "0", "--for-secs", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("exercise: echoing on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (Server(child), addr)
}

/// Runs a client to the end, killing it if it overstays `limit`.
fn client(args: &[&str], limit: Duration) -> (i32, String) {
    let mut child = Command::new(BIN)
        .args(["exercise", "echo-client"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("client starts");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("echo-client still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_megabyte_comes_back_intact_through_a_real_echo_server() {
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
