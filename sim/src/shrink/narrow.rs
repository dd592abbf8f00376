//! Narrowing what is left: each unit later, shorter and milder, each trigger earlier,
//! sooner and shorter. Every number is searched down with [`Tester::smallest`], so the
//! result does not depend on the number of jobs.

use super::search::{Candidate, Tester};
use super::units::Unit;
use crate::faults::{Fault, LinkFaults};

/// Search one number of unit `i` (`get` reads it, `set` writes it) down from its value to
/// the smallest that still fails, to within `1/fraction` of it (at least `min_step`).
fn lower(
    tester: &Tester<'_>,
    c: Candidate,
    i: usize,
    fraction: u64,
    min_step: u64,
    get: impl Fn(&Unit) -> Option<u64>,
    set: impl Fn(&mut Unit, u64),
) -> Candidate {
    let range = get(&c.units[i]).map(|v| (0, v));
    lower_in(tester, c, range, fraction, min_step, |c, v| {
        set(&mut c.units[i], v)
    })
}

/// Search a number of `c` in `range` (it fails at the top) down to the smallest value
/// that still fails, to within `1/fraction` of the top (at least `min_step`).
fn lower_in(
    tester: &Tester<'_>,
    c: Candidate,
    range: Option<(u64, u64)>,
    fraction: u64,
    min_step: u64,
    set: impl Fn(&mut Candidate, u64),
) -> Candidate {
    let Some((lo, current)) = range.filter(|(lo, hi)| lo < hi) else {
        return c;
    };
    let with = |v: u64| {
        let mut c = c.clone();
        set(&mut c, v);
        c
    };
    let step = (current / fraction).max(min_step);
    let v = tester.smallest(lo, current, step, with);
    if v == current {
        c
    } else {
        with(v)
    }
}

/// Narrow trigger `i`: an earlier matching event, a shorter delay, a shorter fault.
pub fn narrow_trigger(tester: &Tester<'_>, mut c: Candidate, i: usize) -> Candidate {
    let t = &c.triggers[i];
    let nth = Some((1, u64::from(t.nth)));
    c = lower_in(tester, c, nth, u64::MAX, 1, |c, v| {
        c.triggers[i].nth = v as u32
    });
    let delay = Some((0, c.triggers[i].delay_ns));
    c = lower_in(tester, c, delay, 32, MS, |c, v| c.triggers[i].delay_ns = v);
    let undo = c.triggers[i].undo_after_ns.map(|v| (0, v));
    lower_in(tester, c, undo, 32, MS, |c, v| {
        c.triggers[i].undo_after_ns = Some(v)
    })
}

const MS: u64 = 1_000_000;
const US: u64 = 1_000;
/// Rates are searched in parts per million.
const PPM: f64 = 1e6;

/// Narrow unit `i`: later and shorter, lower rates, narrower latency, smaller clock faults.
pub fn narrow(tester: &Tester<'_>, mut c: Candidate, i: usize) -> Candidate {
    let heal = tester.template.heal_at_ns;
    // A fault left without its undo lasts until the heal phase: it too starts as late as
    // it can.
    // (At least 1 ns before the heal, which would otherwise come first and leave it on.)
    let u = &c.units[i];
    let left = (u.end.is_none() && u.begin.at_ns < heal).then(|| (1, heal - u.begin.at_ns));
    c = lower_in(tester, c, left, 32, MS, |c, left| {
        c.units[i].begin.at_ns = heal - left
    });
    let length = |u: &Unit| u.end.as_ref().map(|e| e.at_ns - u.begin.at_ns);
    // Later: the start moves towards the end (the trouble starts as late as it can)...
    c = lower(tester, c, i, 32, MS, length, |u, len| {
        if let Some(e) = &u.end {
            u.begin.at_ns = e.at_ns - len;
        }
    });
    // ...and shorter: then the end moves earlier, if it still can.
    c = lower(tester, c, i, 32, MS, length, |u, len| {
        let begin = u.begin.at_ns;
        if let Some(e) = u.end.as_mut() {
            e.at_ns = begin + len;
        }
    });
    match c.units[i].begin.fault.clone() {
        Fault::Link { .. } => {
            type Field = fn(&mut LinkFaults) -> &mut f64;
            let rates: [Field; 5] = [
                |l| &mut l.loss,
                |l| &mut l.duplicate,
                |l| &mut l.reorder,
                |l| &mut l.corrupt,
                |l| &mut l.truncate,
            ];
            for field in rates {
                c = lower(
                    tester,
                    c,
                    i,
                    8,
                    1,
                    |u| link(u).map(|mut l| (*field(&mut l) * PPM).round() as u64),
                    |u, v| set_link(u, |l| *field(l) = v as f64 / PPM),
                );
            }
            c = lower(
                tester,
                c,
                i,
                8,
                US,
                |u| link(u).map(|l| l.reorder_delay_ns),
                |u, v| set_link(u, |l| l.reorder_delay_ns = v),
            );
            c = lower(
                tester,
                c,
                i,
                8,
                US,
                |u| link(u).map(|l| l.latency_max_ns - l.latency_min_ns),
                |u, v| set_link(u, |l| l.latency_max_ns = l.latency_min_ns + v),
            );
        }
        Fault::ClockDrift { ppm, .. } => {
            c = lower(
                tester,
                c,
                i,
                8,
                1,
                |_| Some(ppm.unsigned_abs()),
                |u, v| {
                    let signed = ppm.signum() * v as i64;
                    if let Fault::ClockDrift { ppm, .. } = &mut u.begin.fault {
                        *ppm = signed;
                    }
                    if let Some(Fault::DriftStop { ppm: Some(p), .. }) =
                        u.end.as_mut().map(|e| &mut e.fault)
                    {
                        *p = signed;
                    }
                },
            );
        }
        Fault::ClockOffset { offset_ns, .. } => {
            c = lower(
                tester,
                c,
                i,
                8,
                US,
                |_| Some(offset_ns.unsigned_abs()),
                |u, v| {
                    if let Fault::ClockOffset { offset_ns: o, .. } = &mut u.begin.fault {
                        *o = offset_ns.signum() * v as i64;
                    }
                },
            );
        }
        _ => {}
    }
    c
}

/// The link behaviour a unit sets, if it is a link change.
fn link(u: &Unit) -> Option<LinkFaults> {
    match &u.begin.fault {
        Fault::Link { faults, .. } => Some(faults.clone()),
        _ => None,
    }
}

/// Change a link unit's behaviour, in its begin and in its restore alike.
fn set_link(u: &mut Unit, f: impl Fn(&mut LinkFaults)) {
    if let Fault::Link { faults, .. } = &mut u.begin.fault {
        f(faults);
        let new = faults.clone();
        if let Some(Fault::LinkRestore {
            faults: Some(r), ..
        }) = u.end.as_mut().map(|e| &mut e.fault)
        {
            *r = new;
        }
    }
}
