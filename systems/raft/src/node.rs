//! The server and the client as nodes, and the history events they record.
//!
//! A world or runtime that holds both kinds declares its own enum over them with
//! `faultline::node_kinds!` (the scenarios do, with a client that runs a workload).

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
