//! Each fault kind of the simulated world does exactly what it claims: partitions, one-way
//! cuts, isolation, loss, duplication, reordering, corruption, truncation, latency, crash
//! and restart, pause and resume, heal, timers, clock offset and drift, determinism and the
//! middlebox. One small probe node logs everything it sees; the tests drive the `World`
//! directly and compare the log (and the network counters) with what the fault promises.

use faultline::{Addr, Ctx, Fault, LinkFaults, Node, Time, TimerId, World};
use rand::Rng;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

const MS: u64 = 1_000_000;

/// Something a probe saw, with its local clock reading.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// `on_start`, with the value of storage key "k" at that moment.
    Start(Option<Vec<u8>>),
    Datagram(Addr, Vec<u8>),
    Timer(u64),
}

/// Logs every event. With `chatter` peers it also sends random datagrams to random peers
/// on random timers (for the determinism tests).
#[derive(Default)]
struct Probe {
    log: Vec<(Time, Seen)>,
    chatter: u32,
}

impl Probe {
    fn datagrams(&self) -> Vec<(Time, Addr, Vec<u8>)> {
        self.log
            .iter()
            .filter_map(|(t, s)| match s {
                Seen::Datagram(from, data) => Some((*t, *from, data.clone())),
                _ => None,
            })
            .collect()
    }

    fn payloads(&self) -> Vec<Vec<u8>> {
        self.datagrams().into_iter().map(|(_, _, d)| d).collect()
    }

    fn timers(&self) -> Vec<(Time, u64)> {
        self.log
            .iter()
            .filter_map(|(t, s)| match s {
                Seen::Timer(tag) => Some((*t, *tag)),
                _ => None,
            })
            .collect()
    }

    fn arm(&mut self, ctx: &mut Ctx<'_, ()>) {
        let after = Duration::from_micros(ctx.rng().gen_range(100..3_000));
        ctx.set_timer(after, 0);
    }
}

impl Node for Probe {
    type Event = ();
    type Timer = u64;
    fn on_start(&mut self, ctx: &mut Ctx<'_, ()>) {
        let k = ctx.storage().get("k").map(<[u8]>::to_vec);
        self.log.push((ctx.now(), Seen::Start(k)));
        if self.chatter > 0 {
            self.arm(ctx);
        }
    }
    fn on_datagram(&mut self, ctx: &mut Ctx<'_, ()>, from: Addr, data: &[u8]) {
        self.log
            .push((ctx.now(), Seen::Datagram(from, data.to_vec())));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, ()>, _timer: TimerId, tag: u64) {
        self.log.push((ctx.now(), Seen::Timer(tag)));
        if self.chatter > 0 {
            let to = Addr(ctx.rng().gen_range(0..self.chatter));
            let len = ctx.rng().gen_range(1..64);
            let data: Vec<u8> = (0..len).map(|_| ctx.rng().gen()).collect();
            ctx.send(to, data);
            self.arm(ctx);
        }
    }
}

/// A world of `n` silent probes over `link`.
fn world(seed: u64, n: usize, link: LinkFaults) -> (World<Probe>, Vec<Addr>) {
    let mut w = World::new(seed);
    w.set_base_link(link);
    let addrs = (0..n).map(|_| w.add_node(|_| Probe::default())).collect();
    w.run_until(Time::ZERO).unwrap();
    (w, addrs)
}

/// A link with a fixed latency of `ms` and no faults.
fn fixed(ms: u64) -> LinkFaults {
    LinkFaults::clean(ms * MS, ms * MS)
}

fn send(w: &mut World<Probe>, from: Addr, to: Addr, data: &[u8]) {
    w.with_node(from, |_, ctx| ctx.send(to, data.to_vec()))
        .expect("sender is up");
}

fn after(w: &mut World<Probe>, ns: u64) {
    let t = Time(w.now().0 + ns);
    w.run_until(t).unwrap();
}

fn probe(w: &World<Probe>, a: Addr) -> &Probe {
    w.node(a).expect("node is up")
}

