//! The cmud scenarios (systems/cmud/SPEC.md §7, §8).
//!
//! Every official test intent is a catalog scenario named after its group; the group's
//! numbered variants (Frequency1-4, Startup1-5, ...) are picked by the seed (`seed %
//! variants`) or by `--set variant=N`, so a sweep covers them all. Sizes, latencies and
//! deadlines are the course's, in virtual time. The LWW groups run on a fixed 1 ms
//! network, so which of two "concurrent" Puts wins is decided by the uids, as in the tests.
//! Beyond the course: `cmud-swarm` (in `swarm`), `cmud-clock-skew`, and the repairs in
//! `repair`: `cmud-link-reset` and `cmud-crash-after-put`.

mod repair;
mod swarm;

pub use repair::{crash_after_put, link_reset};
pub use swarm::{Shape, Swarm};

use super::invariants as inv;
use super::nodes::{CmudNode, FakeReceiver, ScriptOp, TellNode};
use super::world::{fake_world, Plan, ServerPlan};
use cmud::wire::Query;
use faultline::harness::{drive, Param, Report, RunSpec, Scenario};
use faultline::swarm::FaultProfile;
use faultline::{Budget, LinkFaults, Time};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Duration;

/// The course's remote latency.
const REMOTE: Duration = Duration::from_millis(200);
/// Remote tests wait this long after the servers start.
const WARMUP: u64 = 800;

/// A group of official tests: one scenario, a plan per variant.
pub struct Group {
    pub name: &'static str,
    pub about: &'static str,
    pub variants: u64,
    pub plan: fn(u64, &mut ChaCha8Rng) -> Plan,
    pub budget: Budget,
}

impl Scenario for Group {
    fn name(&self) -> &'static str {
        self.name
    }
    fn about(&self) -> &'static str {
        self.about
    }
    fn budget(&self) -> Budget {
        self.budget
    }
    fn params(&self) -> Vec<Param> {
        variant_param()
    }
    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let v = spec.param("variant", spec.seed % self.variants);
        if v >= self.variants {
            return Err(format!("{} has variants 0..{}", self.name, self.variants));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0xc0ffee);
        let plan = (self.plan)(v, &mut rng);
        let mut report = plan.run(self.name, spec, None)?;
        report.metrics.insert("variant".into(), v.into());
        Ok(report)
    }
}

fn servers(n: usize, actors: u32) -> Vec<ServerPlan> {
    (0..n)
        .map(|_| ServerPlan {
            at: Time::ZERO,
            actors,
        })
        .collect()
}

fn local(actors: u32) -> Plan {
    Plan {
        servers: servers(1, actors),
        ..Plan::default()
    }
}

fn remote(n: usize, actors: u32) -> Plan {
    Plan {
        servers: servers(n, actors),
        latency: REMOTE,
        ..Plan::default()
    }
}

