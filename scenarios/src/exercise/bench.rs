//! `faultline bench sim`: the simulator's raw speed on a message-passing workload.
//!
//! Many nodes each keep a periodic timer; every tick sends a small datagram to a random
//! peer, and every datagram received is answered once. This is mostly queue, dispatch,
//! effect and trace-hash work, which is what every scenario pays per event. It sits with
//! the exercise because, like the exercise, it is the simulator tried on a system of its
//! own rather than on one of the five.

use faultline::{Addr, Ctx, LinkFaults, Node, Time, TimerId, World};
use rand::Rng;
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

/// What one benchmark run measured.
#[derive(Debug, serde::Serialize)]
pub struct SimBench {
    pub nodes: u32,
    pub sim_seconds: u64,
    pub events: u64,
    pub wall_seconds: f64,
    pub events_per_second: f64,
    /// CPU time this process used (user + system), and events per CPU second: on a shared
    /// machine, wall time counts the time other processes held the core.
    pub cpu_seconds: Option<f64>,
    pub events_per_cpu_second: Option<f64>,
    pub peak_rss_kib: Option<u64>,
    pub trace_hash: String,
}

/// Run the workload: `nodes` nodes for `sim_seconds` of virtual time.
pub fn run_sim_bench(nodes: u32, sim_seconds: u64, seed: u64) -> SimBench {
    let mut world: World<Chatter> = World::new(seed);
    world.set_base_link(LinkFaults::clean(100_000, 500_000));
    for _ in 0..nodes {
        world.add_node(move |_| Chatter { nodes, received: 0 });
    }
    let start = Instant::now();
    let cpu_start = cpu_seconds();
    world
        .run_until(Time::from_secs(sim_seconds))
        .expect("no checker");
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| end - start);
    SimBench {
        nodes,
        sim_seconds,
        events: world.events(),
        wall_seconds: wall,
        events_per_second: world.events() as f64 / wall,
        cpu_seconds: cpu,
        events_per_cpu_second: cpu.filter(|&c| c > 0.0).map(|c| world.events() as f64 / c),
        peak_rss_kib: peak_rss_kib(),
        trace_hash: world.trace_hash(),
    }
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
