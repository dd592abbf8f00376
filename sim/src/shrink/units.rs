//! A schedule as units the shrinker deletes and narrows: episodes (a fault and its undo)
//! and single faults.

use crate::faults::{Fault, Schedule, TimedFault, Trigger};
use crate::time::Time;

/// One fault of a unit, with its place in the original schedule (ties at one instant keep
/// the original order).
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub order: usize,
    pub at_ns: u64,
    pub fault: Fault,
}

/// An episode (`end` is its undo) or a single fault (`end` is `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    pub begin: Placed,
    pub end: Option<Placed>,
}

/// The units of `schedule`: each undo is paired with the earliest open episode it undoes.
pub fn units(schedule: &Schedule) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for (order, tf) in schedule.faults.iter().enumerate() {
        let placed = Placed {
            order,
            at_ns: tf.at_ns,
            fault: tf.fault.clone(),
        };
        if let Some(pos) = open
            .iter()
            .position(|&u| tf.fault.undoes(&units[u].begin.fault))
        {
            let u = open.remove(pos);
            units[u].end = Some(placed);
            continue;
        }
        if tf.fault.lasts() {
            open.push(units.len());
        }
        units.push(Unit {
            begin: placed,
            end: None,
        });
    }
    units
}

/// The schedule of `units` and `triggers`, with `template`'s phases.
pub fn schedule(template: &Schedule, units: &[Unit], triggers: &[Trigger]) -> Schedule {
    let mut placed: Vec<&Placed> = units
        .iter()
        .flat_map(|u| std::iter::once(&u.begin).chain(u.end.iter()))
        .collect();
    placed.sort_by_key(|p| (p.at_ns, p.order));
    Schedule {
        swarm: template.swarm.clone(),
        faults: placed
            .into_iter()
            .map(|p| TimedFault {
                at_ns: p.at_ns,
                fault: p.fault.clone(),
            })
            .collect(),
        heal_at_ns: template.heal_at_ns,
        end_ns: template.end_ns,
        triggers: triggers.to_vec(),
    }
}

/// How many faults `units` hold.
pub fn fault_count(units: &[Unit]) -> usize {
    units.iter().map(|u| 1 + u.end.is_some() as usize).sum()
}

/// The fault events `triggers` may fire: each its fault, and its undo when it names one
/// (counted as a timed fault and its undo are; without `undo_after_ns` the heal phase
/// undoes it, as it does a timed fault left without its undo).
pub fn trigger_events(triggers: &[Trigger]) -> usize {
    triggers
        .iter()
        .map(|t| 1 + t.undo_after_ns.is_some() as usize)
        .sum()
}

/// A schedule's fault events, the figure shrinking lowers: its timed faults (each fault
/// and each undo one entry) and what its triggers may fire.
pub fn events(schedule: &Schedule) -> usize {
    schedule.faults.len() + trigger_events(&schedule.triggers)
}

/// The undo that ends the episode `begin` starts, if it lasts.
pub fn undo(begin: &Fault) -> Option<Fault> {
    Some(match begin.clone() {
        Fault::Partition { groups } => Fault::Unpartition { groups },
        Fault::CutOneWay { from, to } => Fault::Reconnect { from, to },
        Fault::Isolate { node } => Fault::Rejoin { node },
        Fault::Crash { node } => Fault::Restart { node },
        Fault::Pause { node } => Fault::Resume { node },
        Fault::Link { from, to, faults } => Fault::LinkRestore {
            from,
            to,
            faults: Some(faults),
        },
        Fault::ClockDrift { node, ppm } => Fault::DriftStop {
            node,
            ppm: Some(ppm),
        },
        _ => return None,
    })
}

/// `fault` for a world of `nodes` nodes: members past the end dropped from partitions,
/// `None` if it names a node that is not there.
fn fit_fault(fault: &Fault, nodes: u32) -> Option<Fault> {
    let fit_groups = |groups: &[Vec<u32>]| -> Option<Vec<Vec<u32>>> {
        let g: Vec<Vec<u32>> = groups
            .iter()
            .map(|m| m.iter().copied().filter(|&n| n < nodes).collect::<Vec<_>>())
            .filter(|m| !m.is_empty())
            .collect();
        (!g.is_empty()).then_some(g)
    };
    match fault {
        Fault::Partition { groups } => Some(Fault::Partition {
            groups: fit_groups(groups)?,
        }),
        Fault::Unpartition { groups } => Some(Fault::Unpartition {
            groups: fit_groups(groups)?,
        }),
        other => other
            .nodes()
            .iter()
            .all(|&n| n < nodes)
            .then(|| other.clone()),
    }
}

/// `units` for a world of `nodes` nodes (fewer clients): faults on missing nodes go, and
/// partitions keep their members that are there.
pub fn fit(units: &[Unit], nodes: u32) -> Vec<Unit> {
    units
        .iter()
        .filter_map(|u| {
            let begin = Placed {
                fault: fit_fault(&u.begin.fault, nodes)?,
                ..u.begin.clone()
            };
            let end = match &u.end {
                Some(e) => Some(Placed {
                    fault: fit_fault(&e.fault, nodes)?,
                    ..e.clone()
                }),
                None => None,
            };
            Some(Unit { begin, end })
        })
        .collect()
}