/// OneActor tests: a single server with one actor, sequential calls 10 ms apart, each
/// answer exact; all within 5 s.
pub fn one_actor(v: u64, _: &mut ChaCha8Rng) -> Plan {
    let mut p = local(1);
    p.end = Time::from_secs(5);
    let mut t = 100;
    let mut next = || {
        t += 10;
        t
    };
    let mut model: BTreeMap<String, String> = BTreeMap::new();
    match v {
        0 => p.get(next(), 0, 0, "missing", None),
        1 => {
            p.put(next(), 0, 0, "k", "v");
            p.get(next(), 0, 0, "k", Some("v"));
        }
        2 => {
            for i in 0..10 {
                p.put(next(), 0, 0, "k", &format!("v{i}"));
                p.get(next(), 0, 0, "k", Some(&format!("v{i}")));
            }
        }
        3 => {
            p.list(next(), 0, 0, "", &model);
            p.list(next(), 0, 0, "filling/", &model);
        }
        4 => {
            for animal in ["cat", "frog", "dog"] {
                for i in 0..3 {
                    let (k, val) = (format!("{animal}/{i}"), format!("{animal}{i}"));
                    p.put(next(), 0, 0, &k, &val);
                    model.insert(k, val);
                }
            }
            for prefix in ["cat/", "frog/", "dog/", "", "bird/"] {
                p.list(next(), 0, 0, prefix, &model);
            }
        }
        5 => {
            for i in 0..20 {
                let k = format!("t/{}", i % 5);
                match i % 3 {
                    0 => {
                        p.put(next(), 0, 0, &k, &format!("{i}"));
                        model.insert(k, format!("{i}"));
                    }
                    1 => {
                        let want = model.get(&k).cloned();
                        p.get(next(), 0, 0, &k, want.as_deref());
                    }
                    _ => p.list(next(), 0, 0, "t/", &model),
                }
            }
        }
        6 => {
            // Two clients: the second is a later call on the same server.
            p.put(next(), 0, 0, "shared", "x");
            p.get(next(), 0, 0, "shared", Some("x"));
        }
        _ => {
            // Four clients Put at once, then everyone Gets everything.
            for c in 0..4 {
                p.put(200, 0, 0, &format!("c{c}"), &format!("v{c}"));
            }
            for c in 0..4 {
                for k in 0..4 {
                    p.get(300 + c, 0, 0, &format!("c{k}"), Some(&format!("v{k}")));
                }
            }
        }
    }
    p
}

pub fn local_basic(v: u64, _: &mut ChaCha8Rng) -> Plan {
    let actors = [2, 2, 4, 4][v as usize];
    let mut p = local(actors);
    if v.is_multiple_of(2) {
        p.put(100, 0, 0, "k", "v");
        p.get_everywhere(600, "k", Some("v"));
    } else {
        for a in 0..actors {
            p.put(100, 0, a, &format!("k{a}"), &format!("v{a}"));
        }
        for a in 0..actors {
            p.get_everywhere(600, &format!("k{a}"), Some(&format!("v{a}")));
        }
    }
    p.checks.min_actor_messages = (actors - 1) as u64;
    p.end = Time::from_millis(1500);
    p
}

/// 300 Puts 10 ms apart, from `start_ms`, on actor 0 of server 0 or spread over every
/// actor of every server; the map they make.
fn many_puts(p: &mut Plan, start_ms: u64, spread: bool, tag: &str) -> BTreeMap<String, String> {
    let mut model = BTreeMap::new();
    let n = p.servers.len();
    for i in 0..300u64 {
        let (s, a) = if spread {
            let s = i as usize % n;
            (s, ((i as usize / n) % p.servers[s].actors as usize) as u32)
        } else {
            (0, 0)
        };
        let (k, val) = (format!("{tag}{i:03}"), format!("v{i}"));
        p.put(start_ms + i * 10, s, a, &k, &val);
        model.insert(k, val);
    }
    model
}

pub fn local_frequency(v: u64, _: &mut ChaCha8Rng) -> Plan {
    let mut p = local([2, 2, 4, 4][v as usize]);
    let model = many_puts(&mut p, 100, v % 2 == 1, "f");
    p.list_everywhere(100 + 2990 + 500, "", &model);
    p.checks.rate = true;
    p.end = Time::from_millis(4000);
    p
}

