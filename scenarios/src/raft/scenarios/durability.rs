//! Scripts beyond the course's tests: the tester's unreliable network, and crashes that
//! only persistence survives (SPEC.md §7, §11).

use super::course::Metrics;
use super::tester::{Step, Tester, ELECTION_TIMEOUT};
use crate::raft::invariants::DURABLE_COMMIT;
use crate::raft::world::clean_link;
use faultline::{Fault, LinkFaults, NodeRng};
use rand::seq::SliceRandom;
use rand::Rng;
use std::time::Duration;

/// The course's unreliable mode: 0–26 ms delay, 10 % of requests and replies lost, plus
/// long reordering.
fn unreliable() -> LinkFaults {
    LinkFaults {
        loss: 0.1,
        reorder: 0.2,
        reorder_delay_ns: 200_000_000,
        ..LinkFaults::clean(0, 26_000_000)
    }
}

pub fn unreliable_agree(c: &mut Tester<'_>, _: &mut NodeRng, _: &mut Metrics) -> Step<()> {
    c.set_link(unreliable());
    for k in 1..=30 {
        c.one(k, 1, true)?;
    }
    c.set_link(clean_link());
    c.one(100, c.n() as usize, true)?;
    Ok(())
}

/// Figure 8 (Raft paper) churn, as the course's 2C test: proposals at a random leader, then
/// the leader crashes after a short or long pause, and crashed servers come back while
/// fewer than a majority are up. Crash-restart exercises persistence.
pub fn figure8(c: &mut Tester<'_>, rng: &mut NodeRng, m: &mut Metrics) -> Step<()> {
    let n = c.n();
    c.set_link(unreliable());
    c.one(rng.gen_range(0..10_000), 1, true)?;
    let mut up = n;
    let mut crashes = 0u64;
    for _ in 0..1000 {
        let mut leader = None;
        for i in 0..n {
            if c.propose(i, rng.gen_range(0..10_000)).is_some() {
                leader = Some(i);
            }
        }
        let pause = if rng.gen_range(0..1000) < 100 {
            Duration::from_millis(rng.gen_range(0..(ELECTION_TIMEOUT.as_millis() as u64 / 2)))
        } else {
            Duration::from_millis(rng.gen_range(0..13))
        };
        c.run_for(pause)?;
        if let Some(l) = leader {
            if c.is_up(l) {
                c.crash(l);
                up -= 1;
                crashes += 1;
            }
        }
        if up < 3 {
            let down: Vec<u32> = (0..n).filter(|&i| !c.is_up(i)).collect();
            if let Some(&s) = down.choose(rng) {
                c.restart(s);
                up += 1;
            }
        }
    }
    for i in 0..n {
        if !c.is_up(i) {
            c.restart(i);
        }
    }
    c.set_link(clean_link());
    c.one(rng.gen_range(0..10_000), n as usize, true)?;
    m.insert("crashes".into(), crashes.into());
    Ok(())
}

pub fn restart_all(c: &mut Tester<'_>, rng: &mut NodeRng, m: &mut Metrics) -> Step<()> {
    let n = c.n();
    let mut committed = Vec::new();
    for round in 0..5u64 {
        for k in 0..5u64 {
            let cmd = round * 100 + k + 1;
            let ix = c.one(cmd, n as usize, true)?;
            committed.push((ix, cmd));
        }
        // Some uncommitted work at the leader, then everyone crashes at once.
        if let Some(&l) = c.leaders().values().next_back().and_then(|ls| ls.first()) {
            c.propose(l, 9_999);
        }
        c.run_for(Duration::from_millis(rng.gen_range(0..5)))?;
        for i in 0..n {
            c.crash(i);
        }
        c.run_for(Duration::from_millis(rng.gen_range(10..500)))?;
        for i in 0..n {
            c.restart(i);
        }
        c.check_one_leader()?;
    }
    c.one(424_242, n as usize, true)?;
    for (ix, cmd) in committed {
        let (nd, got) = c.n_committed(ix)?;
        if nd < n as usize || got != Some(cmd) {
            return Err(c.fail(
                DURABLE_COMMIT,
                format!("index {ix} lost {cmd} across restarts ({nd} servers, {got:?})"),
            ));
        }
    }
    m.insert("starts".into(), c.starts().into());
    Ok(())
}

