//! One TCP connection's socket I/O: connect check, flush of the send buffer, reads.
//!
//! The stream table ([`super::tcp`]) decides what these mean for the node; this module only
//! talks to the socket and never panics on what it says. `Interrupted` is retried; every
//! other error is reported as a failure.

use mio::net::TcpStream;
use mio::Token;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::Shutdown;

/// What one read from a connection gave.
pub(crate) enum ReadOutcome {
    /// This many bytes are at the start of the buffer.
    Bytes(usize),
    /// Nothing to read now.
    Blocked,
    /// The peer closed its side.
    Eof,
    /// The connection failed (reset, or another socket error).
    Failed,
}

/// One TCP connection.
pub(crate) struct Conn {
    pub(crate) socket: TcpStream,
    pub(crate) token: Token,
    /// An outbound connection not yet established: writes wait in `out`.
    pub(crate) connecting: bool,
    /// Readiness seen and not yet used up (mio is edge-triggered).
    pub(crate) readable: bool,
    pub(crate) paused: bool,
    /// The node closed the stream: flush, shut down our side, drain until the peer closes.
    pub(crate) closing: bool,
    shut: bool,
    /// The user-space send buffer; never longer than the stream window.
    pub(crate) out: VecDeque<u8>,
}

fn is_would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Conn {
    pub(crate) fn new(socket: TcpStream, token: Token, connecting: bool) -> Conn {
        Conn {
            socket,
            token,
            connecting,
            readable: !connecting,
            paused: false,
            closing: false,
            shut: false,
            out: VecDeque::new(),
        }
    }

    /// Whether the node's reads should come from this connection now.
    pub(crate) fn wants_read(&self) -> bool {
        self.readable && !self.paused && !self.connecting && !self.closing
    }

    /// After an event on a connecting socket: `Ok(true)` once established, `Ok(false)` if
    /// not yet, `Err(())` if the connect failed.
    pub(crate) fn check_connected(&mut self) -> Result<bool, ()> {
        // mio's guidance: a pending error means the connect failed; otherwise a known peer
        // address means it succeeded, and `NotConnected` means not yet.
        if !matches!(self.socket.take_error(), Ok(None)) {
            return Err(());
        }
        match self.socket.peer_addr() {
            Ok(_) => {
                self.connecting = false;
                self.readable = true;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(_) => Err(()),
        }
    }

    /// Write as much of the send buffer as the socket takes: `Ok(bytes)`, or `Err(bytes)`
    /// if the connection failed after `bytes` went out. Once a closing connection's buffer
    /// is empty, our side is shut down.
    pub(crate) fn flush(&mut self) -> Result<usize, usize> {
        if self.connecting {
            return Ok(0);
        }
        let mut flushed = 0;
        while !self.out.is_empty() {
            let (front, _) = self.out.as_slices();
            match self.socket.write(front) {
                Ok(0) => break,
                Ok(n) => {
                    self.out.drain(..n);
                    flushed += n;
                }
                Err(e) if is_would_block(&e) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(flushed),
            }
        }
        if self.closing && self.out.is_empty() && !self.shut {
            self.shut = true;
            let _ = self.socket.shutdown(Shutdown::Write);
        }
        Ok(flushed)
    }

    /// Read once into `buf`; a `Blocked` read clears the readiness flag.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> ReadOutcome {
        loop {
            match self.socket.read(buf) {
                Ok(0) => return ReadOutcome::Eof,
                Ok(n) => return ReadOutcome::Bytes(n),
                Err(e) if is_would_block(&e) => {
                    self.readable = false;
                    return ReadOutcome::Blocked;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return ReadOutcome::Failed,
            }
        }
    }

    /// A connection the node closed: read and drop whatever arrives. True once the peer
    /// has closed too (or the connection failed): the socket can go.
    pub(crate) fn drain_closing(&mut self, buf: &mut [u8]) -> bool {
        if !self.closing || self.connecting {
            return false;
        }
        loop {
            match self.read(buf) {
                ReadOutcome::Bytes(_) => {}
                ReadOutcome::Blocked => return false,
                ReadOutcome::Eof | ReadOutcome::Failed => return true,
            }
        }
    }
}
