//! The course's Raft tests as scenarios (SPEC.md §11: the public tests, and the hidden ones
//! students reconstructed), written with the tester's helpers of [`super::tester`].
//! Commands are raw numbers, as the course's tests commit; every run also has the checks of
//! every Raft run (SPEC.md §12) and ends with the log checks.

use super::add_metrics;
use super::durability::{
    figure8, figure8_paper, restart_all, stale_leader_replies, unreliable_agree,
};
use super::tester::{Step, Tester, ELECTION_TIMEOUT};
use crate::raft::invariants::{
    self, CONCURRENT_AGREEMENT, FAST_BACKUP, INDEX, LEADER_ACCEPTS, LEADER_STAYS,
    NO_AGREE_WITHOUT_MAJORITY, NO_EARLY_COMMIT, RPC_COUNT_AGREEMENT, RPC_COUNT_ELECTION,
    RPC_COUNT_IDLE, TERM_ADVANCES, TERM_STABLE,
};
use crate::raft::world;
use faultline::harness::{drive_with, Param, Report, RunSpec, Scenario};
use faultline::NodeRng;
use rand::Rng;
use std::collections::BTreeMap;
use std::time::Duration;

/// Figures a script reports.
pub type Metrics = serde_json::Map<String, serde_json::Value>;

/// A script: the course's test, acting on the world through the tester.
pub type Script = fn(&mut Tester<'_>, &mut NodeRng, &mut Metrics) -> Step<()>;

/// A scripted scenario over `servers` Raft servers.
pub struct Scripted {
    pub name: &'static str,
    pub about: &'static str,
    pub servers: u32,
    pub script: Script,
}

impl Scenario for Scripted {
    fn name(&self) -> &'static str {
        self.name
    }
    fn about(&self) -> &'static str {
        self.about
    }
    fn sometimes(&self) -> Vec<faultline::harness::Sometimes> {
        crate::raft::invariants::SOMETIMES.to_vec()
    }
    fn params(&self) -> Vec<Param> {
        world::Timing::default().params()
    }
    fn check_params(&self, params: &BTreeMap<String, u64>) -> Result<(), String> {
        world::Timing::default().with(params).map(|_| ())
    }
    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let mut timing = world::Timing::default().with(&spec.params)?;
        timing.cfg.bugs = crate::bugs::raft(spec);
        let (cluster, spec, profile) = world::scripted(spec, self.servers, &timing);
        let (n, rpcs) = (cluster.servers, cluster.rpcs);
        let mut rng = faultline::derive_rng(spec.seed, "scenario/script");
        let mut metrics = Metrics::new();
        let (mut report, world) = drive_with(
            self.name,
            &spec,
            &profile,
            cluster.world,
            |world, _| {
                (self.script)(
                    &mut Tester::new(world, n, rpcs.clone()),
                    &mut rng,
                    &mut metrics,
                )
            },
            |world| invariants::check_logs(world, n),
        )?;
        report.metrics.extend(metrics);
        add_metrics(&mut report, &world, &rpcs);
        Ok(report)
    }
}

