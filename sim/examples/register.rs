//! Testing your own system with faultline: a replicated register.
//!
//! The system is the classic majority-quorum register of Attiya, Bar-Noy and Dolev (ABD):
//! three replicas each hold a value with a timestamp `(counter, writer)`; a client writes by
//! asking a majority for their timestamps and storing its value under a larger one at a
//! majority; it reads by asking a majority for their values, taking the newest, and writing
//! that back to a majority before it answers. Any two majorities meet, so every read sees
//! every write that finished before it began. The write-back is what makes reads
//! linearizable: without it, one read can see a half-stored new value and a later read the
//! old one.
//!
//! The test: three replicas and three clients under a fault schedule that each seed draws
//! (loss, duplication, reordering, corruption, partitions, replica crashes and restarts,
//! pauses); a checker that collects every client's invocations and returns, demands that
//! every client finishes after the faults heal (liveness), and that the whole history is
//! linearizable against a one-register model (safety). `main` sweeps it over seeds.
//!
//! ```text
//! cargo run --release -p faultline --example register -- --seeds 0..200
//! cargo run --release -p faultline --example register -- --seeds 0..200 --bug   # plants the bug
//! cargo run --release -p faultline --example register -- --seed 7               # one run
//! ```
//!
//! It is written only against faultline's public API, as your own crate would be.

use faultline::harness::{drive, Report, RunSpec, Scenario};
use faultline::linearizability::{self, Model, Operation, Verdict};
use faultline::swarm::{FaultKinds, FaultProfile};
use faultline::{Addr, Checker, Ctx, Failure, Invariant, Node, Time, TimerId, World};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// The system under test: what would be your crate.
// ---------------------------------------------------------------------------------------

/// A value's version: a counter, ties broken by the writer's id.
type Stamp = (u64, u64);

/// Messages between clients and replicas. `op` numbers a client's phases, so a late reply
/// to an earlier phase is recognised and ignored.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Msg {
    Query {
        op: u64,
    },
    QueryReply {
        op: u64,
        stamp: Stamp,
        value: Option<u64>,
    },
    Store {
        op: u64,
        stamp: Stamp,
        value: Option<u64>,
    },
    StoreAck {
        op: u64,
    },
}

/// Bytes of SHA-256 that guard each message.
const CHECK_LEN: usize = 8;

impl Msg {
    /// The message as JSON behind a checksum. The first version of this example had no
    /// checksum, and a sweep found a read that returned a value nobody wrote: a bit flip had
    /// turned `2000007` into `2800007`, which still parsed.
    fn encode(&self) -> Vec<u8> {
        let body = serde_json::to_vec(self).expect("messages always encode");
        let mut out = Sha256::digest(&body)[..CHECK_LEN].to_vec();
        out.extend_from_slice(&body);
        out
    }

    /// A message, or `None` for bytes a faulty network damaged.
    fn decode(bytes: &[u8]) -> Option<Msg> {
        let (check, body) = bytes.split_at_checked(CHECK_LEN)?;
        if Sha256::digest(body)[..CHECK_LEN] != *check {
            return None;
        }
        serde_json::from_slice(body).ok()
    }
}

/// A replica: the newest stamped value it has seen, kept in durable storage.
#[derive(Default)]
struct Replica {
    stamp: Stamp,
    value: Option<u64>,
    malformed: u64,
}

impl Node for Replica {
    type Event = RegisterEvent;
    type Timer = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, RegisterEvent>) {
        // After a crash, only what was synced is here.
        if let Some(saved) = ctx.storage().get("register") {
            if let Ok((stamp, value)) = serde_json::from_slice(saved) {
                (self.stamp, self.value) = (stamp, value);
            }
        }
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, RegisterEvent>, from: Addr, data: &[u8]) {
        match Msg::decode(data) {
            Some(Msg::Query { op }) => {
                let reply = Msg::QueryReply {
                    op,
                    stamp: self.stamp,
                    value: self.value,
                };
                ctx.send(from, reply.encode());
            }
            Some(Msg::Store { op, stamp, value }) => {
                if stamp > self.stamp {
                    (self.stamp, self.value) = (stamp, value);
                    let saved = serde_json::to_vec(&(stamp, value)).expect("encodes");
                    ctx.storage().put("register", saved);
                    // Synced before the ack: an acknowledged store survives a crash.
                    ctx.storage().sync();
                }
                ctx.send(from, Msg::StoreAck { op }.encode());
            }
            _ => self.malformed += 1,
        }
    }
}

