//! The nodes of a cmud world: the system's [`ServerNode`], the scenario clients that drive
//! it ([`Client`]: scripted calls, or bots playing the game of `cmud::game` through a
//! router, its turns driven op by op), a fake query
//! receiver for the client tests ([`FakeReceiver`]), a bare actor system for the
//! remote-tell tests ([`TellNode`]) and the mailbox exerciser ([`MailboxNode`]).

use cmud::actor::{sim_address, Actor, ActorCtx, ActorRef, ActorSystem, Resolve, SystemTimer};
use cmud::game::{self, Outcome, Player, Step, Turn};
use cmud::mailbox::Mailbox;
use cmud::server::{ServerEvent, ServerNode};
use cmud::wire::{self, Answer, Decoder, Frame, Query};
use faultline::{Addr, Ctx, Node, StreamEvent, StreamId, Time, TimerId, TimerTag};
use rand::Rng;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// A history event of a cmud world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmudEvent {
    Server(ServerEvent),
    /// A mailbox intent that did not hold.
    Mailbox(String),
}

/// Where a client sends one call: a server node and the query actor there.
pub type Route = (Addr, u32);

/// One scripted call.
#[derive(Clone, Debug)]
pub struct ScriptOp {
    pub at: Time,
    /// Index into the client's routes; `None`: the router's next address.
    pub route: Option<usize>,
    pub query: Query,
    /// The answer it must get (checked at the end).
    pub expect: Option<Answer>,
}

/// Bots: each player is played by the game's own bot ([`game::Bot`]), one turn at a time
/// across the client's players, each store operation of a turn one call (GAME.md).
#[derive(Clone, Debug)]
pub struct Bot {
    pub players: Vec<String>,
    /// Pause between calls, drawn in this range (ms).
    pub think_ms: (u64, u64),
    /// Stop issuing calls at this time.
    pub until: Time,
}

/// What a client does.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub routes: Vec<Route>,
    pub script: Vec<ScriptOp>,
    pub bot: Option<Bot>,
}

/// One finished call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Done {
    /// Index in the script, or `usize::MAX` for a bot call.
    pub op: usize,
    pub query: Query,
    pub answer: Answer,
    pub sent: Time,
    pub at: Time,
}

/// What a client counted.
#[derive(Clone, Debug, Default)]
pub struct ClientStats {
    /// Calls made (each is exactly one RPC).
    pub calls: u64,
    /// RPCs sent per route index.
    pub per_route: BTreeMap<usize, u64>,
    /// Calls that failed on a broken connection.
    pub failed: u64,
}

#[derive(Default)]
struct Conn {
    stream: Option<StreamId>,
    decoder: Decoder,
}

/// A client node. See the module docs.
pub struct Client {
    cfg: ClientConfig,
    conns: BTreeMap<Addr, Conn>,
    next_route: usize,
    next_id: u64,
    outstanding: BTreeMap<u64, (usize, Query, Time, Addr)>,
    pub done: Vec<Done>,
    pub stats: ClientStats,
    /// The game's bot for each of the bot's players.
    bots: Vec<game::Bot>,
    /// The turn being played: which bot, and the turn waiting for its call's answer.
    turn: Option<(usize, Turn)>,
    /// Turns finished, by how they ended.
    pub turns: BTreeMap<String, u64>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

const BOT_CALL: usize = usize::MAX;

/// A client timer: a script op by index, or the bot's next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientTimer {
    Op(u32),
    Bot,
}

