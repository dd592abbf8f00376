//! The server, miner and client nodes in a simulated world: the handout's answer end to
//! end, and a hostile LSP peer that the server survives.

use faultline::{Addr, Ctx, Node, Time, TimerId, World};
use lsp::{ClientEndpoint, Params};
use miner::server::ServerStats;
use miner::{Best, ClientNode, MinerEvent, Outcome, ServerNode, WorkerNode};

fn params() -> Params {
    Params::new(5, 100, 4, 0, 4)
}

/// A raw LSP client that writes whatever payloads it is given.
struct RawPeer {
    server: Addr,
    payloads: Vec<Vec<u8>>,
    lsp: Option<ClientEndpoint>,
}

impl Node for RawPeer {
    type Event = MinerEvent;
    type Timer = lsp::LspTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        let mut c = ClientEndpoint::connect(ctx, self.server, 7, params());
        for p in self.payloads.drain(..) {
            c.write(ctx, p).expect("queued");
        }
        self.lsp = Some(c);
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, MinerEvent>, from: Addr, data: &[u8]) {
        let c = self.lsp.as_mut().expect("started");
        c.on_datagram(ctx, from, data);
        while c.poll_event().is_some() {}
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, MinerEvent>, timer: TimerId, _: lsp::LspTimer) {
        let c = self.lsp.as_mut().expect("started");
        c.on_timer(ctx, timer);
        while c.poll_event().is_some() {}
    }
}

/// A miner that joins and answers every request at once with a wrong hash.
struct Liar {
    server: Addr,
    lsp: Option<ClientEndpoint>,
    requests: u64,
}

impl Liar {
    fn pump(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        let c = self.lsp.as_mut().expect("started");
        while let Some(e) = c.poll_event() {
            if let lsp::ClientEvent::Message(bytes) = e {
                if let Ok(miner::Message::Request { lower, .. }) = miner::Message::decode(&bytes) {
                    self.requests += 1;
                    let lie = miner::Message::Result {
                        hash: 0,
                        nonce: lower,
                    };
                    let _ = c.write(ctx, lie.encode());
                }
            }
        }
    }
}

impl Node for Liar {
    type Event = MinerEvent;
    type Timer = lsp::LspTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, MinerEvent>) {
        let mut c = ClientEndpoint::connect(ctx, self.server, 9, params());
        c.write(ctx, miner::Message::Join.encode()).expect("queued");
        self.lsp = Some(c);
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, MinerEvent>, from: Addr, data: &[u8]) {
        self.lsp
            .as_mut()
            .expect("started")
            .on_datagram(ctx, from, data);
        self.pump(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, MinerEvent>, timer: TimerId, _: lsp::LspTimer) {
        self.lsp.as_mut().expect("started").on_timer(ctx, timer);
        self.pump(ctx);
    }
}

faultline::node_kinds! {
    /// The three roles, a raw LSP client, or a lying miner.
    #[allow(clippy::large_enum_variant)]
    enum TestNode: MinerEvent {
        Server(ServerNode),
        Worker(WorkerNode),
        Client(ClientNode),
        Raw(RawPeer),
        Liar(Liar),
    }
}

fn liar(server: Addr) -> TestNode {
    TestNode::Liar(Liar {
        server,
        lsp: None,
        requests: 0,
    })
}

fn requests_lied_to(world: &World<TestNode>, addr: Addr) -> u64 {
    match world.node(addr) {
        Some(TestNode::Liar(l)) => l.requests,
        _ => panic!("not a liar"),
    }
}

#[test]
fn a_lying_miner_is_quarantined_and_an_honest_one_answers() {
    let mut world: World<TestNode> = World::new(5);
    let server =
        world.add_node(|_| TestNode::Server(ServerNode::new(params(), Default::default())));
    let liar = world.add_node(move |_| liar(server));
    world.add_node(move |_| TestNode::Worker(WorkerNode::new(server, params(), Some(100_000))));
    let client = world.add_node(move |_| {
        TestNode::Client(ClientNode::new(server, params(), "truth".into(), 50_000))
    });
    world.run_until(Time::from_secs(10)).unwrap();
    let want = miner::min_hash("truth", 0, 50_000).unwrap();
    assert_eq!(outcome(&world, client), Some(Outcome::Result(want)));
    let stats = server_stats(&world);
    assert_eq!(stats.miners_quarantined, 1, "{stats:?}");
    // Its first chunk (and at most a prefetched second), never the same chunk again.
    assert!(
        requests_lied_to(&world, liar) <= 2,
        "{}",
        requests_lied_to(&world, liar)
    );
}

#[test]
fn a_client_is_told_when_only_lying_miners_are_left() {
    let mut world: World<TestNode> = World::new(6);
    let server =
        world.add_node(|_| TestNode::Server(ServerNode::new(params(), Default::default())));
    let liars = [
        world.add_node(move |_| liar(server)),
        world.add_node(move |_| liar(server)),
    ];
    let client = world.add_node(move |_| {
        TestNode::Client(ClientNode::new(server, params(), "nobody".into(), 50_000))
    });
    world.run_until(Time::from_secs(10)).unwrap();
    assert_eq!(outcome(&world, client), Some(Outcome::Disconnected));
    let stats = server_stats(&world);
    assert_eq!(
        (stats.miners_quarantined, stats.clients_without_miners),
        (2, 1),
        "{stats:?}"
    );
    for l in liars {
        assert!(requests_lied_to(&world, l) <= 2);
    }
}

fn outcome(world: &World<TestNode>, addr: Addr) -> Option<Outcome> {
    match world.node(addr) {
        Some(TestNode::Client(c)) => c.client().and_then(|c| c.outcome()),
        _ => None,
    }
}