/// Every scripted scenario.
pub fn scenarios() -> Vec<Scripted> {
    vec![
        Scripted { name: "raft-initial-election", about: "3 servers elect one leader; the term stays put while nothing fails", servers: 3, script: initial_election },
        Scripted { name: "raft-re-election", about: "leader cut off: a new one; old one rejoins; no quorum: no leader; quorum back: a leader", servers: 3, script: re_election },
        Scripted { name: "raft-re-election-5", about: "re-election on 5 servers (hidden test): old leader rejoins, no leader without a majority", servers: 5, script: re_election },
        Scripted { name: "raft-basic-agree", about: "5 servers commit 3 commands at indices 1..3 on all; nothing commits early", servers: 5, script: basic_agree },
        Scripted { name: "raft-fail-agree", about: "a follower cut off: 2 of 3 still agree; it rejoins and catches up", servers: 3, script: fail_agree },
        Scripted { name: "raft-fail-no-agree", about: "3 of 5 cut off: nothing commits; they rejoin: agreement resumes at index 2 or 3", servers: 5, script: fail_no_agree },
        Scripted { name: "raft-basic-agree-10", about: "hidden-test size: 10 servers commit 3 commands on all", servers: 10, script: basic_agree },
        Scripted { name: "raft-fail-agree-5", about: "hidden-test size: a follower of 5 cut off, 4 agree, it catches up", servers: 5, script: fail_agree },
        Scripted { name: "raft-fail-no-agree-10", about: "hidden-test size: 6 of 10 cut off, nothing commits; they rejoin, agreement resumes", servers: 10, script: fail_no_agree },
        Scripted { name: "raft-concurrent-puts", about: "5 commands proposed at one instant in one term all commit", servers: 3, script: concurrent_puts },
        Scripted { name: "raft-rejoin", about: "a cut-off leader with stale uncommitted entries rejoins and is overwritten", servers: 3, script: rejoin },
        Scripted { name: "raft-backup", about: "5 servers, 50-entry divergent logs in minority partitions, fast back-up over them", servers: 5, script: backup },
        Scripted { name: "raft-count", about: "RPC counts: <=30 to elect, <=42 for 10 commits, <=60 in an idle second (3 servers)", servers: 3, script: count },
        Scripted { name: "raft-unreliable-agree", about: "5 servers agree on 30 commands over a lossy, reordering network", servers: 5, script: unreliable_agree },
        Scripted { name: "raft-figure8", about: "Figure 8 churn: leaders crash and restart at random, unreliable net; persistence keeps safety", servers: 5, script: figure8 },
        Scripted { name: "raft-restart-all", about: "every server crashes at once, repeatedly; committed entries survive restart", servers: 3, script: restart_all },
        Scripted { name: "raft-figure8-paper", about: "the Raft paper's Figure 8 step by step: an old-term entry on a majority is not committed by counting, and is safely overwritten", servers: 5, script: figure8_paper },
        Scripted { name: "raft-stale-leader-replies", about: "a stale leader hears the new term only in replies (one-way cut from the new leader); it must step down", servers: 5, script: stale_leader_replies },
    ]
}
fn initial_election(c: &mut Tester<'_>, _: &mut NodeRng, _: &mut Metrics) -> Step<()> {
    c.check_one_leader()?;
    c.run_for(Duration::from_millis(50))?;
    let term1 = c.check_terms()?;
    if term1 < 1 {
        return Err(c.fail(TERM_ADVANCES, "a leader was elected but the term is 0"));
    }
    c.run_for(2 * ELECTION_TIMEOUT)?;
    let term2 = c.check_terms()?;
    if term1 != term2 {
        return Err(c.fail(
            TERM_STABLE,
            format!("term moved from {term1} to {term2} with no failures"),
        ));
    }
    c.check_one_leader()?;
    Ok(())
}

fn re_election(c: &mut Tester<'_>, _: &mut NodeRng, _: &mut Metrics) -> Step<()> {
    let n = c.n();
    let leader1 = c.check_one_leader()?;
    c.disconnect(leader1);
    let leader2 = c.check_one_leader()?;
    // The old leader rejoins: that must not disturb the new one.
    c.connect(leader1);
    let leader3 = c.check_one_leader()?;
    if leader3 != leader2 {
        return Err(c.fail(
            LEADER_STAYS,
            format!("old leader {leader1} rejoined and {leader2} lost to {leader3}"),
        ));
    }
    // No quorum, no leader.
    let cut: Vec<u32> = (0..n / 2 + 1).map(|k| (leader2 + k) % n).collect();
    for &i in &cut {
        c.disconnect(i);
    }
    c.run_for(2 * ELECTION_TIMEOUT)?;
    c.check_no_leader()?;
    // Quorum back: a leader.
    c.connect(cut[0]);
    c.check_one_leader()?;
    for &i in &cut[1..] {
        c.connect(i);
    }
    c.check_one_leader()?;
    Ok(())
}

fn basic_agree(c: &mut Tester<'_>, _: &mut NodeRng, _: &mut Metrics) -> Step<()> {
    c.check_one_leader()?;
    for index in 1..=3u64 {
        let (nd, _) = c.n_committed(index)?;
        if nd > 0 {
            return Err(c.fail(
                NO_EARLY_COMMIT,
                format!("{nd} servers committed index {index} before it was proposed"),
            ));
        }
        let got = c.one(index * 100, c.n() as usize, false)?;
        if got != index {
            return Err(c.fail(INDEX, format!("got index {got}, expected {index}")));
        }
    }
    Ok(())
}