impl TimerTag for ClientTimer {
    fn to_raw(self) -> u64 {
        match self {
            ClientTimer::Op(i) => i as u64,
            ClientTimer::Bot => 1 << 32,
        }
    }
    fn from_raw(raw: u64) -> Option<Self> {
        match raw {
            r if r < 1 << 32 => Some(ClientTimer::Op(r as u32)),
            r if r == 1 << 32 => Some(ClientTimer::Bot),
            _ => None,
        }
    }
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Client {
        let bots = cfg
            .bot
            .iter()
            .flat_map(|b| &b.players)
            .filter_map(|name| Player::new(name).ok())
            .map(game::Bot::new)
            .collect();
        Client {
            cfg,
            bots,
            turn: None,
            turns: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_route: 0,
            next_id: 0,
            outstanding: BTreeMap::new(),
            done: Vec::new(),
            stats: ClientStats::default(),
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// One call: exactly one RPC to one address.
    fn call<E>(&mut self, ctx: &mut Ctx<'_, E>, op: usize, route: Option<usize>, query: Query) {
        if self.cfg.routes.is_empty() {
            return;
        }
        let idx = route.unwrap_or_else(|| {
            let i = self.next_route % self.cfg.routes.len();
            self.next_route += 1;
            i
        });
        let Some(&(server, actor)) = self.cfg.routes.get(idx) else {
            return;
        };
        self.stats.calls += 1;
        *self.stats.per_route.entry(idx).or_insert(0) += 1;
        let conn = self.conns.entry(server).or_default();
        let stream = *conn.stream.get_or_insert_with(|| ctx.connect(server));
        let id = self.next_id;
        self.next_id += 1;
        let frame = wire::encode(&Frame::Rpc {
            id,
            actor,
            query: query.clone(),
        });
        // Calls are small; the default window holds thousands of them.
        let _ = ctx.write(stream, &frame);
        self.outstanding.insert(id, (op, query, ctx.now(), server));
    }

    /// The bot's timer: start the next turn of one of its players, unless one is still
    /// being played or the bot's time is up.
    fn bot_call<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        let Some(bot) = &self.cfg.bot else {
            return;
        };
        if ctx.now() >= bot.until || self.bots.is_empty() || self.turn.is_some() {
            return;
        }
        let i = ctx.rng().gen_range(0..self.bots.len());
        let (turn, step) = self.bots[i].next_turn(ctx.rng());
        self.bot_step(ctx, i, turn, step);
    }

    /// A turn's next step: its next store call, or its end (then the bot thinks).
    fn bot_step<E>(&mut self, ctx: &mut Ctx<'_, E>, i: usize, turn: Turn, step: Step) {
        match step {
            Step::Need(op) => {
                self.turn = Some((i, turn));
                self.call(ctx, BOT_CALL, None, query_of(op));
            }
            Step::Done(outcome) => self.bot_done(ctx, i, &outcome),
        }
    }

    fn bot_done<E>(&mut self, ctx: &mut Ctx<'_, E>, i: usize, outcome: &Outcome) {
        self.bots[i].finish(outcome);
        *self
            .turns
            .entry(format!("{:?}", outcome.status))
            .or_insert(0) += 1;
        if let Some(bot) = &self.cfg.bot {
            let think = ctx.rng().gen_range(bot.think_ms.0..=bot.think_ms.1);
            ctx.set_timer(Duration::from_millis(think), ClientTimer::Bot);
        }
    }

    /// The answer to the turn's call: the turn goes on with it.
    fn bot_answer<E>(&mut self, ctx: &mut Ctx<'_, E>, answer: Answer) {
        if let Some((i, mut turn)) = self.turn.take() {
            let step = turn.resume(reply_of(answer));
            self.bot_step(ctx, i, turn, step);
        }
    }
}

/// A game operation as a store call.
fn query_of(op: game::Op) -> Query {
    match op {
        game::Op::Get { key } => Query::Get { key },
        game::Op::Put { key, value } => Query::Put { key, value },
        game::Op::List { prefix } => Query::List { prefix },
    }
}

/// A store answer as the game takes it.
fn reply_of(answer: Answer) -> game::Reply {
    match answer {
        Answer::Value(v) => game::Reply::Value(v),
        Answer::Done => game::Reply::Stored,
        Answer::Entries(e) => game::Reply::Entries(e),
        Answer::Error(why) => game::Reply::Failed(why),
    }
}

impl Node for Client {
    type Event = CmudEvent;
    type Timer = ClientTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, CmudEvent>) {
        let now = ctx.now();
        for (i, op) in self.cfg.script.iter().enumerate() {
            let after = op.at.as_nanos().saturating_sub(now.as_nanos());
            ctx.set_timer(Duration::from_nanos(after), ClientTimer::Op(i as u32));
        }
        if self.cfg.bot.is_some() {
            let first = ctx.rng().gen_range(1..50);
            ctx.set_timer(Duration::from_millis(first), ClientTimer::Bot);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CmudEvent>, _: TimerId, tag: ClientTimer) {
        match tag {
            ClientTimer::Op(i) => {
                if let Some(op) = self.cfg.script.get(i as usize).cloned() {
                    self.call(ctx, i as usize, op.route, op.query);
                }
            }
            ClientTimer::Bot => self.bot_call(ctx),
        }
    }

    fn on_stream(&mut self, ctx: &mut Ctx<'_, CmudEvent>, event: StreamEvent) {
        let stream = event.stream();
        let Some((&server, _)) = self.conns.iter().find(|(_, c)| c.stream == Some(stream)) else {
            return;
        };
        match event {
            StreamEvent::Data { data, .. } => {
                let conn = self.conns.get_mut(&server).expect("found");
                conn.decoder.push(&data);
                loop {
                    let conn = self.conns.get_mut(&server).expect("found");
                    match conn.decoder.next_frame() {
                        Ok(Some(Frame::Reply { id, answer })) => {
                            if let Some((op, query, sent, _)) = self.outstanding.remove(&id) {
                                self.done.push(Done {
                                    op,
                                    query,
                                    answer: answer.clone(),
                                    sent,
                                    at: ctx.now(),
                                });
                                if op == BOT_CALL {
                                    self.bot_answer(ctx, answer);
                                }
                            }
                        }
                        Ok(None) => break,
                        Ok(Some(_)) | Err(_) => {
                            ctx.close(stream);
                            self.lost(ctx, server);
                            break;
                        }
                    }
                }
            }
            StreamEvent::Closed { .. } => self.lost(ctx, server),
            _ => {}
        }
    }
}

impl Client {
    /// The connection to `server` is gone: its calls fail (the next call dials again).
    fn lost<E>(&mut self, ctx: &mut Ctx<'_, E>, server: Addr) {
        let now = ctx.now();
        self.conns.remove(&server);
        let gone: Vec<u64> = self
            .outstanding
            .iter()
            .filter(|(_, o)| o.3 == server)
            .map(|(&id, _)| id)
            .collect();
        for id in gone {
            let (op, query, sent, _) = self.outstanding.remove(&id).expect("listed");
            self.stats.failed += 1;
            let answer = Answer::Error("connection lost".into());
            self.done.push(Done {
                op,
                query,
                answer: answer.clone(),
                sent,
                at: now,
            });
            if op == BOT_CALL {
                self.bot_answer(ctx, answer);
            }
        }
    }
}

/// A stand-in query receiver for the client tests: answers every RPC after `delay`, from
/// canned data, and counts what it got.
#[derive(Debug, Default)]
pub struct FakeReceiver {
    pub delay: Duration,
    pub rpcs: Vec<Query>,
    decoders: BTreeMap<StreamId, Decoder>,
    due: VecDeque<(StreamId, u64, Answer)>,
}

impl FakeReceiver {
    pub fn new(delay: Duration) -> FakeReceiver {
        FakeReceiver {
            delay,
            ..FakeReceiver::default()
        }
    }

