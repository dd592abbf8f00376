//! The miner's catalog scenarios on a few seeds, with figures they must reach, and two
//! worlds built by hand that watch a lost miner's chunk and a lost client's work. Run them
//! in release (`cargo test --release -p scenarios --test miner`): the checker and the
//! miners compute real hashes.

use faultline::harness::{Report, RunSpec, Scenario};
use faultline::{Addr, Checker, Failure, Fault, Time};
use miner::{MinerEvent, Outcome};
use scenarios::miner::invariants::MinerChecker;
use scenarios::miner::nodes::DelayedClient;
use scenarios::miner::scenarios::faults::Churn;
use scenarios::miner::world::{build, Built, Setup};

fn scenario(name: &str) -> Box<dyn Scenario> {
    scenarios::catalog::find(name).expect("in the catalog")
}

fn run(scenario: &dyn Scenario, seed: u64) -> Report {
    let report = scenario
        .run(&RunSpec {
            seed,
            ..RunSpec::default()
        })
        .expect("scenario runs");
    assert!(
        report.ok,
        "{} seed {seed}: {:?}\nmetrics {:?}",
        scenario.name(),
        report.violation,
        report.metrics
    );
    report
}

fn metric(report: &Report, key: &str) -> f64 {
    report.metrics[key]
        .as_f64()
        .unwrap_or_else(|| panic!("metric {key}"))
}

#[test]
fn churn_answers_every_live_client_exactly() {
    for seed in 1..=6 {
        let r = run(&*scenario("miner-churn"), seed);
        assert!(
            metric(&r, "answers") >= Churn::CLIENTS as f64,
            "seed {seed}: {:?}",
            r.metrics
        );
    }
}

#[test]
fn churn_with_miner_deaths_reassigns_their_chunks() {
    // Over a few seeds some miner must die holding a chunk, and answers stay exact.
    let lost: f64 = (1..=6)
        .map(|seed| metric(&run(&*scenario("miner-churn"), seed), "miners_lost"))
        .sum();
    assert!(
        lost > 0.0,
        "no seed killed a miner: the scenario does not exercise miner loss"
    );
}

#[test]
fn faults_keep_answers_exact() {
    let (mut answers, mut faulty) = (0.0, 0);
    for seed in 1..=6 {
        let r = run(&*scenario("miner-faults"), seed);
        answers += metric(&r, "answers");
        faulty += usize::from(!r.faults.faults.is_empty());
    }
    // The runs did face faults, and most requests were still answered.
    assert!(faulty >= 4, "only {faulty} of 6 seeds had faults");
    assert!(answers >= 30.0, "only {answers} of 60 requests answered");
}

/// The stated factor: mean response time within 1.5x of the arrival-order bound.
const RESPONSE_FACTOR: f64 = 1.5;

#[test]
fn response_time_within_stated_factor_of_bound() {
    for seed in 1..=4 {
        let r = run(&*scenario("miner-response"), seed);
        assert_eq!(metric(&r, "answered"), 16.0);
        let factor = metric(&r, "factor_vs_fifo_bound");
        assert!(
            factor <= RESPONSE_FACTOR,
            "seed {seed}: factor {factor}, metrics {:?}",
            r.metrics
        );
        // Sanity: nobody beats each request running alone on every miner.
        assert!(metric(&r, "mean_response_ms") >= metric(&r, "mean_alone_bound_ms"));
    }
}

#[test]
fn small_request_after_huge_finishes_first() {
    for seed in 1..=3 {
        let r = run(&*scenario("miner-small-after-huge"), seed);
        let small = metric(&r, "small_done_ms");
        let huge = metric(&r, "huge_done_ms");
        assert!(small < huge);
        // Alone on all miners (600k/s) the small one takes 50 ms; allow LSP round trips
        // and the chunks already running when it arrives (about 20 ms each).
        assert!(metric(&r, "small_response_ms") < 150.0, "{:?}", r.metrics);
    }
}

/// The invariant checker, keeping a log of every recorded event.
#[derive(Default)]
struct Logged {
    checks: MinerChecker,
    log: Vec<(Time, Addr, MinerEvent)>,
}

impl Checker<MinerEvent> for Logged {
    fn on_event(&mut self, now: Time, node: Addr, e: &MinerEvent) -> Result<(), Failure> {
        self.log.push((now, node, e.clone()));
        self.checks.on_event(now, node, e)
    }
}

/// Build `setup` with the logging checker.
fn logged(seed: u64, setup: &Setup) -> Built {
    let mut built = build(&faultline::harness::RunSpec::new(seed), setup);
    built.world.set_checker(Logged::default());
    built
}

