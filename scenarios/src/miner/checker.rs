//! The miner's invariants, checked on every recorded event (spec "P1 Part B"):
//!
//! - `answer-is-minimum`: every answer the server sends, and every result a client
//!   prints, equals the single-pass minimum over the request's whole range;
//! - `answered-once`: the server answers each request at most once, to the connection
//!   that asked; a client gets at most one result per request it sent;
//! - `nothing-to-lost-client`: no answer goes to a connection the server declared lost;
//! - `no-nonce-range-lost`: the chunks folded into an answer cover its range exactly once
//!   (so a lost miner's chunk was mined again, and no range was skipped or counted twice).
//!
//! The reference minimum is computed with the miner's fast loop over the whole range in
//! one pass ([`miner::hash::min_hash`]); that loop is checked nonce by nonce against the
//! definition in the miner crate's unit tests. It is memoised per (message, range), so a
//! request checked at the server and at its client is computed once.

use faultline::{Addr, Checker, Failure, Time};
use miner::hash::min_hash;
use miner::scheduler::ReqId;
use miner::{Best, MinerEvent};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

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

/// The checker; `observed` is shared with the scenario.
pub struct MinerChecker {
    pub observed: Rc<RefCell<Observed>>,
    lost: BTreeSet<i64>,
    reqs: BTreeMap<ReqId, ServerReq>,
    /// Per client node: (message, upper, index into `runs`) of its current request.
    clients: BTreeMap<Addr, (String, u64, usize)>,
    memo: BTreeMap<(String, u64, u64), Best>,
}

impl MinerChecker {
    pub fn new(observed: Rc<RefCell<Observed>>) -> MinerChecker {
        MinerChecker {
            observed,
            lost: BTreeSet::new(),
            reqs: BTreeMap::new(),
            clients: BTreeMap::new(),
            memo: BTreeMap::new(),
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
            return Err(Failure::new(
                "nothing-to-lost-client",
                format!("answer of request {req} sent to lost connection {conn}"),
            ));
        }
        let Some(r) = self.reqs.get_mut(&req) else {
            return Err(Failure::new(
                "answered-once",
                format!("answer for unknown request {req}"),
            ));
        };
        if r.answered {
            return Err(Failure::new(
                "answered-once",
                format!("request {req} answered twice"),
            ));
        }
        if r.conn != conn {
            return Err(Failure::new(
                "answered-once",
                format!("request {req} of connection {} answered to {conn}", r.conn),
            ));
        }
        r.answered = true;
        let mut chunks = std::mem::take(&mut r.chunks);
        chunks.sort();
        let (data, lower, upper) = (r.data.clone(), r.lower, r.upper);
        let mut next = lower as u128;
        for &(lo, hi) in &chunks {
            if lo as u128 != next {
                return Err(Failure::new(
                    "no-nonce-range-lost",
                    format!("request {req} [{lower}, {upper}]: chunk at {lo} but expected {next} (chunks {chunks:?})"),
                ));
            }
            next = hi as u128 + 1;
        }
        if next != upper as u128 + 1 {
            return Err(Failure::new(
                "no-nonce-range-lost",
                format!(
                    "request {req} [{lower}, {upper}]: chunks end at {}",
                    next - 1
                ),
            ));
        }
        let want = self.minimum(&data, lower, upper);
        if got != want {
            return Err(Failure::new(
                "answer-is-minimum",
                format!("server answered request {req} ({data:?}, [{lower}, {upper}]) with {got:?}, minimum is {want:?}"),
            ));
        }
        self.observed.borrow_mut().answers += 1;
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
                self.observed.borrow_mut().chunks_folded += 1;
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
            MinerEvent::ClientLost { conn } => {
                self.lost.insert(*conn);
                self.reqs.retain(|_, r| r.conn != *conn);
                self.observed.borrow_mut().clients_lost += 1;
            }
            MinerEvent::MinerLost { .. } => self.observed.borrow_mut().miners_lost += 1,
            MinerEvent::ClientRequest { data, upper } => {
                let mut obs = self.observed.borrow_mut();
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
                    return Err(Failure::new(
                        "answered-once",
                        format!("{node} got a result it never asked for"),
                    ));
                };
                if self.observed.borrow().runs[idx].answered.is_some() {
                    return Err(Failure::new(
                        "answered-once",
                        format!("{node} got two results"),
                    ));
                }
                let want = self.minimum(&data, 0, upper);
                let got = Best {
                    hash: *hash,
                    nonce: *nonce,
                };
                if got != want {
                    return Err(Failure::new(
                        "answer-is-minimum",
                        format!(
                            "{node} printed {got:?} for ({data:?}, {upper}), minimum is {want:?}"
                        ),
                    ));
                }
                self.observed.borrow_mut().runs[idx].answered = Some(now);
            }
            MinerEvent::ClientDisconnected => self.observed.borrow_mut().disconnected += 1,
            MinerEvent::Accepted { .. }
            | MinerEvent::MinerJoined { .. }
            | MinerEvent::ChunkSent { .. }
            | MinerEvent::Mined { .. }
            | MinerEvent::MinerStopped => {}
        }
        Ok(())
    }
}
