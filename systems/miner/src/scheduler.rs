//! The server's scheduler: which miner mines which nonces, and when a request is done.
//!
//! A pure state machine (no I/O, no clock of its own: the caller passes `now`), so the
//! same code runs in the simulator and for real, and is unit tested on its own. SPEC.md
//! §7 asks for low mean response time, priority to earlier requests, and busy miners; this
//! is the policy, in four rules.
//!
//! 1. **Chunks.** A request's range is cut into chunks as miners ask for work. A miner's
//!    first chunk is `base_chunk` nonces (10000, as SPEC.md §5 recommends). Once the
//!    scheduler has timed a miner's chunks it sizes them to take about `target_chunk`
//!    of that miner's time (never below `min_chunk`, never above `max_chunk`): a fast
//!    miner is not throttled by round trips, a slow one is never handed an hour of work,
//!    and every chunk ends within about `target_chunk`, which bounds how long a new
//!    request waits for a miner to come free.
//! 2. **Shortest remaining work first, with aging in work.** Every idle miner takes its
//!    chunk from the live request with unassigned nonces that has the smallest
//!    `key = size + dispatched_before_arrival` (ties: arrival order), where
//!    `dispatched_before_arrival` counts all nonces the server had handed out when the
//!    request arrived. Subtracting the common total `dispatched_now` gives
//!    `key - dispatched_now = remaining - overtaken`, where `remaining` is the request's
//!    own unmined work and `overtaken` the work handed to other requests since it
//!    arrived. So while two requests compete this is exactly Shortest-Remaining-Time-
//!    First (a small request that arrives after a huge one passes it and finishes
//!    first), but every nonce given to someone else while a request waits counts as
//!    progress for it. A request can be passed only by later arrivals smaller than its
//!    own size, and by none that arrives once another `size` nonces have been handed out
//!    since it arrived: it is never starved. Requests of similar size are served in
//!    arrival order (the later one's key is larger by the work dispatched between the two
//!    arrivals; simultaneous arrivals of equal size keep arrival order by the tie rule).
//! 3. **All miners busy.** Idle miners are served fastest first (the top request gets the
//!    fastest miner), and any miner that is idle while some request has unassigned work
//!    gets a chunk at once. Then each timed miner gets a second chunk to queue
//!    (prefetch): it starts on it the moment it sends a result, instead of idling for the
//!    round trip to the server and back; the cost is that a request arriving later waits
//!    up to two chunks (about 2 x `target_chunk`) for a miner. When no request has
//!    unassigned work left, an idle miner may
//!    take a *backup* copy of an in-flight chunk (at most one copy per chunk) if it would
//!    finish it before the miner holding it is expected to (from its measured rate; a
//!    chunk already late is expected to need as long again as it has run): the request
//!    no longer waits on its slowest miner (the tail of a request on miners of different
//!    speeds). The first copy to return counts; the other result is ignored.
//! 4. **Failures.** A result is accepted only from the miner holding the chunk, with a
//!    nonce inside it and a hash that is that nonce's (one hash to check); otherwise it
//!    is dropped and the chunk goes back as if the miner were lost. A lost miner's chunk
//!    goes back to its request (served before the untouched rest of the range) unless a
//!    backup copy is still running; so no nonce range is ever lost. With no miner left,
//!    work waits for the next to join. A lost client's requests are forgotten at once;
//!    chunks of theirs still on miners are not cancelled (the protocol has no cancel),
//!    their results are ignored when they come.
//!
//! Per request the invariant is `done + in_flight + unassigned = size`, with the ranges
//! disjoint; [`Scheduler::check_invariants`] asserts it (tests call it after every step).

use crate::hash::Best;
use faultline::bugs::BugSet;
use faultline::Time;
use std::collections::BTreeMap;
use std::time::Duration;

/// Identifies a request inside the server, in arrival order.
pub type ReqId = u64;

