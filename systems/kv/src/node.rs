//! The kv node a scenario's world holds: the server or one of its clients.

use crate::client::Client;
use crate::event::KvEvent;
use crate::server::Server;
use faultline::{Ctx, Node, StreamEvent, TimerId};
use std::time::Duration;

faultline::timer_tags! {
    /// The server node's one timer: record the counts.
    pub enum ServerTimer {
        Stats = 100,
    }
}

/// The server as a node; with `stats_every`, it records a `Stats` event that often.
#[derive(Debug)]
pub struct ServerNode {
    pub server: Server,
    pub stats_every: Option<Duration>,
}

impl Node for ServerNode {
    type Event = KvEvent;
    type Timer = ServerTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, KvEvent>) {
        if let Some(every) = self.stats_every {
            ctx.set_timer(every, ServerTimer::Stats);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, KvEvent>, _timer: TimerId, _tag: ServerTimer) {
        if let Some(every) = self.stats_every {
            self.server.record_stats(ctx);
            ctx.set_timer(every, ServerTimer::Stats);
        }
    }

    fn on_stream(&mut self, ctx: &mut Ctx<'_, KvEvent>, event: StreamEvent) {
        let server = &mut self.server;
        match event {
            StreamEvent::Accepted { stream, from } => server.on_accepted(ctx, stream, from),
            StreamEvent::Data { stream, data } => server.on_data(ctx, stream, &data),
            StreamEvent::Writable { stream } => server.on_writable(ctx, stream),
            StreamEvent::Closed { stream, reason } => server.on_closed(ctx, stream, reason),
            // The server opens no streams.
            StreamEvent::Connected { .. } => {}
        }
    }
}

faultline::node_kinds! {
    /// One node of a kv world.
    #[derive(Debug)]
    pub enum KvNode: KvEvent {
        Server(ServerNode),
        Client(Box<Client>),
    }
}

impl KvNode {
    pub fn server() -> KvNode {
        KvNode::Server(ServerNode {
            server: Server::new(),
            stats_every: None,
        })
    }

    pub fn client(cfg: crate::client::ClientConfig) -> KvNode {
        KvNode::Client(Box::new(Client::new(cfg)))
    }

    pub fn as_server(&self) -> Option<&Server> {
        self.kind::<ServerNode>().map(|n| &n.server)
    }

    pub fn as_server_mut(&mut self) -> Option<&mut Server> {
        self.kind_mut::<ServerNode>().map(|n| &mut n.server)
    }

    pub fn as_client(&self) -> Option<&Client> {
        self.kind::<Box<Client>>().map(|c| &**c)
    }

    pub fn as_client_mut(&mut self) -> Option<&mut Client> {
        self.kind_mut::<Box<Client>>().map(|c| &mut **c)
    }
}
