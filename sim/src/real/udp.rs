//! Datagrams on a real UDP socket.
//!
//! One non-blocking socket per runtime. Reads go through a 64 KiB buffer, which holds the
//! largest UDP payload (65,507 bytes), so a datagram is never cut short by us (LSP alone
//! needs 2,000 bytes). The kernel's own socket buffer is the OS default (208 KiB on Linux,
//! `net.core.rmem_default`), so a burst of many datagrams fits too. Sends that fail
//! (no route, buffer full, unknown peer) are counted and dropped: a datagram may be lost
//! anyway, and the node's protocol already copes with loss.

use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};
use std::io;
use std::net::SocketAddr;

/// Receive buffer size: the largest possible UDP datagram fits.
pub(crate) const RECV_BUFFER_BYTES: usize = 64 * 1024;

/// Receive errors tolerated in one call before the socket counts as drained.
const MAX_ERRORS_IN_A_ROW: usize = 16;

/// The runtime's UDP socket and its readiness.
pub(crate) struct UdpPort {
    socket: UdpSocket,
    /// The socket was reported readable and has not returned `WouldBlock` since. mio is
    /// edge-triggered, so we must remember this until the socket is drained.
    readable: bool,
    buf: Vec<u8>,
}

impl UdpPort {
    pub(crate) fn bind(addr: SocketAddr, registry: &Registry, token: Token) -> io::Result<Self> {
        let mut socket = UdpSocket::bind(addr)?;
        registry.register(&mut socket, token, Interest::READABLE)?;
        Ok(UdpPort {
            socket,
            readable: true,
            buf: vec![0; RECV_BUFFER_BYTES],
        })
    }

    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }

    pub(crate) fn set_readable(&mut self) {
        self.readable = true;
    }

    /// Send one datagram; false if the OS refused it.
    pub(crate) fn send(&self, to: SocketAddr, data: &[u8]) -> bool {
        matches!(self.socket.send_to(data, to), Ok(n) if n == data.len())
    }

    /// The next waiting datagram, if any. Errors other than `WouldBlock` (for example an
    /// ICMP port-unreachable from an earlier send, reported on this socket) are skipped.
    pub(crate) fn recv(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        // A pending socket error is consumed by the call that reports it, so a retry
        // normally succeeds or blocks; the bound only guards against an OS that keeps
        // failing, which would otherwise spin the loop.
        for _ in 0..MAX_ERRORS_IN_A_ROW {
            if !self.readable {
                return None;
            }
            match self.socket.recv_from(&mut self.buf) {
                Ok((n, from)) => return Some((from, self.buf[..n].to_vec())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(_) => {}
            }
        }
        self.readable = false;
        None
    }
}
