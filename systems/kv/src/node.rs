//! The kv node a scenario's world holds: the server or one of its clients.

use crate::client::Client;
use crate::event::KvEvent;
use crate::server::Server;
use faultline::{Ctx, Node, StreamEvent, TimerId};
use std::time::Duration;

const TAG_STATS: u64 = 100;

/// One node of a kv world.
#[derive(Debug)]
pub enum KvNode {
    /// The server; with `stats_every`, it records a `Stats` event that often.
    Server {
        server: Server,
        stats_every: Option<Duration>,
    },
    Client(Box<Client>),
}

impl KvNode {
    pub fn server() -> KvNode {
        KvNode::Server {
            server: Server::new(),
            stats_every: None,
        }
    }

    pub fn client(cfg: crate::client::ClientConfig) -> KvNode {
        KvNode::Client(Box::new(Client::new(cfg)))
    }

    pub fn as_server(&self) -> Option<&Server> {
        match self {
            KvNode::Server { server, .. } => Some(server),
            KvNode::Client(_) => None,
        }
    }

    pub fn as_server_mut(&mut self) -> Option<&mut Server> {
        match self {
            KvNode::Server { server, .. } => Some(server),
            KvNode::Client(_) => None,
        }
    }

    pub fn as_client(&self) -> Option<&Client> {
        match self {
            KvNode::Client(c) => Some(&**c),
            KvNode::Server { .. } => None,
        }
    }

    pub fn as_client_mut(&mut self) -> Option<&mut Client> {
        match self {
            KvNode::Client(c) => Some(&mut **c),
            KvNode::Server { .. } => None,
        }
    }
}

impl Node for KvNode {
    type Event = KvEvent;

    fn on_start(&mut self, ctx: &mut Ctx<'_, KvEvent>) {
        match self {
            KvNode::Server { stats_every, .. } => {
                if let Some(every) = *stats_every {
                    ctx.set_timer(every, TAG_STATS);
                }
            }
            KvNode::Client(c) => c.on_start(ctx),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, KvEvent>, _timer: TimerId, tag: u64) {
        match self {
            KvNode::Server {
                server,
                stats_every,
            } => {
                if let (TAG_STATS, Some(every)) = (tag, *stats_every) {
                    server.record_stats(ctx);
                    ctx.set_timer(every, TAG_STATS);
                }
            }
            KvNode::Client(c) => c.on_timer(ctx, tag),
        }
    }

    fn on_stream(&mut self, ctx: &mut Ctx<'_, KvEvent>, event: StreamEvent) {
        match self {
            KvNode::Server { server, .. } => match event {
                StreamEvent::Accepted { stream, from } => server.on_accepted(ctx, stream, from),
                StreamEvent::Data { stream, data } => server.on_data(ctx, stream, &data),
                StreamEvent::Writable { stream } => server.on_writable(ctx, stream),
                StreamEvent::Closed { stream, reason } => server.on_closed(ctx, stream, reason),
                // The server opens no streams.
                StreamEvent::Connected { .. } => {}
            },
            KvNode::Client(c) => match event {
                StreamEvent::Connected { stream } => c.on_connected(ctx, stream),
                StreamEvent::Data { stream, data } => c.on_data(ctx, stream, &data),
                StreamEvent::Writable { stream } => c.on_writable(ctx, stream),
                StreamEvent::Closed { stream, reason } => c.on_closed(ctx, stream, reason),
                // Clients accept nothing.
                StreamEvent::Accepted { stream, .. } => ctx.close(stream),
            },
        }
    }
}
