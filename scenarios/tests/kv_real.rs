//! `faultline kv server` on real TCP: clients that read get every reply while another
//! client never reads, and the server's memory stays bounded (its 500-message queue holds,
//! the rest is dropped and counted).
// These tests drive real processes and sockets: wall-clock deadlines and threads are the
// point here, not a leak into simulated code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server process, killed when dropped.
struct ServerProcess {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> ServerProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
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
        .stderr(Stdio::piped())
        .spawn()
        .expect("start faultline kv server");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("kv: listening on ")
        .expect("listening line")
        .to_string();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log_in = log.clone();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            log_in.lock().unwrap().push(line);
        }
    });
    ServerProcess { child, addr, log }
}

/// A field of the last stats line, e.g. `applied`.
fn last_stat(log: &Mutex<Vec<String>>, field: &str) -> Option<u64> {
    let log = log.lock().unwrap();
    let line = log.iter().rev().find(|l| l.starts_with("kv: active="))?;
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{field}=")))
        .and_then(|v| v.parse().ok())
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
    let server = start_server();
    const VALUES: usize = 20;
    const NEVER_GETS: usize = 5000;
    // 5000 Gets x 20 values of 4 KiB: 400 MiB of replies if nothing were dropped.
    let mut never = TcpStream::connect(&server.addr).unwrap();
    let value = "x".repeat(4096);
    for i in 0..VALUES {
        never
            .write_all(format!("Put:big:{value}{i}\n").as_bytes())
            .unwrap();
    }
    let gets = "Get:big\n".repeat(NEVER_GETS);
    never.write_all(gets.as_bytes()).unwrap();

    const READERS: usize = 3;
    const ROUNDS: usize = 300;
    let readers: Vec<_> = (0..READERS)
        .map(|c| {
            let addr = server.addr.clone();
            std::thread::spawn(move || {
                let stream = TcpStream::connect(&addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                let mut line = String::new();
                for i in 0..ROUNDS {
                    w.write_all(format!("Put:key_{c}:v{i}\nGet:key_{c}\n").as_bytes())
                        .unwrap();
                    // The key holds v0..=vi: every one of them comes back, in order.
                    for j in 0..=i {
                        line.clear();
                        r.read_line(&mut line).unwrap();
                        assert_eq!(line, format!("key_{c}:v{j}\n"), "client {c} round {i}");
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
    while last_stat(&server.log, "applied") != Some(total) {
        assert!(
            Instant::now() < deadline,
            "server applied {:?} of {total}",
            last_stat(&server.log, "applied")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let rss = vm_rss_kib(server.child.id());
    let dropped = last_stat(&server.log, "messages_dropped").unwrap();
    let queued = last_stat(&server.log, "queued").unwrap();
    let high = last_stat(&server.log, "queue_high_water").unwrap();
    let active = last_stat(&server.log, "active").unwrap();
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
    let server = start_server();
    let stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    // As typed into `nc` or telnet: CRLF endings, a typo, a line of 2 MiB.
    w.write_all(b"Put:k:hello\r\nPutt:k:x\nGet\n").unwrap();
    w.write_all(&vec![b'z'; 2 << 20]).unwrap();
    w.write_all(b"\nGet:k\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "k:hello\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while last_stat(&server.log, "malformed") != Some(3) {
        assert!(
            Instant::now() < deadline,
            "malformed count {:?}",
            last_stat(&server.log, "malformed")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(last_stat(&server.log, "applied"), Some(2));
    assert_eq!(
        last_stat(&server.log, "active"),
        Some(1),
        "the connection stays open"
    );
}
