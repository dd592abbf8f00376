//! The query actor: one full replica of the store, and its share of the sync protocol
//! (SPEC.md §4-§5).
//!
//! # The sync strategy
//!
//! Every query actor keeps `key -> (value, timestamp ms, origin uid)` and merges by
//! last-writer-wins on `(timestamp, uid)`. It ticks every [`TICK`] (a `tell_after` to
//! itself) and on each tick sends at most one message to each partner, so with the tick
//! itself no ordered pair carries more than 1000/[`TICK`] messages a second, below the
//! limit of ten, whatever the Put rate.
//!
//! - **Local sync.** The entries an actor accepted since its last tick (its own Puts, and
//!   at the representative what came from other servers) go in one `Local` message to
//!   each local peer: deltas, never the whole map.
//! - **Remote sync.** Actor 0 of each server is its *representative*. Only it talks to
//!   other servers, and only to their representatives: on each tick it sends each remote
//!   server one `Remote` message with what its server accepted since the last one (its own
//!   Puts and what its local peers sent it). The receiving representative applies it and
//!   relays the winners to its local peers on its next tick. No Put is sent to several
//!   actors of one remote server (no broadcast). Worst-case visibility: three ticks plus
//!   the one-way latency, under 2 s at 250 ms.
//! - **Start-up.** A new server's representative says `hello` to every server in its join
//!   list, with its full state (empty when fresh). A representative that hears a hello (or
//!   a request for full state) from a server it does not know adds it, remembers it, and
//!   answers with its full state and the servers it knows, so the newcomer learns every
//!   member. The newcomer syncs its own Puts to the old servers from its first tick.
//! - **Anti-entropy.** Messages between actors of one server cannot be lost; between
//!   servers, only a broken stream (a reset, a crash of either end) loses them, and a
//!   partition only delays them. So the repair is driven by the breaks: when a stream to a
//!   remote server broke and is connected again, the representative sends that server
//!   its full state and asks for the other's (`want_full`) in the same single message of
//!   its next tick, inside the rate limit. A crashed server keeps every accepted entry and
//!   its member list in durable storage (synced before the reply to the Put leaves) and
//!   rejoins with the start-up exchange. LWW merging is idempotent and commutative, so the
//!   duplicates this causes are harmless.

use crate::actor::{Actor, ActorCtx, ActorRef};
use crate::bugs::Bug;
use faultline::bugs::BugSet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// How often every actor syncs: 8.3 messages a second per pair at most.
pub const TICK: Duration = Duration::from_millis(120);

/// One stored value with its last-writer-wins stamp.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    pub value: String,
    /// The processing server's clock, in ms, when the Put was applied.
    pub ts: u64,
    /// The uid of the actor that processed the Put.
    pub uid: String,
}

impl Entry {
    /// Whether this entry beats `other` under last-writer-wins.
    pub fn beats(&self, other: &Entry) -> bool {
        (self.ts, &self.uid) > (other.ts, &other.uid)
    }

    /// [`Entry::beats`], or the wrong rule a planted bug puts in its place.
    fn beats_with(&self, other: &Entry, bugs: BugSet<Bug>) -> bool {
        if bugs.has(Bug::LwwByValue) {
            return self.value > other.value;
        }
        if bugs.has(Bug::LwwTieNoUid) {
            return self.ts > other.ts;
        }
        self.beats(other)
    }
}

/// The messages of the store's actors, and the replies they send to channel refs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    Get {
        key: String,
        reply_to: ActorRef,
    },
    Put {
        key: String,
        value: String,
        reply_to: ActorRef,
    },
    List {
        prefix: String,
        reply_to: ActorRef,
    },
    /// Reply to Get.
    Value(Option<String>),
    /// Reply to Put.
    Done,
    /// Reply to List, sorted by key.
    Entries(Vec<(String, String)>),
    /// The actor's initial data: its place, its server's actors, the other servers (each
    /// as the refs of its actors, the representative first) and what storage kept.
    Init {
        index: u32,
        local: Vec<ActorRef>,
        remotes: Vec<Vec<ActorRef>>,
        entries: Vec<Entry>,
    },
    Tick,
    /// Local sync: entries accepted since the sender's last tick.
    Local {
        entries: Vec<Entry>,
    },
    /// Remote sync between representatives.
    Remote {
        /// The sender's server (its actors), on a hello or a full sync; else empty.
        from: Vec<ActorRef>,
        hello: bool,
        /// `entries` is the sender's whole map.
        full: bool,
        /// The sender wants the receiver's whole map.
        want_full: bool,
        /// The servers the sender knows, on a full sync.
        members: Vec<Vec<ActorRef>>,
        entries: Vec<Entry>,
    },
    /// From the node: the stream to the server at `address` broke and is back.
    Resync {
        address: String,
    },
}

