//! The real runtime's address book: one stable [`Addr`] per socket address.
//!
//! A node only ever sees `Addr`s. Each distinct [`SocketAddr`] gets one for the life of the
//! runtime, whether it was named with [`Runtime::peer`](super::Runtime::peer) or first
//! appeared as the source of a datagram or an accepted connection. `Addr(0)` is the node
//! itself (`ctx.me()`), bound to its own UDP address (or TCP listen address if it has no UDP
//! socket), so a node can send to itself.

use crate::node::Addr;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The node's own address in its runtime.
pub(crate) const ME: Addr = Addr(0);

pub(crate) struct Peers {
    by_socket: BTreeMap<SocketAddr, Addr>,
    by_addr: BTreeMap<Addr, SocketAddr>,
    next: u32,
}

impl Peers {
    pub(crate) fn new(own: Option<SocketAddr>) -> Peers {
        let mut peers = Peers {
            by_socket: BTreeMap::new(),
            by_addr: BTreeMap::new(),
            next: ME.0 + 1,
        };
        if let Some(own) = own {
            peers.by_socket.insert(own, ME);
            peers.by_addr.insert(ME, own);
        }
        peers
    }

    /// The `Addr` of `socket`, allocated on first sight.
    pub(crate) fn peer(&mut self, socket: SocketAddr) -> Addr {
        if let Some(&addr) = self.by_socket.get(&socket) {
            return addr;
        }
        let addr = Addr(self.next);
        self.next += 1;
        self.by_socket.insert(socket, addr);
        self.by_addr.insert(addr, socket);
        addr
    }

    pub(crate) fn resolve(&self, addr: Addr) -> Option<SocketAddr> {
        self.by_addr.get(&addr).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_addr_per_socket_address_and_me_is_zero() {
        let own: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        let a: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:9002".parse().unwrap();
        let mut p = Peers::new(Some(own));
        assert_eq!(p.peer(own), ME);
        let pa = p.peer(a);
        let pb = p.peer(b);
        assert_ne!(pa, pb);
        assert_ne!(pa, ME);
        assert_eq!(p.peer(a), pa);
        assert_eq!(p.resolve(pb), Some(b));
        assert_eq!(p.resolve(Addr(99)), None);
    }
}
