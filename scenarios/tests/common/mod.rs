//! What every test that runs real processes shares, so that none can hang: a guard that
//! kills its process when dropped, waits and reads that give up at a deadline with a
//! message, and a watchdog that ends the whole test binary (killing every process the
//! tests started) if a test overstays anyway.
// Real processes and wall-clock deadlines are the point here.
#![allow(clippy::disallowed_methods, clippy::disallowed_types, dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_faultline");

/// Process ids of every process started through [`Proc`] and not yet reaped.
static LIVE: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

fn live() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A `faultline` command with the given arguments.
pub fn faultline(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    cmd
}

/// Run `cmd` to its end with its stdout and stderr collected (stdin closed unless the
/// caller set it): killed, and the test failed with a message naming `what`, if it has not
/// exited within `limit`.
pub fn run_to_end(what: &str, cmd: &mut Command, limit: Duration) -> Output {
    Proc::spawn(what, cmd.stdout(Stdio::piped()).stderr(Stdio::piped())).output(limit)
}

/// A child process, killed and reaped when dropped however the test ends.
pub struct Proc {
    child: Child,
    what: String,
}

impl Proc {
    /// Start `cmd`; `what` names it in failure messages.
    pub fn spawn(what: &str, cmd: &mut Command) -> Proc {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        live().insert(child.id());
        Proc {
            child,
            what: what.to_string(),
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if it has exited.
    pub fn try_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Kill it now and wait for it to go.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        live().remove(&self.child.id());
    }

    /// Its stdout as lines read on a thread (stdout must be piped).
    pub fn stdout_lines(&mut self) -> Lines {
        let out = self.child.stdout.take().expect("stdout is piped");
        Lines::new(&format!("{} stdout", self.what), out)
    }

    /// Its stdin pipe itself (stdin must be piped): dropping it is the child's EOF.
    pub fn take_stdin(&mut self) -> std::process::ChildStdin {
        self.child.stdin.take().expect("stdin is piped")
    }

    /// Write `input` to its stdin (which must be piped) on a thread, then close it: a child
    /// that does not read cannot block the test, and the wait that follows has the deadline.
    pub fn feed(&mut self, input: &[u8]) {
        let mut stdin = self.take_stdin();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }

    /// Up to `n` bytes of its stdout (which must be piped), ending early at a newline, then
    /// the pipe closed (as `| head -c N` does); fails the test if nothing comes within `limit`.
    pub fn head_of_stdout(&mut self, n: u64, limit: Duration) -> String {
        let out = self.child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(out.take(n)).read_line(&mut first);
            let _ = tx.send(first);
        });
        rx.recv_timeout(limit)
            .unwrap_or_else(|_| panic!("nothing on {} stdout within {limit:?}", self.what))
    }

    /// Its stderr pipe itself (stderr must be piped): dropping it closes the pipe.
    pub fn take_stderr(&mut self) -> std::process::ChildStderr {
        self.child.stderr.take().expect("stderr is piped")
    }

    /// Its stderr as lines read on a thread (stderr must be piped).
    pub fn stderr_lines(&mut self) -> Lines {
        let err = self.take_stderr();
        Lines::new(&format!("{} stderr", self.what), err)
    }

    /// Wait for it to exit and collect what it wrote to its piped (and not taken) stdout
    /// and stderr; kill it and fail the test if it has not exited within `limit`.
    pub fn output(mut self, limit: Duration) -> Output {
        let out = self.child.stdout.take().map(drain);
        let err = self.child.stderr.take().map(drain);
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.try_status() {
                break status;
            }
            if Instant::now() >= deadline {
                self.kill();
                let err = err
                    .map(|h| h.join().unwrap_or_default())
                    .unwrap_or_default();
                panic!(
                    "{} did not exit within {limit:?}; its stderr: {}",
                    self.what,
                    String::from_utf8_lossy(&err)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        live().remove(&self.child.id());
        let join = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
            h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
        };
        Output {
            status,
            stdout: join(out),
            stderr: join(err),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Read a pipe to its end on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// Lines of a child's pipe, each waited for with a deadline.
pub struct Lines {
    what: String,
    rx: Receiver<String>,
}

impl Lines {
    fn new(what: &str, pipe: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            what: what.to_string(),
            rx,
        }
    }

    /// The next line; fails the test if none comes within `limit` or the pipe closed.
    pub fn next(&self, limit: Duration) -> String {
        match self.rx.recv_timeout(limit) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("no line on {} within {limit:?}", self.what),
            Err(RecvTimeoutError::Disconnected) => panic!("{} closed", self.what),
        }
    }

    /// Every line that has arrived so far.
    pub fn ready(&self) -> Vec<String> {
        self.rx.try_iter().collect()
    }
}

/// A TCP connection to a child, read line by line: every read and write gives up after
/// `limit` and fails the test with a message naming the connection and what was awaited.
pub struct LineConn {
    what: String,
    limit: Duration,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl LineConn {
    /// Connect to `addr` within `limit`; `what` names the connection in failures.
    pub fn connect(what: &str, addr: &str, limit: Duration) -> LineConn {
        let to = addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .unwrap_or_else(|| panic!("{what}: `{addr}` is not an address"));
        let stream = TcpStream::connect_timeout(&to, limit)
            .unwrap_or_else(|e| panic!("{what}: cannot connect to {addr} within {limit:?}: {e}"));
        stream.set_read_timeout(Some(limit)).expect("read timeout");
        stream
            .set_write_timeout(Some(limit))
            .expect("write timeout");
        let writer = stream.try_clone().expect("clone the stream");
        LineConn {
            what: what.to_string(),
            limit,
            reader: BufReader::new(stream),
            writer,
        }
    }

    /// Send `data` whole.
    pub fn send(&mut self, data: &[u8]) {
        let (what, limit) = (&self.what, self.limit);
        self.writer
            .write_all(data)
            .unwrap_or_else(|e| match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                    panic!("{what}: the peer took no data for {limit:?}")
                }
                _ => panic!("{what}: cannot send: {e}"),
            });
    }

    /// The next line, newline included; `awaited` says what it should be, for the failure.
    pub fn line(&mut self, awaited: &str) -> String {
        let (what, limit) = (&self.what, self.limit);
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => panic!("{what}: closed while awaiting {awaited}"),
            Ok(_) => line,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("{what}: no {awaited} within {limit:?} (got {line:?} of a line)")
            }
            Err(e) => panic!("{what}: reading {awaited}: {e}"),
        }
    }
}

/// The process ids whose parent is this test binary (from /proc; empty elsewhere).
fn children() -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid ...": the command may hold spaces, so split after ')'.
        let ppid: u32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == me).then_some(pid)
    })
    .collect()
}

/// Ends the test binary with a message, after killing every process the tests started
/// (through [`Proc`] or otherwise: every child of this process), unless dropped within
/// its limit. Hold one for the length of each test.
pub struct Watchdog {
    _cancel: Sender<()>,
}

/// Start a watchdog for the test `name`.
pub fn watchdog(name: &str, limit: Duration) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    let name = name.to_string();
    std::thread::spawn(move || {
        if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("test {name} overstayed {limit:?}: killing its processes and failing");
            let mut pids: BTreeSet<u32> = live().clone();
            pids.extend(children());
            for pid in pids {
                let _ = Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            std::process::exit(101);
        }
    });
    Watchdog { _cancel: tx }
}
