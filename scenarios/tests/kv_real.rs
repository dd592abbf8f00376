//! `faultline kv server` on real TCP: clients that read get every reply while another
//! client never reads, and the server's memory stays bounded (its 500-message queue holds,
//! the rest is dropped and counted).
// These tests drive real processes and sockets: wall-clock deadlines and threads are the
// point here, not a leak into simulated code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{faultline, LineConn, Lines, Proc};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// How long any one line, connect or write may take, however loaded the machine.
const IO: Duration = Duration::from_secs(30);

/// The server process (killed when dropped) and its stderr log so far.
struct ServerProcess {
    proc: Proc,
    addr: String,
    stderr: Lines,
    log: Vec<String>,
}

fn start_server() -> ServerProcess {
    let mut proc = Proc::spawn(
        "kv server",
        faultline(&[
            "kv",
            "server",
            "--port",
            "0",
            "--stats-every-ms",
            "100",
            "--for-secs",
            "120",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()),
    );
    let first = proc.stdout_lines().next(IO);
    let addr = first
        .strip_prefix("kv: listening on ")
        .unwrap_or_else(|| panic!("not a listening line: {first}"))
        .to_string();
    let stderr = proc.stderr_lines();
    ServerProcess {
        proc,
        addr,
        stderr,
        log: Vec::new(),
    }
}

impl ServerProcess {
    /// A field of the last stats line so far, e.g. `applied`.
    fn last_stat(&mut self, field: &str) -> Option<u64> {
        self.log.extend(self.stderr.ready());
        let line = self
            .log
            .iter()
            .rev()
            .find(|l| l.starts_with("kv: active="))?;
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{field}=")))
            .and_then(|v| v.parse().ok())
    }
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn readers_get_every_reply_while_one_client_never_reads_and_memory_stays_bounded() {
    let _w = common::watchdog(
        "readers_get_every_reply_while_one_client_never_reads_and_memory_stays_bounded",
        std::time::Duration::from_secs(180),
    );
    let mut server = start_server();
    const VALUES: usize = 20;
    const NEVER_GETS: usize = 5000;
    // 5000 Gets x 20 values of 4 KiB: 400 MiB of replies if nothing were dropped.
    let mut never = LineConn::connect("the never-reading client", &server.addr, IO);
    let value = "x".repeat(4096);
    for i in 0..VALUES {
        never.send(format!("Put:big:{value}{i}\n").as_bytes());
    }
    let gets = "Get:big\n".repeat(NEVER_GETS);
    never.send(gets.as_bytes());

    const READERS: usize = 3;
    const ROUNDS: usize = 300;
    let readers: Vec<_> = (0..READERS)
        .map(|c| {
            let addr = server.addr.clone();
            std::thread::spawn(move || {
                let mut conn = LineConn::connect(&format!("reading client {c}"), &addr, IO);
                for i in 0..ROUNDS {
                    conn.send(format!("Put:key_{c}:v{i}\nGet:key_{c}\n").as_bytes());
                    // The key holds v0..=vi: every one of them comes back, in order.
                    for j in 0..=i {
                        let want = format!("key_{c}:v{j}\n");
                        let line = conn.line(&format!("reply {j} of round {i}"));
                        assert_eq!(line, want, "client {c} round {i}");
                    }
                }
            })
        })
        .collect();
    for r in readers {
        r.join().expect("a reading client failed");
    }

    // Wait until the server has applied everything the never-reader sent.
    let total = (VALUES + NEVER_GETS + READERS * ROUNDS * 2) as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.last_stat("applied") != Some(total) {
        assert!(
            Instant::now() < deadline,
            "server applied {:?} of {total}",
            server.last_stat("applied")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let rss = vm_rss_kib(server.proc.id());
    let mut stat = |field| {
        server
            .last_stat(field)
            .unwrap_or_else(|| panic!("no {field} in the server's stats line"))
    };
    let dropped = stat("messages_dropped");
    let queued = stat("queued");
    let high = stat("queue_high_water");
    let active = stat("active");
    eprintln!("server VmRSS {rss} KiB, dropped {dropped}, queued {queued}, high water {high}");
    assert!(
        high <= 500 && queued <= 500,
        "queue bound broken: high {high}, queued {queued}"
    );
    // Far more than the queue and the socket buffers can hold was dropped.
    assert!(
        dropped > (VALUES * NEVER_GETS) as u64 / 2,
        "only {dropped} messages dropped"
    );
    assert!(
        rss < 64 * 1024,
        "server RSS {rss} KiB: memory is not bounded"
    );
    assert_eq!(
        active, 1,
        "the never-reader is still connected, the readers left"
    );
    drop(never);
}

#[test]
fn malformed_and_over_long_lines_are_ignored_and_counted_over_tcp() {
    let _w = common::watchdog(
        "malformed_and_over_long_lines_are_ignored_and_counted_over_tcp",
        std::time::Duration::from_secs(180),
    );
    let mut server = start_server();
    let mut conn = LineConn::connect("the client", &server.addr, IO);
    // As typed into `nc` or telnet: CRLF endings, a typo, a line of 2 MiB.
    conn.send(b"Put:k:hello\r\nPutt:k:x\nGet\n");
    conn.send(&vec![b'z'; 2 << 20]);
    conn.send(b"\nGet:k\n");
    assert_eq!(conn.line("the reply to Get:k"), "k:hello\n");
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.last_stat("malformed") != Some(3) {
        assert!(
            Instant::now() < deadline,
            "malformed count {:?}",
            server.last_stat("malformed")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.last_stat("applied"), Some(2));
    assert_eq!(
        server.last_stat("active"),
        Some(1),
        "the connection stays open"
    );
}
