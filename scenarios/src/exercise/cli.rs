//! `faultline exercise ...`: the exercise's stream echo as real programs on TCP.
//!
//! `faultline exercise echo-server --port P` runs the same [`EchoServer`] node that
//! `exercise-echo` tests, on real sockets; `faultline exercise echo-client HOST:PORT
//! --bytes N` runs the same [`EchoClient`]: it writes N bytes as fast as the stream's credit
//! allows, stops reading now and then, checks that every byte comes back in order, and exits
//! 0 when all have. Together they try the real runtime's flow control (a paused reader,
//! back-pressure through the server) with the code the simulator checks.

use super::nodes::echo::{EchoClient, EchoEvent, EchoServer};
use crate::{say, tell};
use faultline::real::{RealConfig, Runtime};
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

/// Arguments of `faultline exercise`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Echo every byte of every TCP connection back, pausing reads while its own output
    /// is backed up.
    EchoServer {
        /// TCP port to listen on (0 picks a free one; the address is printed).
        #[arg(long, default_value_t = 9100)]
        port: u16,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
        /// Stop after this many seconds (default: run until killed).
        #[arg(long)]
        for_secs: Option<u64>,
    },
    /// Send bytes through an echo server and check they all come back in order.
    EchoClient {
        /// The echo server, HOST:PORT.
        server: SocketAddr,
        /// How many bytes to send.
        #[arg(long, default_value_t = 1 << 20)]
        bytes: usize,
        /// Give up after this long.
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: u64,
    },
}

/// The server's own output backlog before it stops reading, as in the simulator.
const SERVER_BACKLOG: usize = 64 * 1024;

/// Run the command; returns the process exit code.
pub fn main(args: Args) -> anyhow::Result<i32> {
    match args.command {
        Command::EchoServer {
            port,
            bind,
            for_secs,
        } => serve(SocketAddr::new(bind, port), for_secs),
        Command::EchoClient {
            server,
            bytes,
            timeout_ms,
        } => client(server, bytes, Duration::from_millis(timeout_ms)),
    }
}

fn serve(addr: SocketAddr, for_secs: Option<u64>) -> anyhow::Result<i32> {
    let config = RealConfig {
        tcp_listen: Some(addr),
        ..RealConfig::default()
    };
    let mut rt = Runtime::<EchoServer>::new(config)?;
    say!(
        "exercise: echoing on {}",
        rt.local_tcp_addr().expect("listening")
    );
    rt.start(EchoServer::new(SERVER_BACKLOG));
    rt.run_until(|_| false, for_secs.map(Duration::from_secs))?;
    Ok(0)
}

fn client(server: SocketAddr, bytes: usize, timeout: Duration) -> anyhow::Result<i32> {
    if bytes == 0 {
        anyhow::bail!("--bytes must be at least 1");
    }
    let mut rt = Runtime::<EchoClient>::new(RealConfig::default())?;
    let peer = rt.peer(server);
    let seen: Rc<RefCell<Option<EchoEvent>>> = Rc::default();
    let seen_in = seen.clone();
    // The first event decides: all bytes back, a byte that differs, or the connection gone
    // (in the simulator the client reconnects; a real run reports it instead).
    rt.on_history(move |event| {
        seen_in.borrow_mut().get_or_insert_with(|| event.clone());
    });
    rt.start(EchoClient::new(peer, bytes));
    let decided = rt.run_until(|_| seen.borrow().is_some(), Some(timeout))?;
    let outcome = seen.borrow_mut().take();
    match outcome {
        Some(EchoEvent::Done { bytes }) => {
            say!("echoed {bytes} bytes intact");
            Ok(0)
        }
        Some(EchoEvent::Mismatch { offset }) => {
            tell!("the echo differs from what was sent at byte {offset}");
            Ok(1)
        }
        Some(EchoEvent::SessionLost { reason }) => {
            tell!("the connection to {server} ended early: {reason:?}");
            Ok(1)
        }
        None => {
            debug_assert!(!decided);
            tell!("not all bytes came back within {} ms", timeout.as_millis());
            Ok(1)
        }
    }
}
