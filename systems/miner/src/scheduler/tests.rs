//! Scheduler tests: a tiny discrete-event driver with miners of given rates plays the
//! server's part, so the policy is checked on timings, not just on data structures.

use super::*;
use crate::hash::{min_hash, min_hash_reference};

const SEC: u64 = 1_000_000_000;

struct MinerSim {
    rate: u64,
    /// Jobs sent, in order, with the time each result reaches the server.
    queue: std::collections::VecDeque<(Job, u64)>,
    /// When the miner finishes the last job it was sent.
    free_at: u64,
    busy_ns: u64,
}

/// The server's part, in virtual time: a job reaches its miner after the one-way
/// `latency`, is mined after the jobs before it at len / rate, and its result reaches the
/// server one `latency` later.
struct Bench {
    s: Scheduler<u32, u32>,
    now: u64,
    latency: u64,
    miners: BTreeMap<u32, MinerSim>,
    /// (time, answer) in completion order.
    answers: Vec<(u64, Answer<u32>)>,
    /// Every job handed out: (miner, job).
    jobs: Vec<(u32, Job)>,
    outcomes: Vec<ResultOutcome<u32>>,
    /// Compute real hashes (small ranges only) instead of a stand-in result.
    real: bool,
    arrivals: BTreeMap<ReqId, u64>,
}

impl Bench {
    fn new(cfg: Config, rates: &[u64]) -> Bench {
        Bench::with_latency(cfg, rates, 0)
    }

    fn with_latency(cfg: Config, rates: &[u64], latency: u64) -> Bench {
        let mut b = Bench {
            s: Scheduler::new(cfg),
            now: 0,
            latency,
            miners: BTreeMap::new(),
            answers: vec![],
            jobs: vec![],
            outcomes: vec![],
            real: false,
            arrivals: BTreeMap::new(),
        };
        for (i, &r) in rates.iter().enumerate() {
            b.join(i as u32, r);
        }
        b
    }

    fn join(&mut self, id: u32, rate: u64) {
        self.miners.insert(
            id,
            MinerSim {
                rate,
                queue: Default::default(),
                free_at: 0,
                busy_ns: 0,
            },
        );
        self.s.add_miner(id);
        self.assign();
    }

    fn assign(&mut self) {
        for (m, job) in self.s.assign(Time::from_nanos(self.now)) {
            let sim = self.miners.get_mut(&m).unwrap();
            assert!(sim.queue.len() < 2, "miner {m} given a third job");
            let n = (job.upper - job.lower + 1) as u128;
            let dur = (n * SEC as u128 / sim.rate as u128) as u64;
            sim.busy_ns += dur;
            sim.free_at = sim.free_at.max(self.now + self.latency) + dur;
            sim.queue
                .push_back((job.clone(), sim.free_at + self.latency));
            self.jobs.push((m, job));
        }
        self.s.check_invariants();
    }

    /// The job a miner is mining now.
    fn current(&self, m: u32) -> Option<Job> {
        self.miners[&m].queue.front().map(|(j, _)| j.clone())
    }

    fn request(&mut self, client: u32, data: &str, upper: u64) -> ReqId {
        let id = self.s.add_request(client, data.to_string(), 0, upper);
        self.arrivals.insert(id, self.now);
        self.assign();
        id
    }

    /// Deliver the next miner result; false if no miner is busy.
    fn step(&mut self) -> bool {
        let next = self
            .miners
            .iter()
            .filter_map(|(&m, s)| s.queue.front().map(|(_, t)| (*t, m)))
            .min();
        let Some((t, m)) = next else { return false };
        self.now = t;
        let (job, _) = self.miners.get_mut(&m).unwrap().queue.pop_front().unwrap();
        let best = if self.real {
            min_hash(&job.data, job.lower, job.upper).unwrap()
        } else {
            // A stand-in for the minimum (the scheduler checks only that the hash is
            // the nonce's): one hash per chunk keeps these timing tests fast.
            Best {
                hash: crate::hash::hash(&job.data, job.lower),
                nonce: job.lower,
            }
        };
        let out = self.s.on_result(Time::from_nanos(t), m, best);
        if let ResultOutcome::Answer(a) = &out {
            self.answers.push((t, a.clone()));
        }
        self.outcomes.push(out);
        self.s.check_invariants();
        self.assign();
        true
    }

    fn run_until(&mut self, t: u64) {
        while self
            .miners
            .values()
            .filter_map(|s| s.queue.front())
            .any(|(_, f)| *f <= t)
        {
            self.step();
        }
        self.now = self.now.max(t);
    }

