//! Scripts beyond the course's tests: the tester's unreliable network, and crashes that
//! only persistence survives (SPEC.md §7, §11).

use super::course::Metrics;
use super::tester::{Step, Tester, ELECTION_TIMEOUT};
use crate::raft::invariants::DURABLE_COMMIT;
use crate::raft::world::clean_link;
use faultline::{LinkFaults, NodeRng};
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
