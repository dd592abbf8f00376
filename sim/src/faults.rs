//! The fault model as plain data: what can go wrong, and a schedule of when.
//!
//! A [`Schedule`] is a list of [`TimedFault`]s plus the time the heal phase starts and the
//! time the run ends. It serialises to JSON, so a failing run's schedule can be saved,
//! edited, shrunk and replayed with `faultline run --schedule FILE`.

pub use crate::storage::StorageFaults;
use serde::{Deserialize, Serialize};

/// Per directed link network behaviour. Probabilities are in `0.0..=1.0`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkFaults {
    /// One-way latency is uniform in `latency_min_ns..=latency_max_ns`.
    pub latency_min_ns: u64,
    pub latency_max_ns: u64,
    /// A datagram is dropped.
    pub loss: f64,
    /// A datagram is delivered twice (the copy has its own latency).
    pub duplicate: f64,
    /// A datagram is held back by an extra delay in `0..=reorder_delay_ns`.
    pub reorder: f64,
    pub reorder_delay_ns: u64,
    /// One to three bits of a datagram are flipped.
    pub corrupt: f64,
    /// A datagram is cut short at a random length.
    pub truncate: f64,
}

impl Default for LinkFaults {
    fn default() -> Self {
        LinkFaults::clean(1_000_000, 2_000_000)
    }
}

impl LinkFaults {
    /// A link with latency in `min_ns..=max_ns` and no faults.
    pub fn clean(latency_min_ns: u64, latency_max_ns: u64) -> LinkFaults {
        LinkFaults {
            latency_min_ns,
            latency_max_ns: latency_max_ns.max(latency_min_ns),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay_ns: 0,
            corrupt: 0.0,
            truncate: 0.0,
        }
    }

    /// Whether any datagram fault is on.
    pub fn is_faulty(&self) -> bool {
        self.loss > 0.0
            || self.duplicate > 0.0
            || self.reorder > 0.0
            || self.corrupt > 0.0
            || self.truncate > 0.0
    }

    /// An error if a probability is outside 0..=1 or latencies are reversed.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("corrupt", self.corrupt),
            ("truncate", self.truncate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "link fault `{name}` must be a probability in 0..=1, got {p}"
                ));
            }
        }
        for (name, ns) in [
            ("latency_max_ns", self.latency_max_ns),
            ("reorder_delay_ns", self.reorder_delay_ns),
        ] {
            if ns > MAX_SCHEDULE_NS {
                return Err(format!(
                    "link fault `{name}` is {ns} ns, above the most a schedule may name ({MAX_SCHEDULE_NS} ns)"
                ));
            }
        }
        if self.latency_min_ns > self.latency_max_ns {
            return Err(format!(
                "latency_min_ns ({}) is above latency_max_ns ({})",
                self.latency_min_ns, self.latency_max_ns
            ));
        }
        Ok(())
    }
}