/// What a remote server needs from the representative.
#[derive(Clone, Debug, Default)]
struct RemotePeer {
    refs: Vec<ActorRef>,
    pending: BTreeMap<String, Entry>,
    hello: bool,
    send_full: bool,
    want_full: bool,
}

/// A remote sync a representative took in, for reports: from the server at `from`, with
/// `entries` entries of which `won` were newer than its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synced {
    pub from: String,
    pub hello: bool,
    pub full: bool,
    pub entries: usize,
    pub won: usize,
}

/// A Put an actor processed, for the checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub entry: Entry,
    /// Whether it won locally (a stored entry with a greater stamp makes it lose at once).
    pub won: bool,
}

/// One query actor. See the module docs.
#[derive(Debug)]
pub struct QueryActor {
    me: ActorRef,
    index: u32,
    ready: bool,
    store: BTreeMap<String, Entry>,
    local: Vec<ActorRef>,
    all_local: Vec<ActorRef>,
    dirty_local: BTreeMap<String, Entry>,
    remotes: BTreeMap<String, RemotePeer>,
    /// Winners since the node last looked (it persists them).
    changed: Vec<Entry>,
    members_changed: bool,
    applied: Vec<Applied>,
    /// Planted bugs (none unless a bug hunt asks).
    bugs: BugSet<Bug>,
    synced: Vec<Synced>,
}

impl QueryActor {
    pub fn new(me: &ActorRef) -> QueryActor {
        QueryActor::with_bugs(me, BugSet::NONE)
    }

    /// An actor with `bugs` planted.
    pub fn with_bugs(me: &ActorRef, bugs: BugSet<Bug>) -> QueryActor {
        QueryActor {
            me: me.clone(),
            index: 0,
            ready: false,
            store: BTreeMap::new(),
            local: Vec::new(),
            all_local: Vec::new(),
            dirty_local: BTreeMap::new(),
            remotes: BTreeMap::new(),
            changed: Vec::new(),
            members_changed: false,
            applied: Vec::new(),
            bugs,
            synced: Vec::new(),
        }
    }

    pub fn me(&self) -> &ActorRef {
        &self.me
    }

    /// The replica.
    pub fn store(&self) -> &BTreeMap<String, Entry> {
        &self.store
    }

    pub fn is_representative(&self) -> bool {
        self.index == 0
    }

    /// The other servers this actor knows, by representative address.
    pub fn members(&self) -> Vec<Vec<ActorRef>> {
        self.remotes.values().map(|p| p.refs.clone()).collect()
    }

    /// Entries that won since the last call (for durable storage).
    pub fn take_changed(&mut self) -> Vec<Entry> {
        std::mem::take(&mut self.changed)
    }

    /// Whether the member list changed since the last call.
    pub fn take_members_changed(&mut self) -> bool {
        std::mem::take(&mut self.members_changed)
    }

    /// Puts processed since the last call.
    pub fn take_applied(&mut self) -> Vec<Applied> {
        std::mem::take(&mut self.applied)
    }

    /// Remote syncs taken in since the last call.
    pub fn take_synced(&mut self) -> Vec<Synced> {
        std::mem::take(&mut self.synced)
    }

    /// Merge one entry by LWW; true if it won.
    fn merge(&mut self, e: Entry) -> bool {
        if let Some(old) = self.store.get(&e.key) {
            if !e.beats_with(old, self.bugs) {
                return false;
            }
        }
        self.changed.push(e.clone());
        self.store.insert(e.key.clone(), e);
        true
    }

    fn add_remote(&mut self, refs: Vec<ActorRef>) -> Option<&mut RemotePeer> {
        let first = refs.first()?;
        if first.address == self.me.address {
            return None;
        }
        let address = first.address.clone();
        if !self.remotes.contains_key(&address) {
            self.members_changed = true;
            self.remotes.insert(
                address.clone(),
                RemotePeer {
                    refs,
                    hello: true,
                    send_full: true,
                    ..RemotePeer::default()
                },
            );
        }
        self.remotes.get_mut(&address)
    }

    fn put(&mut self, ctx: &mut ActorCtx<'_>, key: String, value: String) {
        let mut ts = ctx.now_ms();
        let uid = self.me.uid();
        if let Some(old) = self.store.get(&key) {
            // One actor's successive Puts of a key in the same millisecond (or after its
            // clock stepped back) still order: SPEC.md §4, a re-Put gets a newer stamp.
            if old.uid == uid && old.ts >= ts {
                ts = old.ts + 1;
            }
        }
        let entry = Entry {
            key,
            value,
            ts,
            uid,
        };
        let won = self.merge(entry.clone());
        if won {
            self.accepted(entry.clone());
        }
        self.applied.push(Applied { entry, won });
    }

