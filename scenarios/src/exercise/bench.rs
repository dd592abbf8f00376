//! `faultline bench sim`: the simulator's raw speed on a message-passing workload.
//!
//! Many nodes each keep a periodic timer; every tick sends a small datagram to a random
//! peer, and every datagram received is answered once. This is mostly queue, dispatch,
//! effect and trace-hash work, which is what every scenario pays per event. It sits with
//! the exercise because, like the exercise, it is the simulator tried on a system of its
//! own rather than on one of the five.

use faultline::{Addr, Ctx, LinkFaults, Node, Time, TimerId, World};
use rand::Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// One node of the workload (public so that other simulators can run the very same node).
pub struct Chatter {
    pub nodes: u32,
    pub received: u64,
}

impl Node for Chatter {
    type Event = ();
    type Timer = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, ()>) {
        let first = Duration::from_micros(ctx.rng().gen_range(1..1000));
        ctx.set_timer(first, ());
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ()>, _: TimerId, _: ()) {
        let to = Addr(ctx.rng().gen_range(0..self.nodes));
        ctx.send(to, [1u8; 16]);
        ctx.set_timer(Duration::from_millis(1), ());
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, ()>, from: Addr, data: &[u8]) {
        self.received += 1;
        if data[0] == 1 {
            ctx.send(from, [2u8; 16]);
        }
    }
}

/// One event loop's figures on the workload.
#[derive(Debug, serde::Serialize)]
pub struct LoopFigures {
    pub events: u64,
    pub wall_seconds: f64,
    pub events_per_second: f64,
    /// CPU time this loop used (user + system), and events per CPU second: on a shared
    /// machine, wall time counts the time other processes held the core.
    pub cpu_seconds: Option<f64>,
    pub events_per_cpu_second: Option<f64>,
}

impl LoopFigures {
    fn measure(run: impl FnOnce() -> u64) -> LoopFigures {
        let start = Instant::now();
        let cpu_start = cpu_seconds();
        let events = run();
        let wall = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| end - start);
        LoopFigures {
            events,
            wall_seconds: wall,
            events_per_second: events as f64 / wall,
            cpu_seconds: cpu,
            events_per_cpu_second: cpu.filter(|&c| c > 0.0).map(|c| events as f64 / c),
        }
    }

    /// Whether the CPU time is known and long enough to trust (the kernel counts it in
    /// 10 ms ticks).
    fn cpu_trusted(&self) -> bool {
        self.cpu_seconds.is_some_and(|cpu| cpu >= 0.2)
    }

    /// This loop's rate over `other`'s: per CPU second if both CPU times can be trusted,
    /// else per wall second.
    fn ratio_to(&self, other: &LoopFigures) -> f64 {
        match (self.events_per_cpu_second, other.events_per_cpu_second) {
            (Some(a), Some(b)) if self.cpu_trusted() && other.cpu_trusted() => a / b,
            _ => self.events_per_second / other.events_per_second,
        }
    }
}

/// What one benchmark run measured.
#[derive(Debug, serde::Serialize)]
pub struct SimBench {
    pub nodes: u32,
    pub sim_seconds: u64,
    /// Building the world: every `add_node` (wall seconds).
    pub setup_seconds: f64,
    /// faultline's run.
    pub events: u64,
    pub wall_seconds: f64,
    pub events_per_second: f64,
    pub cpu_seconds: Option<f64>,
    pub events_per_cpu_second: Option<f64>,
    /// The same workload on a bare binary-heap event loop (see [`run_bare`]).
    pub bare: LoopFigures,
    /// faultline's event rate over the bare loop's (per CPU second when both are known).
    pub ratio_to_bare: f64,
    pub peak_rss_kib: Option<u64>,
    pub trace_hash: String,
}

