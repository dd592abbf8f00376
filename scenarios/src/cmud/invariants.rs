//! Every invariant of the cmud scenarios, by name, and the checks behind them.
//!
//! Safety: last-writer-wins on the stamps the servers' clocks gave (not true time), the
//! rate limit, byte growth, no broadcast, one RPC per call, the stats' lower bounds, no
//! actor errors, the mailbox's semantics. Liveness: convergence after the heal, the
//! visibility deadlines (scripted reads that must see a value by a time), every call
//! answered, remote tells in time, the clock-skew anomaly shown.

use super::nodes::{CmudEvent, CmudNode};
use cmud::server::ServerEvent;
use cmud::store::Entry;
use faultline::check::{Checker, Invariant};
use faultline::{Addr, Failure, Time, World};
use std::collections::BTreeMap;

pub const CONVERGED: Invariant = Invariant::liveness(
    "converged",
    "after the heal, every query actor of every server holds the same map",
);
pub const LWW: Invariant = Invariant::safety(
    "lww-winner",
    "each key ends with the Put of greatest (timestamp, uid) any actor applied: no lost update, no resurrection",
);
pub const VISIBLE: Invariant = Invariant::liveness(
    "visibility-deadline",
    "a read made at the deadline after a Put (500 ms local, 2000 ms remote) sees it",
);
pub const ANSWERED: Invariant = Invariant::liveness(
    "calls-answered",
    "every client call gets its answer before the run ends (fault-free runs)",
);
pub const RATE: Invariant = Invariant::safety(
    "rate-limit",
    "MaxMessageRate <= 10 on every server: count / floor(lifetime s + 1.1) per ordered pair",
);
pub const BYTES: Invariant = Invariant::safety(
    "byte-growth",
    "bytes sent in round 2 are at most twice those of round 1 (deltas, not whole maps)",
);
pub const NO_BROADCAST: Invariant = Invariant::safety(
    "no-broadcast",
    "a 4-actor receiver gets at most twice the remote bytes of a 1-actor receiver",
);
pub const ONE_RPC: Invariant = Invariant::safety(
    "one-rpc-per-call",
    "servers receive exactly as many RPCs as clients make calls, each to the router's next address",
);
pub const STATS_LOWER: Invariant = Invariant::safety(
    "stats-lower-bounds",
    "MessagesSentExternal and ChannelRefsUsed are at least the queries a server got",
);
pub const REMOTE_BYTES: Invariant = Invariant::liveness(
    "remote-bytes-received",
    "a server synced from another shows RemoteBytesReceived > 0",
);
pub const ACTOR_MESSAGES: Invariant = Invariant::liveness(
    "actor-messages",
    "local sync used at least the minimum number of actor-to-actor messages",
);
pub const NO_ERRORS: Invariant = Invariant::safety(
    "no-actor-errors",
    "no actor reports an error and no message is dropped in a fault-free run",
);
pub const MAILBOX: Invariant = Invariant::safety(
    "mailbox-semantics",
    "FIFO, push never blocks, pop after close gives nothing, pending messages discarded",
);
pub const REMOTE_TELL: Invariant = Invariant::liveness(
    "remote-tell-deadline",
    "remote tells arrive, in order, within 800 ms at 200 ms latency (pipelined)",
);
pub const SKEW_ANOMALY: Invariant = Invariant::liveness(
    "skew-anomaly-shown",
    "under clock skew > 10 ms, a Put later in true time loses to an earlier one, as the clocks say",
);

pub const GAME_PLAYED: Invariant = Invariant::liveness(
    "game-played",
    "the bots played turns of the game through the store, and some of them succeeded",
);
pub const GAME_DATA: Invariant = Invariant::safety(
    "game-data-readable",
    "after the heal, every game key the replicas hold is one the game can read (GAME.md)",
);

/// Every invariant, for `faultline list` style docs and the tests.
pub const ALL: [Invariant; 17] = [
    CONVERGED,
    LWW,
    VISIBLE,
    ANSWERED,
    RATE,
    BYTES,
    NO_BROADCAST,
    ONE_RPC,
    STATS_LOWER,
    REMOTE_BYTES,
    ACTOR_MESSAGES,
    NO_ERRORS,
    MAILBOX,
    REMOTE_TELL,
    SKEW_ANOMALY,
    GAME_PLAYED,
    GAME_DATA,
];

