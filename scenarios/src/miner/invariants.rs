//! Every invariant of the miner's scenarios by name, each a safety or a liveness property
//! (systems/miner/SPEC.md §11), the checker that sees them on every recorded event, and
//! the end checks.
//!
//! On every event ([`MinerChecker`]):
//! - `answer-is-minimum`: every answer the server sends, and every result a client
//!   prints, equals the single-pass minimum over the request's whole range (SPEC.md §3);
//! - `answered-once`: the server answers each request at most once, to the connection
//!   that asked; a client gets at most one result per request it sent;
//! - `nothing-to-lost-client`: no answer goes to a connection the server declared lost;
//! - `no-nonce-range-lost`: the chunks folded into an answer cover its range exactly once
//!   (so a lost miner's chunk was mined again, and no range was skipped or counted twice);
//! - `mined-is-minimum` (when asked for, as `miner-mtest` does): every result a miner
//!   sends is the minimum over exactly the chunk it was sent.
//!
//! The reference minimum is computed with the miner's fast loop over the whole range in
//! one pass ([`miner::hash::min_hash`]); that loop is checked nonce by nonce against the
//! definition in the miner crate's unit tests. It is memoised per (message, range), so a
//! request checked at the server and at its client is computed once.
//!
//! At the end ([`clients_finished`]): while a miner lives, every client that is up has
//! finished, with a result or (under network faults) `Disconnected`.

use super::nodes::{DelayedClient, MinerSimNode};
use faultline::{Addr, Checker, Failure, Invariant, Time, World};
use miner::hash::min_hash;
use miner::scheduler::ReqId;
use miner::{Best, MinerEvent, Outcome};
use std::collections::{BTreeMap, BTreeSet};

pub const ANSWER_IS_MINIMUM: Invariant = Invariant::safety(
    "answer-is-minimum",
    "every answer sent and every result printed is the minimum over the request's range",
);
pub const ANSWERED_ONCE: Invariant = Invariant::safety(
    "answered-once",
    "each request is answered at most once, to the connection that asked",
);
pub const NOTHING_TO_LOST_CLIENT: Invariant = Invariant::safety(
    "nothing-to-lost-client",
    "no answer goes to a connection the server declared lost",
);
pub const NO_NONCE_RANGE_LOST: Invariant = Invariant::safety(
    "no-nonce-range-lost",
    "the chunks folded into an answer cover its range exactly once",
);
pub const MINED_IS_MINIMUM: Invariant = Invariant::safety(
    "mined-is-minimum",
    "every result a miner sends is the minimum over exactly its chunk",
);
pub const EVERY_LIVE_CLIENT_ANSWERED: Invariant = Invariant::liveness(
    "every-live-client-answered",
    "at the end, while a miner lives, every client that is up has its result",
);
pub const EVERY_LIVE_CLIENT_FINISHED: Invariant = Invariant::liveness(
    "every-live-client-finished",
    "at the end, while a miner lives, every client that is up has a result or Disconnected",
);
pub const DISCONNECTED_ON_SERVER_LOSS: Invariant = Invariant::liveness(
    "disconnected-on-server-loss",
    "a client whose server is gone ends with Disconnected",
);
pub const SMALL_AFTER_HUGE_FINISHES_FIRST: Invariant = Invariant::liveness(
    "small-after-huge-finishes-first",
    "a small request arriving after a huge one finishes first",
);

/// Every invariant of the miner's scenarios.
pub const ALL: &[Invariant] = &[
    ANSWER_IS_MINIMUM,
    ANSWERED_ONCE,
    NOTHING_TO_LOST_CLIENT,
    NO_NONCE_RANGE_LOST,
    MINED_IS_MINIMUM,
    EVERY_LIVE_CLIENT_ANSWERED,
    EVERY_LIVE_CLIENT_FINISHED,
    DISCONNECTED_ON_SERVER_LOSS,
    SMALL_AFTER_HUGE_FINISHES_FIRST,
];

/// One client request, as its client saw it.
#[derive(Clone, Debug)]
pub struct ClientRun {
    pub node: Addr,
    pub upper: u64,
    pub asked: Time,
    pub answered: Option<Time>,
}

/// What the checker saw, for end checks and metrics.
#[derive(Default, Debug)]
pub struct Observed {
    /// Every request a client sent, in order.
    pub runs: Vec<ClientRun>,
    pub answers: u64,
    pub disconnected: u64,
    pub chunks_folded: u64,
    pub miners_lost: u64,
    pub clients_lost: u64,
}