/// One fault. Node numbers are the simulator's node indices.
///
/// Faults that last come in pairs, a verb and its undo: `partition` / `unpartition`,
/// `cut_one_way` / `reconnect`, `isolate` / `rejoin`, `link` / `link_restore`,
/// `clock_drift` / `drift_stop`, `crash` / `restart`, `pause` / `resume`. An undo names
/// what it undoes (the same groups, the same link, the same node) and ends that episode
/// only: two overlapping partitions are two episodes, and the end of one leaves the other
/// in force. So deleting one episode from a schedule never changes what the others mean,
/// which is what lets `faultline shrink` delete episodes one by one. `repair` and `heal`
/// are the global resets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Set the behaviour of the directed links `from -> to`; a missing end means every node.
    /// Link changes stack: the latest one in force on a link decides its behaviour.
    Link {
        #[serde(default)]
        from: Option<u32>,
        #[serde(default)]
        to: Option<u32>,
        faults: LinkFaults,
    },
    /// End a `link` change of the same `from` and `to` (and `faults`, when given; without
    /// it, the latest change of those links): the links fall back to the change beneath it,
    /// or to the base behaviour.
    LinkRestore {
        #[serde(default)]
        from: Option<u32>,
        #[serde(default)]
        to: Option<u32>,
        #[serde(default)]
        faults: Option<LinkFaults>,
    },
    /// Split the nodes into groups that cannot reach each other (both ways). Nodes in no
    /// group are cut off from everyone.
    Partition {
        groups: Vec<Vec<u32>>,
    },
    /// End a partition into the same groups (in any order).
    Unpartition {
        groups: Vec<Vec<u32>>,
    },
    /// Cut one direction only: `from` can no longer reach `to`.
    CutOneWay {
        from: u32,
        to: u32,
    },
    /// End a one-way cut of `from -> to`.
    Reconnect {
        from: u32,
        to: u32,
    },
    /// Cut a node off from everyone, both ways.
    Isolate {
        node: u32,
    },
    /// End an isolation of `node`.
    Rejoin {
        node: u32,
    },
    /// Remove every partition and cut (the global reset of the network's cuts).
    Repair,
    /// Stop a node: its state machine is dropped, unsynced storage is lost, its streams reset.
    Crash {
        node: u32,
    },
    /// Start a crashed node again: a new state machine over its synced storage.
    Restart {
        node: u32,
    },
    /// Crash a node inside its next sync: the sync does not happen, nothing the handler
    /// that called it did is seen, and its unsynced writes meet the node's storage fault
    /// model (see [`crate::storage::faults`]). Its undo is `restart`, which also calls off
    /// a crash still waiting for a sync.
    CrashInSync {
        node: u32,
    },
    /// From now on, crashes of `node` (every node when absent) treat its storage as
    /// `faults` says: unsynced writes partly applied or torn, synced records rotting. A
    /// setting, not an episode: a later one replaces it, and the heal leaves it in force.
    StorageFaults {
        #[serde(default)]
        node: Option<u32>,
        faults: StorageFaults,
    },
    /// Freeze a node: events for it wait, and are delivered in order on resume.
    Pause {
        node: u32,
    },
    Resume {
        node: u32,
    },
    /// Step a node's clock by `offset_ns` (may be negative). A step is instantaneous: it
    /// has no undo (a later step the other way is another fault).
    #[serde(alias = "clock_step")]
    ClockOffset {
        node: u32,
        offset_ns: i64,
    },
    /// Make a node's clock run fast (positive) or slow (negative) by `ppm` parts per million.
    /// Drifts stack like link changes: the latest one in force decides the rate.
    ClockDrift {
        node: u32,
        ppm: i64,
    },
    /// End a drift of `node` (of `ppm`, when given; without it, the latest one). The clock
    /// keeps the time it gained or lost.
    DriftStop {
        node: u32,
        #[serde(default)]
        ppm: Option<i64>,
    },
    /// Reset every stream of a node: both ends are told, in-flight data is lost.
    ResetStreams {
        node: u32,
    },
    /// Start of the heal phase: repair partitions, restore every link to the base behaviour,
    /// resume paused nodes, restart crashed ones, stop clock drift.
    Heal,
}

impl Fault {
    /// The nodes this fault names, to check them against the world's size.
    pub fn nodes(&self) -> Vec<u32> {
        match self {
            Fault::Link { from, to, .. } | Fault::LinkRestore { from, to, .. } => {
                from.iter().chain(to.iter()).copied().collect()
            }
            Fault::Partition { groups } | Fault::Unpartition { groups } => {
                groups.iter().flatten().copied().collect()
            }
            Fault::CutOneWay { from, to } | Fault::Reconnect { from, to } => vec![*from, *to],
            Fault::Isolate { node }
            | Fault::Rejoin { node }
            | Fault::Crash { node }
            | Fault::Restart { node }
            | Fault::CrashInSync { node }
            | Fault::Pause { node }
            | Fault::Resume { node }
            | Fault::ClockOffset { node, .. }
            | Fault::ClockDrift { node, .. }
            | Fault::DriftStop { node, .. }
            | Fault::ResetStreams { node } => vec![*node],
            Fault::StorageFaults { node, .. } => node.iter().copied().collect(),
            Fault::Repair | Fault::Heal => vec![],
        }
    }

    /// Whether this fault lasts until an undo ends it (it begins an episode).
    pub fn lasts(&self) -> bool {
        matches!(
            self,
            Fault::Link { .. }
                | Fault::Partition { .. }
                | Fault::CutOneWay { .. }
                | Fault::Isolate { .. }
                | Fault::Crash { .. }
                | Fault::CrashInSync { .. }
                | Fault::Pause { .. }
                | Fault::ClockDrift { .. }
        )
    }