fn log_of(built: &Built) -> &[(Time, Addr, MinerEvent)] {
    &built
        .world
        .checker::<Logged>()
        .expect("the logging checker")
        .log
}

/// The server's connection id of the node at `addr`.
fn conn_of(log: &[(Time, Addr, MinerEvent)], addr: Addr) -> i64 {
    log.iter()
        .find_map(|(_, _, e)| match e {
            MinerEvent::Accepted { conn, from } if *from == addr => Some(*conn),
            _ => None,
        })
        .expect("node connected")
}

#[test]
fn a_dead_miners_chunk_is_mined_again_and_the_answer_is_exact() {
    let setup = Setup {
        miners: vec![(50_000, Time::ZERO), (50_000, Time::ZERO)],
        clients: vec![("dead miner".into(), 200_000, Time::from_millis(50))],
    };
    let mut built = logged(3, &setup);
    let victim = built.miners[0];
    built
        .world
        .fault_at(Time::from_millis(1_000), Fault::Crash { node: victim.0 });
    built
        .world
        .run_until(Time::from_secs(10))
        .expect("no invariant violated");
    let log = log_of(&built);
    let dead = conn_of(log, victim);
    // What the victim held when it died.
    let lost_at = log
        .iter()
        .find_map(|(t, _, e)| {
            matches!(e, MinerEvent::MinerLost { conn } if *conn == dead).then_some(*t)
        })
        .expect("server noticed the dead miner");
    let held = log
        .iter()
        .rev()
        .filter(|(t, _, _)| *t <= lost_at)
        .find_map(|(_, _, e)| match e {
            MinerEvent::ChunkSent {
                conn, lower, upper, ..
            } if *conn == dead => Some((*lower, *upper)),
            _ => None,
        })
        .expect("the victim got work");
    let resent = log.iter().any(|(t, _, e)| {
        matches!(e, MinerEvent::ChunkSent { conn, lower, .. } if *t >= lost_at && *conn != dead && *lower == held.0)
    });
    assert!(
        resent,
        "chunk {held:?} of the dead miner was never sent again"
    );
    // The checker verified coverage and the minimum; the client printed it.
    let client = built
        .world
        .node(built.clients[0])
        .and_then(|n| n.kind::<DelayedClient>())
        .and_then(|c| c.program().client())
        .and_then(|c| c.outcome());
    let want = miner::min_hash("dead miner", 0, 200_000).unwrap();
    assert_eq!(client, Some(Outcome::Result(want)));
}

#[test]
fn a_dead_clients_work_stops_and_nothing_is_sent_to_it() {
    let setup = Setup {
        miners: vec![(100_000, Time::ZERO), (200_000, Time::ZERO)],
        clients: vec![
            ("doomed".into(), 2_000_000, Time::from_millis(10)),
            ("survivor".into(), 300_000, Time::from_millis(20)),
        ],
    };
    let mut built = logged(4, &setup);
    let doomed = built.clients[0];
    built
        .world
        .fault_at(Time::from_millis(500), Fault::Crash { node: doomed.0 });
    built
        .world
        .run_until(Time::from_secs(15))
        .expect("no invariant violated");
    let log = log_of(&built);
    let conn = conn_of(log, doomed);
    let lost_at = log
        .iter()
        .find_map(|(t, _, e)| {
            matches!(e, MinerEvent::ClientLost { conn: c } if *c == conn).then_some(*t)
        })
        .expect("server noticed the dead client");
    let doomed_req = log
        .iter()
        .find_map(|(_, _, e)| match e {
            MinerEvent::RequestIn { conn: c, req, .. } if *c == conn => Some(*req),
            _ => None,
        })
        .unwrap();
    assert!(
        !log.iter().any(|(t, _, e)| *t > lost_at
            && matches!(e, MinerEvent::ChunkSent { req, .. } if *req == doomed_req)),
        "work for the dead client was handed out after it was lost"
    );
    assert!(!log
        .iter()
        .any(|(_, _, e)| matches!(e, MinerEvent::Answered { conn: c, .. } if *c == conn)));
    // 2M nonces at 300k/s would take 6.7 s; the survivor is answered long before that.
    let answered = log
        .iter()
        .find_map(|(t, _, e)| matches!(e, MinerEvent::Answered { .. }).then_some(*t))
        .expect("survivor answered");
    assert!(
        answered < Time::from_millis(2_500),
        "survivor answered at {answered}"
    );
}