faultline::planted_bugs! {
    /// Known-wrong behaviours that can be planted (see `faultline bugs`); none by default.
    pub enum Bug {
        /// A chunk `[lo, hi]` is sent to its miner as `[lo, hi - 1]`: upper bounds never tried.
        UpperBoundExclusive = 0,
        /// A lost miner's chunk is forgotten instead of going back to its request.
        NoRequeue = 1,
        /// A request keeps the latest chunk's result instead of the minimum over its chunks.
        KeepLatestResult = 2,
        /// A miner keeps a nonce only when its hash beats a fixed target (a proof-of-work
        /// search, not a minimum), and when nothing in its chunk does, reports the last
        /// nonce tried. Planted in the miner ([`crate::WorkerNode::with_bugs`]).
        MinerTargetOrLast = 3,
    }
}

/// Scheduler tuning.
#[derive(Clone, Debug)]
pub struct Config {
    /// Nonces in a miner's first chunk, and the smallest chunk ever (SPEC.md §5: 10000).
    pub base_chunk: u64,
    /// The smallest chunk for a miner whose rate is known.
    pub min_chunk: u64,
    /// How long a chunk should take on the miner that gets it, once its rate is known.
    pub target_chunk: Duration,
    /// The largest chunk, whatever the miner's rate.
    pub max_chunk: u64,
    /// Hand idle miners backup copies of in-flight chunks (rule 3).
    pub backups: bool,
    /// Queue a second chunk on each timed miner (rule 3), so it never waits a round trip.
    pub prefetch: bool,
    /// Planted bugs (none unless a bug hunt asks).
    pub bugs: BugSet<Bug>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            base_chunk: 10_000,
            min_chunk: 1_000,
            target_chunk: Duration::from_millis(20),
            max_chunk: 50_000_000,
            backups: true,
            prefetch: true,
            bugs: BugSet::NONE,
        }
    }
}

/// Work handed to a miner: mine `[lower, upper]` of `data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub req: ReqId,
    pub data: String,
    pub lower: u64,
    pub upper: u64,
}

/// A finished request: send `best` to `client`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer<C> {
    pub client: C,
    pub req: ReqId,
    pub best: Best,
    /// The last chunk folded in (the one whose result completed the request).
    pub lower: u64,
    pub upper: u64,
}

/// What became of a miner's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultOutcome<C> {
    /// The chunk is folded into its request, which is now complete.
    Answer(Answer<C>),
    /// The chunk `[lower, upper]` of `req` is folded in; the request goes on.
    Folded { req: ReqId, lower: u64, upper: u64 },
    /// The result is for work nobody needs any more (a lost client's request, or a chunk
    /// whose other copy returned first): ignored.
    Stale,
    /// The miner had no job: dropped.
    Rejected,
    /// The result is wrong for the chunk the miner held (a nonce outside it, or a hash
    /// that is not the nonce's): dropped, and the chunk goes back to its request. The
    /// miner is lying or broken.
    Wrong,
}

/// Counters, for reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub chunks: u64,
    pub backups: u64,
    pub requeued: u64,
    pub stale_results: u64,
    pub rejected_results: u64,
}

#[derive(Clone, Debug)]
struct Chunk<M> {
    upper: u64,
    /// Miners mining this range now (two when a backup copy runs).
    holders: Vec<M>,
    /// A backup copy was handed out (at most one per chunk).
    backed_up: bool,
}

#[derive(Clone, Debug)]
struct Request<C, M> {
    client: C,
    data: String,
    size: u128,
    /// Rule 2's key: size plus the nonces dispatched before this request arrived.
    key: u128,
    /// Ranges given back by lost miners; served before `next`.
    requeued: Vec<(u64, u64)>,
    /// First nonce never handed out, or `None` once the whole range has been.
    next: Option<u64>,
    upper: u64,
    in_flight: BTreeMap<u64, Chunk<M>>,
    done: u128,
    best: Option<Best>,
}

