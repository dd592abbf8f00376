//! `cmud-swarm`: servers spread over regions, game-playing bots on every server, under
//! partitions, isolations, pauses, crashes with restarts, stream resets, clock offset and
//! drift (and datagram loss and duplication, which streams shrug off); after the heal every
//! actor must list the same map, each key the LWW winner of the stamps.
//!
//! Its shape is a set of parameters (`faultline list --params cmud-swarm`): servers, actors
//! per server, regions, bots per server, latencies and phases. The defaults are the swarm as
//! it always ran: 6 servers x 2 actors in 3 regions, 3 ms inside a region, 80-250 ms
//! between.

use super::super::nodes::Bot;
use super::super::world::{Plan, ServerPlan};
use faultline::harness::{phase_params, Param, Report, RunSpec, Scenario};
use faultline::swarm::{FaultKinds, FaultProfile};
use faultline::{Budget, Time};
use std::collections::BTreeMap;
use std::time::Duration;

/// The swarm scenario. See the module docs.
pub struct Swarm;

/// One-way latency between regions, ms: a made-up map of six regions. The regions a run
/// uses are rescaled so their nearest pair is `latency_min` and their farthest
/// `latency_max`; the first three at 80..250 are the map itself.
const REGION_MAP: [[u64; 6]; 6] = [
    [0, 80, 150, 120, 200, 180],
    [80, 0, 250, 100, 160, 220],
    [150, 250, 0, 190, 110, 140],
    [120, 100, 190, 0, 230, 90],
    [200, 160, 110, 230, 0, 170],
    [180, 220, 140, 90, 170, 0],
];

/// What a swarm run looks like; [`Shape::default`] is the catalog's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    pub servers: usize,
    pub actors: u32,
    pub regions: usize,
    pub bots: u64,
    /// One-way latency inside a region, ms.
    pub inner_ms: u64,
    /// Between regions, ms.
    pub latency_min: u64,
    pub latency_max: u64,
    /// A bot's pause between calls, ms.
    pub think_min: u64,
    pub think_max: u64,
    pub fault: Duration,
    pub heal: Duration,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            servers: 6,
            actors: 2,
            regions: 3,
            bots: 1,
            inner_ms: 3,
            latency_min: 80,
            latency_max: 250,
            think_min: 20,
            think_max: 120,
            fault: Duration::from_secs(6),
            heal: Duration::from_secs(6),
        }
    }
}

impl Shape {
    /// The parameters, with this shape as their defaults.
    pub fn params(&self) -> Vec<Param> {
        let mut params = vec![
            Param::size(
                "servers",
                "servers (nodes 0..servers)",
                self.servers as u64,
                1,
            ),
            Param::size("actors", "query actors per server", self.actors as u64, 1),
            Param::setting(
                "regions",
                "regions the servers are spread over, in order (at most 6 and the servers)",
                self.regions as u64,
                1,
            ),
            Param::size("bots", "bot clients per server", self.bots, 0),
            Param::setting(
                "inner_ms",
                "one-way latency inside a region, ms",
                self.inner_ms,
                0,
            ),
            Param::setting(
                "latency_min",
                "nearest regions' one-way latency, ms (`--set latency=A..B` sets both)",
                self.latency_min,
                0,
            ),
            Param::setting(
                "latency_max",
                "farthest regions' one-way latency, ms",
                self.latency_max,
                0,
            ),
            Param::setting(
                "think_min",
                "a bot's shortest pause between calls, ms (`--set think=A..B`)",
                self.think_min,
                0,
            ),
            Param::setting(
                "think_max",
                "a bot's longest pause between calls, ms",
                self.think_max,
                0,
            ),
        ];
        params.extend(phase_params(self.fault, self.heal));
        params
    }

    /// This shape with the parameters set in `params` over it; an error if it cannot work.
    pub fn with(&self, params: &BTreeMap<String, u64>) -> Result<Shape, String> {
        let get = |name: &str, default: u64| params.get(name).copied().unwrap_or(default);
        let at_most = |name: &str, default: u64, max: u64| {
            let v = get(name, default);
            if v > max {
                Err(format!("{name} is at most {max}, not {v}"))
            } else {
                Ok(v)
            }
        };
        let ms = |name: &str, d: Duration| Duration::from_millis(get(name, d.as_millis() as u64));
        let shape = Shape {
            servers: at_most("servers", self.servers as u64, 64)? as usize,
            actors: at_most("actors", self.actors as u64, 16)? as u32,
            regions: at_most("regions", self.regions as u64, REGION_MAP.len() as u64)? as usize,
            bots: at_most("bots", self.bots, 16)?,
            inner_ms: at_most("inner_ms", self.inner_ms, 10_000)?,
            latency_min: at_most("latency_min", self.latency_min, 10_000)?,
            latency_max: at_most("latency_max", self.latency_max, 10_000)?,
            think_min: at_most("think_min", self.think_min, 60_000)?,
            think_max: at_most("think_max", self.think_max, 60_000)?,
            fault: ms("fault_ms", self.fault),
            heal: ms("heal_ms", self.heal),
        };
        if shape.regions > shape.servers {
            return Err(format!(
                "{} regions need at least as many servers, not {}",
                shape.regions, shape.servers
            ));
        }
        if shape.latency_min > shape.latency_max {
            return Err(format!(
                "latency_min {} is above latency_max {}",
                shape.latency_min, shape.latency_max
            ));
        }
        if shape.think_min > shape.think_max {
            return Err(format!(
                "think_min {} is above think_max {}",
                shape.think_min, shape.think_max
            ));
        }
        Ok(shape)
    }

