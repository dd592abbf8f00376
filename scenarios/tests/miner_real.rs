//! The miner's three real programs as separate processes over loopback UDP: a server,
//! two miners and a client; then a miner killed in the middle of a request.
// These tests drive real processes and sockets: wall-clock deadlines and threads are the
// point here, not a leak into simulated code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_faultline");
/// Short epochs so a lost miner is noticed in 1 s (5 epochs of 200 ms).
const LSP: [&str; 4] = ["--epoch-millis", "200", "--epoch-limit", "5"];

/// Kills the process when dropped, so a failing test leaves nothing behind.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn faultline(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("miner").args(args).args(LSP);
    cmd
}

/// Start a server on a free port; returns it and "127.0.0.1:<port>".
fn server() -> (Proc, String) {
    let mut child = faultline(&["server", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("Server listening on port ")
        .expect("listening line")
        .to_string();
    (Proc(child), format!("127.0.0.1:{port}"))
}

fn miner(hostport: &str) -> Proc {
    Proc(
        faultline(&["miner", hostport])
            .stderr(Stdio::null())
            .spawn()
            .expect("miner starts"),
    )
}

fn client(hostport: &str, msg: &str, max: u64) -> Child {
    faultline(&["client", hostport, msg, &max.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("client starts")
}

fn expected(msg: &str, max: u64) -> String {
    let best = miner::min_hash(msg, 0, max).unwrap();
    format!("Result {} {}\n", best.hash, best.nonce)
}

#[test]
fn server_two_miners_and_a_client() {
    let (_server, hp) = server();
    let _m1 = miner(&hp);
    let _m2 = miner(&hp);
    let out = client(&hp, "msg", 2).wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Result 4754799531757243342 1\n"
    );
    let out = client(&hp, "hello world", 3_000_000)
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        expected("hello world", 3_000_000)
    );
}

#[test]
fn killing_a_miner_mid_request_still_gives_the_right_answer() {
    let (_server, hp) = server();
    let mut m1 = miner(&hp);
    let _m2 = miner(&hp);
    std::thread::sleep(Duration::from_millis(300));
    // Long enough that both miners are busy when one dies.
    let max = 60_000_000;
    let mut c = client(&hp, "kill a miner", max);
    // Both miners have had chunks for a while (1.5 s of work even at 40M nonces/s).
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        c.try_wait().unwrap().is_none(),
        "request finished before the kill; make it larger"
    );
    m1.0.kill().unwrap();
    m1.0.wait().unwrap();
    let want = expected("kill a miner", max);
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
}

#[test]
fn client_without_server_prints_disconnected() {
    // A port nobody listens on: bind one, then free it.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = Instant::now();
    let out = client(&format!("127.0.0.1:{port}"), "msg", 2)
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "Disconnected\n");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn client_whose_server_dies_prints_disconnected() {
    let (mut server, hp) = server();
    // No miner: the request waits until the server is killed.
    let c = client(&hp, "orphan", 10);
    std::thread::sleep(Duration::from_millis(500));
    server.0.kill().unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "Disconnected\n");
}

#[test]
fn non_numeric_max_nonce_is_refused() {
    let out = faultline(&["client", "127.0.0.1:1", "msg", "abc"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "abc is not a number.\n"
    );
}