impl<C, M> Request<C, M> {
    fn unassigned(&self) -> u128 {
        let requeued: u128 = self.requeued.iter().map(|&(lo, hi)| len(lo, hi)).sum();
        requeued + self.next.map_or(0, |n| len(n, self.upper))
    }

    fn has_unassigned(&self) -> bool {
        !self.requeued.is_empty() || self.next.is_some()
    }

    /// Cut up to `want` nonces off the unassigned work: requeued ranges first.
    fn take(&mut self, want: u64) -> Option<(u64, u64)> {
        let want = want.max(1);
        if let Some((lo, hi)) = self.requeued.pop() {
            let end = lo.saturating_add(want - 1).min(hi);
            if end < hi {
                self.requeued.push((end + 1, hi));
            }
            return Some((lo, end));
        }
        let lo = self.next?;
        let end = lo.saturating_add(want - 1).min(self.upper);
        self.next = if end < self.upper {
            Some(end + 1)
        } else {
            None
        };
        Some((lo, end))
    }

    fn complete(&self) -> bool {
        !self.has_unassigned() && self.in_flight.is_empty()
    }
}

#[derive(Clone, Debug)]
struct MinerState {
    /// Chunks sent to this miner, in order: the first is being mined, a second (rule 3's
    /// prefetch) waits in the miner's queue.
    jobs: Vec<(ReqId, u64, u64)>,
    /// When the first chunk started: when it was sent to an idle miner, or when the
    /// result before it came back.
    since: Time,
    /// Estimated nonces per second, from timed chunks (EWMA); 0 = unknown.
    rate: u64,
}

impl MinerState {
    /// Send a chunk: it starts now if the miner was idle, else after those before it.
    fn take_job(&mut self, req: ReqId, lo: u64, hi: u64, now: Time) {
        if self.jobs.is_empty() {
            self.since = now;
        }
        self.jobs.push((req, lo, hi));
    }
}

/// The upper bound a chunk `[lo, hi]` is sent with: `hi`, unless the planted
/// `UpperBoundExclusive` makes it `hi - 1`.
fn sent_upper(cfg: &Config, lo: u64, hi: u64) -> u64 {
    match cfg.bugs.has(Bug::UpperBoundExclusive) && hi > lo {
        true => hi - 1,
        false => hi,
    }
}

fn len(lo: u64, hi: u64) -> u128 {
    hi as u128 - lo as u128 + 1
}

/// The scheduler over clients of type `C` and miners of type `M` (the server uses LSP
/// connection ids for both).
pub struct Scheduler<C, M> {
    cfg: Config,
    requests: BTreeMap<ReqId, Request<C, M>>,
    miners: BTreeMap<M, MinerState>,
    next_req: ReqId,
    /// All nonces handed out so far (backup copies excluded): rule 2's clock.
    dispatched: u128,
    stats: Stats,
}

