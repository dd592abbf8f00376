//! Swarm testing: the seed picks which fault kinds are on, at what rates, and when.
//!
//! Each fault kind the scenario allows is switched on or off by a coin from its own named
//! stream (`swarm/<kind>`), and its events are drawn from that stream too, so turning one
//! kind off does not move another kind's faults. Most seeds run with only some kinds on,
//! which finds bugs that a constant mix of every fault hides (Groce et al., "Swarm
//! Testing", ISSTA 2012).
//!
//! Every episode ends with its own undo (a partition with the unpartition of the same
//! groups, a crash with the restart of the same node, the fault phase's link change with
//! its link restore), never with a global `repair`, so deleting one episode from a
//! schedule leaves the others as they were.

use crate::faults::{Fault, LinkFaults, Schedule, TimedFault, Trigger, TriggerAction};
use crate::rng::derive_rng;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// Which fault kinds a scenario can take.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultKinds {
    pub loss: bool,
    pub duplicate: bool,
    pub reorder: bool,
    pub corrupt: bool,
    pub truncate: bool,
    pub partition: bool,
    pub one_way: bool,
    pub isolate: bool,
    pub crash: bool,
    pub pause: bool,
    pub clock: bool,
    pub stream_reset: bool,
}

impl FaultKinds {
    /// Every datagram-level network fault (what a protocol over UDP must survive).
    pub fn datagram() -> FaultKinds {
        FaultKinds {
            loss: true,
            duplicate: true,
            reorder: true,
            corrupt: true,
            truncate: true,
            partition: true,
            one_way: true,
            isolate: true,
            pause: true,
            ..FaultKinds::default()
        }
    }

    /// What a protocol over streams must survive: cuts of every shape, pauses, crashes
    /// and stream resets (datagram faults do not touch streams).
    pub fn stream() -> FaultKinds {
        FaultKinds {
            partition: true,
            one_way: true,
            isolate: true,
            pause: true,
            crash: true,
            stream_reset: true,
            ..FaultKinds::default()
        }
    }

    /// Everything.
    pub fn all() -> FaultKinds {
        FaultKinds {
            crash: true,
            clock: true,
            stream_reset: true,
            ..FaultKinds::datagram()
        }
    }
}

/// What a scenario lets the generator do.
#[derive(Clone, Debug)]
pub struct FaultProfile {
    pub kinds: FaultKinds,
    /// Nodes that partitions, pauses and clock faults may name.
    pub nodes: Vec<u32>,
    /// Nodes that may crash (and restart), and have their streams reset.
    pub crashable: Vec<u32>,
    /// Length of the fault phase; the heal phase follows.
    pub fault_phase: Duration,
    pub heal_phase: Duration,
    /// The network with no faults on.
    pub base_link: LinkFaults,
    /// Upper bound on a loss rate the seed may pick (protocols with hard deadlines want less).
    pub max_loss: f64,
    /// History-event labels (see [`Trigger`]) the seed may fire faults on; none by default.
    /// Triggered actions hit the node that recorded the event: crash (if it is crashable)
    /// or isolate.
    pub trigger_labels: Vec<&'static str>,
}

impl FaultProfile {
    /// A profile over `nodes` with every kind off.
    pub fn new(nodes: Vec<u32>, fault_phase: Duration, heal_phase: Duration) -> FaultProfile {
        FaultProfile {
            kinds: FaultKinds::default(),
            crashable: Vec::new(),
            nodes,
            fault_phase,
            heal_phase,
            base_link: LinkFaults::default(),
            max_loss: 0.3,
            trigger_labels: Vec::new(),
        }
    }
}

/// Episodes of one fault kind: each begins with one fault and ends with its undo (a
/// partition and its unpartition, a crash and its restart) before the fault phase ends.
struct Episodes<'a> {
    seed: u64,
    phase: u64,
    faults: &'a mut Vec<TimedFault>,
    swarm: &'a mut Vec<String>,
}