struct ServerReq {
    conn: i64,
    data: String,
    lower: u64,
    upper: u64,
    chunks: Vec<(u64, u64)>,
    answered: bool,
}

/// The checker, and what it saw; the scenario reads it back with
/// `world.checker::<MinerChecker>()`.
#[derive(Default)]
pub struct MinerChecker {
    pub observed: Observed,
    lost: BTreeSet<i64>,
    reqs: BTreeMap<ReqId, ServerReq>,
    /// Per client node: (message, upper, index into `runs`) of its current request.
    clients: BTreeMap<Addr, (String, u64, usize)>,
    memo: BTreeMap<(String, u64, u64), Best>,
    /// Check every miner's result against its chunk (`mined-is-minimum`).
    check_mined: bool,
    /// The server's connection id of each node that connected.
    conn_of: BTreeMap<Addr, i64>,
    /// The message of each chunk sent: (miner connection, lower, upper).
    sent: BTreeMap<(i64, u64, u64), String>,
}

impl MinerChecker {
    /// A checker that also checks every miner's result against its chunk.
    pub fn checking_mined() -> MinerChecker {
        MinerChecker {
            check_mined: true,
            ..MinerChecker::default()
        }
    }

    fn minimum(&mut self, data: &str, lower: u64, upper: u64) -> Best {
        *self
            .memo
            .entry((data.to_string(), lower, upper))
            .or_insert_with(|| min_hash(data, lower, upper).expect("lower <= upper"))
    }

    fn on_answer(&mut self, conn: i64, req: ReqId, got: Best) -> Result<(), Failure> {
        if self.lost.contains(&conn) {
            return Err(NOTHING_TO_LOST_CLIENT.fail(format!(
                "answer of request {req} sent to lost connection {conn}"
            )));
        }
        let Some(r) = self.reqs.get_mut(&req) else {
            return Err(ANSWERED_ONCE.fail(format!("answer for unknown request {req}")));
        };
        if r.answered {
            return Err(ANSWERED_ONCE.fail(format!("request {req} answered twice")));
        }
        if r.conn != conn {
            return Err(ANSWERED_ONCE.fail(format!(
                "request {req} of connection {} answered to {conn}",
                r.conn
            )));
        }
        r.answered = true;
        let mut chunks = std::mem::take(&mut r.chunks);
        chunks.sort();
        let (data, lower, upper) = (r.data.clone(), r.lower, r.upper);
        let mut next = lower as u128;
        for &(lo, hi) in &chunks {
            if lo as u128 != next {
                return Err(NO_NONCE_RANGE_LOST.fail(
                    format!("request {req} [{lower}, {upper}]: chunk at {lo} but expected {next} (chunks {chunks:?})"),
                ));
            }
            next = hi as u128 + 1;
        }
        if next != upper as u128 + 1 {
            return Err(NO_NONCE_RANGE_LOST.fail(format!(
                "request {req} [{lower}, {upper}]: chunks end at {}",
                next - 1
            )));
        }
        let want = self.minimum(&data, lower, upper);
        if got != want {
            return Err(ANSWER_IS_MINIMUM.fail(
                format!("server answered request {req} ({data:?}, [{lower}, {upper}]) with {got:?}, minimum is {want:?}"),
            ));
        }
        self.observed.answers += 1;
        Ok(())
    }
}