    /// The canned answer to a query.
    pub fn answer(query: &Query) -> Answer {
        match query {
            Query::Get { key } => Answer::Value(Some(format!("value-of-{key}"))),
            Query::Put { .. } => Answer::Done,
            Query::List { prefix } => Answer::Entries(vec![
                (format!("{prefix}a"), "1".into()),
                (format!("{prefix}b"), "2".into()),
            ]),
        }
    }
}

impl Node for FakeReceiver {
    type Event = CmudEvent;
    type Timer = ();

    fn on_start(&mut self, _: &mut Ctx<'_, CmudEvent>) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CmudEvent>, _: TimerId, _: ()) {
        if let Some((stream, id, answer)) = self.due.pop_front() {
            let _ = ctx.write(stream, &wire::encode(&Frame::Reply { id, answer }));
        }
    }

    fn on_stream(&mut self, ctx: &mut Ctx<'_, CmudEvent>, event: StreamEvent) {
        match event {
            StreamEvent::Accepted { stream, .. } => {
                self.decoders.insert(stream, Decoder::default());
            }
            StreamEvent::Data { stream, data } => {
                let Some(d) = self.decoders.get_mut(&stream) else {
                    return;
                };
                d.push(&data);
                while let Ok(Some(frame)) = d.next_frame() {
                    if let Frame::Rpc { id, query, .. } = frame {
                        self.due
                            .push_back((stream, id, FakeReceiver::answer(&query)));
                        self.rpcs.push(query);
                        ctx.set_timer(self.delay, ());
                    }
                }
            }
            _ => {}
        }
    }
}

/// An actor that keeps every number it is told, with the time.
#[derive(Debug, Default)]
pub struct Recorder {
    pub got: Vec<(u32, u64)>,
}

impl Actor for Recorder {
    type Msg = u32;
    fn on_message(&mut self, ctx: &mut ActorCtx<'_>, msg: u32) -> Result<(), String> {
        self.got.push((msg, ctx.now_ms()));
        Ok(())
    }
}

/// A bare actor system with one [`Recorder`] and one channel ref, for the remote-tell
/// tests: at start it tells `send` numbers to `target` (if any), as fast as it can.
pub struct TellNode {
    pub system: Option<ActorSystem<Recorder>>,
    pub latency: Duration,
    /// What to send at start: to this ref, these numbers.
    pub send: Option<(ActorRef, Vec<u32>)>,
    /// The channel ref's reply and when it came (ms).
    pub channel_reply: Option<(u32, u64)>,
    channel: u64,
    decoders: BTreeMap<StreamId, Decoder>,
}

impl std::fmt::Debug for TellNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TellNode").finish_non_exhaustive()
    }
}

