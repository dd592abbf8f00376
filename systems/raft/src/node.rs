//! The one node type a Raft + key-value world holds: a server or a client.

use crate::client::{ClientEvent, KvClient};
use crate::raft::RaftEvent;
use crate::server::KvServer;
use serde::{Deserialize, Serialize};
use faultline::{Addr, Ctx, Node, TimerId};

/// Every history event of a Raft + key-value run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    Raft(RaftEvent),
    Client(ClientEvent),
}

impl From<RaftEvent> for Event {
    fn from(e: RaftEvent) -> Event {
        Event::Raft(e)
    }
}

impl From<ClientEvent> for Event {
    fn from(e: ClientEvent) -> Event {
        Event::Client(e)
    }
}

/// A server or a client of the replicated key-value store.
#[allow(clippy::large_enum_variant)]
pub enum RaftKvNode {
    Server(KvServer),
    Client(KvClient),
}

impl RaftKvNode {
    pub fn server(&self) -> Option<&KvServer> {
        match self {
            RaftKvNode::Server(s) => Some(s),
            RaftKvNode::Client(_) => None,
        }
    }
    pub fn server_mut(&mut self) -> Option<&mut KvServer> {
        match self {
            RaftKvNode::Server(s) => Some(s),
            RaftKvNode::Client(_) => None,
        }
    }
    pub fn client(&self) -> Option<&KvClient> {
        match self {
            RaftKvNode::Client(c) => Some(c),
            RaftKvNode::Server(_) => None,
        }
    }
    pub fn client_mut(&mut self) -> Option<&mut KvClient> {
        match self {
            RaftKvNode::Client(c) => Some(c),
            RaftKvNode::Server(_) => None,
        }
    }
}

impl Node for RaftKvNode {
    type Event = Event;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Event>) {
        match self {
            RaftKvNode::Server(s) => s.on_start(ctx),
            RaftKvNode::Client(c) => c.on_start(ctx),
        }
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, Event>, from: Addr, data: &[u8]) {
        match self {
            RaftKvNode::Server(s) => s.on_datagram(ctx, from, data),
            RaftKvNode::Client(c) => c.on_datagram(ctx, from, data),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Event>, timer: TimerId, tag: u64) {
        match self {
            RaftKvNode::Server(s) => s.on_timer(ctx, timer, tag),
            RaftKvNode::Client(c) => c.on_timer(ctx, timer, tag),
        }
    }
}