/// Which directed pairs can reach each other now: every node sends to every other node,
/// and we look at what arrived within 50 ms.
fn reach(w: &mut World<Probe>, nodes: &[Addr]) -> BTreeSet<(u32, u32)> {
    for &a in nodes {
        w.node_mut(a).unwrap().log.clear();
    }
    for &a in nodes {
        for &b in nodes.iter().filter(|&&b| b != a) {
            send(w, a, b, b"ping");
        }
    }
    after(w, 50 * MS);
    let mut out = BTreeSet::new();
    for &b in nodes {
        for (_, from, _) in probe(w, b).datagrams() {
            assert!(out.insert((from.0, b.0)), "one ping arrived twice");
        }
    }
    out
}

fn all_pairs(n: u32) -> BTreeSet<(u32, u32)> {
    (0..n)
        .flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)))
        .collect()
}

fn bits_differ(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

#[test]
fn partition_blocks_between_groups_both_ways_not_within_and_cuts_nodes_in_no_group() {
    let (mut w, nodes) = world(1, 5, fixed(1));
    assert_eq!(reach(&mut w, &nodes), all_pairs(5));
    w.apply(Fault::Partition {
        groups: vec![vec![0, 1], vec![2, 3]],
    });
    let cut_before = w.stats().datagrams_cut;
    // Node 4 is in no group: it reaches no one and no one reaches it.
    let expected: BTreeSet<_> = [(0, 1), (1, 0), (2, 3), (3, 2)].into();
    assert_eq!(reach(&mut w, &nodes), expected);
    assert_eq!(w.stats().datagrams_cut - cut_before, 20 - 4);
    w.apply(Fault::Repair);
    assert_eq!(reach(&mut w, &nodes), all_pairs(5));
}

#[test]
fn cut_one_way_blocks_only_that_direction() {
    let (mut w, nodes) = world(2, 3, fixed(1));
    w.apply(Fault::CutOneWay { from: 0, to: 1 });
    let mut expected = all_pairs(3);
    expected.remove(&(0, 1));
    assert_eq!(reach(&mut w, &nodes), expected);
    w.apply(Fault::Repair);
    assert_eq!(reach(&mut w, &nodes), all_pairs(3));
}

#[test]
fn isolate_cuts_a_node_both_ways_from_everyone() {
    let (mut w, nodes) = world(3, 4, fixed(1));
    w.apply(Fault::Isolate { node: 2 });
    let expected: BTreeSet<_> = all_pairs(4)
        .into_iter()
        .filter(|&(a, b)| a != 2 && b != 2)
        .collect();
    assert_eq!(reach(&mut w, &nodes), expected);
    w.apply(Fault::Repair);
    assert_eq!(reach(&mut w, &nodes), all_pairs(4));
}

/// Send `count` distinct 4-byte datagrams 0 -> 1 over `link`, 100 us apart; what node 1 got.
fn blast(seed: u64, link: LinkFaults, count: u32) -> (World<Probe>, Vec<Vec<u8>>) {
    let (mut w, n) = world(seed, 2, link);
    for i in 0..count {
        send(&mut w, n[0], n[1], &i.to_be_bytes());
        after(&mut w, 100_000);
    }
    after(&mut w, 1_000 * MS);
    let got = probe(&w, n[1]).payloads();
    (w, got)
}

fn sent(count: u32) -> Vec<Vec<u8>> {
    (0..count).map(|i| i.to_be_bytes().to_vec()).collect()
}

#[test]
fn duplicate_one_delivers_every_datagram_exactly_twice() {
    let link = LinkFaults {
        duplicate: 1.0,
        ..LinkFaults::clean(MS, 3 * MS)
    };
    let (w, got) = blast(4, link, 200);
    let mut counts: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
    for d in got {
        *counts.entry(d).or_default() += 1;
    }
    assert_eq!(counts.keys().cloned().collect::<Vec<_>>(), sent(200));
    assert!(counts.values().all(|&c| c == 2), "{counts:?}");
    assert_eq!(w.stats().datagrams_duplicated, 200);
    assert_eq!(w.stats().datagrams_delivered, 400);
}

#[test]
fn loss_one_delivers_nothing() {
    let link = LinkFaults {
        loss: 1.0,
        ..fixed(1)
    };
    let (w, got) = blast(5, link, 200);
    assert!(got.is_empty());
    assert_eq!(w.stats().datagrams_lost, 200);
    assert_eq!(w.stats().datagrams_delivered, 0);
}

#[test]
fn loss_of_thirty_percent_loses_about_thirty_percent() {
    let link = LinkFaults {
        loss: 0.3,
        ..fixed(1)
    };
    let (w, got) = blast(6, link, 2_000);
    // Expected 600 lost, standard deviation about 20: these bounds are five of them wide.
    let lost = 2_000 - got.len();
    assert!((500..=700).contains(&lost), "lost {lost} of 2000");
    assert_eq!(w.stats().datagrams_lost as usize, lost);
    // What did arrive arrived once each and in order (the latency is fixed).
    let mut sorted = got.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, got);
}