    fn run_to_end(&mut self) {
        while self.step() {}
    }

    fn answer_time(&self, req: ReqId) -> Option<u64> {
        self.answers
            .iter()
            .find(|(_, a)| a.req == req)
            .map(|(t, _)| *t)
    }
}

#[test]
fn small_request_after_huge_one_finishes_first() {
    let mut b = Bench::new(Config::default(), &[1_000_000, 1_000_000]);
    let huge = b.request(1, "huge", 100_000_000 - 1); // 50 s of work for both miners
    b.run_until(SEC);
    let small = b.request(2, "small", 1_000_000 - 1); // 0.5 s for both miners
    b.run_to_end();
    let t_small = b.answer_time(small).unwrap() - SEC;
    let t_huge = b.answer_time(huge).unwrap();
    assert!(t_small < t_huge, "small answered after huge");
    // Ideal: 0.5 s. Allow a chunk of wait (20 ms) on each miner and slack.
    assert!(t_small < 600_000_000, "small took {t_small} ns");
    // The huge one is delayed by no more than the small one's work.
    assert!(t_huge <= 50 * SEC + 600_000_000, "huge took {t_huge} ns");
}

#[test]
fn similar_sizes_finish_in_arrival_order() {
    let mut b = Bench::new(Config::default(), &[1_000_000, 2_000_000, 500_000]);
    let mut reqs = vec![];
    for i in 0..10u64 {
        // Sizes within +-1% of 1M; arrivals 50 ms apart while the miners are busy.
        let size = 1_000_000 + (i * 7919 % 20_000) - 10_000;
        reqs.push(b.request(i as u32, "similar", size));
        b.run_until(b.now + 50_000_000);
    }
    b.run_to_end();
    let order: Vec<ReqId> = b.answers.iter().map(|(_, a)| a.req).collect();
    assert_eq!(order, reqs);
}

#[test]
fn equal_sizes_arriving_together_keep_arrival_order() {
    let mut b = Bench::new(Config::default(), &[1_000_000, 1_000_000]);
    let reqs: Vec<ReqId> = (0..5).map(|i| b.request(i, "same", 300_000)).collect();
    b.run_to_end();
    let order: Vec<ReqId> = b.answers.iter().map(|(_, a)| a.req).collect();
    assert_eq!(order, reqs);
}

#[test]
fn a_waiting_request_is_not_starved_by_a_stream_of_small_ones() {
    let mut b = Bench::new(Config::default(), &[1_000_000]);
    let big = b.request(0, "big", 2_000_000 - 1); // 2 s alone
                                                  // A small request every 60 ms, each 50 ms of work, for 24 s. Plain SRPT would give
                                                  // the big one only a sixth of the miner: about 12 s.
    for i in 0..400 {
        b.request(100 + i, "small", 50_000 - 1);
        b.run_until(b.now + 60_000_000);
    }
    b.run_to_end();
    let t_big = b.answer_time(big).expect("big request starved");
    // Later arrivals may pass it for at most its own size in work (2 s) plus its own 2 s.
    assert!(t_big < 4 * SEC + 300_000_000, "big answered at {t_big}");
}

#[test]
fn lost_miners_range_is_reassigned_and_answer_is_exact() {
    let cfg = Config {
        base_chunk: 1_000,
        backups: false,
        ..Config::default()
    };
    let mut b = Bench::new(cfg, &[100_000, 100_000]);
    b.real = true;
    let req = b.request(7, "lost miner", 20_000);
    b.run_until(25_000_000); // mid-way through the second chunk on each miner
    let lost_job = b.current(0).expect("miner 0 is busy");
    b.miners.remove(&0);
    b.s.remove_miner(0);
    b.s.check_invariants();
    b.assign();
    b.run_to_end();
    // The lost chunk was handed to miner 1 (and only to it).
    assert!(
        b.jobs
            .iter()
            .any(|(m, j)| *m == 1 && j.lower == lost_job.lower),
        "chunk at {} never reassigned",
        lost_job.lower
    );
    let (_, answer) = b
        .answers
        .iter()
        .find(|(_, a)| a.req == req)
        .expect("answered");
    assert_eq!(answer.client, 7);
    assert_eq!(answer.best, min_hash_reference("lost miner", 0, 20_000));
    assert_eq!(b.answers.len(), 1);
}