/// Round 1 (20 Puts), 1000 filler Puts, round 2 (the same 20 keys again); bytes sent in
/// each round's window are compared. Times in ms: (round 1, filler, round 2, window).
fn size_rounds(p: &mut Plan, spread: bool, r1: u64, filler: u64, r2: u64, window: u64) {
    let n = p.servers.len();
    let mut model = BTreeMap::new();
    let mut put = |p: &mut Plan, at: u64, i: u64, k: String, val: String| {
        let s = if spread { i as usize % n } else { 0 };
        let a = if spread {
            (i / n as u64) as u32 % p.servers[s].actors
        } else {
            0
        };
        p.put(at, s, a, &k, &val);
        model.insert(k, val);
    };
    for i in 0..20 {
        put(p, r1 + i * 10, i, format!("round/{i}"), "a".into());
    }
    for i in 0..1000 {
        put(p, filler + i * 2, i, format!("filler/{i}"), format!("{i}"));
    }
    for i in 0..20 {
        put(p, r2 + i * 10, i, format!("round/{i}"), "b".into());
    }
    p.probes = vec![
        Time::from_millis(r1 - 50),
        Time::from_millis(r1 - 50 + window),
        Time::from_millis(r2 - 50),
        Time::from_millis(r2 - 50 + window),
    ];
    p.checks.bytes = true;
    p.checks.rate = true;
    let last = r2 + window;
    p.list_everywhere(last + 100, "", &model);
    p.end = Time::from_millis(last + 600);
}

pub fn local_size(v: u64, _: &mut ChaCha8Rng) -> Plan {
    let mut p = local([2, 2, 4, 4][v as usize]);
    size_rounds(&mut p, v % 2 == 1, 100, 1000, 4000, 700);
    p
}

/// LWW1-4 over `n` places (actors of one server, or servers of one actor each); `d` is
/// the sync deadline, `t0` the first Put.
fn lww(mut p: Plan, v: u64, t0: u64, d: u64, place: fn(u32) -> (usize, u32)) -> Plan {
    let at = |i: u32| place(i);
    let put = |p: &mut Plan, t: u64, i: u32, val: &str| {
        let (s, a) = at(i);
        p.put(t, s, a, "k", val);
    };
    match v {
        0 => {
            put(&mut p, t0, 0, "a");
            put(&mut p, t0 + 10, 1, "b");
            p.get_everywhere(t0 + 10 + d, "k", Some("b"));
        }
        1 | 2 => {
            // Concurrent Puts in the same ms: place 1's uid is the greater, it wins; then
            // a causal overwrite on the winner (LWW2) or on a third place (LWW3).
            put(&mut p, t0, 0, "a");
            put(&mut p, t0, 1, "b");
            p.get_everywhere(t0 + d, "k", Some("b"));
            put(&mut p, t0 + d + 50, if v == 1 { 1 } else { 2 }, "c");
            p.get_everywhere(t0 + 2 * d + 50, "k", Some("c"));
        }
        _ => {
            // The losing value, Put again, gets a newer stamp and wins.
            put(&mut p, t0, 0, "a");
            put(&mut p, t0 + 10, 1, "b");
            p.get_everywhere(t0 + 10 + d, "k", Some("b"));
            put(&mut p, t0 + d + 50, 0, "a");
            p.get_everywhere(t0 + 2 * d + 50, "k", Some("a"));
        }
    }
    p.end = Time::from_millis(t0 + 2 * d + 600);
    p.fixed_latency = true;
    p
}

pub fn local_lww(v: u64, _: &mut ChaCha8Rng) -> Plan {
    lww(local(4), v, 100, 500, |i| (0, i))
}

/// `clients` clients of 100 random Get/Put/List calls on 50 keys with pauses, spread over
/// every actor; expectations are the end checks (convergence, LWW).
fn stress(p: &mut Plan, r: &mut ChaCha8Rng, start_ms: u64, clients: usize) {
    let n = p.servers.len();
    for c in 0..clients {
        let s = c % n;
        let mut t = start_ms;
        for _ in 0..100 {
            t += r.gen_range(1..40);
            let a = r.gen_range(0..p.servers[s].actors);
            let key = format!("key{}", r.gen_range(0..50));
            let query = match r.gen_range(0..3) {
                0 => Query::Get { key },
                1 => Query::Put {
                    key,
                    value: format!("c{c}t{t}"),
                },
                _ => Query::List {
                    prefix: format!("key{}", r.gen_range(0..5)),
                },
            };
            p.op(t, s, a, query, None);
        }
    }
    p.end = Time::from_millis(start_ms + 100 * 40 + 3000);
}