impl TellNode {
    pub fn new(latency: Duration, send: Option<(ActorRef, Vec<u32>)>) -> TellNode {
        TellNode {
            system: None,
            latency,
            send,
            channel_reply: None,
            channel: 0,
            decoders: BTreeMap::new(),
        }
    }

    /// The recorder's ref on node `a` (counter 1) and its channel's (counter 2).
    pub fn refs(a: Addr) -> (ActorRef, ActorRef) {
        let address = sim_address(a);
        (
            ActorRef {
                address: address.clone(),
                counter: 1,
            },
            ActorRef {
                address,
                counter: 2,
            },
        )
    }

    pub fn recorded(&self) -> &[(u32, u64)] {
        self.system
            .as_ref()
            .and_then(|s| s.actor(1))
            .map_or(&[], |r| &r.got)
    }

    fn settle(&mut self, ctx: &mut Ctx<'_, CmudEvent>) {
        let Some(sys) = &mut self.system else { return };
        sys.run(ctx);
        for c in sys.take_answered() {
            if c == self.channel {
                let at = sys.clock_ms(ctx.now());
                self.channel_reply = sys.take_reply(c).map(|v| (v, at));
            }
        }
    }
}

impl Node for TellNode {
    type Event = CmudEvent;
    type Timer = SystemTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, CmudEvent>) {
        let mut sys = ActorSystem::new(sim_address(ctx.me()), Resolve::Sim, 0);
        sys.set_default_latency(self.latency);
        sys.start_actor(|_| Recorder::default());
        self.channel = sys.new_channel().counter;
        if let Some((to, numbers)) = &self.send {
            for n in numbers {
                sys.tell(to, n);
            }
        }
        self.system = Some(sys);
        self.settle(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CmudEvent>, _: TimerId, tag: SystemTimer) {
        if let Some(sys) = &mut self.system {
            sys.on_timer(ctx, tag);
        }
        self.settle(ctx);
    }

    fn on_stream(&mut self, ctx: &mut Ctx<'_, CmudEvent>, event: StreamEvent) {
        let Some(sys) = &mut self.system else { return };
        if sys.owns_stream(event.stream()) {
            sys.on_stream_event(ctx, event);
        } else if let StreamEvent::Data { stream, data } = event {
            let d = self.decoders.entry(stream).or_default();
            d.push(&data);
            while let Ok(Some(Frame::Tell { to, payload })) = d.next_frame() {
                sys.tell_from_remote(to, payload);
            }
        }
        self.settle(ctx);
    }
}

/// Runs the mailbox test intents (SPEC.md §3 "Mailbox") on [`Mailbox`]es, with timers
/// where the original used goroutines: a pop on an empty mailbox finds nothing until a
/// later push; two pushers interleave; Close ends everything. Every broken expectation
/// is recorded as a [`CmudEvent::Mailbox`].
#[derive(Debug, Default)]
pub struct MailboxNode {
    pub checks: u32,
    pending_pop: Mailbox<u32>,
    pushers: [u32; 2],
    popped: Vec<u32>,
}

impl MailboxNode {
    fn expect(&mut self, ctx: &mut Ctx<'_, CmudEvent>, ok: bool, what: &str) {
        self.checks += 1;
        if !ok {
            ctx.record(CmudEvent::Mailbox(what.to_string()));
        }
    }
}

impl Node for MailboxNode {
    type Event = CmudEvent;
    type Timer = u64;

