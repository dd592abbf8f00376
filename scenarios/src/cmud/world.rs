//! A cmud world from a [`Plan`]: servers started one after another (each joining the ones
//! before), one scripted client per server, bots, fake receivers; and the run that checks
//! what the plan asks for.

use super::invariants::{self as inv, CmudChecker};
use super::nodes::{Bot, Client, ClientConfig, CmudNode, FakeReceiver, Route, ScriptOp};
use cmud::actor::{sim_address, ActorRef};
use cmud::server::{refs_of, ServerConfig, ServerNode};
use cmud::wire::{Answer, Query};
use faultline::bugs::BugSet;
use faultline::harness::{drive_with, run_checked, Report, RunSpec};
use faultline::swarm::FaultProfile;
use faultline::{Addr, Failure, Fault, Time, World};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// One server of a plan.
#[derive(Clone, Debug)]
pub struct ServerPlan {
    pub at: Time,
    pub actors: u32,
}

/// What a plan checks besides convergence, LWW, the scripted answers and (fault-free) one
/// RPC per call, the stats' lower bounds and no actor errors.
#[derive(Clone, Debug, Default)]
pub struct Checks {
    pub rate: bool,
    /// Compare bytes sent between probes 0-1 (round 1) and 2-3 (round 2) on every server.
    pub bytes: bool,
    /// (4-actor receiver, 1-actor receiver): remote bytes at most 2x.
    pub nobcast: Option<(usize, usize)>,
    /// Servers that must have received remote bytes.
    pub remote_bytes: Vec<usize>,
    /// Actor messages the first server must have sent at least.
    pub min_actor_messages: u64,
    /// A Put later in true time must have lost (clock skew).
    pub skew_anomaly: bool,
}

/// A scripted run.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub servers: Vec<ServerPlan>,
    /// Sender-side latency of every remote tell (the course's 200 ms), unless `regions`.
    pub latency: Duration,
    /// Region of each server and one-way latency between regions (ms), for the swarm.
    pub regions: Option<(Vec<usize>, Vec<Vec<u64>>)>,
    /// Calls per server's client: (server index, op). Routes are the server's actors.
    pub ops: Vec<(usize, ScriptOp)>,
    /// Bots per server (each a client of that server's actors through the router).
    pub bots: Vec<(usize, Bot)>,
    pub end: Time,
    pub probes: Vec<Time>,
    /// Clock steps applied at time zero: (server index, offset ns).
    pub clock_offsets: Vec<(usize, i64)>,
    /// Faults at fixed times, part of the script (node numbers: servers first). A plan
    /// with any is not fault-free: the checks that need a quiet run are skipped.
    pub faults: Vec<(Time, Fault)>,
    pub checks: Checks,
    /// A fixed 1 ms network instead of 1-2 ms: two Puts in the same ms on two servers
    /// then tie, and the uids decide, as the course's LWW tests expect.
    pub fixed_latency: bool,
}

/// The world of one cmud run.
pub struct CmudWorld {
    pub world: World<CmudNode>,
    pub servers: Vec<Addr>,
    pub clients: Vec<Addr>,
    pub fakes: Vec<Addr>,
}

impl Plan {
    pub fn put(&mut self, at_ms: u64, server: usize, actor: u32, key: &str, value: &str) {
        self.op(
            at_ms,
            server,
            actor,
            Query::Put {
                key: key.into(),
                value: value.into(),
            },
            Some(Answer::Done),
        );
    }

    /// A Get that must see `value` (`None`: absent).
    pub fn get(&mut self, at_ms: u64, server: usize, actor: u32, key: &str, value: Option<&str>) {
        self.op(
            at_ms,
            server,
            actor,
            Query::Get { key: key.into() },
            Some(Answer::Value(value.map(String::from))),
        );
    }

    /// A List that must give exactly `entries`.
    pub fn list(
        &mut self,
        at_ms: u64,
        server: usize,
        actor: u32,
        prefix: &str,
        entries: &BTreeMap<String, String>,
    ) {
        let e = entries
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.op(
            at_ms,
            server,
            actor,
            Query::List {
                prefix: prefix.into(),
            },
            Some(Answer::Entries(e)),
        );
    }

    pub fn op(
        &mut self,
        at_ms: u64,
        server: usize,
        actor: u32,
        query: Query,
        expect: Option<Answer>,
    ) {
        self.ops.push((
            server,
            ScriptOp {
                at: Time::from_millis(at_ms),
                route: Some(actor as usize),
                query,
                expect,
            },
        ));
    }