fn server_stats(world: &World<TestNode>) -> ServerStats {
    match world.node(Addr(0)) {
        Some(TestNode::Server(s)) => s.server().expect("started").stats().clone(),
        _ => panic!("server down"),
    }
}

#[test]
fn handout_request_is_answered_end_to_end() {
    let mut world: World<TestNode> = World::new(1);
    let server =
        world.add_node(|_| TestNode::Server(ServerNode::new(params(), Default::default())));
    world.add_node(move |_| TestNode::Worker(WorkerNode::new(server, params(), Some(1_000))));
    let client = world
        .add_node(move |_| TestNode::Client(ClientNode::new(server, params(), "msg".into(), 2)));
    world.run_until(Time::from_secs(2)).unwrap();
    assert_eq!(
        outcome(&world, client),
        Some(Outcome::Result(Best {
            hash: 4754799531757243342,
            nonce: 1
        }))
    );
}

#[test]
fn request_waits_for_a_late_miner_and_client_without_server_disconnects() {
    let mut world: World<TestNode> = World::new(2);
    let server =
        world.add_node(|_| TestNode::Server(ServerNode::new(params(), Default::default())));
    let client = world.add_node(move |_| {
        TestNode::Client(ClientNode::new(server, params(), "late".into(), 30_000))
    });
    // No miner for 3 s: the request waits (heartbeats keep the client connected).
    world.run_until(Time::from_secs(3)).unwrap();
    assert_eq!(outcome(&world, client), None);
    world.add_node(move |_| TestNode::Worker(WorkerNode::new(server, params(), Some(100_000))));
    world.run_until(Time::from_secs(5)).unwrap();
    let want = miner::min_hash("late", 0, 30_000).unwrap();
    assert_eq!(outcome(&world, client), Some(Outcome::Result(want)));
    // A client whose server is gone prints Disconnected.
    let orphan =
        world.add_node(|_| TestNode::Client(ClientNode::new(Addr(99), params(), "x".into(), 1)));
    world.run_until(Time::from_secs(7)).unwrap();
    assert_eq!(outcome(&world, orphan), Some(Outcome::Disconnected));
}

#[test]
fn server_drops_hostile_payloads_and_keeps_serving() {
    let mut world: World<TestNode> = World::new(3);
    let server =
        world.add_node(|_| TestNode::Server(ServerNode::new(params(), Default::default())));
    world.add_node(move |_| TestNode::Worker(WorkerNode::new(server, params(), Some(100_000))));
    let result = miner::Message::Result { hash: 1, nonce: 1 }.encode();
    let join = miner::Message::Join.encode();
    let request = miner::Message::Request {
        data: "r".into(),
        lower: 0,
        upper: 10,
    }
    .encode();
    // Garbage; a Result from a stranger; a client that then claims to be a miner; a
    // miner that then sends a Request and an unsolicited Result.
    let hostile: Vec<Vec<Vec<u8>>> = vec![
        vec![
            b"not json".to_vec(),
            br#"{"Type":9}"#.to_vec(),
            vec![0xff; 40],
        ],
        vec![result.clone()],
        vec![request.clone(), join.clone()],
        vec![join.clone(), request.clone(), result.clone()],
    ];
    for payloads in hostile {
        world.add_node(move |_| {
            TestNode::Raw(RawPeer {
                server,
                payloads: payloads.clone(),
                lsp: None,
            })
        });
    }
    let client = world.add_node(move |_| {
        TestNode::Client(ClientNode::new(server, params(), "ok".into(), 20_000))
    });
    world.run_until(Time::from_secs(3)).unwrap();
    let stats = server_stats(&world);
    assert_eq!(stats.malformed, 3, "{stats:?}");
    // Stranger's Result, the client's Join, the miner's Request and its Result.
    assert_eq!(stats.unexpected, 4, "{stats:?}");
    assert_eq!(stats.miners_joined, 2);
    let want = miner::min_hash("ok", 0, 20_000).unwrap();
    assert_eq!(
        outcome(&world, client),
        Some(Outcome::Result(want)),
        "{stats:?}"
    );
}

#[test]
fn a_request_too_long_for_a_job_disconnects_its_client_and_spares_the_miners() {
    let mut world: World<TestNode> = World::new(4);
    let server =
        world.add_node(|_| TestNode::Server(ServerNode::new(params(), Default::default())));
    world.add_node(move |_| TestNode::Worker(WorkerNode::new(server, params(), Some(100_000))));
    // The client's own request (Lower 0, Upper 1) fits a payload; a job with 20-digit
    // bounds would not.
    let long = "x".repeat(lsp::MAX_PAYLOAD - 90);
    assert!(
        miner::Message::Request {
            data: long.clone(),
            lower: 0,
            upper: 1
        }
        .encode()
        .len()
            <= lsp::MAX_PAYLOAD
    );
    let greedy = world
        .add_node(move |_| TestNode::Client(ClientNode::new(server, params(), long.clone(), 1)));
    let fine = world.add_node(move |_| {
        TestNode::Client(ClientNode::new(server, params(), "fine".into(), 5_000))
    });
    world.run_until(Time::from_secs(3)).unwrap();
    assert_eq!(outcome(&world, greedy), Some(Outcome::Disconnected));
    let want = miner::min_hash("fine", 0, 5_000).unwrap();
    assert_eq!(outcome(&world, fine), Some(Outcome::Result(want)));
    let stats = server_stats(&world);
    assert_eq!((stats.too_large, stats.miners_lost), (1, 0), "{stats:?}");
}