pub fn local_stress(v: u64, r: &mut ChaCha8Rng) -> Plan {
    let mut p = local([2, 4][v as usize]);
    stress(&mut p, r, 100, 4);
    p
}

pub fn remote_basic(v: u64, _: &mut ChaCha8Rng) -> Plan {
    remote_basic_with(v, 1)
}

pub fn remote_local(v: u64, _: &mut ChaCha8Rng) -> Plan {
    remote_basic_with(v, 4)
}

fn remote_basic_with(v: u64, actors: u32) -> Plan {
    let n = [2, 2, 4, 4][v as usize];
    let mut p = remote(n, actors);
    if v.is_multiple_of(2) {
        p.put(WARMUP, 0, 0, "k", "v");
        p.get_everywhere(WARMUP + 2000, "k", Some("v"));
    } else {
        for s in 0..n {
            p.put(WARMUP, s, 0, &format!("k{s}"), &format!("v{s}"));
        }
        for s in 0..n {
            p.get_everywhere(WARMUP + 2000, &format!("k{s}"), Some(&format!("v{s}")));
        }
    }
    p.checks.remote_bytes = vec![1];
    p.end = Time::from_millis(WARMUP + 2500);
    p
}

pub fn remote_frequency(v: u64, _: &mut ChaCha8Rng) -> Plan {
    let mut p = remote([2, 2, 4, 4][v as usize], 4);
    let model = many_puts(&mut p, WARMUP, v % 2 == 1, "f");
    p.list_everywhere(WARMUP + 2990 + 2000, "", &model);
    p.checks.rate = true;
    p.end = Time::from_millis(WARMUP + 2990 + 2500);
    p
}

pub fn remote_size(v: u64, _: &mut ChaCha8Rng) -> Plan {
    let mut p = remote([2, 2, 4, 4][v as usize], 4);
    size_rounds(&mut p, v % 2 == 1, WARMUP, 3500, 7000, 2000);
    p
}

pub fn remote_nobcast(v: u64, _: &mut ChaCha8Rng) -> Plan {
    let mut p = remote(3, 1);
    p.servers[0].actors = [1, 4][v as usize];
    p.servers[2].actors = 4;
    let mut model = BTreeMap::new();
    for i in 0..50u64 {
        let a = (i % p.servers[0].actors as u64) as u32;
        let (k, val) = (format!("nb/{i}"), format!("{i}"));
        p.put(WARMUP + i * 10, 0, a, &k, &val);
        model.insert(k, val);
    }
    p.list_everywhere(WARMUP + 500 + 2000, "", &model);
    p.checks.nobcast = Some((2, 1));
    p.end = Time::from_millis(WARMUP + 3000);
    p
}

pub fn remote_lww(v: u64, _: &mut ChaCha8Rng) -> Plan {
    lww(remote(4, 1), v, WARMUP, 2000, |i| (i as usize, 0))
}

pub fn startup(v: u64, _: &mut ChaCha8Rng) -> Plan {
    let later = |at: u64, actors: u32| ServerPlan {
        at: Time::from_millis(at),
        actors,
    };
    let mut p = Plan {
        latency: REMOTE,
        ..Plan::default()
    };
    match v {
        0 | 1 => {
            let actors = if v == 0 { 1 } else { 4 };
            p.servers = vec![later(0, actors), later(1000, actors)];
            p.put(100, 0, 0, "k", "old");
            for a in 0..actors {
                p.get(3000, 1, a, "k", Some("old"));
            }
            p.end = Time::from_millis(3500);
        }
        2 => {
            p.servers = vec![later(0, 1), later(1000, 1)];
            p.put(1002, 1, 0, "k", "new");
            p.get(3002, 0, 0, "k", Some("new"));
            p.end = Time::from_millis(3500);
        }
        3 => {
            p.servers = vec![later(0, 4), later(1000, 4)];
            p.put(990, 0, 1, "k", "a");
            p.put(1005, 1, 2, "k", "b");
            p.put(1003, 1, 0, "k2", "y");
            p.put(1010, 0, 3, "k2", "x");
            p.get_everywhere(3500, "k", Some("b"));
            p.get_everywhere(3500, "k2", Some("x"));
            p.end = Time::from_millis(4000);
        }
        _ => {
            p.servers = (0..4).map(|i| later(i * 3000, 4)).collect();
            let mut keys = Vec::new();
            for i in 0..4u64 {
                let at = i * 3000;
                p.put(at + 2, i as usize, (i % 4) as u32, &format!("new{i}"), "n");
                keys.push(format!("new{i}"));
                if i > 0 {
                    p.put(at + 5, 0, 1, &format!("old{i}"), "o");
                    keys.push(format!("old{i}"));
                }
            }
            for k in &keys {
                let v = if k.starts_with("new") { "n" } else { "o" };
                p.get_everywhere(9000 + 3000, k, Some(v));
            }
            p.end = Time::from_millis(12_500);
        }
    }
    p
}