#[test]
fn reorder_changes_arrival_order_with_fixed_latency_and_loses_nothing() {
    let plain = fixed(1);
    let (_, in_order) = blast(7, plain.clone(), 300);
    assert_eq!(in_order, sent(300), "fixed latency keeps send order");

    let link = LinkFaults {
        reorder: 0.5,
        reorder_delay_ns: 5 * MS,
        ..plain
    };
    let (w, got) = blast(7, link, 300);
    assert_ne!(got, sent(300), "reordering changed nothing");
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, sent(300), "every datagram arrives exactly once");
    let reordered = w.stats().datagrams_reordered;
    assert!((100..=200).contains(&reordered), "{reordered} of 300");
}

#[test]
fn corrupt_one_flips_one_to_three_bits_and_keeps_the_length() {
    let link = LinkFaults {
        corrupt: 1.0,
        ..fixed(1)
    };
    let (mut w, n) = world(8, 2, link);
    // Short datagrams (16 bits) make a collision of two flips on one bit likely.
    let count = 2_000u32;
    for i in 0..count {
        send(&mut w, n[0], n[1], &(i as u16).to_be_bytes());
        after(&mut w, 100_000);
    }
    after(&mut w, 10 * MS);
    let got = probe(&w, n[1]).payloads();
    assert_eq!(got.len(), count as usize);
    let mut flips = BTreeMap::new();
    for (i, d) in got.iter().enumerate() {
        let original = (i as u16).to_be_bytes();
        assert_eq!(d.len(), original.len());
        let differ = bits_differ(d, &original);
        assert!(
            (1..=3).contains(&differ),
            "datagram {i}: {differ} bits differ"
        );
        *flips.entry(differ).or_insert(0) += 1;
    }
    assert_eq!(
        flips.len(),
        3,
        "one, two and three flips all occur: {flips:?}"
    );
    assert_eq!(w.stats().datagrams_corrupted, count as u64);
}

#[test]
fn truncate_one_makes_every_datagram_strictly_shorter() {
    let link = LinkFaults {
        truncate: 1.0,
        ..fixed(1)
    };
    let (mut w, n) = world(9, 2, link);
    let original: Vec<u8> = (0..40).collect();
    for _ in 0..200 {
        send(&mut w, n[0], n[1], &original);
    }
    after(&mut w, 10 * MS);
    let got = probe(&w, n[1]).payloads();
    assert_eq!(got.len(), 200);
    let lens: BTreeSet<usize> = got.iter().map(Vec::len).collect();
    assert!(got.iter().all(|d| d.len() < original.len()));
    // It cuts, it does not rewrite: what is left is a prefix.
    assert!(got.iter().all(|d| original.starts_with(d)));
    assert!(lens.len() > 10, "lengths vary: {lens:?}");
    assert_eq!(w.stats().datagrams_truncated, 200);
}

#[test]
fn latency_is_within_min_and_max_and_spans_the_range() {
    let (min, max) = (3 * MS, 7 * MS);
    let (mut w, n) = world(10, 2, LinkFaults::clean(min, max));
    for _ in 0..500 {
        let t = w.now().0;
        send(&mut w, n[0], n[1], &t.to_be_bytes());
        after(&mut w, 250_000);
    }
    after(&mut w, 10 * MS);
    let delays: Vec<u64> = probe(&w, n[1])
        .datagrams()
        .iter()
        .map(|(at, _, d)| at.0 - u64::from_be_bytes(d[..8].try_into().unwrap()))
        .collect();
    assert_eq!(delays.len(), 500);
    assert!(delays.iter().all(|d| (min..=max).contains(d)));
    assert!(*delays.iter().min().unwrap() < min + MS / 2);
    assert!(*delays.iter().max().unwrap() > max - MS / 2);
}

