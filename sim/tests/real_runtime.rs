//! The real runtime on loopback: datagrams, timers, external calls and durable storage.
//! Every run is bounded by a timeout; ports come from port 0.
// These tests drive real processes and sockets: wall-clock deadlines and threads are the
// point here, not a leak into simulated code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use faultline::real::{RealConfig, Runtime};
use faultline::{Addr, Ctx, Node, Time, TimerId};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const LIMIT: Option<Duration> = Some(Duration::from_secs(20));

fn udp_only() -> RealConfig {
    RealConfig {
        udp_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..RealConfig::default()
    }
}

/// Answers `ping k` with `pong k`, remembering who asked.
#[derive(Default)]
struct Ponger {
    answered: u32,
    askers: Vec<Addr>,
}

impl Node for Ponger {
    type Event = ();
    type Timer = u64;
    fn on_start(&mut self, _ctx: &mut Ctx<'_, ()>) {}
    fn on_datagram(&mut self, ctx: &mut Ctx<'_, ()>, from: Addr, data: &[u8]) {
        let Some(k) = data.strip_prefix(b"ping ") else {
            return;
        };
        let mut reply = b"pong ".to_vec();
        reply.extend_from_slice(k);
        ctx.send(from, reply);
        self.answered += 1;
        if !self.askers.contains(&from) {
            self.askers.push(from);
        }
    }
}

/// Sends `ping 0..rounds` one at a time, resending on a timer until each is answered.
struct Pinger {
    target: Addr,
    rounds: u32,
    next: u32,
    pongs: Vec<u32>,
}

impl Pinger {
    fn ping(&self, ctx: &mut Ctx<'_, ()>) {
        ctx.send(self.target, format!("ping {}", self.next));
    }
}

impl Node for Pinger {
    type Event = ();
    type Timer = u64;
    fn on_start(&mut self, ctx: &mut Ctx<'_, ()>) {
        self.ping(ctx);
        ctx.set_timer(Duration::from_millis(100), 0);
    }
    fn on_datagram(&mut self, ctx: &mut Ctx<'_, ()>, _from: Addr, data: &[u8]) {
        let Some(k) = data.strip_prefix(b"pong ") else {
            return;
        };
        let Some(k) = std::str::from_utf8(k)
            .ok()
            .and_then(|k| k.parse::<u32>().ok())
        else {
            return;
        };
        if k == self.next {
            self.pongs.push(k);
            self.next += 1;
            if self.next < self.rounds {
                self.ping(ctx);
            }
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, ()>, _timer: TimerId, _tag: u64) {
        if self.next < self.rounds {
            self.ping(ctx); // loopback rarely loses one, but UDP may
            ctx.set_timer(Duration::from_millis(100), 0);
        }
    }
}

#[test]
fn udp_ping_pong_between_two_runtimes_on_two_threads() {
    const ROUNDS: u32 = 20;
    let (addr_tx, addr_rx) = mpsc::channel();
    let ponger = thread::spawn(move || {
        let mut rt = Runtime::<Ponger>::new(udp_only()).unwrap();
        addr_tx.send(rt.local_udp_addr().unwrap()).unwrap();
        rt.start(Ponger::default());
        let done = rt.run_until(|p| p.answered >= ROUNDS, LIMIT).unwrap();
        let askers: Vec<Option<SocketAddr>> =
            rt.node().askers.iter().map(|a| rt.resolve(*a)).collect();
        (done, askers, rt.stats())
    });
    let ponger_addr = addr_rx.recv().unwrap();
    let mut rt = Runtime::<Pinger>::new(udp_only()).unwrap();
    let target = rt.peer(ponger_addr);
    assert_eq!(rt.peer(ponger_addr), target, "one Addr per socket address");
    assert_eq!(rt.resolve(target), Some(ponger_addr));
    rt.start(Pinger {
        target,
        rounds: ROUNDS,
        next: 0,
        pongs: Vec::new(),
    });
    assert!(
        rt.run_until(|p| p.next == ROUNDS, LIMIT).unwrap(),
        "pinger timed out"
    );
    assert_eq!(rt.node().pongs, (0..ROUNDS).collect::<Vec<_>>());
    assert!(rt.stats().datagrams_received >= u64::from(ROUNDS));
    assert_eq!(rt.stats().udp_send_errors, 0);

    let (done, askers, stats) = ponger.join().unwrap();
    assert!(done, "ponger timed out");
    // The ponger never named the pinger: its first datagram gave it a fresh Addr, the
    // same one every time, resolving to the pinger's socket.
    assert_eq!(askers, vec![rt.local_udp_addr()]);
    assert!(stats.datagrams_sent >= u64::from(ROUNDS));
}

/// Sets timers on start and records when each fires.
#[derive(Default)]
struct Clock {
    set_at: Time,
    fired: Vec<(u64, Time)>,
}

const TIMERS_MS: [(u64, u64); 5] = [(0, 60), (1, 20), (2, 40), (3, 20), (4, 30)];
const CANCELLED: u64 = 4;

impl Node for Clock {
    type Event = u64;
    type Timer = u64;
    fn on_start(&mut self, ctx: &mut Ctx<'_, u64>) {
        self.set_at = ctx.now();
        for (tag, ms) in TIMERS_MS {
            let id = ctx.set_timer(Duration::from_millis(ms), tag);
            if tag == CANCELLED {
                ctx.cancel_timer(id);
            }
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, u64>, _timer: TimerId, tag: u64) {
        self.fired.push((tag, ctx.now()));
        ctx.record(tag);
    }
}

#[test]
fn timers_fire_in_order_not_early_and_cancelled_ones_never() {
    let mut rt = Runtime::<Clock>::new(RealConfig::default()).unwrap();
    let recorded = Rc::new(RefCell::new(Vec::new()));
    let sink = recorded.clone();
    rt.on_history(move |tag| sink.borrow_mut().push(*tag));
    rt.start(Clock::default());
    assert!(rt.run_until(|c| c.fired.len() == 4, LIMIT).unwrap());
    // Let the cancelled timer's deadline pass too: it must stay silent.
    assert!(!rt
        .run_until(|c| c.fired.len() > 4, Some(Duration::from_millis(100)))
        .unwrap());

    let clock = rt.node();
    let tags: Vec<u64> = clock.fired.iter().map(|(tag, _)| *tag).collect();
    assert_eq!(
        tags,
        vec![1, 3, 2, 0],
        "deadline order, ties in setting order"
    );
    for (tag, at) in &clock.fired {
        let ms = TIMERS_MS[*tag as usize].1;
        assert!(
            *at >= clock.set_at + Duration::from_millis(ms),
            "timer {tag} fired early at {at}"
        );
    }
    assert_eq!(
        *recorded.borrow(),
        tags,
        "on_history sees every recorded event"
    );
    assert!(rt.now() >= Time::from_millis(60));
}

/// Counts the calls made into it from outside.
#[derive(Default)]
struct Inbox {
    lines: Vec<String>,
}

impl Node for Inbox {
    type Event = ();
    type Timer = u64;
    fn on_start(&mut self, _ctx: &mut Ctx<'_, ()>) {}
}

/// A node that is itself not `Send` (it holds an `Rc`): its handle still is.
struct Local {
    _shared: Rc<()>,
}

impl Node for Local {
    type Event = Rc<()>;
    type Timer = u64;
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Rc<()>>) {}
}

fn send_and_clone<T: Send + Clone>() {}

#[test]
fn external_handles_are_send_and_clone_even_for_local_nodes() {
    send_and_clone::<faultline::real::External<Local>>();
    send_and_clone::<faultline::real::External<Inbox>>();
}

#[test]
fn external_calls_from_another_thread_wake_an_idle_loop() {
    let mut rt = Runtime::<Inbox>::new(RealConfig::default()).unwrap();
    rt.start(Inbox::default());
    let external = rt.external();
    let feeder = thread::spawn(move || {
        for i in 0..3 {
            thread::sleep(Duration::from_millis(20));
            let line = format!("line {i}");
            external.run(move |inbox, _ctx| inbox.lines.push(line));
        }
    });
    let begun = Instant::now();
    // No sockets, no timers: only the waker can end the wait before the long timeout.
    let done = rt
        .run_until(
            |inbox| inbox.lines.len() == 3,
            Some(Duration::from_secs(60)),
        )
        .unwrap();
    assert!(done);
    assert!(
        begun.elapsed() < Duration::from_secs(30),
        "the loop slept through the calls"
    );
    assert_eq!(rt.node().lines, vec!["line 0", "line 1", "line 2"]);
    feeder.join().unwrap();
}

#[test]
fn datagrams_to_unknown_addrs_are_counted_not_fatal() {
    let mut rt = Runtime::<Inbox>::new(udp_only()).unwrap();
    rt.start(Inbox::default());
    rt.with_node(|_, ctx| ctx.send(Addr(77), b"nowhere".to_vec()));
    assert_eq!(rt.stats().udp_send_errors, 1);
    let me = rt.with_node(|_, ctx| ctx.me());
    assert_eq!(
        rt.resolve(me),
        rt.local_udp_addr(),
        "Addr of self is the UDP socket"
    );
}

/// Reports what its storage held when it started.
#[derive(Default)]
struct Keeper {
    seen: Vec<(String, Vec<u8>)>,
}

impl Node for Keeper {
    type Event = ();
    type Timer = u64;
    fn on_start(&mut self, ctx: &mut Ctx<'_, ()>) {
        let storage = ctx.storage();
        self.seen = storage
            .keys()
            .into_iter()
            .map(|k| (k.clone(), storage.get(&k).unwrap().to_vec()))
            .collect();
    }
}

#[test]
fn storage_survives_a_restart_synced_kept_unsynced_lost() {
    let dir = std::env::temp_dir().join(format!("faultline-real-storage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = RealConfig {
        storage_dir: Some(dir.clone()),
        ..RealConfig::default()
    };
    {
        let mut rt = Runtime::<Keeper>::new(config.clone()).unwrap();
        rt.start(Keeper::default());
        assert!(rt.node().seen.is_empty());
        rt.with_node(|_, ctx| {
            ctx.storage().put("term", b"7".to_vec());
            ctx.storage().put("vote", b"n2".to_vec());
            ctx.storage().sync();
            ctx.storage().put("log", b"entry".to_vec()); // synced by the next call
        });
        rt.with_node(|_, ctx| {
            ctx.storage().delete("vote");
            ctx.storage().sync();
            ctx.storage().put("term", b"8, never synced".to_vec());
        });
        assert_eq!(rt.stats().storage_writes, 2);
        assert_eq!(rt.storage().get("term"), Some(&b"8, never synced"[..]));
    } // the process "dies": the runtime and its unsynced writes are gone
    let mut rt = Runtime::<Keeper>::new(config).unwrap();
    rt.start(Keeper::default());
    let expected = vec![
        ("log".to_string(), b"entry".to_vec()),
        ("term".to_string(), b"7".to_vec()),
    ];
    assert_eq!(rt.node().seen, expected);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_storage_write_holds_back_the_effects_and_stops_the_loop() {
    let dir = std::env::temp_dir().join(format!("faultline-real-badstore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = RealConfig {
        storage_dir: Some(dir.clone()),
        ..udp_only()
    };
    let mut rt = Runtime::<Keeper>::new(config).unwrap();
    rt.start(Keeper::default());
    let peer = rt.peer(rt.local_udp_addr().unwrap());
    // A directory where the storage file was: the next write fails.
    std::fs::remove_file(dir.join("storage.log")).unwrap();
    std::fs::create_dir_all(dir.join("storage.log")).unwrap();
    rt.with_node(|_, ctx| {
        ctx.storage().put("vote", b"n1".to_vec());
        ctx.storage().sync();
        ctx.send(peer, b"I voted".to_vec());
    });
    assert_eq!(
        rt.stats().datagrams_sent,
        0,
        "a reply that depends on the sync went out"
    );
    assert!(rt.run_until(|_| false, LIMIT).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