pub fn remote_stress(v: u64, r: &mut ChaCha8Rng) -> Plan {
    let n = [2, 4][v as usize];
    let mut p = remote(n, 4);
    stress(&mut p, r, WARMUP, 4 * n);
    p
}

/// `cmud-clock-skew`: server 0's clock runs `skew_ms` ahead (50). A Put on server 1,
/// `gap_ms` (20) after one on server 0 in true time, carries the smaller stamp and loses
/// whenever the skew is the larger: LWW follows the clocks. The store still converges to
/// that winner everywhere. Within 3 ms of each other (the network's jitter) either may win,
/// and only convergence is checked.
pub struct ClockSkew;

impl ClockSkew {
    pub fn plan(skew_ms: u64, gap_ms: u64) -> Plan {
        let mut p = remote(2, 2);
        p.latency = Duration::from_millis(50);
        p.clock_offsets = vec![(0, skew_ms as i64 * 1_000_000)];
        let winner = if skew_ms >= gap_ms + 3 {
            Some("earlier")
        } else if skew_ms + 3 <= gap_ms {
            Some("later")
        } else {
            None
        };
        // Reads 2 s after the last Put, and never before 3500 ms.
        let read = 3480 + gap_ms.max(20);
        for i in 0..5u64 {
            let k = format!("skew/{i}");
            p.put(1000 + i * 100, 0, (i % 2) as u32, &k, "earlier");
            p.put(1000 + gap_ms + i * 100, 1, (i % 2) as u32, &k, "later");
            if let Some(w) = winner {
                p.get_everywhere(read, &k, Some(w));
            }
        }
        // The anomaly: a Put more than 10 ms later in true time lost.
        p.checks.skew_anomaly = winner == Some("earlier") && gap_ms > 12;
        p.end = Time::from_millis(read + 500);
        p
    }

    fn get(params: &BTreeMap<String, u64>) -> Result<(u64, u64), String> {
        let skew = params.get("skew_ms").copied().unwrap_or(50);
        let gap = params.get("gap_ms").copied().unwrap_or(20);
        if skew > 60_000 {
            return Err(format!("skew_ms is at most 60000, not {skew}"));
        }
        if gap > 1000 {
            return Err(format!("gap_ms is at most 1000, not {gap}"));
        }
        Ok((skew, gap))
    }
}

impl Scenario for ClockSkew {
    fn name(&self) -> &'static str {
        "cmud-clock-skew"
    }
    fn about(&self) -> &'static str {
        "server 0's clock 50 ms ahead: a Put 20 ms later in true time loses (LWW follows clocks), and every actor converges on that winner"
    }
    fn budget(&self) -> Budget {
        Budget::new(2_000_000, Duration::from_secs(10))
    }
    fn params(&self) -> Vec<Param> {
        vec![
            Param::setting("skew_ms", "how far server 0's clock runs ahead, ms", 50, 0),
            Param::setting(
                "gap_ms",
                "how much later in true time server 1's Put of each key comes, ms",
                20,
                0,
            ),
        ]
    }
    fn check_params(&self, params: &BTreeMap<String, u64>) -> Result<(), String> {
        ClockSkew::get(params).map(|_| ())
    }
    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let (skew, gap) = ClockSkew::get(&spec.params)?;
        ClockSkew::plan(skew, gap).run(self.name(), spec, None)
    }
}