#[test]
fn crash_keeps_synced_storage_drops_unsynced_and_counts_datagrams_to_the_down_node() {
    let (mut w, n) = world(11, 2, fixed(1));
    w.with_node(n[1], |_, ctx| {
        ctx.storage().put("k", b"synced".to_vec());
        ctx.storage().sync();
        ctx.storage().put("k", b"unsynced".to_vec());
        ctx.storage().put("other", b"unsynced".to_vec());
    });
    assert_eq!(w.storage(n[1]).get("k"), Some(&b"unsynced"[..]));
    w.apply(Fault::Crash { node: 1 });
    assert!(!w.is_up(n[1]));
    assert!(w.node(n[1]).is_none());
    assert!(w.with_node(n[1], |_, _| ()).is_none());
    assert_eq!(w.storage(n[1]).get("k"), Some(&b"synced"[..]));
    assert_eq!(w.storage(n[1]).get("other"), None);

    let down_before = w.stats().datagrams_to_down_node;
    for _ in 0..3 {
        send(&mut w, n[0], n[1], b"to a dead node");
    }
    after(&mut w, 10 * MS);
    assert_eq!(w.stats().datagrams_to_down_node - down_before, 3);
    assert_eq!(w.stats().datagrams_delivered, 0);
}

#[test]
fn a_crash_inside_a_sync_drops_what_the_handler_did_and_applies_the_storage_model() {
    let (mut w, n) = world(13, 2, fixed(1));
    // Every crash of node 1 keeps a prefix of its unsynced writes.
    let keep = faultline::StorageFaults {
        partial_per_mille: 1000,
        ..Default::default()
    };
    w.apply(Fault::StorageFaults {
        node: Some(1),
        faults: keep,
    });
    w.apply(Fault::CrashInSync { node: 1 });
    assert!(w.is_up(n[1]), "the crash waits for a sync");
    w.with_node(n[1], |_, ctx| {
        ctx.storage().put("k", b"first".to_vec());
        ctx.storage().put("k", b"second".to_vec());
        ctx.storage().sync();
        ctx.send(Addr(0), b"after the sync".to_vec());
    });
    assert!(!w.is_up(n[1]), "it died inside the sync");
    after(&mut w, 10 * MS);
    assert!(
        probe(&w, n[0]).payloads().is_empty(),
        "nothing it sent got out"
    );
    let d = w.storage(n[1]).damage().clone();
    assert_eq!((d.died_in_sync, d.writes_kept + d.writes_lost), (1, 2));
    // A prefix in write order: nothing, "first", or "second" (never a value not written).
    let k = w.storage(n[1]).get("k").map(<[u8]>::to_vec);
    let prefix = [None, Some(b"first".to_vec()), Some(b"second".to_vec())];
    assert_eq!(k, prefix[d.writes_kept as usize].clone());
    // A restart calls off a crash still waiting for a sync.
    w.apply(Fault::Restart { node: 1 });
    after(&mut w, MS);
    w.apply(Fault::CrashInSync { node: 1 });
    w.apply(Fault::Restart { node: 1 });
    w.with_node(n[1], |_, ctx| ctx.storage().sync());
    assert!(w.is_up(n[1]));
}

#[test]
fn storage_faults_are_deterministic_and_off_by_default() {
    let run = |faults: Option<faultline::StorageFaults>| {
        let (mut w, n) = world(14, 2, fixed(1));
        if let Some(f) = faults {
            w.set_storage_faults(None, f);
        }
        for round in 0..20u8 {
            w.with_node(n[1], |_, ctx| {
                ctx.storage().put(format!("s{round}"), vec![round; 8]);
                ctx.storage().sync();
                ctx.storage().put(format!("u{round}"), vec![round; 8]);
                ctx.storage().put(format!("v{round}"), vec![round; 8]);
            });
            w.apply(Fault::Crash { node: 1 });
            w.apply(Fault::Restart { node: 1 });
            after(&mut w, MS);
        }
        let storage = w.storage(n[1]);
        (
            w.trace_hash(),
            storage.durable().clone(),
            storage.damage().clone(),
        )
    };
    let all = faultline::StorageFaults {
        partial_per_mille: 500,
        torn_per_mille: 500,
        rot_per_mille: 500,
    };
    let (a, b) = (run(Some(all.clone())), run(Some(all)));
    assert_eq!(a, b, "same seed, same damage, same trace");
    assert!(
        a.2.writes_kept > 0 && a.2.torn > 0 && a.2.rotted > 0,
        "{:?}",
        a.2
    );
    let plain = run(None);
    let zero = run(Some(faultline::StorageFaults::default()));
    assert_eq!(
        (&zero.0, &zero.1),
        (&plain.0, &plain.1),
        "a model of zeros changes nothing"
    );
    assert_ne!(plain.0, a.0, "damage is in the trace");
    assert_eq!(plain.2.damaged() + plain.2.writes_kept, 0);
    assert_eq!(
        plain.1.len(),
        20,
        "off: only the synced records survive, intact"
    );
}

