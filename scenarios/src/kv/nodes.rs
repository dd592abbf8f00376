//! The nodes of a kv world: the system's server ([`kv::ServerNode`]) and the scenario
//! clients that drive it ([`client`], whose workload is [`workload`]).

pub mod client;
pub mod workload;

pub use client::{Client, ClientEvent, ClientTimer};
pub use workload::{ClientConfig, ClientStats, Reading};

use faultline::Ctx;
use kv::{KvEvent, Server, ServerNode};

/// A history event of a kv world: the server's or a client's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvWorldEvent {
    Server(KvEvent),
    Client(ClientEvent),
}

faultline::node_kinds! {
    /// One node of a kv world.
    #[derive(Debug)]
    pub enum KvNode: KvWorldEvent {
        Server(ServerNode) => KvWorldEvent::Server,
        Client(Box<Client>) => KvWorldEvent::Client,
    }
}

impl KvNode {
    /// A server with an empty store.
    pub fn server(bugs: faultline::bugs::BugSet<kv::Bug>) -> KvNode {
        KvNode::Server(ServerNode::new(Server::new().with_bugs(bugs)))
    }

    /// A client doing `cfg`.
    pub fn client(cfg: ClientConfig) -> KvNode {
        KvNode::Client(Box::new(Client::new(cfg)))
    }

    /// The server, if this node is the server.
    pub fn as_server(&self) -> Option<&Server> {
        self.kind::<ServerNode>().map(|n| &n.server)
    }

    /// The client, if this node is a client.
    pub fn as_client(&self) -> Option<&Client> {
        self.kind::<Box<Client>>().map(|c| &**c)
    }

    /// If this is the server, record its counts now (a `Stats` event for the checker).
    pub fn record_counts(&mut self, ctx: &mut Ctx<'_, KvWorldEvent>) {
        if let Some(node) = self.kind_mut::<ServerNode>() {
            ctx.nest(KvWorldEvent::Server, |ctx| node.server.record_stats(ctx));
        }
    }

    /// If this is a client, close its connection for good (a killed client of the count
    /// tests).
    pub fn disconnect(&mut self, ctx: &mut Ctx<'_, KvWorldEvent>) {
        if let Some(client) = self.kind_mut::<Box<Client>>() {
            ctx.nest(KvWorldEvent::Client, |ctx| client.disconnect(ctx));
        }
    }
}