/// Client tests against fake query receivers: correct args and results, exactly one RPC
/// per call, the router's next address per call, concurrent calls outstanding.
pub struct ClientTests;

impl Scenario for ClientTests {
    fn name(&self) -> &'static str {
        "cmud-client"
    }
    fn about(&self) -> &'static str {
        "P3 TestClient{Get,List,Put,Balance,Sequential,Concurrent} (variant = seed % 6): answers exact, one RPC per call, router cycled, 3 calls to a 2 s server done by 4 s"
    }
    fn params(&self) -> Vec<Param> {
        variant_param()
    }
    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let v = spec.param("variant", spec.seed % 6);
        let op = |at_ms: u64, query: Query| ScriptOp {
            at: Time::from_millis(at_ms),
            route: None,
            expect: Some(FakeReceiver::answer(&query)),
            query,
        };
        let get = |k: &str| Query::Get { key: k.into() };
        let (n, delay, script) = match v {
            0 => (1, Duration::ZERO, vec![op(10, get("a"))]),
            1 => (
                1,
                Duration::ZERO,
                vec![op(
                    10,
                    Query::List {
                        prefix: "p/".into(),
                    },
                )],
            ),
            2 => (
                1,
                Duration::ZERO,
                vec![op(
                    10,
                    Query::Put {
                        key: "a".into(),
                        value: "b".into(),
                    },
                )],
            ),
            3 => (
                3,
                Duration::ZERO,
                (0..6)
                    .map(|i| op(10 + i * 10, get(&format!("k{i}"))))
                    .collect(),
            ),
            4 => (
                1,
                Duration::ZERO,
                (0..3)
                    .map(|i| op(10 + i * 10, get(&format!("k{i}"))))
                    .collect(),
            ),
            5 => (
                1,
                Duration::from_secs(2),
                (0..3).map(|i| op(10, get(&format!("k{i}")))).collect(),
            ),
            _ => return Err("cmud-client has variants 0..6".into()),
        };
        let calls = script.len() as u64;
        let w = fake_world(spec.seed, n, delay, script);
        let nodes = (0..w.world.node_count() as u32).collect();
        let mut profile = FaultProfile::new(nodes, Duration::ZERO, Duration::from_secs(5));
        profile.base_link = LinkFaults::clean(1_000_000, 1_000_000);
        let (client, fakes) = (w.clients[0], w.fakes.clone());
        let (mut report, _) = drive(self.name(), spec, &profile, w.world, |world| {
            let c = world
                .node(client)
                .and_then(CmudNode::as_client)
                .expect("client up");
            let mut per_fake = Vec::new();
            for &f in &fakes {
                let fake = world
                    .node(f)
                    .and_then(|n| n.kind::<FakeReceiver>())
                    .expect("fake up");
                per_fake.push(fake.rpcs.len() as u64);
            }
            if per_fake.iter().sum::<u64>() != calls || c.stats.calls != calls {
                return Err(
                    inv::ONE_RPC.fail(format!("{calls} calls, RPCs per receiver {per_fake:?}"))
                );
            }
            if per_fake.iter().any(|&k| k != calls / n as u64) {
                return Err(inv::ONE_RPC.fail(format!(
                    "router not followed: RPCs per receiver {per_fake:?}"
                )));
            }
            if c.done.len() as u64 != calls {
                return Err(
                    inv::ANSWERED.fail(format!("{} of {calls} calls answered", c.done.len()))
                );
            }
            for d in &c.done {
                let want = FakeReceiver::answer(&d.query);
                if d.answer != want {
                    return Err(inv::VISIBLE.fail(format!("{:?} got {:?}", d.query, d.answer)));
                }
                if d.at > Time::from_secs(4) {
                    return Err(inv::ANSWERED.fail(format!(
                        "{:?} answered at {}, after 4 s: calls were serialised",
                        d.query, d.at
                    )));
                }
            }
            Ok(())
        })?;
        report.metrics.insert("variant".into(), v.into());
        Ok(report)
    }
}

