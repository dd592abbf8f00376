//! The server node (SPEC.md §3): one actor system with its query actors, the query
//! receiver that turns client RPCs into tells, and the durable copy of the store.
//!
//! One node listens on one address. Accepted streams carry frames ([`crate::wire`]): `Tell`
//! frames from other servers' actor systems, `Rpc` frames from clients. The query receiver
//! answers no query itself: it makes a channel ref, tells the addressed query actor the
//! query with that ref as `reply_to`, and writes the reply it gets to the client.

use crate::actor::{sim_address, ActorRef, ActorSystem, Resolve, SystemTimer};
use crate::bugs::Bug;
use crate::store::{Applied, Entry, Msg, QueryActor, Synced};
use crate::wire::{self, Answer, Decoder, Frame, Query};
use faultline::bugs::BugSet;
use faultline::{Addr, Ctx, Node, StreamEvent, StreamId, TimerId};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// Storage key of the member list; entries are under `e/<key>`.
const MEMBERS_KEY: &str = "m";

/// How a server is set up (the same config rebuilds it after a crash).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Query actors (at least one).
    pub actors: u32,
    /// The servers that exist already, each as its actors' refs.
    pub join: Vec<Vec<ActorRef>>,
    /// Its own address; `None`: the simulator's `n<index>`.
    pub address: Option<String>,
    pub resolve: Resolve,
    /// Sender-side latency of remote tells, per destination address, and otherwise.
    pub latency: BTreeMap<String, Duration>,
    pub default_latency: Duration,
    /// Added to the node's clock to make the LWW clock (the wall clock on real servers).
    pub epoch_ms: u64,
    /// Planted bugs (none unless a bug hunt asks).
    pub bugs: BugSet<Bug>,
}

impl ServerConfig {
    /// A simulated server with `actors` actors joining `join`.
    pub fn sim(actors: u32, join: Vec<Vec<ActorRef>>) -> ServerConfig {
        ServerConfig {
            actors: actors.max(1),
            join,
            address: None,
            resolve: Resolve::Sim,
            latency: BTreeMap::new(),
            default_latency: Duration::ZERO,
            epoch_ms: 0,
            bugs: BugSet::NONE,
        }
    }
}

/// A server's history events, for checkers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// A query actor processed a Put.
    Applied(Applied),
    /// A frame from a peer could not be decoded; its stream was closed.
    BadFrame(String),
    /// The representative took in a remote sync (for reports; no checker needs it).
    Synced(Synced),
}

/// The refs of the query actors a server with `actors` actors at `address` will have:
/// counters 1..=actors (they are started first). This is its desc.
pub fn refs_of(address: &str, actors: u32) -> Vec<ActorRef> {
    (1..=actors as u64)
        .map(|counter| ActorRef {
            address: address.to_string(),
            counter,
        })
        .collect()
}

/// A desc as text: `<address>/<counter>,<counter>,...`.
pub fn desc_text(refs: &[ActorRef]) -> String {
    let address = refs.first().map_or("", |r| r.address.as_str());
    let counters: Vec<String> = refs.iter().map(|r| r.counter.to_string()).collect();
    format!("{address}/{}", counters.join(","))
}

/// Parse a desc written by [`desc_text`].
pub fn parse_desc(text: &str) -> Result<Vec<ActorRef>, String> {
    let (address, counters) = text
        .trim()
        .rsplit_once('/')
        .ok_or_else(|| format!("desc `{text}` is not ADDRESS/C1,C2,..."))?;
    if address.is_empty() {
        return Err(format!("desc `{text}` has no address"));
    }
    let refs: Result<Vec<ActorRef>, String> = counters
        .split(',')
        .map(|c| {
            c.parse::<u64>()
                .map(|counter| ActorRef {
                    address: address.to_string(),
                    counter,
                })
                .map_err(|_| format!("desc `{text}`: `{c}` is not a counter"))
        })
        .collect();
    let refs = refs?;
    if refs.is_empty() {
        return Err(format!("desc `{text}` names no actor"));
    }
    Ok(refs)
}

/// An accepted stream: a client or another system's sender.
#[derive(Default)]
struct Inbound {
    decoder: Decoder,
    unsent: VecDeque<u8>,
}

/// The server node. See the module docs.
pub struct ServerNode {
    cfg: ServerConfig,
    system: Option<ActorSystem<QueryActor>>,
    refs: Vec<ActorRef>,
    inbound: BTreeMap<StreamId, Inbound>,
    /// Channel counter -> (client stream, RPC id).
    waiting: BTreeMap<u64, (StreamId, u64)>,
    /// The stamps in durable storage.
    persisted: BTreeMap<String, (u64, String)>,
    /// Written to storage but not yet synced (only with [`Bug::ReplyBeforeSync`]).
    sync_owed: bool,
    rpcs: u64,
}

impl std::fmt::Debug for ServerNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerNode")
            .field("refs", &self.refs)
            .finish_non_exhaustive()
    }
}