    /// Gets of `key` on every actor of every server at `at_ms`.
    pub fn get_everywhere(&mut self, at_ms: u64, key: &str, value: Option<&str>) {
        for s in 0..self.servers.len() {
            for a in 0..self.servers[s].actors {
                self.get(at_ms, s, a, key, value);
            }
        }
    }

    /// Lists of `prefix` on every actor of every server at `at_ms`.
    pub fn list_everywhere(
        &mut self,
        at_ms: u64,
        prefix: &str,
        entries: &BTreeMap<String, String>,
    ) {
        for s in 0..self.servers.len() {
            for a in 0..self.servers[s].actors {
                self.list(at_ms, s, a, prefix, entries);
            }
        }
    }

    /// Build the world: servers in order (each joins all before it) with `bugs` planted,
    /// then one client per server with a script or bots.
    pub fn build(&self, seed: u64, bugs: BugSet<cmud::Bug>) -> CmudWorld {
        let mut world: World<CmudNode> = World::new(seed);
        world.set_checker(CmudChecker::default());
        let n = self.servers.len();
        let addrs: Vec<Addr> = (0..n as u32).map(Addr).collect();
        let descs: Vec<Vec<ActorRef>> = self
            .servers
            .iter()
            .enumerate()
            .map(|(i, s)| refs_of(&sim_address(addrs[i]), s.actors))
            .collect();
        for (i, s) in self.servers.iter().enumerate() {
            let mut cfg = ServerConfig::sim(s.actors, descs[..i].to_vec());
            cfg.default_latency = self.latency;
            cfg.bugs = bugs;
            if let Some((region, matrix)) = &self.regions {
                for j in 0..n {
                    let ms = matrix[region[i]][region[j]];
                    cfg.latency
                        .insert(sim_address(addrs[j]), Duration::from_millis(ms));
                }
            }
            let a = world.add_node_at(s.at, move |_| {
                CmudNode::from(Box::new(ServerNode::new(cfg.clone())))
            });
            debug_assert_eq!(a, addrs[i]);
        }
        let mut clients = Vec::new();
        for (i, s) in self.servers.iter().enumerate() {
            let routes: Vec<Route> = (0..s.actors).map(|a| (addrs[i], a)).collect();
            let script: Vec<ScriptOp> = self
                .ops
                .iter()
                .filter(|(si, _)| *si == i)
                .map(|(_, o)| o.clone())
                .collect();
            if !script.is_empty() {
                let cfg = ClientConfig {
                    routes: routes.clone(),
                    script,
                    bot: None,
                };
                clients.push(
                    world.add_node_at(s.at + Duration::from_millis(1), move |_| {
                        CmudNode::from(Box::new(Client::new(cfg.clone())))
                    }),
                );
            }
            for (_, bot) in self.bots.iter().filter(|(si, _)| *si == i) {
                let cfg = ClientConfig {
                    routes: routes.clone(),
                    script: Vec::new(),
                    bot: Some(bot.clone()),
                };
                clients.push(
                    world.add_node_at(s.at + Duration::from_millis(1), move |_| {
                        CmudNode::from(Box::new(Client::new(cfg.clone())))
                    }),
                );
            }
        }
        for &(s, offset_ns) in &self.clock_offsets {
            world.fault_at(
                Time::ZERO,
                Fault::ClockOffset {
                    node: s as u32,
                    offset_ns,
                },
            );
        }
        for (at, f) in &self.faults {
            world.fault_at(*at, f.clone());
        }
        CmudWorld {
            world,
            servers: addrs,
            clients,
            fakes: Vec::new(),
        }
    }

    /// Run under `profile` (a quiet one unless it is the swarm), check, and report.
    pub fn run(
        &self,
        name: &str,
        spec: &RunSpec,
        profile: Option<FaultProfile>,
    ) -> Result<Report, String> {
        let w = self.build(spec.seed, crate::bugs::cmud(spec));
        let fault_free = profile.is_none() && self.faults.is_empty();
        let profile = profile.unwrap_or_else(|| {
            let nodes = (0..w.world.node_count() as u32).collect();
            let mut p = FaultProfile::new(
                nodes,
                Duration::ZERO,
                Duration::from_nanos(self.end.as_nanos()),
            );
            if self.fixed_latency {
                p.base_link = faultline::LinkFaults::clean(1_000_000, 1_000_000);
            }
            p
        });
        let CmudWorld {
            world,
            servers,
            clients,
            ..
        } = w;
        let probes = self.probes.clone();
        let snaps: std::cell::RefCell<Vec<Vec<u64>>> = Default::default();
        let end = self.end;
        let (servers2, clients2) = (servers.clone(), clients.clone());
        let (mut report, world) = drive_with(
            name,
            spec,
            &profile,
            world,
            |world, schedule| {
                let until = Time(schedule.end_ns.max(end.as_nanos()));
                for &p in &probes {
                    world.run_until(p)?;
                    snaps.borrow_mut().push(
                        servers2
                            .iter()
                            .map(|&s| server_stat(world, s, |st| st.bytes_sent))
                            .collect(),
                    );
                }
                if fault_free {
                    run_checked(world, until, Duration::from_millis(250), |w| {
                        rate_ok(w, &servers2)
                    })
                } else {
                    world.run_until(until)
                }
            },
            |world| {
                inv::converged_lww(world, &servers)?;
                inv::game_checks(world, &servers, &clients2)?;
                self.end_checks(world, &servers, &clients2, &snaps.borrow(), fault_free)
            },
        )?;
        figures(&world, &servers, &clients, &mut report.metrics);
        Ok(report)
    }