/// The `variant` parameter of a group of numbered tests.
fn variant_param() -> Vec<Param> {
    vec![Param::setting(
        "variant",
        "which numbered test of the group (0-based); default: seed % variants",
        0,
        0,
    )]
}

/// The mailbox tests, run by a node on virtual time.
pub struct MailboxTests;

impl Scenario for MailboxTests {
    fn name(&self) -> &'static str {
        "cmud-mailbox"
    }
    fn about(&self) -> &'static str {
        "P3 TestMailbox{Basic1-3,PushBlock,PopBlock,ClosePushPop,Multiple}: FIFO, pushes never block, Close empties and ends pops"
    }
    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let mut world = faultline::World::<CmudNode>::new(spec.seed);
        world.set_checker(inv::CmudChecker::default());
        let m = world.add_node(|_| super::nodes::MailboxNode::default().into());
        let profile = FaultProfile::new(vec![0], Duration::ZERO, Duration::from_millis(500));
        let (report, _) = drive(self.name(), spec, &profile, world, |world| {
            let node = world
                .node(m)
                .and_then(|n| n.kind::<super::nodes::MailboxNode>())
                .expect("up");
            if node.checks < 9 {
                return Err(
                    inv::MAILBOX.fail(format!("only {} of 9 mailbox checks ran", node.checks))
                );
            }
            Ok(())
        })?;
        Ok(report)
    }
}

/// Remote tell between two bare actor systems at 200 ms: Basic (one message to a remote
/// channel ref), Order (5 in order), NoBlock (all 5 within one 800 ms deadline).
pub struct RemoteTell;

impl Scenario for RemoteTell {
    fn name(&self) -> &'static str {
        "cmud-remote-tell"
    }
    fn about(&self) -> &'static str {
        "P3 TestRemoteTell{Basic,Order,NoBlock} (variant = seed % 3): a remote channel ref gets its message, 5 tells arrive in order, all within 800 ms at 200 ms latency"
    }
    fn params(&self) -> Vec<Param> {
        variant_param()
    }
    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let v = spec.param("variant", spec.seed % 3);
        let mut world = faultline::World::<CmudNode>::new(spec.seed);
        world.set_checker(inv::CmudChecker::default());
        let receiver = faultline::Addr(0);
        let (recorder, channel) = TellNode::refs(receiver);
        let (to, numbers) = match v {
            0 => (channel, vec![7]),
            _ => (recorder, (0..5).collect()),
        };
        let r = world.add_node(|_| CmudNode::from(Box::new(TellNode::new(REMOTE, None))));
        let send = Some((to, numbers.clone()));
        world.add_node(move |_| CmudNode::from(Box::new(TellNode::new(REMOTE, send.clone()))));
        let profile = FaultProfile::new(vec![0, 1], Duration::ZERO, Duration::from_millis(800));
        let (report, _) = drive(self.name(), spec, &profile, world, |world| {
            let node = world
                .node(r)
                .and_then(|n| n.kind::<Box<TellNode>>())
                .expect("up");
            let got: Vec<u32> = match v {
                0 => node.channel_reply.iter().map(|&(n, _)| n).collect(),
                _ => node.recorded().iter().map(|&(n, _)| n).collect(),
            };
            if got != numbers {
                return Err(
                    inv::REMOTE_TELL.fail(format!("by 800 ms got {got:?}, sent {numbers:?}"))
                );
            }
            Ok(())
        })?;
        Ok(report)
    }
}