    /// Whether `self` is the undo of the episode `begin` starts: the fault that ends it.
    pub fn undoes(&self, begin: &Fault) -> bool {
        match (begin, self) {
            (Fault::Partition { groups: a }, Fault::Unpartition { groups: b }) => {
                normalise_groups(a) == normalise_groups(b)
            }
            (Fault::CutOneWay { from, to }, Fault::Reconnect { from: f, to: t }) => {
                (from, to) == (f, t)
            }
            (Fault::Isolate { node }, Fault::Rejoin { node: n })
            | (Fault::Crash { node }, Fault::Restart { node: n })
            | (Fault::CrashInSync { node }, Fault::Restart { node: n })
            | (Fault::Pause { node }, Fault::Resume { node: n }) => node == n,
            (
                Fault::Link { from, to, faults },
                Fault::LinkRestore {
                    from: f,
                    to: t,
                    faults: g,
                },
            ) => (from, to) == (f, t) && g.as_ref().is_none_or(|g| g == faults),
            (Fault::ClockDrift { node, ppm }, Fault::DriftStop { node: n, ppm: p }) => {
                node == n && p.is_none_or(|p| p == *ppm)
            }
            _ => false,
        }
    }
}

/// Groups in a canonical order (each sorted, then the list), so a partition and its undo
/// match however either lists them.
pub fn normalise_groups(groups: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let mut g: Vec<Vec<u32>> = groups
        .iter()
        .map(|members| {
            let mut m = members.clone();
            m.sort_unstable();
            m
        })
        .collect();
    g.sort();
    g
}

/// A fault at a virtual time. In JSON it is one flat object: `{"at_ns": 0, "kind": "crash",
/// "node": 1}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimedFault {
    pub at_ns: u64,
    #[serde(flatten)]
    pub fault: Fault,
}

// By hand, because serde's `flatten` cannot refuse unknown fields, and a misspelt field in
// a schedule must be an error, not a fault silently changed.
impl<'de> Deserialize<'de> for TimedFault {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = serde_json::Map::deserialize(d)?;
        let at = map
            .remove("at_ns")
            .ok_or_else(|| D::Error::missing_field("at_ns"))?;
        let at_ns = u64::deserialize(at).map_err(D::Error::custom)?;
        let fault = Fault::deserialize(serde_json::Value::Object(map)).map_err(D::Error::custom)?;
        Ok(TimedFault { at_ns, fault })
    }
}

/// The largest time a schedule may name, in nanoseconds (2^50 ns, about 13 days of
/// virtual time): `end_ns`, every `at_ns`, latencies and reorder delays, and every clock
/// offset and each node's offsets added up. Anything larger is refused by
/// [`Schedule::validate`] with a message, so no run meets times that overflow or a
/// schedule that cannot end.
pub const MAX_SCHEDULE_NS: u64 = 1 << 50;

/// The largest clock drift a schedule may name, in parts per million either way (a clock
/// at twice the rate, or one that stands still).
pub const MAX_DRIFT_PPM: i64 = 1_000_000;

/// A run's faults: the fault phase until `heal_at_ns`, then the heal phase until `end_ns`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// What the seed chose, in words (for generated schedules): which fault kinds are on
    /// and at what rates. Informational; replay uses `faults`.
    #[serde(default)]
    pub swarm: Vec<String>,
    pub faults: Vec<TimedFault>,
    pub heal_at_ns: u64,
    pub end_ns: u64,
    /// Faults fired by what happens rather than at a time (see [`Trigger`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
}

/// A fault fired by a node's history event during the fault phase: "crash node X right
/// after it records a granted vote", "crash the leader once it is elected", "isolate the
/// leader". Events are named by labels the scenario gives its system's history events
/// (`World::set_history_labels`), e.g. `vote_granted`, `became_leader`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// The label of the history event that fires it.
    pub on: String,
    /// Only events recorded by this node; any node when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u32>,
    /// Fire on the n-th matching event (1 is the first); it fires once.
    #[serde(default = "first")]
    pub nth: u32,
    /// What happens to the node that recorded the event.
    pub action: TriggerAction,
    /// How long after the event, in ns (0: right after the handler that recorded it).
    #[serde(default)]
    pub delay_ns: u64,
    /// Undo the action (restart, rejoin, resume) this long after it, in ns; the heal phase
    /// undoes it otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_after_ns: Option<u64>,
}

fn first() -> u32 {
    1
}

/// What a [`Trigger`] does to the node whose event fired it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerAction {
    Crash,
    Isolate,
    Pause,
}

impl TriggerAction {
    /// The fault and its undo, for `node`.
    pub fn faults(self, node: u32) -> (Fault, Fault) {
        match self {
            TriggerAction::Crash => (Fault::Crash { node }, Fault::Restart { node }),
            TriggerAction::Isolate => (Fault::Isolate { node }, Fault::Rejoin { node }),
            TriggerAction::Pause => (Fault::Pause { node }, Fault::Resume { node }),
        }
    }
}