/// One line on a unit: when, and what.
pub fn describe(unit: &Unit) -> String {
    let when = match &unit.end {
        Some(end) => format!("{} .. {}", Time(unit.begin.at_ns), Time(end.at_ns)),
        None => format!("{}", Time(unit.begin.at_ns)),
    };
    format!("{when:<28} {}", describe_fault(&unit.begin.fault))
}

/// One line on a trigger: on which event, what, and for how long.
pub fn describe_trigger(t: &Trigger) -> String {
    let who = t.node.map_or("any node".to_string(), |n| format!("n{n}"));
    let action = format!("{:?}", t.action).to_lowercase();
    let until = match t.undo_after_ns {
        Some(ns) => format!("for {}", Time(ns)),
        None => "until the heal".to_string(),
    };
    format!(
        "on `{}` #{} by {who}: {action} it {} later, {until}",
        t.on,
        t.nth,
        Time(t.delay_ns)
    )
}

fn node_set(m: &[u32]) -> String {
    let mut sorted = m.to_vec();
    sorted.sort_unstable();
    let names: Vec<String> = sorted.iter().map(|n| format!("n{n}")).collect();
    format!("{{{}}}", names.join(","))
}

fn link_end(n: &Option<u32>) -> String {
    n.map_or("all".to_string(), |n| format!("n{n}"))
}

fn describe_fault(fault: &Fault) -> String {
    match fault {
        Fault::Link { from, to, faults } => {
            let mut parts = vec![format!(
                "latency {}..{} us",
                faults.latency_min_ns / 1000,
                faults.latency_max_ns / 1000
            )];
            for (name, p) in [
                ("loss", faults.loss),
                ("duplicate", faults.duplicate),
                ("reorder", faults.reorder),
                ("corrupt", faults.corrupt),
                ("truncate", faults.truncate),
            ] {
                if p > 0.0 {
                    parts.push(format!("{name} {p:.4}"));
                }
            }
            if faults.reorder > 0.0 {
                parts.push(format!(
                    "reorder delay {} us",
                    faults.reorder_delay_ns / 1000
                ));
            }
            format!(
                "link {} -> {}: {}",
                link_end(from),
                link_end(to),
                parts.join(", ")
            )
        }
        Fault::Partition { groups } => {
            let g: Vec<String> = groups.iter().map(|m| node_set(m)).collect();
            format!("partition {}", g.join(" | "))
        }
        Fault::CutOneWay { from, to } => format!("one-way cut n{from} -> n{to}"),
        Fault::Isolate { node } => format!("isolate n{node}"),
        Fault::Crash { node } => format!("crash n{node} (then restart)"),
        Fault::CrashInSync { node } => format!("crash n{node} inside its next sync (then restart)"),
        Fault::Pause { node } => format!("pause n{node}"),
        Fault::ClockDrift { node, ppm } => format!("clock drift n{node} {ppm} ppm"),
        Fault::ClockOffset { node, offset_ns } => {
            format!("clock step n{node} by {} us", offset_ns / 1000)
        }
        other => serde_json::to_string(other).unwrap_or_else(|_| format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tf(at_ns: u64, fault: Fault) -> TimedFault {
        TimedFault { at_ns, fault }
    }

    #[test]
    fn undos_pair_with_their_episodes_and_the_schedule_rebuilds() {
        let p = |g: Vec<Vec<u32>>| Fault::Partition { groups: g };
        let s = Schedule {
            swarm: vec![],
            faults: vec![
                tf(1, p(vec![vec![0], vec![1, 2]])),
                tf(2, Fault::Crash { node: 1 }),
                tf(
                    3,
                    Fault::Unpartition {
                        groups: vec![vec![2, 1], vec![0]],
                    },
                ),
                tf(4, Fault::ResetStreams { node: 2 }),
                tf(5, Fault::Restart { node: 1 }),
                tf(6, Fault::Isolate { node: 0 }),
            ],
            heal_at_ns: 10,
            end_ns: 20,
            triggers: vec![],
        };
        let u = units(&s);
        assert_eq!(u.len(), 4);
        assert_eq!(u[0].end.as_ref().map(|e| e.at_ns), Some(3));
        assert_eq!(u[1].end.as_ref().map(|e| e.at_ns), Some(5));
        assert!(u[2].end.is_none() && u[3].end.is_none());
        assert_eq!(fault_count(&u), 6);
        assert_eq!(schedule(&s, &u, &[]), s);
        // Without the crash episode, the rest keeps its times and order.
        let rest: Vec<Unit> = [0, 2, 3].iter().map(|&i| u[i].clone()).collect();
        let times: Vec<u64> = schedule(&s, &rest, &[])
            .faults
            .iter()
            .map(|f| f.at_ns)
            .collect();
        assert_eq!(times, vec![1, 3, 4, 6]);
        // Two nodes left: node 2 leaves the partition, its stream reset goes.
        let fitted = fit(&u, 2);
        assert_eq!(fitted.len(), 3);
        assert_eq!(fitted[0].begin.fault, p(vec![vec![0], vec![1]]));
        assert!(fitted[0]
            .end
            .as_ref()
            .unwrap()
            .fault
            .undoes(&fitted[0].begin.fault));
    }
}