    fn end_checks(
        &self,
        world: &mut World<CmudNode>,
        servers: &[Addr],
        clients: &[Addr],
        snaps: &[Vec<u64>],
        fault_free: bool,
    ) -> Result<(), Failure> {
        let all_clients: Vec<&Client> = clients
            .iter()
            .filter_map(|&c| world.node(c).and_then(CmudNode::as_client))
            .collect();
        for c in &all_clients {
            for d in &c.done {
                let Some(op) = c.config().script.get(d.op) else {
                    continue;
                };
                if let Some(want) = &op.expect {
                    if &d.answer != want {
                        return Err(inv::VISIBLE.fail(format!(
                            "{:?} sent at {} to actor {:?} got {:?}, expected {want:?}",
                            d.query, d.sent, op.route, d.answer
                        )));
                    }
                }
            }
        }
        if fault_free {
            for c in &all_clients {
                let expected = c.config().script.len();
                let got = c.done.iter().filter(|d| d.op != usize::MAX).count();
                if got != expected {
                    return Err(inv::ANSWERED.fail(format!(
                        "a client got {got} of its {expected} scripted answers"
                    )));
                }
            }
            let calls: u64 = all_clients.iter().map(|c| c.stats.calls).sum();
            let rpcs: u64 = servers
                .iter()
                .filter_map(|&s| world.node(s).and_then(CmudNode::as_server))
                .map(|s| s.rpcs())
                .sum();
            if calls != rpcs {
                return Err(inv::ONE_RPC.fail(format!(
                    "clients made {calls} calls, servers got {rpcs} RPCs"
                )));
            }
            for &s in servers {
                let Some(server) = world.node(s).and_then(CmudNode::as_server) else {
                    continue;
                };
                let st = server.system().expect("started").stats();
                if st.messages_sent_external < server.rpcs() || st.channel_refs_used < server.rpcs()
                {
                    return Err(inv::STATS_LOWER.fail(format!(
                        "server {s}: {} queries, MessagesSentExternal {}, ChannelRefsUsed {}",
                        server.rpcs(),
                        st.messages_sent_external,
                        st.channel_refs_used
                    )));
                }
                if st.errors > 0 || st.dropped_messages > 0 {
                    let errs = server.system().expect("started").errors().to_vec();
                    return Err(inv::NO_ERRORS.fail(format!(
                        "server {s}: {} errors, {} dropped: {errs:?}",
                        st.errors, st.dropped_messages
                    )));
                }
            }
            rate_ok(world, servers)?;
        }
        let c = &self.checks;
        if c.bytes && snaps.len() >= 4 {
            for (i, &s) in servers.iter().enumerate() {
                let r1 = snaps[1][i] - snaps[0][i];
                let r2 = snaps[3][i] - snaps[2][i];
                if r2 > 2 * r1 {
                    return Err(inv::BYTES
                        .fail(format!("server {s}: round 1 sent {r1} bytes, round 2 {r2}")));
                }
            }
        }
        if let Some((four, one)) = c.nobcast {
            let b4 = server_stat(world, servers[four], |st| st.remote_bytes_received);
            let b1 = server_stat(world, servers[one], |st| st.remote_bytes_received);
            if b4 > 2 * b1 {
                return Err(inv::NO_BROADCAST.fail(format!(
                    "4-actor receiver got {b4} remote bytes, 1-actor receiver {b1}"
                )));
            }
        }
        for &i in &c.remote_bytes {
            if server_stat(world, servers[i], |st| st.remote_bytes_received) == 0 {
                return Err(inv::REMOTE_BYTES
                    .fail(format!("server {} received no remote bytes", servers[i])));
            }
        }
        let sent = server_stat(world, servers[0], |st| st.messages_sent_actor);
        if sent < c.min_actor_messages {
            return Err(inv::ACTOR_MESSAGES.fail(format!(
                "{sent} actor messages, at least {} expected",
                c.min_actor_messages
            )));
        }
        if c.skew_anomaly {
            let checker: &CmudChecker = world.checker().expect("cmud checker");
            if checker.skew_anomalies().is_empty() {
                return Err(inv::SKEW_ANOMALY.fail("every later Put won: the skew did not show"));
            }
        }
        Ok(())
    }
}