#[test]
fn crashed_node_gets_nothing_its_timers_never_fire_and_restart_sees_synced_state() {
    let (mut w, n) = world(12, 2, fixed(5));
    w.with_node(n[1], |_, ctx| {
        ctx.storage().put("k", b"v1".to_vec());
        ctx.storage().sync();
        ctx.storage().put("k", b"v2".to_vec());
        ctx.set_timer(Duration::from_millis(50), 7);
        ctx.set_timer(Duration::from_millis(300), 8);
    });
    // In flight when the node crashes: lost, even though the node is back when it lands.
    send(&mut w, n[0], n[1], b"in flight");
    after(&mut w, MS);
    w.apply(Fault::Crash { node: 1 });
    w.fault_at(Time(w.now().0 + 100 * MS), Fault::Restart { node: 1 });
    // Sent while down.
    after(&mut w, 20 * MS);
    send(&mut w, n[0], n[1], b"while down");
    after(&mut w, 70 * MS);
    assert!(!w.is_up(n[1]));
    after(&mut w, 10 * MS);
    assert!(w.is_up(n[1]));
    after(&mut w, 500 * MS);
    // A new node from the factory: its log starts with its own on_start, which saw only
    // the synced value, and nothing of the old incarnation's datagrams or timers.
    let p = probe(&w, n[1]);
    assert_eq!(
        p.log,
        vec![(Time(101 * MS), Seen::Start(Some(b"v1".to_vec())))]
    );
    assert_eq!(w.stats().datagrams_to_down_node, 2);
    // The restarted node works: it receives again.
    send(&mut w, n[0], n[1], b"after restart");
    after(&mut w, 10 * MS);
    assert_eq!(probe(&w, n[1]).payloads(), vec![b"after restart".to_vec()]);
}

#[test]
fn restart_calls_the_factory_again() {
    let built = Rc::new(RefCell::new(Vec::new()));
    let mut w: World<Probe> = World::new(13);
    let log = built.clone();
    let a = w.add_node(move |addr| {
        log.borrow_mut().push(addr);
        Probe::default()
    });
    w.run_until(Time::ZERO).unwrap();
    w.apply(Fault::Crash { node: 0 });
    w.apply(Fault::Restart { node: 0 });
    w.run_until(Time(MS)).unwrap();
    assert_eq!(*built.borrow(), vec![a, a]);
    assert_eq!(probe(&w, a).log, vec![(Time::ZERO, Seen::Start(None))]);
}

#[test]
fn pause_delays_datagrams_and_timers_until_resume_in_order_and_loses_none() {
    let (mut w, n) = world(14, 2, fixed(1));
    w.apply(Fault::Pause { node: 1 });
    assert!(w.is_paused(n[1]));
    w.with_node(n[1], |_, ctx| {
        ctx.set_timer(Duration::from_millis(15), 15);
        ctx.set_timer(Duration::from_millis(25), 25);
    });
    for i in 1..=3u8 {
        w.call_at(Time(i as u64 * 10 * MS), n[0], move |_, ctx| {
            ctx.send(Addr(1), vec![i])
        });
    }
    w.fault_at(Time(100 * MS), Fault::Resume { node: 1 });
    w.run_until(Time(100 * MS - 1)).unwrap();
    assert!(
        probe(&w, n[1]).log.len() == 1,
        "nothing but the start while paused"
    );
    w.run_until(Time(200 * MS)).unwrap();
    let at = Time(100 * MS);
    let expected = vec![
        (Time::ZERO, Seen::Start(None)),
        (at, Seen::Datagram(n[0], vec![1])),
        (at, Seen::Timer(15)),
        (at, Seen::Datagram(n[0], vec![2])),
        (at, Seen::Timer(25)),
        (at, Seen::Datagram(n[0], vec![3])),
    ];
    assert_eq!(probe(&w, n[1]).log, expected);
    assert!(!w.is_paused(n[1]));
}