/// Run the workload: `nodes` nodes for `sim_seconds` of virtual time, on faultline and on
/// the bare loop, one after the other in this process.
pub fn run_sim_bench(nodes: u32, sim_seconds: u64, seed: u64) -> SimBench {
    let bare = LoopFigures::measure(|| run_bare(nodes, sim_seconds, seed));
    let setup_start = Instant::now();
    let mut world: World<Chatter> = World::new(seed);
    world.set_base_link(LinkFaults::clean(LATENCY_MIN_NS, LATENCY_MAX_NS));
    for _ in 0..nodes {
        world.add_node(move |_| Chatter { nodes, received: 0 });
    }
    let setup_seconds = setup_start.elapsed().as_secs_f64();
    let sim = LoopFigures::measure(|| {
        world
            .run_until(Time::from_secs(sim_seconds))
            .expect("no checker");
        world.events()
    });
    SimBench {
        nodes,
        sim_seconds,
        setup_seconds,
        events: sim.events,
        wall_seconds: sim.wall_seconds,
        events_per_second: sim.events_per_second,
        cpu_seconds: sim.cpu_seconds,
        events_per_cpu_second: sim.events_per_cpu_second,
        ratio_to_bare: sim.ratio_to(&bare),
        bare,
        peak_rss_kib: peak_rss_kib(),
        trace_hash: world.trace_hash(),
    }
}

/// The link latency of the workload, uniform in this range.
const LATENCY_MIN_NS: u64 = 100_000;
const LATENCY_MAX_NS: u64 = 500_000;

/// An event of the bare loop.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum BareEvent {
    Tick { node: u32 },
    Datagram { from: u32, to: u32, data: [u8; 16] },
}

/// SplitMix64: the bare loop's per-node generator.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A draw uniform in `0..span`.
fn below(state: &mut u64, span: u64) -> u64 {
    ((splitmix(state) as u128 * span as u128) >> 64) as u64
}

/// The same workload as [`Chatter`] on the plainest event loop there is: a binary heap of
/// (time, sequence number, event), a generator per node, a latency draw per datagram, and
/// no faults, trace or checker. Counts events as the world does (a start, a tick, a
/// delivery). This is the yardstick faultline's own rate is measured against.
// Out of line, so profiles show it apart from faultline's loop.
#[inline(never)]
pub fn run_bare(nodes: u32, sim_seconds: u64, seed: u64) -> u64 {
    let mut heap = BinaryHeap::new();
    let mut rngs: Vec<u64> = (0..nodes as u64)
        .map(|i| seed ^ i.wrapping_mul(0xd134_2543_de82_ef95))
        .collect();
    let mut received = vec![0u64; nodes as usize];
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, at: u64, ev: BareEvent| {
        seq += 1;
        heap.push(Reverse((at, seq, ev)));
    };
    for node in 0..nodes {
        let first = 1_000 * (1 + below(&mut rngs[node as usize], 999));
        push(&mut heap, first, BareEvent::Tick { node });
    }
    // Every node's start is an event in the world too.
    let mut events = nodes as u64;
    let end = sim_seconds * 1_000_000_000;
    let latency = |rng: &mut u64| LATENCY_MIN_NS + below(rng, LATENCY_MAX_NS - LATENCY_MIN_NS + 1);
    while let Some(Reverse((at, _, ev))) = heap.pop() {
        if at > end {
            break;
        }
        events += 1;
        match ev {
            BareEvent::Tick { node } => {
                let rng = &mut rngs[node as usize];
                let to = below(rng, nodes as u64) as u32;
                let delay = latency(rng);
                let data = [1u8; 16];
                push(
                    &mut heap,
                    at + delay,
                    BareEvent::Datagram {
                        from: node,
                        to,
                        data,
                    },
                );
                push(&mut heap, at + 1_000_000, BareEvent::Tick { node });
            }
            BareEvent::Datagram { from, to, data } => {
                received[to as usize] += 1;
                if data[0] == 1 {
                    let delay = latency(&mut rngs[to as usize]);
                    let data = [2u8; 16];
                    push(
                        &mut heap,
                        at + delay,
                        BareEvent::Datagram {
                            from: to,
                            to: from,
                            data,
                        },
                    );
                }
            }
        }
    }
    std::hint::black_box(&received);
    events
}

/// The process's peak resident memory (VmHWM), on Linux.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time used by this process so far (user + system), from /proc/self/stat on Linux.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Clock ticks; Linux reports them at 100 per second to user space.
    Some((utime + stime) / 100.0)
}
