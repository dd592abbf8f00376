//! Nodes for the real programs: the same endpoints, with the application the command
//! line needs (echo server, stdin client, benchmark sink and sender).

use faultline::{Addr, Ctx, Node, TimerId};
use lsp::{ClientEndpoint, ClientEvent, Params, ServerEndpoint, ServerEvent};

/// What the real nodes report to the program around them (printed, counted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RealEvent {
    Accepted { conn: i64, from: Addr },
    ConnLost { conn: i64 },
    Echo(Vec<u8>),
    Connected { conn: i64 },
}

/// How a client run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything written was acknowledged (and, for the echo client, echoed).
    Done,
    Lost,
    ConnectFailed,
}

/// An LSP server; with `echo`, writes every message back; counts what it read.
pub struct ServerNode {
    pub params: Params,
    pub echo: bool,
    pub endpoint: Option<ServerEndpoint>,
    pub messages: u64,
    pub bytes: u64,
}

impl ServerNode {
    pub fn new(params: Params, echo: bool) -> ServerNode {
        ServerNode {
            params,
            echo,
            endpoint: None,
            messages: 0,
            bytes: 0,
        }
    }

    fn drain(&mut self, ctx: &mut Ctx<'_, RealEvent>) {
        let Some(ep) = self.endpoint.as_mut() else {
            return;
        };
        while let Some(e) = ep.poll_event() {
            match e {
                ServerEvent::Accepted { conn, from } => {
                    ctx.record(RealEvent::Accepted { conn, from })
                }
                ServerEvent::Message { conn, data } => {
                    self.messages += 1;
                    self.bytes += data.len() as u64;
                    if self.echo {
                        // The connection may be gone by now; then there is no one to echo to.
                        let _ = ep.write(ctx, conn, data);
                    }
                }
                ServerEvent::Lost { conn } => ctx.record(RealEvent::ConnLost { conn }),
                ServerEvent::ConnClosed { .. } | ServerEvent::Closed { .. } => {}
            }
        }
    }
}

impl Node for ServerNode {
    type Event = RealEvent;
    type Timer = lsp::LspTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, RealEvent>) {
        self.endpoint = Some(ServerEndpoint::new(ctx, self.params));
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, RealEvent>, from: Addr, data: &[u8]) {
        if let Some(ep) = self.endpoint.as_mut() {
            ep.on_datagram(ctx, from, data);
        }
        self.drain(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, RealEvent>, timer: TimerId, _tag: lsp::LspTimer) {
        if let Some(ep) = self.endpoint.as_mut() {
            ep.on_timer(ctx, timer);
        }
        self.drain(ctx);
    }
}

/// An LSP client fed by the program: `write` per message, `input_done` at the end. It
/// closes once the input ended, everything is acknowledged and (with `wait_echoes`) every
/// message has come back, then reports [`Outcome::Done`].
pub struct ClientNode {
    pub server: Addr,
    pub params: Params,
    pub isn: i64,
    pub wait_echoes: bool,
    pub endpoint: Option<ClientEndpoint>,
    pub written: u64,
    pub echoes: u64,
    pub input_done: bool,
    pub outcome: Option<Outcome>,
}

impl ClientNode {
    pub fn new(server: Addr, params: Params, isn: i64, wait_echoes: bool) -> ClientNode {
        ClientNode {
            server,
            params,
            isn,
            wait_echoes,
            endpoint: None,
            written: 0,
            echoes: 0,
            input_done: false,
            outcome: None,
        }
    }

    /// Send one message. Errors once the connection is gone.
    pub fn write(
        &mut self,
        ctx: &mut Ctx<'_, RealEvent>,
        payload: Vec<u8>,
    ) -> Result<(), lsp::LspError> {
        let ep = self.endpoint.as_mut().ok_or(lsp::LspError::Closed)?;
        ep.write(ctx, payload)?;
        self.written += 1;
        Ok(())
    }

    /// No more input: close once everything is through.
    pub fn finish_input(&mut self, ctx: &mut Ctx<'_, RealEvent>) {
        self.input_done = true;
        self.drain(ctx);
    }

    fn drain(&mut self, ctx: &mut Ctx<'_, RealEvent>) {
        let Some(ep) = self.endpoint.as_mut() else {
            return;
        };
        while let Some(e) = ep.poll_event() {
            match e {
                ClientEvent::Connected { conn_id } => {
                    ctx.record(RealEvent::Connected { conn: conn_id })
                }
                ClientEvent::Message(data) => {
                    self.echoes += 1;
                    ctx.record(RealEvent::Echo(data));
                }
                ClientEvent::ConnectFailed => self.outcome = Some(Outcome::ConnectFailed),
                ClientEvent::Lost | ClientEvent::Closed { lost: true } => {
                    self.outcome = Some(Outcome::Lost)
                }
                ClientEvent::Closed { lost: false } => self.outcome = Some(Outcome::Done),
            }
        }
        let through = ep.is_connected()
            && ep.unacked_len() == 0
            && (!self.wait_echoes || self.echoes >= self.written);
        if self.input_done && through && self.outcome.is_none() {
            // Everything is acknowledged, so the close completes at once.
            let _ = ep.close(ctx);
            self.drain(ctx);
        }
    }
}

impl Node for ClientNode {
    type Event = RealEvent;
    type Timer = lsp::LspTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, RealEvent>) {
        self.endpoint = Some(ClientEndpoint::connect(
            ctx,
            self.server,
            self.isn,
            self.params,
        ));
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, RealEvent>, from: Addr, data: &[u8]) {
        if let Some(ep) = self.endpoint.as_mut() {
            ep.on_datagram(ctx, from, data);
        }
        self.drain(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, RealEvent>, timer: TimerId, _tag: lsp::LspTimer) {
        if let Some(ep) = self.endpoint.as_mut() {
            ep.on_timer(ctx, timer);
        }
        self.drain(ctx);
    }
}