/// What a client operation asks, and what it got.
#[derive(Clone, Debug, PartialEq, Eq)]
enum RegisterOp {
    Read,
    Write(u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum RegisterOutput {
    Read(Option<u64>),
    Written,
}

/// What clients record for the checker.
#[derive(Clone, Debug, PartialEq, Eq)]
enum RegisterEvent {
    Invoke { client: u64, op: RegisterOp },
    Return { client: u64, output: RegisterOutput },
    Finished { client: u64 },
}

/// Where a client's current operation stands.
enum Phase {
    Idle,
    /// Asking a majority for stamps (and values).
    Query {
        replies: BTreeMap<Addr, (Stamp, Option<u64>)>,
    },
    /// Storing `value` under `stamp` at a majority; then answer `output`.
    Store {
        stamp: Stamp,
        value: Option<u64>,
        acks: BTreeSet<Addr>,
        output: RegisterOutput,
    },
}

faultline::timer_tags! {
    /// A client's timers: resend to replicas that have not answered, start the next operation.
    enum ClientTimer {
        Resend = 1,
        Next = 2,
    }
}

/// A client that performs `ops` random reads and writes, one at a time.
struct Client {
    id: u64,
    replicas: Vec<Addr>,
    ops_left: u32,
    /// Number of the current phase; replies carry it.
    op: u64,
    current: Option<RegisterOp>,
    phase: Phase,
    /// The planted bug: answer a read straight after the query phase, with no write-back.
    skip_write_back: bool,
}

const RESEND_EVERY: Duration = Duration::from_millis(40);

impl Client {
    fn majority(&self) -> usize {
        self.replicas.len() / 2 + 1
    }

    fn start_next(&mut self, ctx: &mut Ctx<'_, RegisterEvent>) {
        if self.ops_left == 0 {
            ctx.record(RegisterEvent::Finished { client: self.id });
            return;
        }
        self.ops_left -= 1;
        let op = if ctx.rng().gen_bool(0.5) {
            RegisterOp::Read
        } else {
            // Unique values, so the checker can tell every write apart.
            RegisterOp::Write(self.id * 1_000_000 + self.ops_left as u64)
        };
        ctx.record(RegisterEvent::Invoke {
            client: self.id,
            op: op.clone(),
        });
        self.current = Some(op);
        self.enter(
            ctx,
            Phase::Query {
                replies: BTreeMap::new(),
            },
        );
    }

    /// Start a phase: a new number, its message to every replica, the resend timer.
    fn enter(&mut self, ctx: &mut Ctx<'_, RegisterEvent>, phase: Phase) {
        self.op += 1;
        self.phase = phase;
        self.send_to_missing(ctx);
        ctx.set_timer(RESEND_EVERY, ClientTimer::Resend);
    }

    fn send_to_missing(&mut self, ctx: &mut Ctx<'_, RegisterEvent>) {
        let (msg, answered): (Msg, Vec<Addr>) = match &self.phase {
            Phase::Idle => return,
            Phase::Query { replies } => (
                Msg::Query { op: self.op },
                replies.keys().copied().collect(),
            ),
            Phase::Store {
                stamp, value, acks, ..
            } => (
                Msg::Store {
                    op: self.op,
                    stamp: *stamp,
                    value: *value,
                },
                acks.iter().copied().collect(),
            ),
        };
        let bytes = msg.encode();
        for &r in &self.replicas {
            if !answered.contains(&r) {
                ctx.send(r, bytes.clone());
            }
        }
    }

    fn on_query_reply(
        &mut self,
        ctx: &mut Ctx<'_, RegisterEvent>,
        from: Addr,
        stamp: Stamp,
        value: Option<u64>,
    ) {
        let majority = self.majority();
        let Phase::Query { replies } = &mut self.phase else {
            return;
        };
        replies.insert(from, (stamp, value));
        if replies.len() < majority {
            return;
        }
        let (newest, newest_value) = replies.values().max().copied().expect("a majority replied");
        match self.current.clone().expect("an operation is running") {
            RegisterOp::Read if self.skip_write_back => {
                self.finish(ctx, RegisterOutput::Read(newest_value))
            }
            RegisterOp::Read => {
                let store = Phase::Store {
                    stamp: newest,
                    value: newest_value,
                    acks: BTreeSet::new(),
                    output: RegisterOutput::Read(newest_value),
                };
                self.enter(ctx, store);
            }
            RegisterOp::Write(v) => {
                let store = Phase::Store {
                    stamp: (newest.0 + 1, self.id),
                    value: Some(v),
                    acks: BTreeSet::new(),
                    output: RegisterOutput::Written,
                };
                self.enter(ctx, store);
            }
        }
    }

    fn on_store_ack(&mut self, ctx: &mut Ctx<'_, RegisterEvent>, from: Addr) {
        let majority = self.majority();
        let Phase::Store { acks, output, .. } = &mut self.phase else {
            return;
        };
        acks.insert(from);
        if acks.len() >= majority {
            let output = output.clone();
            self.finish(ctx, output);
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, RegisterEvent>, output: RegisterOutput) {
        ctx.record(RegisterEvent::Return {
            client: self.id,
            output,
        });
        self.current = None;
        self.phase = Phase::Idle;
        self.op += 1;
        let think = Duration::from_millis(ctx.rng().gen_range(0..20));
        ctx.set_timer(think, ClientTimer::Next);
    }
}

impl Node for Client {
    type Event = RegisterEvent;
    type Timer = ClientTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, RegisterEvent>) {
        self.start_next(ctx);
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, RegisterEvent>, from: Addr, data: &[u8]) {
        match Msg::decode(data) {
            Some(Msg::QueryReply { op, stamp, value }) if op == self.op => {
                self.on_query_reply(ctx, from, stamp, value)
            }
            Some(Msg::StoreAck { op }) if op == self.op => self.on_store_ack(ctx, from),
            _ => {} // late, duplicated or damaged
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, RegisterEvent>, _: TimerId, tag: ClientTimer) {
        match tag {
            ClientTimer::Resend if !matches!(self.phase, Phase::Idle) => {
                self.send_to_missing(ctx);
                ctx.set_timer(RESEND_EVERY, ClientTimer::Resend);
            }
            ClientTimer::Resend => {}
            ClientTimer::Next => self.start_next(ctx),
        }
    }
}

faultline::node_kinds! {
    /// Every node of the register's world.
    enum RegisterNode: RegisterEvent {
        Replica(Replica),
        Client(Client),
    }
}

// ---------------------------------------------------------------------------------------
// The test: a model, a checker, a scenario, a sweep.
// ---------------------------------------------------------------------------------------

/// The sequential specification: one register, initially empty.
struct RegisterModel;

impl Model for RegisterModel {
    type State = Option<u64>;
    type Input = RegisterOp;
    type Output = RegisterOutput;

    fn init(&self) -> Option<u64> {
        None
    }

    fn step(
        &self,
        state: &Option<u64>,
        input: &RegisterOp,
        output: Option<&RegisterOutput>,
    ) -> Option<Option<u64>> {
        match (input, output) {
            (RegisterOp::Write(v), None | Some(RegisterOutput::Written)) => Some(Some(*v)),
            (RegisterOp::Read, None) => Some(*state),
            (RegisterOp::Read, Some(RegisterOutput::Read(seen))) if seen == state => Some(*state),
            _ => None,
        }
    }
}

const LINEARIZABLE: Invariant = Invariant::safety(
    "linearizable",
    "the history of reads and writes is linearizable",
);
const ALL_FINISH: Invariant = Invariant::liveness(
    "all-clients-finish",
    "every client finishes its operations after the heal",
);

/// Collects the history as it happens; judged at the end.
#[derive(Default)]
struct RegisterChecker {
    ops: Vec<Operation<RegisterOp, RegisterOutput>>,
    /// Each client's running operation, as an index into `ops`.
    running: BTreeMap<u64, usize>,
    finished: BTreeSet<u64>,
}

impl Checker<RegisterEvent> for RegisterChecker {
    fn on_event(&mut self, now: Time, _node: Addr, event: &RegisterEvent) -> Result<(), Failure> {
        match event {
            RegisterEvent::Invoke { client, op } => {
                self.running.insert(*client, self.ops.len());
                self.ops.push(Operation {
                    client: *client,
                    input: op.clone(),
                    invoke: now.as_nanos(),
                    ret: None,
                });
            }
            RegisterEvent::Return { client, output } => {
                if let Some(i) = self.running.remove(client) {
                    self.ops[i].ret = Some((now.as_nanos(), output.clone()));
                }
            }
            RegisterEvent::Finished { client } => {
                self.finished.insert(*client);
            }
        }
        Ok(())
    }
}

impl RegisterChecker {
    fn end_checks(&self, clients: u64) -> Result<(), Failure> {
        if (self.finished.len() as u64) < clients {
            return Err(ALL_FINISH.fail(format!(
                "{} of {clients} clients finished; still running: {:?}",
                self.finished.len(),
                self.running
            )));
        }
        match linearizability::check(&RegisterModel, &self.ops) {
            Verdict::Linearizable => Ok(()),
            Verdict::NotLinearizable { part } => {
                let shown: Vec<_> = part.iter().map(|&i| &self.ops[i]).take(12).collect();
                Err(LINEARIZABLE.fail(format!(
                    "no linearization of {} operations; first: {shown:?}",
                    part.len()
                )))
            }
            Verdict::Unknown => Err(LINEARIZABLE.fail("the checker ran out of budget")),
        }
    }
}

/// Three replicas and three clients of ten operations each.
struct RegisterScenario {
    bug: bool,
}

const REPLICAS: u32 = 3;
const CLIENTS: u64 = 3;

impl Scenario for RegisterScenario {
    fn name(&self) -> &'static str {
        if self.bug {
            "register-without-write-back"
        } else {
            "register"
        }
    }

    fn about(&self) -> &'static str {
        "an ABD register, 3 replicas, 3 clients, swarm faults; linearizable, every client finishes"
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let mut world = World::<RegisterNode>::new(spec.seed);
        let replicas: Vec<Addr> = (0..REPLICAS)
            .map(|_| world.add_node(|_| Replica::default().into()))
            .collect();
        for id in 0..CLIENTS {
            let (replicas, skip_write_back) = (replicas.clone(), self.bug);
            world.add_node(move |_| {
                Client {
                    id,
                    replicas: replicas.clone(),
                    ops_left: 10,
                    op: 0,
                    current: None,
                    phase: Phase::Idle,
                    skip_write_back,
                }
                .into()
            });
        }
        world.set_checker(RegisterChecker::default());

        // Faults on every node; only replicas crash (clients keep their place in the history).
        let everyone = (0..REPLICAS + CLIENTS as u32).collect();
        let mut profile =
            FaultProfile::new(everyone, Duration::from_secs(2), Duration::from_secs(3));
        profile.kinds = FaultKinds {
            stream_reset: false,
            clock: false,
            ..FaultKinds::all()
        };
        profile.crashable = (0..REPLICAS).collect();

        let (mut report, _world) = drive(self.name(), spec, &profile, world, |world| {
            world
                .checker::<RegisterChecker>()
                .expect("the checker set above")
                .end_checks(CLIENTS)
        })?;
        // Replay with this example, not the faultline CLI.
        if let Some(v) = report.violation.as_mut() {
            let bug = if self.bug { " --bug" } else { "" };
            v.replay = format!(
                "cargo run --release -p faultline --example register -- --seed {}{bug}",
                spec.seed
            );
        }
        Ok(report)
    }
}

/// `--seeds A..B` (sweep, the default 0..100), `--seed N` (one run, printed), `--bug`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scenario = RegisterScenario {
        bug: args.iter().any(|a| a == "--bug"),
    };
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    if let Some(seed) = value("--seed") {
        let Ok(seed) = seed.parse() else {
            eprintln!("--seed takes a number, not {seed:?}");
            std::process::exit(2);
        };
        let report = scenario
            .run(&RunSpec {
                seed,
                ..RunSpec::default()
            })
            .unwrap_or_else(|e| {
                eprintln!("{e}");
                std::process::exit(2);
            });
        println!(
            "{} seed {}: {} events, trace {}",
            report.scenario, seed, report.events, report.trace_hash
        );
        println!("faults: {}", report.faults.swarm.join(", "));
        match report.violation {
            None => println!("every invariant held"),
            Some(v) => {
                println!("{v}");
                std::process::exit(1);
            }
        }
        return;
    }
    let seeds = match faultline::sweep::parse_range(value("--seeds").map_or("0..100", |s| s)) {
        Ok(seeds) => seeds,
        Err(e) => {
            eprintln!("--seeds: {e}");
            std::process::exit(2);
        }
    };
    let results = faultline::sweep::sweep(&scenario, seeds.clone(), 2, &|_| {});
    // A sweep loses nothing: a panic or a run over budget is a finding like a violation.
    let failing: Vec<_> = results.iter().filter_map(|run| run.finding()).collect();
    for f in &failing {
        println!(
            "seed {}: {} invariant `{}`: {}",
            f.seed, f.kind, f.invariant, f.detail
        );
        println!("  replay: {}", f.replay);
    }
    println!(
        "{}: {} seeds, {} failed",
        scenario.name(),
        results.len(),
        failing.len()
    );
    if !failing.is_empty() {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bug: bool, seed: u64) -> Report {
        RegisterScenario { bug }
            .run(&RunSpec {
                seed,
                ..RunSpec::default()
            })
            .expect("runs")
    }

    #[test]
    fn the_register_holds_under_swarm_faults() {
        for seed in 0..30 {
            let report = run(false, seed);
            assert!(report.ok, "seed {seed}: {:?}", report.violation);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_run() {
        assert_eq!(run(false, 5).trace_hash, run(false, 5).trace_hash);
        assert_ne!(run(false, 5).trace_hash, run(false, 6).trace_hash);
    }

    #[test]
    fn a_sweep_finds_reads_without_write_back() {
        let scenario = RegisterScenario { bug: true };
        let results = faultline::sweep::sweep(&scenario, 0..200, 2, &|_| {});
        let found = results
            .iter()
            .find_map(|run| run.report()?.violation.clone());
        let v = found.expect("some seed of 200 shows the missing write-back");
        assert_eq!(v.invariant, "linearizable");
    }

    #[test]
    fn the_failure_shrinks_to_a_few_faults_that_replay_to_it() {
        let scenario = RegisterScenario { bug: true };
        let results = faultline::sweep::sweep(&scenario, 0..200, 2, &|_| {});
        let found = results
            .iter()
            .find_map(|run| run.finding())
            .expect("a failing seed");
        let options = faultline::shrink::Options {
            jobs: 2,
            budget: None,
            progress: &|_| {},
        };
        let shrunk = faultline::shrink::shrink(&scenario, &RunSpec::new(found.seed), &options)
            .expect("it fails, so it shrinks");
        let left = shrunk.schedule.faults.len();
        assert!(
            left <= 5,
            "{left} faults left of {}",
            shrunk.original_faults
        );
        let replay = scenario
            .run(&RunSpec {
                schedule: Some(shrunk.schedule.clone()),
                ..RunSpec::new(found.seed)
            })
            .expect("runs");
        let v = replay.violation.expect("the small schedule fails too");
        assert_eq!(v.invariant, "linearizable");
    }
}
