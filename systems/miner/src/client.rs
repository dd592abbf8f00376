//! The client program's node logic (SPEC.md §4: `client <host:port> <message>
//! <maxNonce>`) over an LSP [`ClientEndpoint`]: send one Request for `[0, maxNonce]`, wait
//! for one Result, then close. Losing the server (or never reaching it) is `Disconnected`.

use crate::event::MinerEvent;
use crate::hash::Best;
use crate::message::Message;
use crate::worker::MinerTimer;
use faultline::{Addr, Ctx, Node, TimerId};
use lsp::{ClientEndpoint, ClientEvent, Params};
use rand::Rng;

/// How the client's request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The answer: print `Result <hash> <nonce>`.
    Result(Best),
    /// The connection failed or was lost: print `Disconnected`.
    Disconnected,
}

/// A client with one request.
pub struct Client {
    lsp: ClientEndpoint,
    outcome: Option<Outcome>,
    /// Messages after the answer, or not a Result.
    pub unexpected: u64,
}

impl Client {
    /// Connect (random ISN in 0..=255) and send the request at once.
    pub fn start(
        ctx: &mut Ctx<'_, MinerEvent>,
        server: Addr,
        params: Params,
        data: &str,
        upper: u64,
    ) -> Client {
        let isn = ctx.rng().gen_range(0..=255);
        let lsp = ClientEndpoint::connect(ctx, server, isn, params);
        let request = Message::Request {
            data: data.to_string(),
            lower: 0,
            upper,
        };
        let mut client = Client {
            lsp,
            outcome: None,
            unexpected: 0,
        };
        ctx.record(MinerEvent::ClientRequest {
            data: data.to_string(),
            upper,
        });
        if client.lsp.write(ctx, request.encode()).is_err() {
            // Too large for one LSP payload: the request cannot be sent at all.
            client.finish(ctx, Outcome::Disconnected);
        }
        client
    }

    /// The answer or the disconnection, once known.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// Done and nothing left to flush: the program can exit.
    pub fn is_done(&self) -> bool {
        self.outcome.is_some() && self.lsp.is_done()
    }

    pub fn on_datagram(&mut self, ctx: &mut Ctx<'_, MinerEvent>, from: Addr, bytes: &[u8]) {
        self.lsp.on_datagram(ctx, from, bytes);
        self.pump(ctx);
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, MinerEvent>, timer: TimerId) {
        self.lsp.on_timer(ctx, timer);
        self.pump(ctx);
    }

    fn pump(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        while let Some(event) = self.lsp.poll_event() {
            match event {
                ClientEvent::Message(bytes) => match Message::decode(&bytes) {
                    Ok(Message::Result { hash, nonce }) if self.outcome.is_none() => {
                        self.finish(ctx, Outcome::Result(Best { hash, nonce }));
                    }
                    _ => self.unexpected += 1,
                },
                ClientEvent::ConnectFailed | ClientEvent::Lost => {
                    self.finish(ctx, Outcome::Disconnected)
                }
                ClientEvent::Connected { .. } | ClientEvent::Closed { .. } => {}
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, MinerEvent>, outcome: Outcome) {
        if self.outcome.is_some() {
            return;
        }
        self.outcome = Some(outcome);
        match outcome {
            Outcome::Result(best) => {
                ctx.record(MinerEvent::ClientResult {
                    hash: best.hash,
                    nonce: best.nonce,
                });
                // Done: flush the acks and leave (the server sees the loss later).
                let _ = self.lsp.close(ctx);
            }
            Outcome::Disconnected => ctx.record(MinerEvent::ClientDisconnected),
        }
    }
}

/// A client as a node of its own (the real `faultline miner client`): it connects and
/// sends its request at start.
pub struct ClientNode {
    server: Addr,
    params: Params,
    data: String,
    upper: u64,
    client: Option<Client>,
}

impl ClientNode {
    pub fn new(server: Addr, params: Params, data: String, upper: u64) -> ClientNode {
        ClientNode {
            server,
            params,
            data,
            upper,
            client: None,
        }
    }

    /// The request: message and maximum nonce.
    pub fn request(&self) -> (&str, u64) {
        (&self.data, self.upper)
    }

    /// The running client (None before start).
    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }
}

impl Node for ClientNode {
    type Event = MinerEvent;
    type Timer = MinerTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        self.client = Some(Client::start(
            ctx,
            self.server,
            self.params,
            &self.data,
            self.upper,
        ));
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, MinerEvent>, from: Addr, data: &[u8]) {
        if let Some(c) = &mut self.client {
            c.on_datagram(ctx, from, data);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, MinerEvent>, timer: TimerId, _: MinerTimer) {
        if let Some(c) = &mut self.client {
            c.on_timer(ctx, timer);
        }
    }
}