fn fail_agree(c: &mut Tester<'_>, _: &mut NodeRng, _: &mut Metrics) -> Step<()> {
    let n = c.n() as usize;
    c.one(101, n, false)?;
    let leader = c.check_one_leader()?;
    c.disconnect((leader + 1) % c.n());
    c.one(102, n - 1, false)?;
    c.one(103, n - 1, false)?;
    c.run_for(ELECTION_TIMEOUT)?;
    c.one(104, n - 1, false)?;
    c.one(105, n - 1, false)?;
    c.connect((leader + 1) % c.n());
    c.one(106, n, true)?;
    c.run_for(ELECTION_TIMEOUT)?;
    c.one(107, n, true)?;
    Ok(())
}

fn fail_no_agree(c: &mut Tester<'_>, _: &mut NodeRng, _: &mut Metrics) -> Step<()> {
    let n = c.n();
    c.one(10, n as usize, false)?;
    let leader = c.check_one_leader()?;
    let cut = n / 2 + 1; // 3 of 5 (public test), 6 of 10 (hidden test)
    for k in 1..=cut {
        c.disconnect((leader + k) % n);
    }
    let Some((index, _)) = c.propose(leader, 20) else {
        return Err(c.fail(LEADER_ACCEPTS, format!("leader {leader} refused a command")));
    };
    if index != 2 {
        return Err(c.fail(INDEX, format!("expected index 2, got {index}")));
    }
    c.run_for(2 * ELECTION_TIMEOUT)?;
    let (nd, _) = c.n_committed(index)?;
    if nd > 0 {
        return Err(c.fail(
            NO_AGREE_WITHOUT_MAJORITY,
            format!("{nd} servers committed without a majority"),
        ));
    }
    for k in 1..=cut {
        c.connect((leader + k) % n);
    }
    let leader2 = c.check_one_leader()?;
    let Some((index2, _)) = c.propose(leader2, 30) else {
        return Err(c.fail(
            LEADER_ACCEPTS,
            format!("leader {leader2} refused a command"),
        ));
    };
    if !(2..=3).contains(&index2) {
        return Err(c.fail(INDEX, format!("unexpected index {index2}")));
    }
    c.one(1000, n as usize, true)?;
    Ok(())
}

fn concurrent_puts(c: &mut Tester<'_>, _: &mut NodeRng, m: &mut Metrics) -> Step<()> {
    for attempt in 0..5 {
        if attempt > 0 {
            c.run_for(Duration::from_secs(3))?;
        }
        let leader = c.check_one_leader()?;
        let Some((_, term)) = c.propose(leader, 1) else {
            continue;
        };
        let mut indices = Vec::new();
        for k in 0..5u64 {
            if let Some((ix, t)) = c.propose(leader, 100 + k) {
                if t == term {
                    indices.push((ix, 100 + k));
                }
            }
        }
        let deadline = c.now() + Duration::from_secs(5);
        let mut all = false;
        while c.now() < deadline && !all {
            c.run_for(Duration::from_millis(20))?;
            if c.raft(leader).map(|r| r.term()) != Some(term) {
                break;
            }
            all = true;
            for &(ix, cmd) in &indices {
                let (nd, got) = c.n_committed(ix)?;
                if nd < c.n() as usize || got != Some(cmd) {
                    all = false;
                }
            }
        }
        if all && indices.len() == 5 {
            m.insert("attempts".into(), (attempt + 1).into());
            return Ok(());
        }
    }
    Err(c.fail(
        CONCURRENT_AGREEMENT,
        "5 concurrent commands did not all commit in 5 attempts",
    ))
}

fn rejoin(c: &mut Tester<'_>, _: &mut NodeRng, _: &mut Metrics) -> Step<()> {
    let n = c.n();
    c.one(101, n as usize, true)?;
    let leader1 = c.check_one_leader()?;
    c.disconnect(leader1);
    for cmd in [102, 103, 104] {
        c.propose(leader1, cmd);
    }
    c.one(103, 2, true)?;
    let leader2 = c.check_one_leader()?;
    c.disconnect(leader2);
    c.connect(leader1);
    c.one(104, 2, true)?;
    c.connect(leader2);
    c.one(105, n as usize, true)?;
    Ok(())
}

