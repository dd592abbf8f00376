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
//! - `chunk-result-correct`: a deterministic sample of the chunk results the server folds
//!   (every chunk of at most [`SMALL_CHUNK`] nonces, and one in [`SAMPLE_ONE_IN`] of the
//!   others, picked by hashing the chunk's bounds) is the minimum over exactly its chunk: a
//!   wrong result for a chunk that does not hold the request's minimum is invisible in
//!   the answer;
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
use faultline::{Addr, Checker, Failure, Invariant, Time};
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
pub const CHUNK_RESULT_CORRECT: Invariant = Invariant::safety(
    "chunk-result-correct",
    "every sampled chunk result the server folds is the minimum over exactly that chunk",
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
    CHUNK_RESULT_CORRECT,
    EVERY_LIVE_CLIENT_ANSWERED,
    EVERY_LIVE_CLIENT_FINISHED,
    DISCONNECTED_ON_SERVER_LOSS,
    SMALL_AFTER_HUGE_FINISHES_FIRST,
];

/// Chunks of at most this many nonces are all checked by `chunk-result-correct`.
pub const SMALL_CHUNK: u64 = 4096;
/// One in this many larger chunks is checked by `chunk-result-correct`.
pub const SAMPLE_ONE_IN: u64 = 4;

/// Whether `chunk-result-correct` checks the chunk `[lower, upper]`: a pure function of the
/// bounds (a splitmix64 finaliser), so every run checks the same chunks.
pub fn sampled(lower: u64, upper: u64) -> bool {
    if upper - lower < SMALL_CHUNK {
        return true;
    }
    let mut z = lower ^ upper.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)).is_multiple_of(SAMPLE_ONE_IN)
}

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
    /// Chunk results `chunk-result-correct` recomputed.
    pub chunks_checked: u64,
    /// Which of [`SOMETIMES`] this run reached.
    pub reached: BTreeSet<&'static str>,
}

/// The risky situations a miner sweep should reach (see `sweep --coverage`).
pub const SOMETIMES: &[faultline::harness::Sometimes] = &[
    faultline::harness::Sometimes {
        name: "miner-failed-mid-request",
        about: "a miner was lost while it held a chunk not yet folded",
    },
    faultline::harness::Sometimes {
        name: "lost-chunk-requeued",
        about: "a lost miner's unfinished chunk was sent to another miner",
    },
];

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
    /// Per miner connection, the chunks sent to it and not yet folded: (req, lower, upper).
    holding: BTreeMap<i64, BTreeSet<(ReqId, u64, u64)>>,
    /// Chunks lost miners held, not yet sent again.
    orphaned: BTreeSet<(ReqId, u64, u64)>,
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
            MinerEvent::ChunkFolded {
                conn,
                req,
                lower,
                upper,
                hash,
                nonce,
            } => {
                let got = Best {
                    hash: *hash,
                    nonce: *nonce,
                };
                self.on_folded(*conn, *req, (*lower, *upper), got)?;
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
            MinerEvent::MinerLost { conn } | MinerEvent::MinerQuarantined { conn } => {
                self.observed.miners_lost += 1;
                let held = self.holding.remove(conn).unwrap_or_default();
                if !held.is_empty() {
                    self.observed.reached.insert("miner-failed-mid-request");
                }
                self.orphaned.extend(held);
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
            } => {
                self.on_sent(*conn, *req, *lower, *upper);
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
            | MinerEvent::Mined { .. }
            | MinerEvent::MinerStopped => {}
        }
        Ok(())
    }
}

impl MinerChecker {
    fn on_sent(&mut self, conn: i64, req: ReqId, lower: u64, upper: u64) {
        let overlaps = |&(r, lo, hi): &(ReqId, u64, u64)| r == req && lo <= upper && lower <= hi;
        if self.orphaned.iter().any(overlaps) {
            self.observed.reached.insert("lost-chunk-requeued");
            self.orphaned.retain(|c| !overlaps(c));
        }
        self.holding
            .entry(conn)
            .or_default()
            .insert((req, lower, upper));
        if self.check_mined {
            if let Some(r) = self.reqs.get(&req) {
                self.sent.insert((conn, lower, upper), r.data.clone());
            }
        }
    }

    /// Miner `conn`'s result `got` for `[lower, upper]` of `req` is folded in;
    /// `chunk-result-correct` if the chunk is sampled.
    fn on_folded(
        &mut self,
        conn: i64,
        req: ReqId,
        (lower, upper): (u64, u64),
        got: Best,
    ) -> Result<(), Failure> {
        self.observed.chunks_folded += 1;
        if let Some(held) = self.holding.get_mut(&conn) {
            held.remove(&(req, lower, upper));
        }
        let Some(r) = self.reqs.get_mut(&req) else {
            return Ok(());
        };
        r.chunks.push((lower, upper));
        if !sampled(lower, upper) {
            return Ok(());
        }
        let data = r.data.clone();
        self.observed.chunks_checked += 1;
        let want = self.minimum(&data, lower, upper);
        if got != want {
            return Err(CHUNK_RESULT_CORRECT.fail(format!(
                "miner {conn} returned {got:?} for request {req} ({data:?}, [{lower}, {upper}]), minimum is {want:?}"
            )));
        }
        Ok(())
    }

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
pub fn clients_finished<'a>(
    node: impl Fn(Addr) -> Option<&'a MinerSimNode>,
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
        let Some(node) = node(addr).and_then(|n| n.kind::<DelayedClient>()) else {
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