    /// An entry this server accepted (own Put, or a local peer's): it goes to the local
    /// peers (own Puts only) and, at the representative, to every remote server.
    fn accepted(&mut self, e: Entry) {
        if e.uid == self.me.uid() {
            self.dirty_local.insert(e.key.clone(), e.clone());
        }
        if self.is_representative() {
            for peer in self.remotes.values_mut() {
                peer.pending.insert(e.key.clone(), e.clone());
            }
        }
    }

    fn tick(&mut self, ctx: &mut ActorCtx<'_>) {
        if !self.dirty_local.is_empty() {
            let entries: Vec<Entry> = std::mem::take(&mut self.dirty_local)
                .into_values()
                .collect();
            let msg = Msg::Local { entries };
            for peer in &self.local {
                ctx.tell(peer, &msg);
            }
        }
        if self.is_representative() {
            let members = self.members();
            let mine = self.all_local.clone();
            for peer in self.remotes.values_mut() {
                if !(peer.hello || peer.send_full || peer.want_full || !peer.pending.is_empty()) {
                    continue;
                }
                let full = peer.send_full;
                let entries: Vec<Entry> = if full {
                    peer.pending.clear();
                    self.store.values().cloned().collect()
                } else {
                    std::mem::take(&mut peer.pending).into_values().collect()
                };
                let msg = Msg::Remote {
                    from: if peer.hello || full {
                        mine.clone()
                    } else {
                        Vec::new()
                    },
                    hello: peer.hello,
                    full,
                    want_full: peer.want_full,
                    members: if full { members.clone() } else { Vec::new() },
                    entries,
                };
                peer.hello = false;
                peer.send_full = false;
                peer.want_full = false;
                ctx.tell(&peer.refs[0], &msg);
            }
        }
        let me = self.me.clone();
        ctx.tell_after(&me, &Msg::Tick, TICK);
    }
}

impl Actor for QueryActor {
    type Msg = Msg;

    fn on_message(&mut self, ctx: &mut ActorCtx<'_>, msg: Msg) -> Result<(), String> {
        match msg {
            Msg::Get { key, reply_to } => {
                let value = self.store.get(&key).map(|e| e.value.clone());
                ctx.tell(&reply_to, &Msg::Value(value));
            }
            Msg::List { prefix, reply_to } => {
                let entries = self
                    .store
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, e)| (k.clone(), e.value.clone()))
                    .collect();
                ctx.tell(&reply_to, &Msg::Entries(entries));
            }
            Msg::Put {
                key,
                value,
                reply_to,
            } => {
                self.put(ctx, key, value);
                ctx.tell(&reply_to, &Msg::Done);
            }
            Msg::Init {
                index,
                local,
                remotes,
                entries,
            } => {
                if self.ready {
                    return Err("initialised twice".into());
                }
                self.ready = true;
                self.index = index;
                self.all_local = local.clone();
                self.local = local.into_iter().filter(|r| *r != self.me).collect();
                for e in entries {
                    self.merge(e);
                }
                self.changed.clear();
                if self.is_representative() {
                    for refs in remotes {
                        if let Some(peer) = self.add_remote(refs) {
                            peer.want_full = true;
                        }
                    }
                    self.members_changed = false;
                }
                self.tick(ctx);
            }
            Msg::Tick => self.tick(ctx),
            Msg::Local { entries } => {
                for e in entries {
                    if self.merge(e.clone()) && self.is_representative() {
                        for peer in self.remotes.values_mut() {
                            peer.pending.insert(e.key.clone(), e.clone());
                        }
                    }
                }
            }
            Msg::Remote {
                from,
                hello,
                full,
                want_full,
                members,
                entries,
            } => {
                let sender = from.first().map(|r| r.address.clone());
                if let Some(peer) = self.add_remote(from) {
                    if hello || want_full {
                        peer.send_full = true;
                    }
                    // Ours since it joined: hello makes us send it everything anyway.
                    peer.hello = false;
                }
                for refs in members {
                    self.add_remote(refs);
                }
                let relay = !self.bugs.has(Bug::SyncSkipsRelay);
                let (count, mut won) = (entries.len(), 0);
                for e in entries {
                    if self.merge(e.clone()) {
                        won += 1;
                        // Relay to the local peers; the sender told every other server.
                        if relay {
                            self.dirty_local.insert(e.key.clone(), e);
                        }
                    }
                }
                self.synced.push(Synced {
                    // A delta does not name its sender (only a hello or full sync does).
                    from: sender.unwrap_or_default(),
                    hello,
                    full,
                    entries: count,
                    won,
                });
            }
            Msg::Resync { address } => {
                if self.bugs.has(Bug::NoResyncOnReconnect) {
                    return Ok(());
                }
                if let Some(peer) = self.remotes.get_mut(&address) {
                    peer.send_full = true;
                    peer.want_full = true;
                }
            }
            Msg::Value(_) | Msg::Done | Msg::Entries(_) => {
                return Err("a reply sent to a query actor".into());
            }
        }
        Ok(())
    }
}