#[test]
fn heal_resumes_paused_nodes_restarts_crashed_ones_and_restores_links() {
    let (mut w, n) = world(15, 4, fixed(1));
    w.apply(Fault::Pause { node: 1 });
    w.apply(Fault::Crash { node: 2 });
    w.apply(Fault::Partition {
        groups: vec![vec![0, 1, 2]],
    });
    w.apply(Fault::Link {
        from: Some(0),
        to: None,
        faults: LinkFaults {
            loss: 1.0,
            ..fixed(1)
        },
    });
    send(&mut w, n[3], n[1], b"blocked");
    send(&mut w, n[0], n[1], b"lost");
    w.with_node(n[1], |_, ctx| {
        ctx.set_timer(Duration::from_millis(5), 1);
    });
    after(&mut w, 20 * MS);
    w.apply(Fault::Heal);
    after(&mut w, MS);
    assert!(!w.is_paused(n[1]));
    assert!(w.is_up(n[2]));
    assert_eq!(
        probe(&w, n[1]).timers().len(),
        1,
        "paused timer fired on heal"
    );
    assert!(probe(&w, n[1]).payloads().is_empty());
    assert_eq!(reach(&mut w, &n), all_pairs(4));
}

#[test]
fn timers_fire_at_their_deadlines_in_order_ties_in_set_order_and_cancel_works() {
    let (mut w, n) = world(16, 1, fixed(1));
    let cancelled = w
        .with_node(n[0], |_, ctx| {
            for (tag, ms) in [(0, 30), (1, 10), (2, 20), (3, 10), (4, 10)] {
                ctx.set_timer(Duration::from_millis(ms), tag);
            }
            let a = ctx.set_timer(Duration::from_millis(15), 90);
            ctx.cancel_timer(a);
            ctx.set_timer(Duration::from_millis(40), 91)
        })
        .unwrap();
    after(&mut w, 12 * MS);
    // Cancelled from a later call, before it is due.
    w.with_node(n[0], |_, ctx| ctx.cancel_timer(cancelled));
    after(&mut w, 100 * MS);
    let expected: Vec<(Time, u64)> = [(10, 1), (10, 3), (10, 4), (20, 2), (30, 0)]
        .iter()
        .map(|&(ms, tag)| (Time(ms * MS), tag))
        .collect();
    assert_eq!(probe(&w, n[0]).timers(), expected);
}

#[test]
fn clock_offset_shifts_the_local_clock_of_that_node_only() {
    let (mut w, n) = world(17, 2, fixed(1));
    after(&mut w, 1_000 * MS);
    w.apply(Fault::ClockOffset {
        node: 1,
        offset_ns: 5_000_000_000,
    });
    assert_eq!(w.local_time(n[1]), Time::from_secs(6));
    assert_eq!(w.local_time(n[0]), Time::from_secs(1));
    assert_eq!(
        w.with_node(n[1], |_, ctx| ctx.now()),
        Some(Time::from_secs(6))
    );
    assert_eq!(
        w.with_node(n[0], |_, ctx| ctx.now()),
        Some(Time::from_secs(1))
    );
    // Events carry the local time; a negative step takes it back.
    send(&mut w, n[0], n[1], b"x");
    after(&mut w, 10 * MS);
    assert_eq!(probe(&w, n[1]).datagrams()[0].0, Time(6_001 * MS));
    w.apply(Fault::ClockOffset {
        node: 1,
        offset_ns: -2_000_000_000,
    });
    assert_eq!(w.local_time(n[1]), Time(4_010 * MS));
}

/// True time a 1 s local timer takes on a node drifting by `ppm`.
fn one_second_timer_under_drift(ppm: i64) -> u64 {
    let (mut w, n) = world(18, 1, fixed(1));
    after(&mut w, 500 * MS);
    w.apply(Fault::ClockDrift { node: 0, ppm });
    let set_at = w.now().0;
    w.with_node(n[0], |_, ctx| ctx.set_timer(Duration::from_secs(1), 1));
    let fired = w
        .run_until_cond(Time::from_secs(10), |w| !probe(w, n[0]).timers().is_empty())
        .unwrap();
    assert!(fired);
    // The node's own clock saw one second pass: never less (a timer must not fire early),
    // at most a nanosecond more from rounding the true delay up.
    let local = probe(&w, n[0]).timers()[0].0 .0;
    assert!((1_500 * MS..=1_500 * MS + 1).contains(&local), "{local}");
    w.now().0 - set_at
}