fn backup(c: &mut Tester<'_>, rng: &mut NodeRng, m: &mut Metrics) -> Step<()> {
    let n = c.n();
    let mut cmd = || rng.gen_range(1..1_000_000u64);
    c.one(cmd(), n as usize, true)?;
    // Leader and one follower in a minority: 50 commands that never commit.
    let leader1 = c.check_one_leader()?;
    for k in 2..=4 {
        c.disconnect((leader1 + k) % n);
    }
    for _ in 0..50 {
        c.propose(leader1, cmd());
    }
    c.run_for(ELECTION_TIMEOUT / 2)?;
    c.disconnect(leader1);
    c.disconnect((leader1 + 1) % n);
    for k in 2..=4 {
        c.connect((leader1 + k) % n);
    }
    // The other three commit 50.
    for _ in 0..50 {
        c.one(cmd(), 3, true)?;
    }
    // Their leader and one follower diverge again with 50 uncommitted.
    let leader2 = c.check_one_leader()?;
    let other = (2..=4)
        .map(|k| (leader1 + k) % n)
        .find(|&i| i != leader2)
        .expect("a third server");
    c.disconnect(other);
    for _ in 0..50 {
        c.propose(leader2, cmd());
    }
    c.run_for(ELECTION_TIMEOUT / 2)?;
    // The first minority plus `other` take over and commit 50: back-up over a long log.
    for i in 0..n {
        c.disconnect(i);
    }
    c.connect(leader1);
    c.connect((leader1 + 1) % n);
    c.connect(other);
    for _ in 0..50 {
        c.one(cmd(), 3, true)?;
    }
    let before = c.rpcs.mismatches.get();
    for i in 0..n {
        c.connect(i);
    }
    c.one(cmd(), n as usize, true)?;
    // Fast back-up: each refusal skips a whole term, so catching up every server takes a
    // few refusals, not one per divergent entry (a one-by-one back-up needs about 100).
    let refusals = c.rpcs.mismatches.get() - before;
    m.insert("backup_refusals".into(), refusals.into());
    if refusals > 4 * n as u64 {
        return Err(c.fail(
            FAST_BACKUP,
            format!("{refusals} refused AppendEntries to catch up {n} servers"),
        ));
    }
    Ok(())
}

fn count(c: &mut Tester<'_>, _: &mut NodeRng, m: &mut Metrics) -> Step<()> {
    let leader = c.check_one_leader()?;
    let elect = c.rpcs.requests();
    m.insert("rpcs_to_elect".into(), elect.into());
    if elect > 30 {
        return Err(c.fail(
            RPC_COUNT_ELECTION,
            format!("{elect} RPCs to elect a leader (limit 30)"),
        ));
    }
    let mut ten = None;
    for _attempt in 0..5 {
        let leader = if _attempt == 0 {
            leader
        } else {
            c.check_one_leader()?
        };
        let total1 = c.rpcs.requests();
        let Some((start, term)) = c.propose(leader, 1) else {
            continue;
        };
        let mut ok = true;
        let mut cmds = Vec::new();
        for k in 1..=10u64 {
            let x = 1000 + k;
            match c.propose(leader, x) {
                Some((ix, t)) if t == term && ix == start + k => cmds.push((ix, x)),
                _ => ok = false,
            }
        }
        if !ok {
            continue;
        }
        for (ix, x) in cmds {
            let deadline = c.now() + Duration::from_secs(2);
            loop {
                let (_, got) = c.n_committed(ix)?;
                if got == Some(x) || c.now() >= deadline {
                    break;
                }
                c.run_for(Duration::from_millis(10))?;
            }
            if c.n_committed(ix)?.1 != Some(x) {
                ok = false;
            }
        }
        if ok && c.raft(leader).map(|r| r.term()) == Some(term) {
            ten = Some(c.rpcs.requests() - total1);
            break;
        }
    }
    let Some(ten) = ten else {
        return Err(c.fail(RPC_COUNT_AGREEMENT, "term changed too often to count"));
    };
    m.insert("rpcs_for_10_commits".into(), ten.into());
    if ten > (10 + 1 + 3) * 3 {
        return Err(c.fail(
            RPC_COUNT_AGREEMENT,
            format!("{ten} RPCs for 11 commands (limit 42)"),
        ));
    }
    let before = c.rpcs.requests();
    c.run_for(Duration::from_secs(1))?;
    let idle = c.rpcs.requests() - before;
    m.insert("rpcs_idle_second".into(), idle.into());
    if idle > 3 * 20 {
        return Err(c.fail(
            RPC_COUNT_IDLE,
            format!("{idle} RPCs in 1 s of idleness (limit 60)"),
        ));
    }
    Ok(())
}