impl Checker<MinerEvent> for MinerChecker {
    fn on_event(&mut self, now: Time, node: Addr, event: &MinerEvent) -> Result<(), Failure> {
        match event {
            MinerEvent::RequestIn {
                conn,
                req,
                data,
                lower,
                upper,
            } => {
                self.reqs.insert(
                    *req,
                    ServerReq {
                        conn: *conn,
                        data: data.clone(),
                        lower: *lower,
                        upper: *upper,
                        chunks: Vec::new(),
                        answered: false,
                    },
                );
            }
            MinerEvent::ChunkFolded { req, lower, upper } => {
                if let Some(r) = self.reqs.get_mut(req) {
                    r.chunks.push((*lower, *upper));
                }
                self.observed.chunks_folded += 1;
            }
            MinerEvent::Answered {
                conn,
                req,
                hash,
                nonce,
            } => {
                self.on_answer(
                    *conn,
                    *req,
                    Best {
                        hash: *hash,
                        nonce: *nonce,
                    },
                )?;
            }
            MinerEvent::ClientLost { conn } | MinerEvent::NoHonestMiner { conn } => {
                self.lost.insert(*conn);
                self.reqs.retain(|_, r| r.conn != *conn);
                self.observed.clients_lost += 1;
            }
            MinerEvent::MinerLost { .. } | MinerEvent::MinerQuarantined { .. } => {
                self.observed.miners_lost += 1
            }
            MinerEvent::ClientRequest { data, upper } => {
                let obs = &mut self.observed;
                obs.runs.push(ClientRun {
                    node,
                    upper: *upper,
                    asked: now,
                    answered: None,
                });
                let idx = obs.runs.len() - 1;
                self.clients.insert(node, (data.clone(), *upper, idx));
            }
            MinerEvent::ClientResult { hash, nonce } => {
                let Some((data, upper, idx)) = self.clients.get(&node).cloned() else {
                    return Err(
                        ANSWERED_ONCE.fail(format!("{node} got a result it never asked for"))
                    );
                };
                if self.observed.runs[idx].answered.is_some() {
                    return Err(ANSWERED_ONCE.fail(format!("{node} got two results")));
                }
                let want = self.minimum(&data, 0, upper);
                let got = Best {
                    hash: *hash,
                    nonce: *nonce,
                };
                if got != want {
                    return Err(ANSWER_IS_MINIMUM.fail(format!(
                        "{node} printed {got:?} for ({data:?}, {upper}), minimum is {want:?}"
                    )));
                }
                self.observed.runs[idx].answered = Some(now);
            }
            MinerEvent::ClientDisconnected => self.observed.disconnected += 1,
            MinerEvent::Accepted { conn, from } if self.check_mined => {
                self.conn_of.insert(*from, *conn);
            }
            MinerEvent::ChunkSent {
                conn,
                req,
                lower,
                upper,
            } if self.check_mined => {
                if let Some(r) = self.reqs.get(req) {
                    self.sent.insert((*conn, *lower, *upper), r.data.clone());
                }
            }
            MinerEvent::Mined {
                lower,
                upper,
                hash,
                nonce,
            } if self.check_mined => {
                let got = Best {
                    hash: *hash,
                    nonce: *nonce,
                };
                self.on_mined(node, *lower, *upper, got)?;
            }
            MinerEvent::Accepted { .. }
            | MinerEvent::MinerJoined { .. }
            | MinerEvent::ChunkSent { .. }
            | MinerEvent::Mined { .. }
            | MinerEvent::MinerStopped => {}
        }
        Ok(())
    }
}

impl MinerChecker {
    /// `mined-is-minimum`: the miner at `node` sent `got` for the chunk `[lower, upper]`.
    fn on_mined(&mut self, node: Addr, lower: u64, upper: u64, got: Best) -> Result<(), Failure> {
        let data = self
            .conn_of
            .get(&node)
            .and_then(|conn| self.sent.get(&(*conn, lower, upper)))
            .cloned();
        let Some(data) = data else {
            return Err(MINED_IS_MINIMUM.fail(format!(
                "{node} mined [{lower}, {upper}], a chunk it was never sent"
            )));
        };
        let want = self.minimum(&data, lower, upper);
        if got != want {
            return Err(MINED_IS_MINIMUM.fail(format!(
                "{node} sent {got:?} for ({data:?}, [{lower}, {upper}]), minimum is {want:?}"
            )));
        }
        Ok(())
    }
}

/// End check: while a miner lives (SPEC.md §6: work waits for a miner otherwise), every
/// client node that is up has finished; with `strict`, with a result.
pub fn clients_finished(
    world: &World<MinerSimNode>,
    clients: &[Addr],
    live_miners: usize,
    strict: bool,
) -> Result<(), Failure> {
    let invariant = if strict {
        EVERY_LIVE_CLIENT_ANSWERED
    } else {
        EVERY_LIVE_CLIENT_FINISHED
    };
    if live_miners == 0 {
        if strict {
            return Err(invariant.fail("no miner is alive at the end"));
        }
        return Ok(());
    }
    for &addr in clients {
        let Some(node) = world.node(addr).and_then(|n| n.kind::<DelayedClient>()) else {
            continue;
        };
        let client = node.program().client();
        match client.and_then(|c| c.outcome()) {
            Some(Outcome::Result(_)) => {}
            Some(Outcome::Disconnected) if !strict => {}
            other => return Err(invariant.fail(format!("{addr} ended with {other:?}"))),
        }
        if let Some(c) = client {
            if c.unexpected > 0 {
                return Err(
                    ANSWERED_ONCE.fail(format!("{addr} got {} extra messages", c.unexpected))
                );
            }
        }
    }
    Ok(())
}