impl<C: Copy + Ord, M: Copy + Ord> Scheduler<C, M> {
    pub fn new(cfg: Config) -> Scheduler<C, M> {
        Scheduler {
            cfg,
            requests: BTreeMap::new(),
            miners: BTreeMap::new(),
            next_req: 0,
            dispatched: 0,
            stats: Stats::default(),
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Requests not yet answered.
    pub fn pending_requests(&self) -> usize {
        self.requests.len()
    }

    pub fn miner_count(&self) -> usize {
        self.miners.len()
    }

    /// Miners with no job.
    pub fn idle_miners(&self) -> usize {
        self.miners.values().filter(|m| m.jobs.is_empty()).count()
    }

    /// A miner joined; it is idle until the next [`assign`](Self::assign).
    pub fn add_miner(&mut self, miner: M) {
        self.miners.entry(miner).or_insert(MinerState {
            jobs: Vec::new(),
            since: Time::ZERO,
            rate: 0,
        });
    }

    /// A miner is lost: its chunk goes back to its request unless a backup copy runs.
    pub fn remove_miner(&mut self, miner: M) {
        let Some(state) = self.miners.remove(&miner) else {
            return;
        };
        for (req, lo, hi) in state.jobs {
            self.drop_holder(req, lo, hi, miner);
        }
    }

    /// A client asks for the minimum over `[lower, upper]` of `data`. Returns its id.
    pub fn add_request(&mut self, client: C, data: String, lower: u64, upper: u64) -> ReqId {
        let id = self.next_req;
        self.next_req += 1;
        let (lower, upper) = (lower.min(upper), upper.max(lower));
        let size = len(lower, upper);
        self.requests.insert(
            id,
            Request {
                client,
                data,
                size,
                key: size + self.dispatched,
                requeued: Vec::new(),
                next: Some(lower),
                upper,
                in_flight: BTreeMap::new(),
                done: 0,
                best: None,
            },
        );
        id
    }

    /// A client is lost: forget its requests (results of their chunks will be stale).
    /// Clients with a request not yet answered, each once.
    pub fn waiting_clients(&self) -> Vec<C> {
        let mut out: Vec<C> = Vec::new();
        for r in self.requests.values() {
            if !out.contains(&r.client) {
                out.push(r.client);
            }
        }
        out
    }

    pub fn remove_client(&mut self, client: C) {
        self.requests.retain(|_, r| r.client != client);
    }

    /// Give every idle miner work it should do now (rules 2 and 3). The caller sends
    /// each job to its miner.
    pub fn assign(&mut self, now: Time) -> Vec<(M, Job)> {
        // Idle miners, then (prefetch) timed miners with one chunk: (chunks held, rate, id).
        let mut want: Vec<(usize, u64, M)> = self
            .miners
            .iter()
            .filter(|(_, s)| {
                s.jobs.is_empty() || (self.cfg.prefetch && s.jobs.len() == 1 && s.rate > 0)
            })
            .map(|(&m, s)| (s.jobs.len(), s.rate, m))
            .collect();
        // Idle first; then fastest first, unknown rates (0) last; ties by miner id.
        want.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let mut out = Vec::new();
        for (held, rate, miner) in want {
            let job = match self.top_request() {
                Some(req) => self.dispatch(req, miner, rate, now),
                None if held == 0 && self.cfg.backups => match self.backup_candidate(miner, now) {
                    Some(job) => job,
                    None => continue,
                },
                None => continue,
            };
            out.push((miner, job));
        }
        out
    }

    /// A miner answered its job. On `Answer` the caller sends the result to the client.
    pub fn on_result(&mut self, now: Time, miner: M, best: Best) -> ResultOutcome<C> {
        let Some(state) = self.miners.get_mut(&miner) else {
            self.stats.rejected_results += 1;
            return ResultOutcome::Rejected;
        };
        if state.jobs.is_empty() {
            self.stats.rejected_results += 1;
            return ResultOutcome::Rejected;
        }
        // LSP delivers in order and a miner answers in order: this is its first chunk.
        let (req, lo, hi) = state.jobs.remove(0);
        let elapsed = now.as_nanos().saturating_sub(state.since.as_nanos());
        state.since = now;
        if best.nonce < lo || best.nonce > hi {
            self.stats.rejected_results += 1;
            self.drop_holder(req, lo, hi, miner);
            return ResultOutcome::Wrong;
        }
        let Some(request) = self.requests.get_mut(&req) else {
            self.stats.stale_results += 1;
            return ResultOutcome::Stale;
        };
        match request.in_flight.get(&lo) {
            Some(c) if c.upper == hi && c.holders.contains(&miner) => {}
            _ => {
                self.stats.stale_results += 1;
                return ResultOutcome::Stale;
            }
        }
        // One hash checks that the reported hash belongs to the reported nonce: a miner
        // that lies (or a corrupted result LSP's checksum missed) cannot win.
        if crate::hash::hash(&request.data, best.nonce) != best.hash {
            self.stats.rejected_results += 1;
            self.drop_holder(req, lo, hi, miner);
            return ResultOutcome::Wrong;
        }
        self.time_chunk(miner, len(lo, hi), elapsed);
        let request = self.requests.get_mut(&req).expect("looked up above");
        request.in_flight.remove(&lo);
        request.done += len(lo, hi);
        request.best = match self.cfg.bugs.has(Bug::KeepLatestResult) {
            true => Some(best),
            false => Some(request.best.map_or(best, |b| b.merge(best))),
        };
        if !request.complete() {
            return ResultOutcome::Folded {
                req,
                lower: lo,
                upper: hi,
            };
        }
        let request = self.requests.remove(&req).expect("request looked up above");
        let best = request
            .best
            .expect("a complete request folded at least one chunk");
        ResultOutcome::Answer(Answer {
            client: request.client,
            req,
            best,
            lower: lo,
            upper: hi,
        })
    }

    /// Rule 1's rate estimate: a moving average over accepted chunks' times (a rejected
    /// result's timing says nothing).
    fn time_chunk(&mut self, miner: M, nonces: u128, elapsed_ns: u64) {
        let Some(state) = self.miners.get_mut(&miner) else {
            return;
        };
        if elapsed_ns == 0 {
            return;
        }
        let sample = (nonces * 1_000_000_000 / elapsed_ns as u128).min(u64::MAX as u128) as u64;
        state.rate = if state.rate == 0 {
            sample
        } else {
            (state.rate * 3 + sample) / 4
        };
    }

    /// The live request with unassigned work and the smallest (key, arrival).
    fn top_request(&self) -> Option<ReqId> {
        self.requests
            .iter()
            .filter(|(_, r)| r.has_unassigned())
            .min_by_key(|(&id, r)| (r.key, id))
            .map(|(&id, _)| id)
    }

    /// Rule 1: the chunk size for a miner of this rate.
    fn chunk_for(&self, rate: u64) -> u64 {
        if rate == 0 {
            return self.cfg.base_chunk;
        }
        let want = rate as u128 * self.cfg.target_chunk.as_nanos() / 1_000_000_000;
        (want.min(self.cfg.max_chunk as u128) as u64).max(self.cfg.min_chunk)
    }

    fn dispatch(&mut self, req: ReqId, miner: M, rate: u64, now: Time) -> Job {
        let want = self.chunk_for(rate);
        let request = self
            .requests
            .get_mut(&req)
            .expect("top_request returns a live request");
        let (lo, hi) = request.take(want).expect("top_request has unassigned work");
        request.in_flight.insert(
            lo,
            Chunk {
                upper: hi,
                holders: vec![miner],
                backed_up: false,
            },
        );
        let job = Job {
            req,
            data: request.data.clone(),
            lower: lo,
            upper: sent_upper(&self.cfg, lo, hi),
        };
        self.dispatched += len(lo, hi);
        self.stats.chunks += 1;
        self.miners
            .get_mut(&miner)
            .expect("assign walks live miners")
            .take_job(req, lo, hi, now);
        job
    }

    /// Expected nanoseconds for a miner of `rate` to mine `n` nonces; an unknown rate is
    /// taken as the slowest known one (pessimistic), or `None` if no rate is known yet.
    fn expected_ns(&self, rate: u64, n: u128) -> Option<u128> {
        let rate = if rate > 0 {
            rate
        } else {
            self.miners
                .values()
                .map(|m| m.rate)
                .filter(|&r| r > 0)
                .min()?
        };
        Some(n * 1_000_000_000 / rate as u128)
    }

    /// Rule 3's backup: the in-flight chunk expected to finish last, if `miner` would
    /// finish it sooner. Marks it and returns the job.
    fn backup_candidate(&mut self, miner: M, now: Time) -> Option<Job> {
        let my_rate = self.miners.get(&miner)?.rate;
        let mut best: Option<(u128, ReqId, u64)> = None;
        for (&req, r) in &self.requests {
            for (&lo, c) in &r.in_flight {
                if c.backed_up || c.holders.len() != 1 {
                    continue;
                }
                let holder = &self.miners[&c.holders[0]];
                // The holder mines its chunks in order: this one ends after those before it.
                let Some(pos) = holder
                    .jobs
                    .iter()
                    .position(|&(rq, l, _)| rq == req && l == lo)
                else {
                    continue;
                };
                let ahead: u128 = holder.jobs[..=pos].iter().map(|&(_, l, h)| len(l, h)).sum();
                let n = len(lo, c.upper);
                let (Some(theirs), Some(mine)) = (
                    self.expected_ns(holder.rate, ahead),
                    self.expected_ns(my_rate, n),
                ) else {
                    continue;
                };
                // A miner already late with its first chunk is taken to need as long again
                // as it has run, for it and for everything queued behind it.
                let started = holder.since.as_nanos() as u128;
                let elapsed = (now.as_nanos() as u128).saturating_sub(started);
                let their_finish = (started + theirs).max(now.as_nanos() as u128 + elapsed);
                let my_finish = now.as_nanos() as u128 + mine;
                if my_finish < their_finish && best.is_none_or(|(f, _, _)| their_finish > f) {
                    best = Some((their_finish, req, lo));
                }
            }
        }
        let (_, req, lo) = best?;
        let request = self.requests.get_mut(&req)?;
        let chunk = request.in_flight.get_mut(&lo)?;
        chunk.backed_up = true;
        chunk.holders.push(miner);
        let hi = chunk.upper;
        self.stats.backups += 1;
        self.miners.get_mut(&miner)?.take_job(req, lo, hi, now);
        Some(Job {
            req,
            data: request.data.clone(),
            lower: lo,
            upper: sent_upper(&self.cfg, lo, hi),
        })
    }

    /// `miner` no longer works on `[lo, hi]` of `req`: if nobody else does, requeue it.
    fn drop_holder(&mut self, req: ReqId, lo: u64, hi: u64, miner: M) {
        let Some(request) = self.requests.get_mut(&req) else {
            return;
        };
        let Some(chunk) = request.in_flight.get_mut(&lo) else {
            return;
        };
        if chunk.upper != hi {
            return;
        }
        chunk.holders.retain(|&m| m != miner);
        if chunk.holders.is_empty() {
            request.in_flight.remove(&lo);
            if self.cfg.bugs.has(Bug::NoRequeue) {
                // Counted as done, so the request can complete without the range.
                request.done += len(lo, hi);
                return;
            }
            request.requeued.push((lo, hi));
            self.stats.requeued += 1;
        }
    }

    /// Assert the bookkeeping invariants (rule 4's "no range lost"): per request, the
    /// done, in-flight and unassigned nonces add up to its size, the live ranges are
    /// disjoint, and every in-flight chunk's holders are live miners working on it.
    pub fn check_invariants(&self) {
        for (&id, r) in &self.requests {
            let in_flight: u128 = r.in_flight.iter().map(|(&lo, c)| len(lo, c.upper)).sum();
            assert_eq!(
                r.done + in_flight + r.unassigned(),
                r.size,
                "request {id}: nonces lost or doubled"
            );
            let mut ranges: Vec<(u64, u64)> =
                r.in_flight.iter().map(|(&lo, c)| (lo, c.upper)).collect();
            ranges.extend(r.requeued.iter().copied());
            if let Some(n) = r.next {
                ranges.push((n, r.upper));
            }
            ranges.sort();
            for w in ranges.windows(2) {
                assert!(
                    w[0].1 < w[1].0,
                    "request {id}: ranges {:?} and {:?} overlap",
                    w[0],
                    w[1]
                );
            }
            for (&lo, c) in &r.in_flight {
                assert!(
                    !c.holders.is_empty(),
                    "request {id}: chunk at {lo} has no miner"
                );
                for m in &c.holders {
                    let holds = self
                        .miners
                        .get(m)
                        .is_some_and(|s| s.jobs.contains(&(id, lo, c.upper)));
                    assert!(
                        holds,
                        "request {id}: chunk at {lo} held by a miner not working on it"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