/// Where bots play: they finished some turns well, and the game's data that the replicas
/// converged on is all readable by the game. A world without bots passes.
pub fn game_checks(
    world: &World<CmudNode>,
    servers: &[Addr],
    clients: &[Addr],
) -> Result<(), Failure> {
    let bots: Vec<_> = clients
        .iter()
        .filter_map(|&c| world.node(c).and_then(CmudNode::as_client))
        .filter(|c| c.config().bot.is_some())
        .collect();
    if bots.is_empty() {
        return Ok(());
    }
    let turns = |status: &str| -> u64 {
        bots.iter()
            .map(|c| c.turns.get(status).copied().unwrap_or(0))
            .sum()
    };
    if turns("Ok") == 0 {
        return Err(GAME_PLAYED.fail(format!(
            "no turn of the game succeeded ({} ended by a store failure)",
            turns("StoreFailed")
        )));
    }
    let replica = servers
        .iter()
        .filter_map(|&s| world.node(s).and_then(CmudNode::as_server))
        .flat_map(|s| s.replicas())
        .map(|(_, map)| map)
        .next();
    if let Some(map) = replica {
        let bad = cmud::game::audit(map.iter().map(|(k, e)| (k.as_str(), e.value.as_str())));
        if !bad.is_empty() {
            return Err(GAME_DATA.fail(format!("the game cannot read {bad:?}")));
        }
    }
    Ok(())
}

/// Collects what the servers applied, in true time.
#[derive(Debug, Default)]
pub struct CmudChecker {
    /// Per key, every Put applied: (true time, entry).
    pub applied: BTreeMap<String, Vec<(Time, Entry)>>,
    pub bad_frames: u64,
}

impl Checker<CmudEvent> for CmudChecker {
    fn on_event(&mut self, now: Time, _: Addr, event: &CmudEvent) -> Result<(), Failure> {
        match event {
            CmudEvent::Server(ServerEvent::Applied(a)) => {
                self.applied
                    .entry(a.entry.key.clone())
                    .or_default()
                    .push((now, a.entry.clone()));
            }
            CmudEvent::Server(ServerEvent::BadFrame(_)) => self.bad_frames += 1,
            CmudEvent::Server(ServerEvent::Synced(_)) => {}
            CmudEvent::Mailbox(what) => return Err(MAILBOX.fail(what.clone())),
        }
        Ok(())
    }
}

impl CmudChecker {
    /// The LWW winner of every key: the applied Put with the greatest stamp.
    pub fn winners(&self) -> BTreeMap<String, Entry> {
        self.applied
            .iter()
            .filter_map(|(k, puts)| {
                puts.iter()
                    .map(|(_, e)| e)
                    .max_by(|a, b| (a.ts, &a.uid).cmp(&(b.ts, &b.uid)))
                    .map(|e| (k.clone(), e.clone()))
            })
            .collect()
    }

    /// Keys where a Put more than 10 ms later in true time lost to an earlier one.
    pub fn skew_anomalies(&self) -> Vec<String> {
        let win = self.winners();
        self.applied
            .iter()
            .filter(|(k, puts)| {
                let w = &win[*k];
                let w_at = puts.iter().find(|(_, e)| e == w).map(|(t, _)| *t);
                w_at.is_some_and(|wt| {
                    puts.iter()
                        .any(|(t, e)| e != w && t.as_nanos() > wt.as_nanos() + 10_000_000)
                })
            })
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// Convergence and LWW over every up server's actors.
pub fn converged_lww(world: &World<CmudNode>, servers: &[Addr]) -> Result<(), Failure> {
    let checker: &CmudChecker = world.checker().expect("a cmud world holds a CmudChecker");
    let winners = checker.winners();
    let mut first: Option<(String, &BTreeMap<String, Entry>)> = None;
    for &s in servers {
        let Some(server) = world.node(s).and_then(CmudNode::as_server) else {
            continue;
        };
        for (r, map) in server.replicas() {
            match &first {
                None => first = Some((r.uid(), map)),
                Some((uid, m)) if *m != map => {
                    let diff = m
                        .iter()
                        .find(|(k, e)| map.get(*k) != Some(e))
                        .map(|(k, _)| k.clone())
                        .or_else(|| map.keys().find(|k| !m.contains_key(*k)).cloned());
                    return Err(CONVERGED.fail(format!(
                        "{} and {uid} differ ({} vs {} keys), first at key {diff:?}",
                        r.uid(),
                        map.len(),
                        m.len()
                    )));
                }
                _ => {}
            }
        }
    }
    let Some((uid, map)) = first else {
        return Ok(());
    };
    for (k, w) in &winners {
        match map.get(k) {
            Some(e) if e == w => {}
            got => {
                return Err(LWW.fail(format!(
                    "key {k}: {uid} holds {got:?}, but the greatest stamp applied is {w:?}"
                )))
            }
        }
    }
    if let Some(k) = map.keys().find(|k| !winners.contains_key(*k)) {
        return Err(LWW.fail(format!("{uid} holds key {k} that no Put applied")));
    }
    Ok(())
}
