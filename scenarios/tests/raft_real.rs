//! A real three-node Raft cluster on loopback: three `faultline raft node` processes, a
//! write through `faultline raft kv`, the leader's process killed, the data read back from
//! the survivors, then every process restarted from its storage directory; and a cluster
//! that snapshots every few entries, whose nodes restart from their snapshots and catch up
//! by InstallSnapshot.
// These tests drive real processes and sockets: wall-clock deadlines and threads are the
// point here, not a leak into simulated code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{faultline, run_to_end, Proc};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

/// Node processes, killed when the test ends however it ends.
struct Cluster {
    nodes: Vec<Option<Proc>>,
    addrs: Vec<SocketAddr>,
    dir: PathBuf,
    /// `--snapshot-every` for the nodes, if set; their stderr then goes to `n<i>.stderr`.
    snapshot_every: Option<u64>,
}

impl Cluster {
    /// `n` nodes with storage under a directory named after `test`.
    fn start(test: &str, n: usize) -> Cluster {
        Cluster::start_with(test, n, None)
    }

    fn start_with(test: &str, n: usize, snapshot_every: Option<u64>) -> Cluster {
        // Free ports: bind, note, release (a tiny race with other programs is acceptable).
        let socks: Vec<UdpSocket> = (0..n)
            .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind"))
            .collect();
        let addrs: Vec<SocketAddr> = socks
            .iter()
            .map(|s| s.local_addr().expect("addr"))
            .collect();
        drop(socks);
        let dir =
            std::env::temp_dir().join(format!("faultline-raft-real-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test directory");
        let mut c = Cluster {
            nodes: Vec::new(),
            addrs,
            dir,
            snapshot_every,
        };
        for i in 0..n {
            let child = c.spawn(i);
            c.nodes.push(Some(child));
        }
        c
    }

    fn cluster_arg(&self) -> String {
        self.addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn spawn(&self, i: usize) -> Proc {
        let (extra, stderr) = match self.snapshot_every {
            Some(n) => {
                let log = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.stderr_path(i))
                    .expect("node stderr file");
                (
                    vec!["--snapshot-every".to_string(), n.to_string()],
                    Stdio::from(log),
                )
            }
            None => (Vec::new(), Stdio::null()),
        };
        Proc::spawn(
            &format!("raft node {i}"),
            faultline(&[
                "raft",
                "node",
                "--id",
                &i.to_string(),
                "--cluster",
                &self.cluster_arg(),
            ])
            .arg("--storage")
            .arg(self.dir.join(format!("n{i}")))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(stderr),
        )
    }

    fn stderr_path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("n{i}.stderr"))
    }

    /// What node `i` printed on stderr over all its lives.
    fn stderr(&self, i: usize) -> String {
        std::fs::read_to_string(self.stderr_path(i)).unwrap_or_default()
    }

    /// Wait up to `secs` for node `i` to print a line containing `what`.
    fn await_stderr(&self, i: usize, what: &str, secs: u64) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if self.stderr(i).contains(what) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    }

    /// Run `raft kv OP`: it gives up by itself after 15 s; killed if it lasts 60 s.
    fn kv(&self, op: &[&str]) -> Output {
        run_to_end(
            &format!("raft kv {op:?}"),
            faultline(&[
                "raft",
                "kv",
                "--cluster",
                &self.cluster_arg(),
                "--timeout-ms",
                "15000",
            ])
            .args(op)
            .stdin(Stdio::null()),
            Duration::from_secs(60),
        )
    }

    /// Run an operation; returns (stdout, index of the server that answered).
    fn ok(&self, op: &[&str]) -> (String, usize) {
        let out = self.kv(op);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{op:?} failed: {stderr}");
        let by: SocketAddr = stderr
            .lines()
            .find_map(|l| l.strip_prefix("answered by "))
            .expect("the client names the server that answered")
            .trim()
            .parse()
            .expect("an address");
        let index = self
            .addrs
            .iter()
            .position(|&a| a == by)
            .expect("one of the servers");
        (
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            index,
        )
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut node) = self.nodes[i].take() {
            node.kill();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn three_processes_survive_the_leader_being_killed() {
    let _w = common::watchdog(
        "three_processes_survive_the_leader_being_killed",
        std::time::Duration::from_secs(240),
    );
    let mut c = Cluster::start("leader-killed", 3);
    let (out, leader) = c.ok(&["put", "greeting", "hello"]);
    assert_eq!(out, "ok");
    let (out, _) = c.ok(&["append", "greeting", " world"]);
    assert_eq!(out, "ok");

    // Kill whichever server answered (the leader); the survivors elect another and still
    // hold the data.
    c.kill(leader);
    let (value, by) = c.ok(&["get", "greeting"]);
    assert_eq!(value, "hello world");
    assert_ne!(by, leader, "a killed process cannot answer");

    // Writes go on with two of three.
    let (out, _) = c.ok(&["append", "greeting", "!"]);
    assert_eq!(out, "ok");

    // Every process dies; restarted from their storage directories, they still hold it.
    for i in 0..3 {
        c.kill(i);
    }
    for i in 0..3 {
        let child = c.spawn(i);
        c.nodes[i] = Some(child);
    }
    let (value, _) = c.ok(&["get", "greeting"]);
    assert_eq!(value, "hello world!");
}

#[test]
fn a_node_refuses_to_start_on_damaged_storage() {
    let _w = common::watchdog(
        "a_node_refuses_to_start_on_damaged_storage",
        std::time::Duration::from_secs(240),
    );
    let mut c = Cluster::start("damaged", 3);
    let (out, _) = c.ok(&["put", "k", "v"]);
    assert_eq!(out, "ok");
    for i in 0..3 {
        c.kill(i);
    }
    // Flip one bit in the middle of node 0's log.
    let log = c.dir.join("n0").join("storage.log");
    let mut bytes = std::fs::read(&log).expect("node 0 wrote its storage");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&log, &bytes).expect("write");
    let out = run_to_end(
        "raft node 0 on damaged storage",
        faultline(&["raft", "node", "--id", "0", "--cluster", &c.cluster_arg()])
            .arg("--storage")
            .arg(c.dir.join("n0")),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("storage.log") && stderr.contains("damaged"),
        "the error names the file and the damage: {stderr}"
    );
}