impl ServerNode {
    pub fn new(cfg: ServerConfig) -> ServerNode {
        ServerNode {
            cfg,
            system: None,
            refs: Vec::new(),
            inbound: BTreeMap::new(),
            waiting: BTreeMap::new(),
            persisted: BTreeMap::new(),
            sync_owed: false,
            rpcs: 0,
        }
    }

    /// The query actors' refs (the desc), once started.
    pub fn refs(&self) -> &[ActorRef] {
        &self.refs
    }

    pub fn system(&self) -> Option<&ActorSystem<QueryActor>> {
        self.system.as_ref()
    }

    /// Client RPCs received.
    pub fn rpcs(&self) -> u64 {
        self.rpcs
    }

    /// Each query actor's replica, in actor order.
    pub fn replicas(&self) -> Vec<(&ActorRef, &BTreeMap<String, Entry>)> {
        let Some(sys) = &self.system else {
            return Vec::new();
        };
        self.refs
            .iter()
            .filter_map(|r| sys.actor(r.counter).map(|a| (r, a.store())))
            .collect()
    }

    /// Resolve an address for a real runtime (see [`Resolve::Book`]) and go on.
    pub fn set_addr(&mut self, ctx: &mut Ctx<'_, ServerEvent>, address: &str, addr: Addr) {
        if let Some(sys) = &mut self.system {
            sys.set_addr(ctx, address, addr);
        }
        self.settle(ctx);
    }

    /// Whether an address waits to be resolved (real runtime).
    pub fn has_unresolved(&self) -> bool {
        self.system.as_ref().is_some_and(|s| s.has_unresolved())
    }

    /// Addresses waiting to be resolved (real runtime).
    pub fn take_unresolved(&mut self) -> Vec<String> {
        self.system
            .as_mut()
            .map(|s| s.take_unresolved())
            .unwrap_or_default()
    }

    /// Run the actors, then carry out what they left: persist winners, record Puts, send
    /// replies, repair broken links.
    fn settle(&mut self, ctx: &mut Ctx<'_, ServerEvent>) {
        let Some(sys) = &mut self.system else { return };
        for _ in 0..4 {
            sys.run(ctx);
            let reconnected = sys.take_reconnected();
            if reconnected.is_empty() {
                break;
            }
            for address in reconnected {
                sys.tell(&self.refs[0], &Msg::Resync { address });
            }
        }
        let mut dirty = false;
        for r in &self.refs {
            let Some(actor) = sys.actor_mut(r.counter) else {
                continue;
            };
            for a in actor.take_applied() {
                ctx.record(ServerEvent::Applied(a));
            }
            for s in actor.take_synced() {
                ctx.record(ServerEvent::Synced(s));
            }
            for e in actor.take_changed() {
                let newer = self
                    .persisted
                    .get(&e.key)
                    .is_none_or(|(ts, uid)| (e.ts, &e.uid) > (*ts, uid));
                if newer {
                    self.persisted.insert(e.key.clone(), (e.ts, e.uid.clone()));
                    ctx.storage().put(
                        format!("e/{}", e.key),
                        bincode::serialize(&e).expect("entries serialise"),
                    );
                    dirty = true;
                }
            }
            if actor.take_members_changed() {
                let members = actor.members();
                ctx.storage().put(
                    MEMBERS_KEY,
                    bincode::serialize(&members).expect("refs serialise"),
                );
                dirty = true;
            }
        }
        if dirty {
            if self.cfg.bugs.has(Bug::ReplyBeforeSync) {
                // Planted: the replies below leave first; the next timer syncs.
                self.sync_owed = true;
            } else {
                ctx.storage().sync();
            }
        }
        for channel in sys.take_answered() {
            let reply = sys.take_reply(channel);
            let Some((stream, id)) = self.waiting.remove(&channel) else {
                continue;
            };
            let answer = match reply {
                Some(Msg::Value(v)) => Answer::Value(v),
                Some(Msg::Done) => Answer::Done,
                Some(Msg::Entries(e)) => Answer::Entries(e),
                _ => Answer::Error("unexpected reply".into()),
            };
            if let Some(inb) = self.inbound.get_mut(&stream) {
                inb.unsent
                    .extend(wire::encode(&Frame::Reply { id, answer }));
                flush(ctx, stream, inb);
            }
        }
    }

    fn on_frame(&mut self, stream: StreamId, frame: Frame) -> Result<(), String> {
        let sys = self.system.as_mut().expect("started");
        match frame {
            Frame::Tell { to, payload } => sys.tell_from_remote(to, payload),
            Frame::Rpc { id, actor, query } => {
                self.rpcs += 1;
                let Some(target) = self.refs.get(actor as usize) else {
                    let inb = self.inbound.get_mut(&stream).expect("open");
                    inb.unsent.extend(wire::encode(&Frame::Reply {
                        id,
                        answer: Answer::Error(format!("no query actor {actor}")),
                    }));
                    return Ok(());
                };
                let reply_to = sys.new_channel();
                self.waiting.insert(reply_to.counter, (stream, id));
                let msg = match query {
                    Query::Get { key } => Msg::Get { key, reply_to },
                    Query::Put { key, value } => Msg::Put {
                        key,
                        value,
                        reply_to,
                    },
                    Query::List { prefix } => Msg::List { prefix, reply_to },
                };
                sys.tell(target, &msg);
            }
            Frame::Reply { .. } => return Err("a server got a reply frame".into()),
        }
        Ok(())
    }
}