/// The Raft paper's Figure 8, step by step on 5 servers, steering elections with
/// partitions. (a) S1 leads and replicates an entry of its term only to S2, then crashes;
/// (b) S5 is elected by S3, S4, S5, takes an entry of its own term and crashes before
/// sending it; (c) S1 (or S2, whose log is the same) is elected again and replicates its
/// old-term entry to a majority: it must not count that as committed; it crashes; (d) S5
/// is elected by S3 and S4 and overwrites the entry. Safe only if (c) committed nothing.
pub fn figure8_paper(c: &mut Tester<'_>, _: &mut NodeRng, _: &mut Metrics) -> Step<()> {
    let all: Vec<u32> = (0..c.n()).collect();
    let s1 = c.check_one_leader()?;
    c.one(1, all.len(), true)?;
    let others: Vec<u32> = all.iter().copied().filter(|&i| i != s1).collect();
    let (s2, rest) = (others[0], others[1..].to_vec());
    // (a)
    c.partition(vec![vec![s1, s2], rest.clone()]);
    c.propose(s1, 2);
    c.run_for(Duration::from_millis(50))?;
    c.crash(s1);
    // (b)
    let s5 = c.leader_among(&rest, c.term(s2), Duration::from_secs(5))?;
    let (s3, s4) = match rest
        .iter()
        .copied()
        .filter(|&i| i != s5)
        .collect::<Vec<_>>()[..]
    {
        [a, b] => (a, b),
        _ => unreachable!("three servers in the majority"),
    };
    c.partition(vec![vec![s2], vec![s5], vec![s3, s4]]);
    c.propose(s5, 3);
    c.run_for(Duration::from_millis(10))?;
    c.crash(s5);
    // (c)
    c.restart(s1);
    c.partition(vec![vec![s1, s2, s3, s4]]);
    let t5 = c.term(s3);
    let x = c.leader_among(&[s1, s2], t5, Duration::from_secs(10))?;
    let y = if x == s1 { s2 } else { s1 };
    c.run_for(Duration::from_millis(200))?;
    c.partition(vec![vec![x], vec![y, s3, s4]]);
    c.propose(x, 4);
    c.run_for(Duration::from_millis(10))?;
    c.crash(x);
    // (d)
    c.restart(s5);
    c.partition(vec![vec![s5, s3, s4], vec![y]]);
    let above = c.term(s3);
    c.leader_among(&[s5], above, Duration::from_secs(15))?;
    c.propose(s5, 5);
    c.run_for(Duration::from_millis(300))?;
    // Heal and agree.
    c.world.apply(Fault::Repair);
    c.restart(x);
    c.one(6, all.len(), true)?;
    Ok(())
}

/// A leader cut off while the others elect a new one comes back where it can hear only
/// replies: the new leader's datagrams to it are cut one way, and followers send it
/// nothing but answers. The higher term in those answers must make it step down.
pub fn stale_leader_replies(c: &mut Tester<'_>, _: &mut NodeRng, _: &mut Metrics) -> Step<()> {
    let n = c.n() as usize;
    let old = c.check_one_leader()?;
    c.one(1, n, true)?;
    c.disconnect(old);
    let new = c.check_one_leader()?;
    c.one(2, n - 1, true)?;
    c.connect(old);
    c.world.apply(Fault::CutOneWay { from: new, to: old });
    c.run_for(Duration::from_secs(2))?;
    c.world.apply(Fault::Reconnect { from: new, to: old });
    c.one(3, n, true)?;
    Ok(())
}