#[test]
fn clock_drift_makes_a_one_second_timer_fire_after_one_over_one_plus_ppm() {
    // 1e9 / (1 + ppm / 1e6) ns, rounded up.
    assert_eq!(one_second_timer_under_drift(100_000), 909_090_910);
    assert_eq!(one_second_timer_under_drift(-200_000), 1_250_000_000);
    assert_eq!(one_second_timer_under_drift(0), 1_000_000_000);
}

#[test]
fn heal_stops_drift_but_keeps_offset() {
    let (mut w, n) = world(19, 1, fixed(1));
    w.apply(Fault::ClockOffset {
        node: 0,
        offset_ns: 1_000_000_000,
    });
    w.apply(Fault::ClockDrift {
        node: 0,
        ppm: 500_000,
    });
    after(&mut w, 1_000 * MS);
    assert_eq!(w.local_time(n[0]), Time(2_500 * MS));
    w.apply(Fault::Heal);
    after(&mut w, 1_000 * MS);
    assert_eq!(w.local_time(n[0]), Time(3_500 * MS));
}

/// A chattering world of four nodes over a jittered, lossy, duplicating, reordering network.
fn chatter_run(seed: u64) -> (String, u64, faultline::NetStats) {
    let mut w: World<Probe> = World::new(seed);
    w.set_base_link(LinkFaults {
        loss: 0.1,
        duplicate: 0.1,
        reorder: 0.2,
        reorder_delay_ns: 3 * MS,
        ..LinkFaults::clean(MS, 5 * MS)
    });
    for _ in 0..4 {
        w.add_node(|_| Probe {
            chatter: 4,
            ..Probe::default()
        });
    }
    w.fault_at(Time(200 * MS), Fault::Crash { node: 2 });
    w.fault_at(Time(300 * MS), Fault::Restart { node: 2 });
    w.run_until(Time(1_000 * MS)).unwrap();
    (w.trace_hash(), w.events(), w.stats().clone())
}

#[test]
fn same_seed_gives_the_same_trace_hash_and_different_seeds_differ() {
    let a = chatter_run(42);
    let b = chatter_run(42);
    assert_eq!(a, b);
    assert!(a.1 > 1_000, "the run did something: {} events", a.1);
    let c = chatter_run(43);
    assert_ne!(a.0, c.0);
}

#[test]
fn middlebox_sees_every_datagram_and_can_drop_and_rewrite() {
    let (mut w, n) = world(20, 3, fixed(1));
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    w.set_middlebox(move |at, from, to, data| {
        log.borrow_mut().push((at, from, to, data.clone()));
        if data.first() == Some(&b'!') {
            return false;
        }
        data.make_ascii_uppercase();
        data.push(b'*');
        true
    });
    send(&mut w, n[0], n[1], b"hello");
    send(&mut w, n[0], n[1], b"!drop me");
    send(&mut w, n[2], n[1], b"bye");
    after(&mut w, 10 * MS);
    assert_eq!(
        probe(&w, n[1]).payloads(),
        vec![b"HELLO*".to_vec(), b"BYE*".to_vec()]
    );
    assert_eq!(
        seen.borrow()
            .iter()
            .map(|(at, f, t, _)| (at.0, f.0, t.0))
            .collect::<Vec<_>>(),
        vec![(0, 0, 1), (0, 0, 1), (0, 2, 1)]
    );
    assert_eq!(seen.borrow()[1].3, b"!drop me".to_vec());
    assert_eq!(w.stats().datagrams_middlebox_dropped, 1);
    assert_eq!(w.stats().datagrams_delivered, 2);
}

