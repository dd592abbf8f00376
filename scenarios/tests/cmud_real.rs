//! `faultline cmud server` and `faultline cmud client` as real processes on loopback: a
//! scripted client session, and a Put on one server seen through a second server that
//! joined it. Every process is killed when its test ends.
// These tests drive real processes and sockets: wall-clock deadlines and threads are the
// point here, not a leak into simulated code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{faultline, run_to_end, watchdog, Proc};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// How long a whole test may take before the watchdog ends it.
const TEST: Duration = Duration::from_secs(180);

/// How long a write may take to show on another server before the test calls it lost.
/// Visibility normally takes about a store tick, and `faultline cmud bench` measures it;
/// a test only needs a bound that holds on a loaded machine.
const CONVERGE: Duration = Duration::from_secs(20);

/// A server process (killed when dropped) and its desc.
struct Server {
    _proc: Proc,
    desc: String,
}

impl Server {
    fn start(actors: u32, join: &[&str]) -> Server {
        let mut args = vec![
            "cmud".to_string(),
            "server".into(),
            "--port".into(),
            "0".into(),
            "--actors".into(),
            actors.to_string(),
            "--for-secs".into(),
            "60".into(),
        ];
        for j in join {
            args.push("--join".into());
            args.push(j.to_string());
        }
        let mut proc = Proc::spawn(
            "cmud server",
            faultline(&[])
                .args(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let desc = proc.stdout_lines().next(Duration::from_secs(30));
        let desc = desc.trim().to_string();
        assert!(desc.contains('/'), "first line is the desc, got `{desc}`");
        Server { _proc: proc, desc }
    }

    /// HOST:PORT of the server.
    fn addr(&self) -> &str {
        self.desc.rsplit_once('/').unwrap().0
    }
}

/// Run `faultline cmud ARGS` with `input` on stdin, killed if it takes over 30 s.
fn run_fed(args: &[&str], input: &str) -> Output {
    let mut proc = Proc::spawn(
        &format!("cmud {args:?}"),
        faultline(&["cmud"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    proc.feed(input.as_bytes());
    proc.output(Duration::from_secs(30))
}

/// Run `faultline cmud client` on `input`, killed if it takes over 30 s.
pub fn client(server: &str, input: &str) -> Output {
    run_fed(&["client", server], input)
}

#[test]
fn a_scripted_client_session_gets_every_answer() {
    let _w = watchdog("a_scripted_client_session_gets_every_answer", TEST);
    let server = Server::start(1, &[]);
    let out = client(
        server.addr(),
        "Get nothing\nPut cat/1 tom\nPut cat/2 felix the cat\nPut dog/1 rex\nGet cat/2\nList cat/\nnonsense here\nList\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "not found\nok\nok\nok\nfelix the cat\ncat/1 tom\ncat/2 felix the cat\ncat/1 tom\ncat/2 felix the cat\ndog/1 rex\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected `Get k`"));
}

#[test]
fn a_put_on_one_server_is_seen_on_a_server_that_joined_it() {
    let _w = watchdog(
        "a_put_on_one_server_is_seen_on_a_server_that_joined_it",
        TEST,
    );
    let a = Server::start(2, &[]);
    let b = Server::start(2, &[&a.desc]);
    let put = client(a.addr(), "Put player/x hello\n");
    assert_eq!(String::from_utf8_lossy(&put.stdout), "ok\n");
    let start = Instant::now();
    loop {
        // Through b's desc: the router cycles over both of b's actors.
        let got = client(&b.desc, "Get player/x\nGet player/x\n");
        if String::from_utf8_lossy(&got.stdout) == "hello\nhello\n" {
            break;
        }
        assert!(
            start.elapsed() < CONVERGE,
            "not on both of b's actors after {CONVERGE:?}: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // And the older server learned of the newcomer: a Put on b reaches a.
    client(b.addr(), "Put from/b yes\n");
    let start = Instant::now();
    while String::from_utf8_lossy(&client(a.addr(), "Get from/b\n").stdout) != "yes\n" {
        assert!(
            start.elapsed() < CONVERGE,
            "b's Put not on a after {CONVERGE:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bad_usage_exits_2() {
    let _w = watchdog("bad_usage_exits_2", TEST);
    let out = run_to_end(
        "cmud server --join garbage",
        &mut faultline(&["cmud", "server", "--port", "0", "--join", "garbage"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = run_to_end(
        "cmud client to no host",
        faultline(&["cmud", "client", "no-such-host-really:1"]).stdin(Stdio::null()),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// Run `faultline cmud play` on `input`, killed if it takes over 30 s.
fn play(server: &str, name: &str, input: &str) -> Output {
    run_fed(&["play", server, "--name", name], input)
}

#[test]
fn a_game_played_on_one_server_is_seen_on_the_other() {
    let _w = watchdog("a_game_played_on_one_server_is_seen_on_the_other", TEST);
    let a = Server::start(2, &[]);
    let b = Server::start(2, &[&a.desc]);
    let out = play(
        a.addr(),
        "alice",
        "move bridge\nmine 2\nnot-a-command\nstats\nquit\n",
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("You walk to the bridge."), "{text}");
    assert!(text.contains("unknown command"), "{text}");
    assert!(text.contains("Goodbye, alice."), "{text}");
    // What the session wrote, read on a itself through the same actor.
    let on_a = client(a.addr(), "List loc/alice\nList balance/alice\n");
    let want = String::from_utf8_lossy(&on_a.stdout).to_string();
    assert!(
        want.starts_with("loc/alice bridge\nbalance/alice "),
        "{want}"
    );
    let start = Instant::now();
    loop {
        let got = client(
            &b.desc,
            "List loc/alice\nList balance/alice\nList loc/alice\nList balance/alice\n",
        );
        if String::from_utf8_lossy(&got.stdout) == format!("{want}{want}") {
            break;
        }
        assert!(
            start.elapsed() < CONVERGE,
            "alice's state not on both of b's actors after {CONVERGE:?}: {got:?}, want {want}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