impl Schedule {
    /// A schedule with no faults: heal at `heal_at_ns`, end at `end_ns`.
    pub fn quiet(heal_at_ns: u64, end_ns: u64) -> Schedule {
        Schedule {
            swarm: vec![],
            faults: vec![],
            heal_at_ns,
            end_ns,
            triggers: vec![],
        }
    }

    /// Check the schedule against a world of `node_count` nodes.
    pub fn validate(&self, node_count: usize) -> Result<(), String> {
        if self.end_ns > MAX_SCHEDULE_NS {
            return Err(format!(
                "end_ns ({}) is above the most a schedule may name ({MAX_SCHEDULE_NS} ns, about 13 days)",
                self.end_ns
            ));
        }
        // Each node's clock offsets added up, so that no number of steps overflows.
        let mut offsets: std::collections::BTreeMap<u32, i128> = Default::default();
        if self.heal_at_ns > self.end_ns {
            return Err(format!(
                "heal_at_ns ({}) is after end_ns ({})",
                self.heal_at_ns, self.end_ns
            ));
        }
        for (i, tf) in self.faults.iter().enumerate() {
            if let Some(n) = tf
                .fault
                .nodes()
                .into_iter()
                .find(|&n| n as usize >= node_count)
            {
                return Err(format!(
                    "fault #{i} ({:?}) names node {n}, but this scenario has nodes 0..{node_count}",
                    tf.fault
                ));
            }
            if let Fault::Link { faults, .. }
            | Fault::LinkRestore {
                faults: Some(faults),
                ..
            } = &tf.fault
            {
                faults.validate().map_err(|e| format!("fault #{i}: {e}"))?;
            }
            if let Fault::StorageFaults { faults, .. } = &tf.fault {
                faults.validate().map_err(|e| format!("fault #{i}: {e}"))?;
            }
            if tf.at_ns > self.end_ns {
                return Err(format!("fault #{i} is at {} ns, after end_ns", tf.at_ns));
            }
            match tf.fault {
                Fault::ClockOffset { node, offset_ns } => {
                    let total = offsets.entry(node).or_default();
                    *total += offset_ns as i128;
                    if total.unsigned_abs() > MAX_SCHEDULE_NS as u128 {
                        return Err(format!(
                            "fault #{i}: node {node}'s clock offsets add up to {total} ns, beyond ±{MAX_SCHEDULE_NS} ns"
                        ));
                    }
                }
                Fault::ClockDrift { ppm, .. } | Fault::DriftStop { ppm: Some(ppm), .. }
                    if ppm.unsigned_abs() > MAX_DRIFT_PPM as u64 =>
                {
                    return Err(format!(
                        "fault #{i}: a drift of {ppm} ppm is beyond ±{MAX_DRIFT_PPM} ppm"
                    ));
                }
                _ => {}
            }
        }
        for (i, t) in self.triggers.iter().enumerate() {
            if let Some(n) = t.node.filter(|&n| n as usize >= node_count) {
                return Err(format!(
                    "trigger #{i} names node {n}, but this scenario has nodes 0..{node_count}"
                ));
            }
            if t.nth == 0 {
                return Err(format!("trigger #{i}: nth counts from 1"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_faults_round_trip_as_flat_json_and_refuse_unknown_fields() {
        let tf = TimedFault {
            at_ns: 5,
            fault: Fault::Crash { node: 1 },
        };
        let text = serde_json::to_string(&tf).unwrap();
        assert_eq!(text, r#"{"at_ns":5,"kind":"crash","node":1}"#);
        assert_eq!(serde_json::from_str::<TimedFault>(&text).unwrap(), tf);
        let link = TimedFault {
            at_ns: 0,
            fault: Fault::Link {
                from: None,
                to: Some(2),
                faults: LinkFaults::default(),
            },
        };
        let text = serde_json::to_string(&link).unwrap();
        assert_eq!(serde_json::from_str::<TimedFault>(&text).unwrap(), link);
        for bad in [
            r#"{"at_ns":5,"kind":"crash","nod":1}"#,
            r#"{"at_ns":5,"kind":"meteor"}"#,
            r#"{"kind":"crash","node":1}"#,
            r#"{"at_ns":-1,"kind":"crash","node":1}"#,
        ] {
            assert!(
                serde_json::from_str::<TimedFault>(bad).is_err(),
                "{bad} was accepted"
            );
        }
    }
}
