//! The real runtime's address book: one stable [`Addr`] per socket address.
//!
//! A node only ever sees `Addr`s. Each distinct [`SocketAddr`] gets one, whether it was
//! named with [`Runtime::peer`](super::Runtime::peer) or first appeared as the source of a
//! datagram or an accepted connection. `Addr(0)` is the node itself (`ctx.me()`), bound to
//! its own UDP address (or TCP listen address if it has no UDP socket), so a node can send
//! to itself.
//!
//! The book is bounded: addresses the program named (and the node's own) are kept for the
//! life of the runtime, but at most [`MAX_SEEN_PEERS`] addresses that merely sent us
//! something are remembered. Past that, the one heard from least recently is forgotten:
//! its `Addr` no longer resolves (a send to it is dropped and counted, as a lost datagram
//! would be), and if it sends again it gets a new `Addr`. `Addr`s are never reused, so a
//! forgotten peer is never confused with a new one. A flood of datagrams from ever new
//! addresses therefore cannot grow the runtime's memory without bound.

use crate::node::Addr;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The node's own address in its runtime.
pub(crate) const ME: Addr = Addr(0);

/// How many addresses that were only heard from (not named by the program) are kept.
pub const MAX_SEEN_PEERS: usize = 65_536;

struct Entry {
    addr: Addr,
    /// When it was last heard from (a counter), or `None` if named: never forgotten.
    seen: Option<u64>,
}

pub(crate) struct Peers {
    by_socket: BTreeMap<SocketAddr, Entry>,
    by_addr: BTreeMap<Addr, SocketAddr>,
    /// Heard-from entries by when they were last heard from, oldest first.
    by_seen: BTreeMap<u64, SocketAddr>,
    next: u32,
    clock: u64,
    limit: usize,
}

impl Peers {
    pub(crate) fn new(own: Option<SocketAddr>) -> Peers {
        Peers::with_limit(own, MAX_SEEN_PEERS)
    }

    fn with_limit(own: Option<SocketAddr>, limit: usize) -> Peers {
        let mut peers = Peers {
            by_socket: BTreeMap::new(),
            by_addr: BTreeMap::new(),
            by_seen: BTreeMap::new(),
            next: ME.0 + 1,
            clock: 0,
            limit: limit.max(1),
        };
        if let Some(own) = own {
            peers.by_socket.insert(
                own,
                Entry {
                    addr: ME,
                    seen: None,
                },
            );
            peers.by_addr.insert(ME, own);
        }
        peers
    }

    /// The `Addr` of `socket`, named by the program: allocated on first use, and kept.
    pub(crate) fn peer(&mut self, socket: SocketAddr) -> Addr {
        let addr = self.seen(socket);
        if let Some(e) = self.by_socket.get_mut(&socket) {
            if let Some(t) = e.seen.take() {
                self.by_seen.remove(&t);
            }
        }
        addr
    }

    /// The `Addr` of `socket`, which just sent us something: allocated on first sight, and
    /// forgotten once [`MAX_SEEN_PEERS`] others have been heard from more recently.
    pub(crate) fn seen(&mut self, socket: SocketAddr) -> Addr {
        self.clock += 1;
        let now = self.clock;
        if let Some(e) = self.by_socket.get_mut(&socket) {
            if let Some(t) = e.seen.as_mut() {
                self.by_seen.remove(t);
                *t = now;
                self.by_seen.insert(now, socket);
            }
            return e.addr;
        }
        let addr = Addr(self.next);
        self.next = self.next.saturating_add(1);
        self.by_socket.insert(
            socket,
            Entry {
                addr,
                seen: Some(now),
            },
        );
        self.by_addr.insert(addr, socket);
        self.by_seen.insert(now, socket);
        while self.by_seen.len() > self.limit {
            let Some((_, oldest)) = self.by_seen.pop_first() else {
                break;
            };
            if let Some(e) = self.by_socket.remove(&oldest) {
                self.by_addr.remove(&e.addr);
            }
        }
        addr
    }

    pub(crate) fn resolve(&self, addr: Addr) -> Option<SocketAddr> {
        self.by_addr.get(&addr).copied()
    }

    /// Addresses in the book now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_addr.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn one_addr_per_socket_address_and_me_is_zero() {
        let own = sock(9000);
        let (a, b) = (sock(9001), sock(9002));
        let mut p = Peers::new(Some(own));
        assert_eq!(p.peer(own), ME);
        let pa = p.peer(a);
        let pb = p.seen(b);
        assert_ne!(pa, pb);
        assert_ne!(pa, ME);
        assert_eq!(p.peer(a), pa);
        assert_eq!(p.seen(a), pa);
        assert_eq!(p.resolve(pb), Some(b));
        assert_eq!(p.resolve(Addr(99)), None);
    }

    #[test]
    fn a_flood_of_new_senders_is_bounded_and_named_peers_are_kept() {
        let own = sock(1);
        let named = sock(2);
        let mut p = Peers::with_limit(Some(own), 100);
        let server = p.peer(named);
        let early = p.seen(sock(3));
        for port in 10..10_000 {
            p.seen(sock(port));
            // The one we keep hearing from stays.
            if port % 50 == 0 {
                p.seen(sock(3));
            }
        }
        assert!(p.len() <= 100 + 2, "{} entries", p.len());
        assert_eq!(p.resolve(server), Some(named));
        assert_eq!(p.resolve(ME), Some(own));
        assert_eq!(p.resolve(early), Some(sock(3)), "recently heard from");
        // A forgotten sender no longer resolves, and comes back under a new Addr.
        let forgotten = Addr(early.0 + 1);
        assert_eq!(p.resolve(forgotten), None);
        let again = p.seen(sock(10));
        assert!(again.0 > forgotten.0);
    }
}