impl Episodes<'_> {
    /// If the seed turns `kind` on, about `per_phase` episodes over the phase, each lasting
    /// between phase/`lasting.0` and phase/`lasting.1`.
    fn add(
        &mut self,
        kind: &str,
        allowed: bool,
        per_phase: u32,
        lasting: (u64, u64),
        mut begin_end: impl FnMut(&mut ChaCha8Rng) -> (Fault, Fault),
    ) {
        let Some(mut r) = kind_rng(self.seed, kind, allowed) else {
            return;
        };
        let starts = episode_starts(&mut r, self.phase, per_phase);
        self.swarm
            .push(format!("{} x{}", kind.replace('_', "-"), starts.len()));
        for t in starts {
            let (begin, end) = begin_end(&mut r);
            let length = r.gen_range(self.phase / lasting.0..=self.phase / lasting.1);
            self.faults.push(TimedFault {
                at_ns: t,
                fault: begin,
            });
            self.faults.push(TimedFault {
                at_ns: (t + length).min(self.phase),
                fault: end,
            });
        }
    }
}

fn ns(d: Duration) -> u64 {
    crate::time::duration_nanos(d)
}

/// One kind's coin and its own stream of draws.
fn kind_rng(seed: u64, kind: &str, allowed: bool) -> Option<ChaCha8Rng> {
    if !allowed {
        return None;
    }
    let mut rng = derive_rng(seed, &format!("swarm/{kind}"));
    coin(&mut rng).then_some(rng)
}

/// Slots the fault phase is cut into for drawing episode starts.
const SLOTS: u64 = 1024;

/// Times of episodes in the fault phase, `per_phase` of them on average: each of [`SLOTS`]
/// equal slots starts one with probability `per_phase / SLOTS`, at a uniform moment inside
/// it. That is a Bernoulli approximation of a Poisson process, in integers only, so the
/// same seed gives the same schedule on every platform (no `ln` from the platform's libm).
fn episode_starts(rng: &mut ChaCha8Rng, phase_ns: u64, per_phase: u32) -> Vec<u64> {
    let slot_ns = (phase_ns / SLOTS).max(1);
    let mut starts = Vec::new();
    for slot in 0..SLOTS {
        if rng.gen_range(0..SLOTS) < per_phase as u64 {
            let t = slot * slot_ns + rng.gen_range(0..slot_ns);
            if t < phase_ns {
                starts.push(t);
            }
        }
    }
    starts
}

/// A rate drawn uniformly between two figures in parts per million, drawn as an integer so
/// the draw involves no floating-point arithmetic; the one division is exact-rounded IEEE.
fn rate_ppm(rng: &mut ChaCha8Rng, lo_ppm: u64, hi_ppm: u64) -> f64 {
    rng.gen_range(lo_ppm..=hi_ppm.max(lo_ppm)) as f64 / 1e6
}

/// A fair coin, from integers.
fn coin(rng: &mut ChaCha8Rng) -> bool {
    rng.gen_ratio(1, 2)
}