    fn on_start(&mut self, ctx: &mut Ctx<'_, CmudEvent>) {
        // Basic1: push and pop one.
        let mut m = Mailbox::new();
        m.push(7u32);
        let got = m.pop();
        self.expect(
            ctx,
            got == Some(7),
            "Basic1: push then pop gives the message",
        );
        // Basic2: interleaved batches keep FIFO order.
        let mut m = Mailbox::new();
        let mut want = VecDeque::new();
        let mut ok = true;
        for batch in 0..10u32 {
            for i in 0..batch {
                m.push(batch * 100 + i);
                want.push_back(batch * 100 + i);
            }
            for _ in 0..batch / 2 {
                ok &= m.pop() == want.pop_front();
            }
        }
        while let Some(w) = want.pop_front() {
            ok &= m.pop() == Some(w);
        }
        self.expect(
            ctx,
            ok && m.pop().is_none(),
            "Basic2: FIFO over interleaved batches",
        );
        // PushBlock: 10000 push/pop pairs, at once (no virtual time passes).
        let mut m = Mailbox::new();
        let mut ok = true;
        for i in 0..10_000u32 {
            m.push(i);
            ok &= m.pop() == Some(i);
        }
        self.expect(ctx, ok, "PushBlock: 10000 push/pop pairs");
        // ClosePushPop: push 0, close, push 1: both pops give nothing.
        let mut m = Mailbox::new();
        m.push(0u32);
        m.close();
        m.push(1);
        let (a, b) = (m.pop(), m.pop());
        self.expect(
            ctx,
            a.is_none() && b.is_none(),
            "ClosePushPop: pops after close give nothing",
        );
        // Multiple: two mailboxes do not mix.
        let (mut x, mut y) = (Mailbox::new(), Mailbox::new());
        x.push(1u32);
        y.push(2u32);
        let (gx, gy) = (x.pop(), y.pop());
        self.expect(
            ctx,
            gx == Some(1) && gy == Some(2) && x.pop().is_none(),
            "Multiple: independent mailboxes",
        );
        // PopBlock: empty now; a push 50 ms later is popped; Close at 100 ms ends it.
        let empty = self.pending_pop.pop();
        self.expect(
            ctx,
            empty.is_none(),
            "PopBlock: an empty mailbox has nothing to pop",
        );
        ctx.set_timer(Duration::from_millis(50), 1);
        ctx.set_timer(Duration::from_millis(100), 2);
        // Basic3: two pushers of 100 each, interleaved by timers, then 200 pops.
        for i in 0..200u64 {
            let at = ctx.rng().gen_range(200..20_000u64);
            ctx.set_timer(Duration::from_micros(at), 10 + (i % 2));
        }
        ctx.set_timer(Duration::from_millis(150), 3);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CmudEvent>, _: TimerId, tag: u64) {
        match tag {
            1 => {
                self.pending_pop.push(42);
                let got = self.pending_pop.pop();
                self.expect(
                    ctx,
                    got == Some(42),
                    "PopBlock: the waiting pop gets the later push",
                );
            }
            2 => {
                self.pending_pop.close();
                let got = self.pending_pop.pop();
                self.expect(
                    ctx,
                    got.is_none(),
                    "PopBlock: Close unblocks the pop with nothing",
                );
            }
            10 | 11 => {
                let p = (tag - 10) as usize;
                self.popped.push(p as u32 * 1000 + self.pushers[p]);
                self.pushers[p] += 1;
            }
            3 => {
                let mut m = Mailbox::new();
                for &v in &self.popped {
                    m.push(v);
                }
                let mut last = [None::<u32>; 2];
                let mut ok = true;
                let mut n = 0;
                while let Some(v) = m.pop() {
                    let p = (v / 1000) as usize;
                    ok &= last[p].is_none_or(|l| l < v);
                    last[p] = Some(v);
                    n += 1;
                }
                self.expect(
                    ctx,
                    ok && n == 200,
                    "Basic3: 200 pops, each pusher's order kept",
                );
            }
            _ => {}
        }
    }
}

faultline::node_kinds! {
    /// One node of a cmud world.
    #[derive(Debug)]
    pub enum CmudNode: CmudEvent {
        Server(Box<ServerNode>) => CmudEvent::Server,
        Client(Box<Client>),
        Fake(FakeReceiver),
        Tell(Box<TellNode>),
        Mailbox(MailboxNode),
    }
}

impl CmudNode {
    pub fn as_server(&self) -> Option<&ServerNode> {
        self.kind::<Box<ServerNode>>().map(|b| &**b)
    }
    pub fn as_client(&self) -> Option<&Client> {
        self.kind::<Box<Client>>().map(|b| &**b)
    }
}