#[test]
fn nodes_restart_from_snapshots_and_catch_up_by_install() {
    let _w = common::watchdog(
        "nodes_restart_from_snapshots_and_catch_up_by_install",
        std::time::Duration::from_secs(300),
    );
    let mut c = Cluster::start_with("snapshots", 3, Some(5));
    for k in 0..12 {
        let (out, _) = c.ok(&["append", "log", &format!("{k},")]);
        assert_eq!(out, "ok");
    }
    let want: String = (0..12).map(|k| format!("{k},")).collect();
    // Every process dies; each restarts from its snapshot and the log after it.
    for i in 0..3 {
        c.kill(i);
    }
    for i in 0..3 {
        let child = c.spawn(i);
        c.nodes[i] = Some(child);
    }
    for i in 0..3 {
        assert!(
            c.await_stderr(i, "snapshot Loaded", 60),
            "node {i} restarted from a snapshot: {}",
            c.stderr(i)
        );
    }
    let (value, _) = c.ok(&["get", "log"]);
    assert_eq!(value, want);

    // Node 0 is down while the others commit and compact past its log; back, it can only
    // catch up by InstallSnapshot. Then node 1 goes, so node 0 must serve with node 2.
    c.kill(0);
    for k in 12..24 {
        let (out, _) = c.ok(&["append", "log", &format!("{k},")]);
        assert_eq!(out, "ok");
    }
    let child = c.spawn(0);
    c.nodes[0] = Some(child);
    assert!(
        c.await_stderr(0, "snapshot Installed", 60),
        "node 0 caught up by InstallSnapshot: {}",
        c.stderr(0)
    );
    c.kill(1);
    let want: String = (0..24).map(|k| format!("{k},")).collect();
    let (value, _) = c.ok(&["get", "log"]);
    assert_eq!(value, want, "the installed snapshot holds what was applied");
}