/// The schedule `seed` picks under `profile`.
pub fn generate(seed: u64, profile: &FaultProfile) -> Schedule {
    let k = &profile.kinds;
    let phase = ns(profile.fault_phase);
    let heal_at = phase;
    let end = phase + ns(profile.heal_phase);
    let mut swarm = Vec::new();
    let mut faults = Vec::new();
    let mut at = |at_ns: u64, fault: Fault| faults.push(TimedFault { at_ns, fault });

    // Datagram faults: one link setting for the whole fault phase.
    let mut link = profile.base_link.clone();
    let base_span = link.latency_max_ns.max(1_000_000);
    if let Some(mut r) = kind_rng(seed, "loss", k.loss) {
        link.loss = rate_ppm(&mut r, 10_000, (profile.max_loss * 1e6) as u64);
        swarm.push(format!("loss {:.3}", link.loss));
    }
    if let Some(mut r) = kind_rng(seed, "duplicate", k.duplicate) {
        link.duplicate = rate_ppm(&mut r, 10_000, 200_000);
        swarm.push(format!("duplicate {:.3}", link.duplicate));
    }
    if let Some(mut r) = kind_rng(seed, "reorder", k.reorder) {
        link.reorder = rate_ppm(&mut r, 50_000, 500_000);
        link.reorder_delay_ns = r.gen_range(base_span..=base_span * 20);
        swarm.push(format!(
            "reorder {:.3} up to {} us",
            link.reorder,
            link.reorder_delay_ns / 1000
        ));
    }
    if let Some(mut r) = kind_rng(seed, "corrupt", k.corrupt) {
        link.corrupt = rate_ppm(&mut r, 10_000, 100_000);
        swarm.push(format!("corrupt {:.3}", link.corrupt));
    }
    if let Some(mut r) = kind_rng(seed, "truncate", k.truncate) {
        link.truncate = rate_ppm(&mut r, 10_000, 100_000);
        swarm.push(format!("truncate {:.3}", link.truncate));
    }
    if link.is_faulty() {
        at(
            0,
            Fault::Link {
                from: None,
                to: None,
                faults: link.clone(),
            },
        );
        at(
            heal_at,
            Fault::LinkRestore {
                from: None,
                to: None,
                faults: Some(link),
            },
        );
    }

    let nodes = &profile.nodes;
    let crashable = &profile.crashable;
    let mut plan = Episodes {
        seed,
        phase,
        faults: &mut faults,
        swarm: &mut swarm,
    };
    plan.add(
        "partition",
        k.partition && nodes.len() >= 2,
        3,
        (20, 4),
        |r| {
            let mut shuffled = nodes.clone();
            shuffled.shuffle(r);
            let cut = r.gen_range(1..shuffled.len());
            let groups = vec![shuffled[..cut].to_vec(), shuffled[cut..].to_vec()];
            (
                Fault::Partition {
                    groups: groups.clone(),
                },
                Fault::Unpartition { groups },
            )
        },
    );
    plan.add("one_way", k.one_way && nodes.len() >= 2, 2, (20, 4), |r| {
        let pair: Vec<u32> = nodes.choose_multiple(r, 2).copied().collect();
        let (from, to) = (pair[0], pair[1]);
        (Fault::CutOneWay { from, to }, Fault::Reconnect { from, to })
    });
    plan.add("isolate", k.isolate && !nodes.is_empty(), 2, (20, 4), |r| {
        let node = *nodes.choose(r).expect("non-empty");
        (Fault::Isolate { node }, Fault::Rejoin { node })
    });
    plan.add("crash", k.crash && !crashable.is_empty(), 3, (40, 5), |r| {
        let node = *crashable.choose(r).expect("non-empty");
        (Fault::Crash { node }, Fault::Restart { node })
    });
    plan.add("pause", k.pause && !nodes.is_empty(), 3, (40, 5), |r| {
        let node = *nodes.choose(r).expect("non-empty");
        (Fault::Pause { node }, Fault::Resume { node })
    });
    let mut at = |at_ns: u64, fault: Fault| faults.push(TimedFault { at_ns, fault });
    if let Some(mut r) = kind_rng(seed, "clock", k.clock && !nodes.is_empty()) {
        swarm.push("clock offset and drift".to_string());
        for &node in nodes {
            if coin(&mut r) {
                at(
                    0,
                    Fault::ClockOffset {
                        node,
                        offset_ns: r.gen_range(-50_000_000..=50_000_000),
                    },
                );
            }
            if coin(&mut r) {
                let ppm = r.gen_range(-200..=200);
                at(0, Fault::ClockDrift { node, ppm });
                at(
                    heal_at,
                    Fault::DriftStop {
                        node,
                        ppm: Some(ppm),
                    },
                );
            }
        }
    }
    if let Some(mut r) = kind_rng(
        seed,
        "stream_reset",
        k.stream_reset && !crashable.is_empty(),
    ) {
        let starts = episode_starts(&mut r, phase, 3);
        swarm.push(format!("stream reset x{}", starts.len()));
        for t in starts {
            let node = *crashable.choose(&mut r).expect("non-empty");
            at(t, Fault::ResetStreams { node });
        }
    }
    let triggers = triggers(seed, profile, phase);
    if !triggers.is_empty() {
        swarm.push(format!("triggers x{}", triggers.len()));
    }
    if swarm.is_empty() {
        swarm.push("no faults".to_string());
    }
    // Stable order by time; ties keep the order of generation.
    faults.sort_by_key(|f| f.at_ns);
    Schedule {
        swarm,
        faults,
        heal_at_ns: heal_at,
        end_ns: end,
        triggers,
    }
}