fn flush(ctx: &mut Ctx<'_, ServerEvent>, stream: StreamId, inb: &mut Inbound) {
    while !inb.unsent.is_empty() {
        let (a, _) = inb.unsent.as_slices();
        match ctx.write(stream, a) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                inb.unsent.drain(..n);
            }
        }
    }
}

impl Node for ServerNode {
    type Event = ServerEvent;
    type Timer = SystemTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, ServerEvent>) {
        let address = self
            .cfg
            .address
            .clone()
            .unwrap_or_else(|| sim_address(ctx.me()));
        let mut sys =
            ActorSystem::new(address.clone(), self.cfg.resolve.clone(), self.cfg.epoch_ms);
        sys.set_started(ctx.now());
        sys.set_default_latency(self.cfg.default_latency);
        for (a, l) in &self.cfg.latency {
            sys.set_latency(a, *l);
        }
        let bugs = self.cfg.bugs;
        self.refs = (0..self.cfg.actors)
            .map(|_| sys.start_actor(|me| QueryActor::with_bugs(me, bugs)))
            .collect();
        debug_assert_eq!(self.refs, refs_of(&address, self.cfg.actors));
        // What storage kept from an earlier incarnation.
        let mut entries = Vec::new();
        let mut members: Vec<Vec<ActorRef>> = Vec::new();
        for (k, v) in ctx.storage().durable().clone() {
            if k == MEMBERS_KEY {
                members = bincode::deserialize(&v).unwrap_or_default();
            } else if k.starts_with("e/") {
                if let Ok(e) = bincode::deserialize::<Entry>(&v) {
                    self.persisted.insert(e.key.clone(), (e.ts, e.uid.clone()));
                    entries.push(e);
                }
            }
        }
        for j in &self.cfg.join {
            if !members.iter().any(|m| m.first() == j.first()) {
                members.push(j.clone());
            }
        }
        for (i, r) in self.refs.iter().enumerate() {
            sys.tell(
                r,
                &Msg::Init {
                    index: i as u32,
                    local: self.refs.clone(),
                    remotes: if i == 0 { members.clone() } else { Vec::new() },
                    entries: entries.clone(),
                },
            );
        }
        self.system = Some(sys);
        self.settle(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ServerEvent>, _: TimerId, tag: SystemTimer) {
        if let Some(sys) = &mut self.system {
            sys.on_timer(ctx, tag);
        }
        self.settle(ctx);
        if std::mem::take(&mut self.sync_owed) {
            ctx.storage().sync();
        }
    }

    fn on_stream(&mut self, ctx: &mut Ctx<'_, ServerEvent>, event: StreamEvent) {
        let stream = event.stream();
        let Some(sys) = &mut self.system else { return };
        if sys.owns_stream(stream) {
            sys.on_stream_event(ctx, event);
            self.settle(ctx);
            return;
        }
        match event {
            StreamEvent::Accepted { stream, .. } => {
                self.inbound.insert(stream, Inbound::default());
            }
            StreamEvent::Data { stream, data } => {
                let Some(inb) = self.inbound.get_mut(&stream) else {
                    return;
                };
                inb.decoder.push(&data);
                loop {
                    let inb = self.inbound.get_mut(&stream).expect("open");
                    match inb.decoder.next_frame() {
                        Ok(Some(frame)) => {
                            if let Err(e) = self.on_frame(stream, frame) {
                                ctx.record(ServerEvent::BadFrame(e));
                                self.inbound.remove(&stream);
                                ctx.close(stream);
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            ctx.record(ServerEvent::BadFrame(e));
                            self.inbound.remove(&stream);
                            ctx.close(stream);
                            break;
                        }
                    }
                }
                if let Some(inb) = self.inbound.get_mut(&stream) {
                    flush(ctx, stream, inb);
                }
                self.settle(ctx);
            }
            StreamEvent::Writable { stream } => {
                if let Some(inb) = self.inbound.get_mut(&stream) {
                    flush(ctx, stream, inb);
                }
            }
            StreamEvent::Closed { stream, .. } => {
                self.inbound.remove(&stream);
                let gone: Vec<u64> = self
                    .waiting
                    .iter()
                    .filter(|(_, (s, _))| *s == stream)
                    .map(|(&c, _)| c)
                    .collect();
                for c in gone {
                    self.waiting.remove(&c);
                    if let Some(sys) = &mut self.system {
                        sys.drop_channel(c);
                    }
                }
            }
            StreamEvent::Connected { .. } => {}
        }
    }
}
