//! The server as a node: what a simulated world or the real runtime runs.

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
    /// How often to record the counts (the real program's log line); `None`: never.
    pub stats_every: Option<Duration>,
}

impl ServerNode {
    /// `server` as a node that records no periodic counts.
    pub fn new(server: Server) -> ServerNode {
        ServerNode {
            server,
            stats_every: None,
        }
    }
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