#[test]
fn with_no_miner_left_work_waits_for_a_new_one() {
    let mut b = Bench::new(
        Config {
            base_chunk: 1_000,
            ..Config::default()
        },
        &[100_000],
    );
    b.real = true;
    let req = b.request(1, "waits", 5_000);
    b.run_until(5_000_000);
    b.miners.remove(&0);
    b.s.remove_miner(0);
    b.s.check_invariants();
    assert!(b.s.assign(Time::from_nanos(b.now)).is_empty());
    b.run_until(SEC);
    assert!(b.answers.is_empty());
    b.join(9, 100_000);
    b.run_to_end();
    assert_eq!(b.answers.len(), 1);
    assert_eq!(b.answers[0].1.req, req);
    assert_eq!(b.answers[0].1.best, min_hash_reference("waits", 0, 5_000));
}

#[test]
fn lost_clients_work_is_dropped_and_never_answered() {
    let mut b = Bench::new(Config::default(), &[1_000_000, 1_000_000]);
    let gone = b.request(1, "gone", 10_000_000);
    let stays = b.request(2, "stays", 10_000_000);
    b.run_until(100_000_000);
    let held = b
        .miners
        .values()
        .flat_map(|s| s.queue.iter())
        .filter(|(j, _)| j.req == gone)
        .count();
    b.s.remove_client(1);
    b.s.check_invariants();
    let jobs_before = b.jobs.len();
    b.run_to_end();
    assert!(b
        .answers
        .iter()
        .all(|(_, a)| a.client != 1 && a.req != gone));
    assert_eq!(b.answers.len(), 1);
    assert_eq!(b.answers[0].1.req, stays);
    // No new work for the lost client after it was dropped.
    assert!(b.jobs[jobs_before..].iter().all(|(_, j)| j.req != gone));
    // Its chunks still on miners (each miner's current and prefetched one) came back and
    // were ignored.
    assert_eq!(held, 4);
    assert_eq!(b.s.stats().stale_results, 4);
    // Both requests were 10M on 2M/s: the survivor finishes well before 10 s.
    assert!(b.answer_time(stays).unwrap() < 5_300_000_000);
}

#[test]
fn miners_of_different_speeds_are_all_kept_busy() {
    let rates = [4_000_000, 1_000_000, 250_000, 50_000];
    let total: u64 = rates.iter().sum();
    let mut b = Bench::new(Config::default(), &rates);
    let size = 100_000_000u64;
    let req = b.request(1, "speeds", size - 1);
    b.run_to_end();
    let t = b.answer_time(req).unwrap();
    let ideal = size as u128 * SEC as u128 / total as u128;
    // Within 5% of perfect sharing: nobody idles, and the tail is not left to the
    // slowest miner (backup copies).
    assert!(
        (t as u128) < ideal * 105 / 100,
        "took {t} ns, ideal {ideal}"
    );
    for (m, s) in &b.miners {
        assert!(
            s.busy_ns as u128 >= ideal * 90 / 100,
            "miner {m} busy only {} ns of {ideal}",
            s.busy_ns
        );
    }
    // Chunks grew with the miner's rate (20 ms each) after the first.
    let fast_chunks: Vec<u64> = b
        .jobs
        .iter()
        .filter(|(m, _)| *m == 0)
        .map(|(_, j)| j.upper - j.lower + 1)
        .collect();
    assert_eq!(fast_chunks[0], 10_000);
    let sized = fast_chunks.iter().filter(|&&n| n == 80_000).count();
    assert!(sized * 10 >= fast_chunks.len() * 9, "{fast_chunks:?}");
}

#[test]
fn backup_copy_beats_a_slow_miner_and_the_late_result_is_stale() {
    let mut b = Bench::new(Config::default(), &[10_000_000, 10_000]);
    let req = b.request(1, "tail", 40_000 - 1);
    // Miner 0 takes chunk 1 (1 ms), miner 1 (slow) takes chunk 2 (1 s!). When miner 0
    // is back and the rest is handed out, it copies the slow chunk.
    b.run_to_end();
    let t = b.answer_time(req).unwrap();
    assert!(t < 20_000_000, "request waited on the slow miner: {t} ns");
    assert!(b.s.stats().backups >= 1);
    assert!(
        b.outcomes.contains(&ResultOutcome::Stale),
        "the slow copy's result should be ignored"
    );
    assert_eq!(b.answers.len(), 1);
}

