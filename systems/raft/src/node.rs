//! The one node type a Raft + key-value world holds: a server or a client.

use crate::client::{ClientEvent, ClientTimer, KvClient};
use crate::raft::{RaftEvent, RaftTimer};
use crate::server::KvServer;
use faultline::{Addr, Ctx, Node, TimerId};
use serde::{Deserialize, Serialize};

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

impl Node for KvServer {
    type Event = Event;
    type Timer = RaftTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Event>) {
        KvServer::on_start(self, ctx);
    }
    fn on_datagram(&mut self, ctx: &mut Ctx<'_, Event>, from: Addr, data: &[u8]) {
        KvServer::on_datagram(self, ctx, from, data);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Event>, timer: TimerId, tag: RaftTimer) {
        KvServer::on_timer(self, ctx, timer, tag);
    }
}

impl Node for KvClient {
    type Event = Event;
    type Timer = ClientTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Event>) {
        KvClient::on_start(self, ctx);
    }
    fn on_datagram(&mut self, ctx: &mut Ctx<'_, Event>, from: Addr, data: &[u8]) {
        KvClient::on_datagram(self, ctx, from, data);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Event>, timer: TimerId, tag: ClientTimer) {
        KvClient::on_timer(self, ctx, timer, tag);
    }
}

faultline::node_kinds! {
    /// A server or a client of the replicated key-value store.
    #[allow(clippy::large_enum_variant)]
    pub enum RaftKvNode: Event {
        Server(KvServer),
        Client(KvClient),
    }
}

impl RaftKvNode {
    pub fn server(&self) -> Option<&KvServer> {
        self.kind()
    }
    pub fn server_mut(&mut self) -> Option<&mut KvServer> {
        self.kind_mut()
    }
    pub fn client(&self) -> Option<&KvClient> {
        self.kind()
    }
    pub fn client_mut(&mut self) -> Option<&mut KvClient> {
        self.kind_mut()
    }
}