    /// Server `i`'s region: the servers fill the regions in order, evenly.
    fn region_of(&self, i: usize) -> usize {
        i * self.regions / self.servers
    }

    /// One-way latency between regions, ms: `inner_ms` on the diagonal, [`REGION_MAP`]
    /// rescaled to `latency_min..=latency_max` elsewhere.
    pub fn region_matrix(&self) -> Vec<Vec<u64>> {
        let r = self.regions;
        let pairs = (0..r).flat_map(|i| (i + 1..r).map(move |j| REGION_MAP[i][j]));
        let (lo, hi) = pairs.fold((u64::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)));
        let span = self.latency_max - self.latency_min;
        (0..r)
            .map(|i| {
                (0..r)
                    .map(|j| {
                        if i == j {
                            self.inner_ms
                        } else if hi == lo {
                            self.latency_min
                        } else {
                            self.latency_min + (REGION_MAP[i][j] - lo) * span / (hi - lo)
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// The plan: servers started 50 ms apart, each joining the ones before, and its bots.
    pub fn plan(&self) -> Plan {
        let players: Vec<String> = (0..6).map(|i| format!("p{i}")).collect();
        let region = (0..self.servers).map(|i| self.region_of(i)).collect();
        let until = Time::from_nanos(self.fault.as_nanos() as u64);
        let mut p = Plan {
            servers: (0..self.servers as u64)
                .map(|i| ServerPlan {
                    at: Time::from_millis(i * 50),
                    actors: self.actors,
                })
                .collect(),
            regions: Some((region, self.region_matrix())),
            end: Time::from_nanos((self.fault + self.heal).as_nanos() as u64),
            ..Plan::default()
        };
        for s in 0..self.servers {
            for _ in 0..self.bots {
                p.bots.push((
                    s,
                    Bot {
                        players: players.clone(),
                        think_ms: (self.think_min, self.think_max),
                        until,
                    },
                ));
            }
        }
        p
    }
}

impl Scenario for Swarm {
    fn name(&self) -> &'static str {
        "cmud-swarm"
    }
    fn about(&self) -> &'static str {
        "6 servers x 2 actors in 3 regions (3-250 ms), game bots, partitions/crashes/restarts/resets/pauses/clock faults; converged and LWW after the heal"
    }
    fn budget(&self) -> Budget {
        Budget::new(3_000_000, Duration::from_secs(30))
    }
    fn params(&self) -> Vec<Param> {
        Shape::default().params()
    }
    fn check_params(&self, params: &BTreeMap<String, u64>) -> Result<(), String> {
        Shape::default().with(params).map(|_| ())
    }
    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        let shape = Shape::default().with(&spec.params)?;
        let servers: Vec<u32> = (0..shape.servers as u32).collect();
        let mut profile = FaultProfile::new(servers.clone(), shape.fault, shape.heal);
        profile.kinds = FaultKinds {
            loss: true,
            duplicate: true,
            partition: true,
            one_way: true,
            isolate: true,
            pause: true,
            crash: true,
            clock: true,
            stream_reset: true,
            ..FaultKinds::default()
        };
        profile.crashable = servers;
        shape.plan().run(self.name(), spec, Some(profile))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_shape_is_the_swarm_as_it_always_ran() {
        let s = Shape::default();
        assert_eq!(
            s.region_matrix(),
            vec![vec![3, 80, 150], vec![80, 3, 250], vec![150, 250, 3]]
        );
        let regions: Vec<usize> = (0..6).map(|i| s.region_of(i)).collect();
        assert_eq!(regions, vec![0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn rescaled_regions_span_the_latency_range_and_bad_shapes_are_refused() {
        let set = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let s = Shape::default()
            .with(&set(&[
                ("regions", 5),
                ("latency_min", 10),
                ("latency_max", 50),
            ]))
            .expect("a sane shape");
        let m = s.region_matrix();
        let off: Vec<u64> = (0..5)
            .flat_map(|i| (0..5).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i][j])
            .collect();
        assert_eq!(off.iter().min(), Some(&10));
        assert_eq!(off.iter().max(), Some(&50));
        assert!((0..5).all(|i| m[i][i] == 3));
        let two = Shape::default()
            .with(&set(&[("regions", 2)]))
            .expect("sane");
        assert_eq!(two.region_matrix(), vec![vec![3, 80], vec![80, 3]]);
        for bad in [
            set(&[("regions", 7)]),
            set(&[("servers", 2)]),
            set(&[("latency_min", 300)]),
            set(&[("think_min", 200)]),
            set(&[("actors", 1000)]),
        ] {
            assert!(Shape::default().with(&bad).is_err(), "{bad:?}");
        }
    }
}