#[test]
fn each_undo_ends_its_own_cut_and_overlapping_cuts_stay_in_force() {
    let (mut w, nodes) = world(21, 3, fixed(1));
    let groups = vec![vec![0, 1], vec![2]];
    // The same partition twice, overlapping: two episodes.
    w.apply(Fault::Partition {
        groups: groups.clone(),
    });
    w.apply(Fault::Partition {
        groups: groups.clone(),
    });
    let split: BTreeSet<_> = [(0, 1), (1, 0)].into();
    // The undo may list the groups in another order; it ends one episode only.
    w.apply(Fault::Unpartition {
        groups: vec![vec![2], vec![1, 0]],
    });
    assert_eq!(reach(&mut w, &nodes), split);
    w.apply(Fault::Unpartition { groups });
    assert_eq!(reach(&mut w, &nodes), all_pairs(3));
    // An isolation and a one-way cut: rejoining ends the isolation, not the cut.
    w.apply(Fault::Isolate { node: 1 });
    w.apply(Fault::CutOneWay { from: 0, to: 2 });
    w.apply(Fault::Rejoin { node: 1 });
    let mut expected = all_pairs(3);
    expected.remove(&(0, 2));
    assert_eq!(reach(&mut w, &nodes), expected);
    // An undo of a cut not in force does nothing.
    w.apply(Fault::Reconnect { from: 2, to: 0 });
    w.apply(Fault::Rejoin { node: 2 });
    assert_eq!(reach(&mut w, &nodes), expected);
    w.apply(Fault::Reconnect { from: 0, to: 2 });
    assert_eq!(reach(&mut w, &nodes), all_pairs(3));
    // Repair stays the global reset.
    w.apply(Fault::Isolate { node: 0 });
    w.apply(Fault::CutOneWay { from: 1, to: 2 });
    w.apply(Fault::Repair);
    assert_eq!(reach(&mut w, &nodes), all_pairs(3));
}

#[test]
fn link_changes_stack_and_a_restore_falls_back_to_the_change_beneath() {
    let (mut w, nodes) = world(22, 2, fixed(1));
    let (a, b) = (nodes[0], nodes[1]);
    let arrival = |w: &mut World<Probe>| {
        w.node_mut(b).unwrap().log.clear();
        let sent = w.now();
        send(w, a, b, b"x");
        after(w, 100 * MS);
        let (t, _, _) = probe(w, b).datagrams()[0].clone();
        t.0 - sent.0
    };
    let slow = fixed(20);
    let slower = fixed(40);
    w.apply(Fault::Link {
        from: None,
        to: None,
        faults: slow.clone(),
    });
    w.apply(Fault::Link {
        from: Some(0),
        to: Some(1),
        faults: slower.clone(),
    });
    assert_eq!(arrival(&mut w), 40 * MS);
    // The older, wider change ends: the newer one on 0 -> 1 stays in force.
    w.apply(Fault::LinkRestore {
        from: None,
        to: None,
        faults: Some(slow),
    });
    assert_eq!(arrival(&mut w), 40 * MS);
    // Without `faults`, a restore ends the latest change of those links: back to the base.
    w.apply(Fault::LinkRestore {
        from: Some(0),
        to: Some(1),
        faults: None,
    });
    assert_eq!(arrival(&mut w), MS);
}

#[test]
fn a_drift_stop_ends_that_drift_and_schedules_in_the_old_form_still_load() {
    let (mut w, nodes) = world(23, 1, fixed(1));
    w.apply(Fault::ClockDrift {
        node: 0,
        ppm: 100_000,
    });
    after(&mut w, 1_000 * MS);
    w.apply(Fault::DriftStop {
        node: 0,
        ppm: Some(100_000),
    });
    let t = w.local_time(nodes[0]);
    after(&mut w, 1_000 * MS);
    assert_eq!(t, Time(1_100 * MS), "it gained 10% while drifting");
    assert_eq!(
        w.local_time(nodes[0]),
        Time(2_100 * MS),
        "and none after the stop"
    );
    // A schedule written before the verbs came in pairs: `repair` ends cuts, and
    // `clock_step` is another name for `clock_offset`.
    let old = r#"{"faults":[{"at_ns":0,"kind":"isolate","node":0},
        {"at_ns":5,"kind":"repair"},{"at_ns":6,"kind":"clock_step","node":0,"offset_ns":7}],
        "heal_at_ns":10,"end_ns":20}"#;
    let s: faultline::Schedule = serde_json::from_str(old).expect("old schedules load");
    assert_eq!(
        s.faults[2].fault,
        Fault::ClockOffset {
            node: 0,
            offset_ns: 7
        }
    );
}