/// If the seed turns them on, one to four triggers on the profile's labels: after the
/// n-th such event (n up to 8), crash the node that recorded it, or cut it off, right
/// away or after up to 200 ms, for 1 ms to a second (about half the phase at most).
fn triggers(seed: u64, profile: &FaultProfile, phase: u64) -> Vec<Trigger> {
    let Some(mut r) = kind_rng(seed, "trigger", !profile.trigger_labels.is_empty()) else {
        return Vec::new();
    };
    let count = r.gen_range(1..=4);
    (0..count)
        .map(|_| {
            let on = profile.trigger_labels.choose(&mut r).expect("non-empty");
            let crash = !profile.crashable.is_empty() && r.gen_range(0..4) > 0;
            let node = match crash {
                true => profile.crashable.choose(&mut r).copied(),
                false => None,
            };
            Trigger {
                on: on.to_string(),
                node: node.filter(|_| r.gen_range(0..2) == 0),
                nth: r.gen_range(1..=8),
                action: match crash {
                    true => TriggerAction::Crash,
                    false => TriggerAction::Isolate,
                },
                delay_ns: match r.gen_range(0..2) {
                    0 => 0,
                    _ => r.gen_range(0..=200_000_000),
                },
                undo_after_ns: Some(
                    r.gen_range(1_000_000..=1_000_000_000.min(phase / 2).max(1_000_000)),
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> FaultProfile {
        let mut p = FaultProfile::new(
            vec![0, 1, 2],
            Duration::from_secs(10),
            Duration::from_secs(5),
        );
        p.kinds = FaultKinds::all();
        p.crashable = vec![1, 2];
        p
    }

    #[test]
    fn same_seed_same_schedule_and_seeds_differ() {
        let p = profile();
        assert_eq!(generate(3, &p), generate(3, &p));
        let distinct: std::collections::BTreeSet<String> = (0..20)
            .map(|s| serde_json::to_string(&generate(s, &p)).unwrap())
            .collect();
        assert!(distinct.len() > 15, "seeds should pick different schedules");
    }

    #[test]
    fn disallowed_kinds_never_appear_and_faults_end_by_heal() {
        let mut p = profile();
        p.kinds.crash = false;
        for seed in 0..50 {
            let s = generate(seed, &p);
            assert!(s.validate(3).is_ok());
            for f in &s.faults {
                assert!(!matches!(
                    f.fault,
                    Fault::Crash { .. } | Fault::Restart { .. }
                ));
                assert!(f.at_ns <= s.heal_at_ns);
                if let Fault::ResetStreams { node } = f.fault {
                    assert!(p.crashable.contains(&node));
                }
            }
        }
    }

    #[test]
    fn every_episode_ends_with_its_own_undo() {
        let p = profile();
        for seed in 0..50 {
            let s = generate(seed, &p);
            assert!(!s.faults.iter().any(|f| f.fault == Fault::Repair));
            for (i, begin) in s.faults.iter().enumerate() {
                if begin.fault.lasts() {
                    assert!(
                        s.faults[i + 1..]
                            .iter()
                            .any(|end| end.fault.undoes(&begin.fault) && end.at_ns >= begin.at_ns),
                        "seed {seed}: {:?} has no undo",
                        begin.fault
                    );
                }
            }
        }
    }

    #[test]
    fn turning_one_kind_off_keeps_the_others() {
        let p = profile();
        let mut no_pause = p.clone();
        no_pause.kinds.pause = false;
        for seed in 0..30 {
            let with: Vec<_> = generate(seed, &p)
                .faults
                .into_iter()
                .filter(|f| !matches!(f.fault, Fault::Pause { .. } | Fault::Resume { .. }))
                .collect();
            assert_eq!(with, generate(seed, &no_pause).faults);
        }
    }
}
