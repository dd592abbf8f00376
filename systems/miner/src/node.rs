//! One node type for a whole miner world: a scenario's world holds one node type, so the
//! three roles are the variants of [`MinerNode`], each delegating to its own node.

use crate::client::ClientNode;
use crate::event::MinerEvent;
use crate::server::ServerNode;
use crate::worker::WorkerNode;
use faultline::{Addr, Ctx, Node, TimerId};

pub enum MinerNode {
    Server(ServerNode),
    Worker(WorkerNode),
    Client(ClientNode),
}

impl Node for MinerNode {
    type Event = MinerEvent;

    fn on_start(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        match self {
            MinerNode::Server(n) => n.on_start(ctx),
            MinerNode::Worker(n) => n.on_start(ctx),
            MinerNode::Client(n) => n.on_start(ctx),
        }
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, MinerEvent>, from: Addr, data: &[u8]) {
        match self {
            MinerNode::Server(n) => n.on_datagram(ctx, from, data),
            MinerNode::Worker(n) => n.on_datagram(ctx, from, data),
            MinerNode::Client(n) => n.on_datagram(ctx, from, data),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, MinerEvent>, timer: TimerId, tag: u64) {
        match self {
            MinerNode::Server(n) => n.on_timer(ctx, timer, tag),
            MinerNode::Worker(n) => n.on_timer(ctx, timer, tag),
            MinerNode::Client(n) => n.on_timer(ctx, timer, tag),
        }
    }
}