/// One counter of a server's stats (0 if it is down).
pub fn server_stat(
    world: &World<CmudNode>,
    s: Addr,
    f: impl Fn(&cmud::actor::Stats) -> u64,
) -> u64 {
    world
        .node(s)
        .and_then(CmudNode::as_server)
        .and_then(|n| n.system())
        .map_or(0, |sys| f(sys.stats()))
}

/// The rate limit on every up server, now.
pub fn rate_ok(world: &World<CmudNode>, servers: &[Addr]) -> Result<(), Failure> {
    for &s in servers {
        let Some(sys) = world
            .node(s)
            .and_then(CmudNode::as_server)
            .and_then(|n| n.system())
        else {
            continue;
        };
        let rate = sys
            .stats()
            .max_message_rate_milli(sys.lifetime(world.local_time(s)));
        if rate > 10_000 {
            let (pair, count) = sys.stats().busiest_pair().expect("a pair is busy");
            return Err(inv::RATE.fail(format!(
                "server {s}: {count} messages from actor {} to {} is {}.{:03}/s",
                pair.0,
                pair.1.uid(),
                rate / 1000,
                rate % 1000
            )));
        }
    }
    Ok(())
}

/// The report's figures.
fn figures(
    world: &World<CmudNode>,
    servers: &[Addr],
    clients: &[Addr],
    m: &mut serde_json::Map<String, serde_json::Value>,
) {
    let sum = |f: &dyn Fn(&cmud::actor::Stats) -> u64| -> u64 {
        servers.iter().map(|&s| server_stat(world, s, f)).sum()
    };
    m.insert("messages_sent".into(), json!(sum(&|s| s.messages_sent())));
    m.insert("bytes_sent".into(), json!(sum(&|s| s.bytes_sent)));
    m.insert(
        "remote_bytes_received".into(),
        json!(sum(&|s| s.remote_bytes_received)),
    );
    let turns = |status: &str| -> u64 {
        clients
            .iter()
            .filter_map(|&c| world.node(c).and_then(CmudNode::as_client))
            .map(|c| c.turns.get(status).copied().unwrap_or(0))
            .sum()
    };
    if turns("Ok") + turns("Refused") + turns("StoreFailed") + turns("BadCommand") > 0 {
        m.insert("game_turns_ok".into(), json!(turns("Ok")));
        m.insert("game_turns_refused".into(), json!(turns("Refused")));
        m.insert(
            "game_turns_store_failed".into(),
            json!(turns("StoreFailed")),
        );
    }
    let calls: u64 = clients
        .iter()
        .filter_map(|&c| world.node(c).and_then(CmudNode::as_client))
        .map(|c| c.stats.calls)
        .sum();
    let failed: u64 = clients
        .iter()
        .filter_map(|&c| world.node(c).and_then(CmudNode::as_client))
        .map(|c| c.stats.failed)
        .sum();
    m.insert("calls".into(), json!(calls));
    m.insert("failed_calls".into(), json!(failed));
    let checker: &CmudChecker = world.checker().expect("cmud checker");
    m.insert("keys".into(), json!(checker.applied.len()));
    m.insert(
        "puts_applied".into(),
        json!(checker.applied.values().map(Vec::len).sum::<usize>()),
    );
    m.insert(
        "skew_anomalies".into(),
        json!(checker.skew_anomalies().len()),
    );
}

/// A world of `n` fake receivers (nodes 0..n) and one client with them as its router.
pub fn fake_world(seed: u64, n: u32, delay: Duration, script: Vec<ScriptOp>) -> CmudWorld {
    let mut world: World<CmudNode> = World::new(seed);
    world.set_checker(CmudChecker::default());
    let fakes: Vec<Addr> = (0..n)
        .map(|_| world.add_node(move |_| FakeReceiver::new(delay).into()))
        .collect();
    let routes = fakes.iter().map(|&a| (a, 0)).collect();
    let cfg = ClientConfig {
        routes,
        script,
        bot: None,
    };
    let c = world.add_node(move |_| CmudNode::from(Box::new(Client::new(cfg.clone()))));
    CmudWorld {
        world,
        servers: Vec::new(),
        clients: vec![c],
        fakes,
    }
}