#[test]
fn bad_results_are_rejected_and_their_chunk_requeued() {
    let mut s: Scheduler<u32, u32> = Scheduler::new(Config {
        backups: false,
        ..Config::default()
    });
    let now = Time::from_nanos(0);
    assert_eq!(
        s.on_result(now, 5, Best { hash: 1, nonce: 1 }),
        ResultOutcome::Rejected
    );
    s.add_miner(5);
    assert_eq!(
        s.on_result(now, 5, Best { hash: 1, nonce: 1 }),
        ResultOutcome::Rejected
    );
    s.add_request(1, "x".into(), 0, 30_000);
    let jobs = s.assign(now);
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0].1;
    let t = Time::from_millis(1);
    assert_eq!(
        s.on_result(
            t,
            5,
            Best {
                hash: 1,
                nonce: job.upper + 1
            }
        ),
        ResultOutcome::Wrong
    );
    s.check_invariants();
    assert_eq!(s.stats().requeued, 1);
    // The same range is handed out again first.
    let again = s.assign(t);
    assert_eq!(again[0].1.lower, job.lower);
    // A nonce inside the chunk with a hash that is not that nonce's: rejected too.
    let lie = Best {
        hash: 1,
        nonce: job.lower,
    };
    assert_ne!(crate::hash::hash("x", job.lower), 1);
    assert_eq!(s.on_result(t, 5, lie), ResultOutcome::Wrong);
    s.check_invariants();
    assert_eq!(s.stats().rejected_results, 4);
    assert_eq!(s.stats().requeued, 2);
    // The honest answer is taken.
    let again = s.assign(t);
    let j = &again[0].1;
    let honest = crate::hash::min_hash("x", j.lower, j.upper).unwrap();
    assert!(matches!(
        s.on_result(t, 5, honest),
        ResultOutcome::Folded { .. }
    ));
}

#[test]
fn full_range_up_to_u64_max_is_bookkept_without_overflow() {
    let mut s: Scheduler<u32, u32> = Scheduler::new(Config::default());
    s.add_miner(1);
    s.add_request(1, "all".into(), 0, u64::MAX);
    s.add_request(2, "top".into(), u64::MAX - 5, u64::MAX);
    let jobs = s.assign(Time::from_nanos(0));
    // The tiny request goes first.
    assert_eq!(jobs[0].1.req, 1);
    assert_eq!((jobs[0].1.lower, jobs[0].1.upper), (u64::MAX - 5, u64::MAX));
    s.check_invariants();
    match s.on_result(
        Time::from_millis(1),
        1,
        Best {
            hash: crate::hash::hash("top", u64::MAX),
            nonce: u64::MAX,
        },
    ) {
        ResultOutcome::Answer(a) => assert_eq!((a.client, a.best.nonce), (2, u64::MAX)),
        other => panic!("{other:?}"),
    }
    s.check_invariants();
}

#[test]
fn prefetch_hides_the_round_trip() {
    // 2 ms each way: without a queued chunk a miner idles 4 ms per 20 ms chunk.
    let size = 20_000_000u64;
    let rates = [1_000_000, 3_000_000];
    let ideal = size as u128 * SEC as u128 / 4_000_000;
    let mut times = vec![];
    for prefetch in [false, true] {
        let cfg = Config {
            prefetch,
            ..Config::default()
        };
        let mut b = Bench::with_latency(cfg, &rates, 2_000_000);
        let req = b.request(1, "rtt", size - 1);
        b.run_to_end();
        times.push(b.answer_time(req).unwrap() as u128);
    }
    assert!(
        times[0] > ideal * 110 / 100,
        "without prefetch: {} vs ideal {ideal}",
        times[0]
    );
    assert!(
        times[1] < ideal * 102 / 100,
        "with prefetch: {} vs ideal {ideal}",
        times[1]
    );
}

#[test]
fn a_miner_that_never_answers_does_not_hold_a_request_hostage() {
    // Miner 1 mines at 1 nonce/s: in effect it never answers (and stays connected).
    let mut b = Bench::new(Config::default(), &[1_000_000, 1]);
    let req = b.request(1, "hostage", 100_000 - 1);
    while b.answer_time(req).is_none() && b.now < 10 * SEC {
        b.step();
    }
    let t = b
        .answer_time(req)
        .expect("answered while the silent miner still holds its chunk");
    // 100k nonces on the live miner take 100 ms; the silent one's chunk is copied once the
    // live miner runs out of other work.
    assert!(t < 200_000_000, "answered at {t} ns");
}
