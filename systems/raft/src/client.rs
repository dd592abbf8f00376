//! A client of the replicated key-value service (SPEC.md §9).
//!
//! The client has one operation outstanding at a time, numbered by a sequence number that
//! with its id makes retries idempotent (see [`crate::kv`]). It sends to the server it
//! believes leads; a `NotLeader` answer redirects it (to the hinted leader, or the next
//! server after a short pause), and silence for `retry_after` moves it to the next server.
//! It records the invoke and return of each operation in the history for checkers; an
//! operation still outstanding when the run ends has an unknown outcome. What to submit and
//! when is its owner's business: a real program submits one operation, a scenario's node
//! runs a workload over it.

use crate::kv::{Op, Reply};
use crate::msg::{ClientResult, Msg};
use faultline::{Addr, Ctx, TimerId};
use serde::{Deserialize, Serialize};
use std::time::Duration;

faultline::timer_tags! {
    /// A client's timer: give up on the current server. A node that embeds a client gives
    /// its own tag enum a variant with this number and routes it to [`KvClient::on_timer`].
    pub enum ClientTimer {
        Retry = 10,
    }
}

/// What a client records for the checkers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientEvent {
    Invoke {
        client: u64,
        seq: u64,
        op: Op,
    },
    Return {
        client: u64,
        seq: u64,
        output: Reply,
    },
}

/// Client timing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Resend to the next server after this long without an answer.
    pub retry_after: Duration,
    /// Pause before resending after a `NotLeader` without a hint.
    pub redirect_pause: Duration,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            retry_after: Duration::from_millis(300),
            redirect_pause: Duration::from_millis(50),
        }
    }
}

/// One key-value client.
pub struct KvClient {
    id: u64,
    cfg: ClientConfig,
    servers: Vec<Addr>,
    target: usize,
    seq: u64,
    current: Option<Op>,
    retry_timer: Option<TimerId>,
    completed: u64,
    last_output: Option<(u64, Reply)>,
    answered_by: Option<Addr>,
    resends: u64,
    malformed: u64,
}

impl KvClient {
    /// Client `id` (unique in the cluster's life) of the servers at `servers`.
    pub fn new(id: u64, cfg: ClientConfig, servers: Vec<Addr>) -> KvClient {
        assert!(!servers.is_empty(), "a client needs at least one server");
        KvClient {
            id,
            cfg,
            servers,
            target: 0,
            seq: 0,
            current: None,
            retry_timer: None,
            completed: 0,
            last_output: None,
            answered_by: None,
            resends: 0,
            malformed: 0,
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }
    /// Whether no operation is outstanding.
    pub fn is_idle(&self) -> bool {
        self.current.is_none()
    }
    /// Sequence number of the latest operation submitted (0 before the first).
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// Operations that returned.
    pub fn completed(&self) -> u64 {
        self.completed
    }
    /// The latest operation's (seq, output), once it returned.
    pub fn last_output(&self) -> Option<&(u64, Reply)> {
        self.last_output.as_ref()
    }
    /// The server that answered the latest operation.
    pub fn answered_by(&self) -> Option<Addr> {
        self.answered_by
    }
    /// Requests sent again (timeouts and redirects).
    pub fn resends(&self) -> u64 {
        self.resends
    }
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Start with the server this client's id picks, so clients spread over the cluster.
    pub fn on_start<E>(&mut self, _ctx: &mut Ctx<'_, E>) {
        self.target = self.id as usize % self.servers.len();
    }

    /// Start `op`; false (and nothing happens) if one is outstanding.
    pub fn submit<E: From<ClientEvent>>(&mut self, ctx: &mut Ctx<'_, E>, op: Op) -> bool {
        if self.current.is_some() {
            return false;
        }
        self.seq += 1;
        ctx.record(E::from(ClientEvent::Invoke {
            client: self.id,
            seq: self.seq,
            op: op.clone(),
        }));
        self.current = Some(op);
        self.send_current(ctx, self.cfg.retry_after);
        true
    }

    pub fn on_timer<E>(&mut self, ctx: &mut Ctx<'_, E>, timer: TimerId, tag: ClientTimer) {
        match tag {
            ClientTimer::Retry if Some(timer) == self.retry_timer && self.current.is_some() => {
                self.resends += 1;
                self.target = (self.target + 1) % self.servers.len();
                self.send_current(ctx, self.cfg.retry_after);
            }
            ClientTimer::Retry => {}
        }
    }

    pub fn on_datagram<E: From<ClientEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        from: Addr,
        data: &[u8],
    ) {
        let Some(Msg::ClientReply {
            client,
            seq,
            result,
        }) = Msg::decode(data)
        else {
            self.malformed += 1;
            return;
        };
        if client != self.id || seq != self.seq || self.current.is_none() {
            return; // a late or duplicated answer to an earlier operation
        }
        match result {
            ClientResult::Ok(output) => {
                if let Some(i) = self.servers.iter().position(|&a| a == from) {
                    self.target = i;
                }
                if let Some(t) = self.retry_timer.take() {
                    ctx.cancel_timer(t);
                }
                self.current = None;
                self.completed += 1;
                self.answered_by = Some(from);
                ctx.record(E::from(ClientEvent::Return {
                    client,
                    seq,
                    output: output.clone(),
                }));
                self.last_output = Some((seq, output));
            }
            ClientResult::NotLeader { hint } => {
                let hinted = hint.map(|h| h as usize).filter(|&h| h < self.servers.len());
                match hinted {
                    Some(h) if self.servers[h] != from => {
                        self.target = h;
                        self.resends += 1;
                        self.send_current(ctx, self.cfg.retry_after);
                    }
                    _ => {
                        // No leader known: wait a little, then try the next server.
                        self.target = (self.target + 1) % self.servers.len();
                        self.arm_retry(ctx, self.cfg.redirect_pause);
                    }
                }
            }
        }
    }

    fn send_current<E>(&mut self, ctx: &mut Ctx<'_, E>, retry_after: Duration) {
        if let Some(op) = &self.current {
            let msg = Msg::ClientRequest {
                client: self.id,
                seq: self.seq,
                op: op.clone(),
            };
            ctx.send(self.servers[self.target], msg.encode());
            self.arm_retry(ctx, retry_after);
        }
    }

    fn arm_retry<E>(&mut self, ctx: &mut Ctx<'_, E>, after: Duration) {
        if let Some(t) = self.retry_timer.take() {
            ctx.cancel_timer(t);
        }
        self.retry_timer = Some(ctx.set_timer(after, ClientTimer::Retry));
    }
}
