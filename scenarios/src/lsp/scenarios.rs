//! The scenario definitions: the swarm scenarios ([`swarm`]) and the official test intents
//! (systems/lsp/SPEC.md §12), one catalog scenario per intent, in one file per group of
//! the original test files.
//!
//! An [`Intent`] is a script over a [`Lab`]: it builds the world the original test built,
//! plays the test's steps (writes, blocked acks, a network switched off, closes) and
//! reports the first check that fails as its invariant. What the spec leaves open varies
//! with the seed (latency jitter on every link, and the ISN where the original test does
//! not fix it); the checks do not. An intent's faults are part of its script, so it takes
//! no fault schedule.

pub mod basic;
pub mod close;
pub mod integrity;
pub mod isn_cack;
pub mod swarm;
pub mod toggled;
pub mod window;

use super::invariants::end::{echoes_exact, window_held_so_far};
use super::invariants::{CONNECTS, DELIVERED_BY_DEADLINE, WRITES_ACCEPTED};
use super::world::{payloads, Lab, LabSpec, Step};
use faultline::harness::{finish, Report, RunSpec, Scenario};
use faultline::{Invariant, Schedule, Time};

type Build = Box<dyn Fn(u64) -> LabSpec + Send + Sync>;
type Script = Box<dyn Fn(&mut Lab) -> Step<()> + Send + Sync>;

/// One official test intent as a catalog scenario.
pub struct Intent {
    name: &'static str,
    about: &'static str,
    /// The world under a seed.
    build: Build,
    /// The test's steps and checks.
    script: Script,
}

impl Intent {
    pub fn new(
        name: &'static str,
        about: &'static str,
        build: impl Fn(u64) -> LabSpec + Send + Sync + 'static,
        script: impl Fn(&mut Lab) -> Step<()> + Send + Sync + 'static,
    ) -> Intent {
        Intent {
            name,
            about,
            build: Box::new(build),
            script: Box::new(script),
        }
    }
}

impl Scenario for Intent {
    fn name(&self) -> &'static str {
        self.name
    }

    fn about(&self) -> &'static str {
        self.about
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        if spec.schedule.as_ref().is_some_and(|s| !s.faults.is_empty()) {
            return Err(format!(
                "{} is a scripted intent: its faults are part of its script, so it takes no fault schedule",
                self.name
            ));
        }
        let mut lab_spec = (self.build)(spec.seed);
        lab_spec.params.bugs = crate::bugs::lsp(spec);
        let mut lab = Lab::new(lab_spec);
        spec.prepare(&mut lab.world)?;
        // Every intent also demands the window rules on the wire (SPEC.md §6).
        let outcome = lab
            .start()
            .and_then(|()| (self.script)(&mut lab))
            .and_then(|()| window_held_so_far(&lab));
        let end = lab.world.now().as_nanos();
        let faults = Schedule::quiet(end, end);
        let mut report = finish(self.name, spec, &mut lab.world, faults, outcome)?;
        report.metrics = metrics(&lab);
        Ok(report)
    }
}

fn metrics(lab: &Lab) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    let reads: usize = (0..lab.clients.len())
        .map(|i| lab.client(i).read_count)
        .sum();
    let server_reads = lab.world.node(lab.server).map_or(0, |n| {
        n.kind::<super::nodes::ServerNode>()
            .map_or(0, |s| s.messages)
    });
    let net = lab.net.borrow();
    m.insert("clients".into(), lab.clients.len().into());
    m.insert("client_reads".into(), reads.into());
    m.insert("server_reads".into(), server_reads.into());
    m.insert(
        "data_first_sends".into(),
        net.monitor.data_first_sends.into(),
    );
    m.insert("data_resends".into(), net.monitor.data_resends.into());
    m.insert(
        "datagrams_lost".into(),
        lab.world.stats().datagrams_lost.into(),
    );
    m
}

/// The official tests' `Params{K, δ, ω, MaxBackOff, M}` with no back-off.
pub fn params(k: u32, ms: u64, w: u64, m: u64) -> lsp::Params {
    lsp::Params::new(k, ms, w, 0, m)
}

/// Every client connects within half an epoch (NewClient returned, SPEC.md §4).
pub fn connect_all(lab: &mut Lab) -> Step<()> {
    let limit = lab.epochs(0.5);
    if lab.run_until(limit, Lab::all_connected)? {
        return Ok(());
    }
    Err(lab.fail(CONNECTS, format!("not every client connected by {limit}")))
}

/// Run until `done` holds, or fail `invariant` at `limit` with `what`.
pub fn wait_for(
    lab: &mut Lab,
    limit: Time,
    invariant: Invariant,
    what: impl std::fmt::Display,
    done: impl Fn(&Lab) -> bool,
) -> Step<()> {
    if lab.run_until(limit, done)? {
        return Ok(());
    }
    Err(lab.fail(invariant, format!("{what} by {limit}")))
}

/// Run until every client has read `count` messages, or fail at `limit`.
pub fn wait_client_reads(lab: &mut Lab, limit: Time, count: usize) -> Step<()> {
    let n = lab.clients.len();
    if lab.run_until(limit, |l| (0..n).all(|i| l.client(i).reads.len() == count))? {
        return Ok(());
    }
    let reads: Vec<usize> = (0..n).map(|i| lab.client(i).reads.len()).collect();
    Err(lab.fail(
        DELIVERED_BY_DEADLINE,
        format!("not every client read {count} messages by {limit}: {reads:?}"),
    ))
}

/// Every echo client has read its `msgs` payloads back by `limit`, exactly, with no
/// connection lost.
pub fn echoes_within(lab: &mut Lab, limit: Time, msgs: usize) -> Step<()> {
    wait_client_reads(lab, limit, msgs)?;
    echoes_exact(lab, |i| payloads(i, msgs))
}

/// Client `i` writes `msgs`.
pub fn client_writes(lab: &mut Lab, i: usize, msgs: &[Vec<u8>]) -> Step<()> {
    for m in msgs {
        let r = lab.with_client(i, |c, ctx| c.write(ctx, m.clone()))?;
        if let Err(e) = r {
            return Err(lab.fail(WRITES_ACCEPTED, format!("client {i} write: {e}")));
        }
    }
    Ok(())
}

/// The server writes `msgs` to client `i`'s connection.
pub fn server_writes(lab: &mut Lab, i: usize, msgs: Vec<Vec<u8>>) -> Step<()> {
    let conn = lab.conn_of(i);
    for m in msgs {
        let r = lab.with_server(|s, ctx| s.write(ctx, conn, m))?;
        if let Err(e) = r {
            return Err(lab.fail(WRITES_ACCEPTED, format!("server write to conn {conn}: {e}")));
        }
    }
    Ok(())
}
