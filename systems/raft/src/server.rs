//! A Raft server that runs the replicated key-value store: Raft core + [`KvState`] + the
//! client requests it is waiting to answer.
//!
//! A client request reaching a follower is answered `NotLeader` with the leader it knows
//! (redirect). The leader appends it to the log and answers when the entry applies. A
//! request already applied (a retry) is answered from the duplicate table without a new
//! entry. Datagrams that do not decode, or Raft RPCs from a sender that is not a server of
//! the cluster, are dropped and counted (SPEC.md §8, §9). Once the log applied since the
//! last snapshot reaches the threshold, the server snapshots its store and duplicate table
//! and the core compacts the log; a snapshot loaded at start or installed from a leader
//! replaces the store (SPEC.md §13).

use crate::config::{Bug, Config};
use crate::kv::{Command, KvState, Op};
use crate::msg::{ClientResult, Msg};
use crate::raft::{Raft, RaftEvent, RaftTimer};
use crate::snapshot::Snapshot;
use faultline::{Addr, Ctx, TimerId};
use std::collections::BTreeMap;

/// A client request the leader proposed and will answer when it applies.
#[derive(Clone, Copy, Debug)]
struct Pending {
    seq: u64,
    reply_to: Addr,
    index: u64,
    term: u64,
}

/// One server of the replicated key-value service.
pub struct KvServer {
    raft: Raft,
    kv: KvState,
    /// At most one per client (a client has one operation outstanding).
    pending: BTreeMap<u64, Pending>,
    malformed: u64,
    /// The duplicate table is consulted when applying (off only as a planted bug).
    dedup: bool,
    /// A leader answers Gets from its own state (only as a planted bug).
    local_reads: bool,
}

impl KvServer {
    /// Server `me` of the cluster whose servers are at `peers` (by index).
    pub fn new(cfg: Config, me: u32, peers: Vec<Addr>) -> KvServer {
        KvServer {
            dedup: !cfg.bugs.has(Bug::ApplyTwice),
            local_reads: cfg.bugs.has(Bug::LocalReads),
            raft: Raft::new(cfg, me, peers),
            kv: KvState::default(),
            pending: BTreeMap::new(),
            malformed: 0,
        }
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }
    pub fn kv(&self) -> &KvState {
        &self.kv
    }
    /// Datagrams dropped because they did not decode or came from a stranger.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    pub fn on_start<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>) {
        self.raft.on_start(ctx);
        self.apply_committed(ctx);
    }

    pub fn on_timer<E: From<RaftEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        timer: TimerId,
        tag: RaftTimer,
    ) {
        self.raft.on_timer(ctx, timer, tag);
        self.apply_committed(ctx);
    }

    pub fn on_datagram<E: From<RaftEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        from: Addr,
        data: &[u8],
    ) {
        if self.raft.damaged().is_some() {
            return; // refused to start: answers nobody
        }
        let Some(msg) = Msg::decode(data) else {
            self.malformed += 1;
            return;
        };
        match msg {
            Msg::ClientRequest { client, seq, op } => self.on_client(ctx, from, client, seq, op),
            Msg::ClientReply { .. } => self.malformed += 1,
            rpc => match self.raft.peer_index(from) {
                Some(peer) if peer != self.raft.me() => self.raft.on_message(ctx, peer, rpc),
                _ => self.malformed += 1,
            },
        }
        self.apply_committed(ctx);
    }

    /// Propose an opaque number, as the course's tests do (SPEC.md §2); returns its
    /// (index, term) if this server leads.
    pub fn propose_raw<E: From<RaftEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        n: u64,
    ) -> Option<(u64, u64)> {
        let r = self.raft.propose(ctx, Command::Raw(n).encode());
        self.apply_committed(ctx);
        r
    }

    fn on_client<E: From<RaftEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        from: Addr,
        client: u64,
        seq: u64,
        op: Op,
    ) {
        if self.kv.seen(client, seq) {
            if let Some(result) = self.kv.cached(client, seq) {
                let result = ClientResult::Ok(result.clone());
                ctx.send(
                    from,
                    Msg::ClientReply {
                        client,
                        seq,
                        result,
                    }
                    .encode(),
                );
            }
            return;
        }
        if !self.raft.is_leader() {
            let result = ClientResult::NotLeader {
                hint: self.raft.leader(),
            };
            ctx.send(
                from,
                Msg::ClientReply {
                    client,
                    seq,
                    result,
                }
                .encode(),
            );
            return;
        }
        if let (true, Op::Get { key }) = (self.local_reads, &op) {
            let value = self.kv.get(key).unwrap_or_default().to_string();
            let result = ClientResult::Ok(crate::kv::Reply::Value(value));
            let reply = Msg::ClientReply {
                client,
                seq,
                result,
            };
            ctx.send(from, reply.encode());
            return;
        }
        if let Some(p) = self.pending.get_mut(&client) {
            let still_in_log = self.raft.log().term_at(p.index) == Some(p.term);
            if p.seq == seq && p.term == self.raft.term() && still_in_log {
                p.reply_to = from; // a retry of what is already replicating: just wait
                return;
            }
        }
        let command = Command::Client { client, seq, op }.encode();
        if let Some((index, term)) = self.raft.propose(ctx, command) {
            self.pending.insert(
                client,
                Pending {
                    seq,
                    reply_to: from,
                    index,
                    term,
                },
            );
        }
    }

    /// Apply what Raft committed, in order, and answer the clients waiting for it; then
    /// snapshot if the threshold is reached.
    fn apply_committed<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>) {
        if let Some(snapshot) = self.raft.take_restore() {
            self.restore(ctx, &snapshot);
        }
        for (_, entry) in self.raft.take_committed() {
            let Some(command) = Command::decode(&entry.command) else {
                continue;
            };
            let Some((client, seq, output)) = self.kv.apply_checked(&command, self.dedup) else {
                continue;
            };
            if let Some(p) = self.pending.get(&client) {
                if p.seq == seq {
                    let result = ClientResult::Ok(output);
                    ctx.send(
                        p.reply_to,
                        Msg::ClientReply {
                            client,
                            seq,
                            result,
                        }
                        .encode(),
                    );
                    self.pending.remove(&client);
                }
            }
        }
        if self.raft.wants_snapshot() {
            self.raft.compact(ctx, self.kv.to_snapshot());
        }
    }

    /// Replace the store by `snapshot`'s. Waiting clients whose operation it holds get
    /// their answer from the duplicate table; the others retry.
    fn restore<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>, snapshot: &Snapshot) {
        let Some(kv) = KvState::from_snapshot(&snapshot.data) else {
            // Checksummed on disk and on the wire, so this is a snapshot of something else.
            self.raft
                .refuse(ctx, "the snapshot does not decode as a key-value state");
            return;
        };
        self.kv = kv;
        let pending = std::mem::take(&mut self.pending);
        for (client, p) in pending {
            if let Some(result) = self.kv.cached(client, p.seq) {
                let result = ClientResult::Ok(result.clone());
                let seq = p.seq;
                let reply = Msg::ClientReply {
                    client,
                    seq,
                    result,
                };
                ctx.send(p.reply_to, reply.encode());
            } else if p.index > snapshot.index {
                self.pending.insert(client, p);
            }
        }
    }
}
