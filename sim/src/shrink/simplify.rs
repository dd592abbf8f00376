//! Smaller faults of another shape, for what delta debugging cannot delete: an episode
//! without its undo (it lasts until the heal phase, which undoes everything), two episodes
//! of the same fault merged into one, a trigger without its undo, and a cut narrowed: a
//! partition with fewer nodes on its small side, an isolation instead of a partition, a
//! one-way cut instead of an isolation.
//!
//! Every alternative is smaller in (fault events, then the kind of cut, then the links a
//! partition cuts), so the rounds end; the first failing alternative in a fixed order is
//! kept, so the result does not depend on the number of jobs.

use super::search::{Candidate, Tester};
use super::units::{undo, Placed, Unit};
use crate::faults::{normalise_groups, Fault};

/// Rounds at most (each keeps one alternative); the order above ends them sooner.
const MAX_ROUNDS: usize = 64;

/// `c` simplified until no alternative fails any more. `nodes` is the world's node count
/// (for one-way cuts instead of an isolation), if known.
pub fn simplify(tester: &Tester<'_>, mut c: Candidate, nodes: Option<u32>) -> Candidate {
    for _ in 0..MAX_ROUNDS {
        match tester.first_failing(alternatives(&c, nodes)) {
            Some(smaller) => c = smaller,
            None => break,
        }
    }
    c
}

/// Whether two faults begin episodes of the same fault on the same nodes (so one episode
/// can stand for both).
fn same_target(a: &Fault, b: &Fault) -> bool {
    match (a, b) {
        (Fault::Partition { groups: g }, Fault::Partition { groups: h }) => {
            normalise_groups(g) == normalise_groups(h)
        }
        (
            Fault::Link { from, to, faults },
            Fault::Link {
                from: f,
                to: t,
                faults: g,
            },
        ) => (from, to, faults) == (f, t, g),
        (Fault::ClockDrift { node, ppm }, Fault::ClockDrift { node: n, ppm: p }) => {
            (node, ppm) == (n, p)
        }
        _ => {
            a.lasts()
                && std::mem::discriminant(a) == std::mem::discriminant(b)
                && a.nodes() == b.nodes()
        }
    }
}

/// Unit `i` of `c` beginning with `fault` instead (its undo, if it has one, follows).
fn replaced(c: &Candidate, i: usize, fault: Fault) -> Option<Candidate> {
    let u = &c.units[i];
    let end = match &u.end {
        Some(e) => Some(Placed {
            fault: undo(&fault)?,
            ..e.clone()
        }),
        None => None,
    };
    let mut c = c.clone();
    c.units[i] = Unit {
        begin: Placed {
            fault,
            ..u.begin.clone()
        },
        end,
    };
    Some(c)
}

/// The alternatives to `c`, fewest fault events first.
fn alternatives(c: &Candidate, nodes: Option<u32>) -> Vec<Candidate> {
    let mut out = Vec::new();
    // Two episodes of one fault as one, from the first's start to the second's end.
    for i in 0..c.units.len() {
        let Some(end) = &c.units[i].end else { continue };
        let later = (i + 1..c.units.len()).find(|&j| {
            let u = &c.units[j];
            same_target(&c.units[i].begin.fault, &u.begin.fault) && u.begin.at_ns >= end.at_ns
        });
        if let Some(j) = later {
            let mut m = c.clone();
            m.units[i].end = c.units[j].end.clone().map(|e| Placed {
                fault: end.fault.clone(),
                ..e
            });
            m.units.remove(j);
            out.push(m);
        }
    }
    // An episode without its undo: it lasts until the heal phase.
    for i in 0..c.units.len() {
        if c.units[i].end.is_some() {
            let mut m = c.clone();
            m.units[i].end = None;
            out.push(m);
        }
    }
    for i in 0..c.triggers.len() {
        if c.triggers[i].undo_after_ns.is_some() {
            let mut m = c.clone();
            m.triggers[i].undo_after_ns = None;
            out.push(m);
        }
    }
    // Narrower cuts, the same number of events.
    for i in 0..c.units.len() {
        match &c.units[i].begin.fault {
            Fault::Partition { groups } => {
                let groups = normalise_groups(groups);
                let largest = groups.iter().map(Vec::len).max().unwrap_or(0);
                // The first of the largest groups stays whole; the others lose a node to it.
                let big = groups.iter().position(|g| g.len() == largest).unwrap_or(0);
                for (gi, g) in groups.iter().enumerate().filter(|&(gi, _)| gi != big) {
                    for &n in g {
                        out.extend(replaced(c, i, Fault::Isolate { node: n }));
                        let mut moved = groups.clone();
                        moved[gi].retain(|&m| m != n);
                        moved[big].push(n);
                        moved.retain(|g| !g.is_empty());
                        if moved.len() >= 2 {
                            let groups = normalise_groups(&moved);
                            out.extend(replaced(c, i, Fault::Partition { groups }));
                        }
                    }
                }
            }
            Fault::Isolate { node } => {
                let node = *node;
                for other in (0..nodes.unwrap_or(0)).filter(|&m| m != node) {
                    for (from, to) in [(node, other), (other, node)] {
                        out.extend(replaced(c, i, Fault::CutOneWay { from, to }));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn unit(begin: (u64, Fault), end: Option<(u64, Fault)>) -> Unit {
        let placed = |(at_ns, fault): (u64, Fault)| Placed {
            order: at_ns as usize,
            at_ns,
            fault,
        };
        Unit {
            begin: placed(begin),
            end: end.map(placed),
        }
    }

    #[test]
    fn alternatives_merge_drop_undos_and_narrow_cuts() {
        let p = Fault::Partition {
            groups: vec![vec![0, 1], vec![2, 3, 4]],
        };
        let unp = undo(&p).unwrap();
        let c = Candidate {
            units: vec![
                unit((10, p.clone()), Some((20, unp.clone()))),
                unit((30, p.clone()), Some((40, unp.clone()))),
            ],
            triggers: vec![],
            params: BTreeMap::new(),
        };
        let alts = alternatives(&c, Some(5));
        // First the merge: one episode from 10 to 40.
        assert_eq!(alts[0].units, vec![unit((10, p.clone()), Some((40, unp)))]);
        assert_eq!(alts[0].events(), 2);
        // Then each undo dropped.
        assert_eq!(alts[1].units[0].end, None);
        assert_eq!(alts[2].units[1].end, None);
        // Then, for each episode, n0 and n1 isolated or moved to the big side.
        let first: Vec<&Fault> = alts[3..7].iter().map(|a| &a.units[0].begin.fault).collect();
        assert_eq!(
            first,
            vec![
                &Fault::Isolate { node: 0 },
                &Fault::Partition {
                    groups: vec![vec![0, 2, 3, 4], vec![1]]
                },
                &Fault::Isolate { node: 1 },
                &Fault::Partition {
                    groups: vec![vec![0], vec![1, 2, 3, 4]]
                },
            ]
        );
        assert_eq!(
            alts[3].units[0].end.as_ref().unwrap().fault,
            Fault::Rejoin { node: 0 }
        );
        // An isolation becomes a one-way cut either way with each other node.
        let isolated = alternatives(&alts[3], Some(5));
        let cuts = isolated
            .iter()
            .filter(|a| matches!(a.units[0].begin.fault, Fault::CutOneWay { .. }))
            .count();
        assert_eq!(cuts, 8);
    }
}
