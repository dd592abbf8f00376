//! The simulated world's streams do what they claim: in-order intact delivery under flow
//! control, back-pressure from a reader that stops reading, stalls (not loss) under a
//! partition, resets on a crash or an injected reset, refusal by a down or unreachable
//! peer, and a graceful close that delivers everything first. One small node logs every
//! stream event and pumps an outbox; the tests drive the `World` directly.

use faultline::{
    Addr, CloseReason, Ctx, Fault, LinkFaults, Node, StreamError, StreamEvent, StreamId, Time,
    World,
};
use std::collections::BTreeMap;

const MS: u64 = 1_000_000;

/// Logs every stream event and keeps what arrived per stream. Bytes put in `outbox` are
/// written as the window allows (on `Connected` and `Writable`); with `close_when_flushed`
/// the stream is closed once its outbox is empty.
#[derive(Default)]
struct Peer {
    events: Vec<(Time, StreamEvent)>,
    received: BTreeMap<StreamId, Vec<u8>>,
    outbox: BTreeMap<StreamId, Vec<u8>>,
    close_when_flushed: bool,
}

impl Peer {
    fn pump(&mut self, ctx: &mut Ctx<'_, ()>, stream: StreamId) {
        let Some(out) = self.outbox.get_mut(&stream) else {
            return;
        };
        let taken = ctx.write(stream, out).unwrap_or(0);
        out.drain(..taken);
        if out.is_empty() && self.close_when_flushed {
            ctx.close(stream);
        }
    }

    fn got(&self, stream: StreamId) -> &[u8] {
        self.received.get(&stream).map_or(&[], Vec::as_slice)
    }

    /// Every event but data, in order.
    fn notices(&self) -> Vec<StreamEvent> {
        self.events
            .iter()
            .filter(|(_, e)| !matches!(e, StreamEvent::Data { .. }))
            .map(|(_, e)| e.clone())
            .collect()
    }

    fn closed(&self) -> Vec<CloseReason> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                StreamEvent::Closed { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }
}

impl Node for Peer {
    type Event = ();
    type Timer = u64;
    fn on_start(&mut self, _ctx: &mut Ctx<'_, ()>) {}
    fn on_stream(&mut self, ctx: &mut Ctx<'_, ()>, event: StreamEvent) {
        self.events.push((ctx.now(), event.clone()));
        match event {
            StreamEvent::Data { stream, data } => {
                self.received.entry(stream).or_default().extend(data)
            }
            StreamEvent::Connected { stream } | StreamEvent::Writable { stream } => {
                self.pump(ctx, stream)
            }
            _ => {}
        }
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 253) as u8).collect()
}

fn after(w: &mut World<Peer>, ns: u64) {
    let t = Time(w.now().0 + ns);
    w.run_until(t).unwrap();
}

fn peer(w: &World<Peer>, a: Addr) -> &Peer {
    w.node(a).expect("node is up")
}

/// Two nodes over a 1-3 ms network with receive window `window`, and a stream from node 0
/// to node 1 that both ends know is open.
fn open(seed: u64, window: usize) -> (World<Peer>, Addr, Addr, StreamId) {
    let mut w: World<Peer> = World::new(seed);
    w.set_base_link(LinkFaults::clean(MS, 3 * MS));
    w.set_stream_window(window);
    let a = w.add_node(|_| Peer::default());
    let b = w.add_node(|_| Peer::default());
    w.run_until(Time::ZERO).unwrap();
    let s = w.with_node(a, |_, ctx| ctx.connect(b)).unwrap();
    after(&mut w, 10 * MS);
    assert_eq!(
        peer(&w, a).notices(),
        vec![StreamEvent::Connected { stream: s }]
    );
    assert_eq!(
        peer(&w, b).notices(),
        vec![StreamEvent::Accepted { stream: s, from: a }]
    );
    (w, a, b, s)
}

fn write(w: &mut World<Peer>, at: Addr, s: StreamId, data: &[u8]) -> Result<usize, StreamError> {
    w.with_node(at, |_, ctx| ctx.write(s, data)).expect("up")
}

fn writable(w: &mut World<Peer>, at: Addr, s: StreamId) -> usize {
    w.with_node(at, |_, ctx| ctx.writable_bytes(s)).expect("up")
}

#[test]
fn data_arrives_in_order_and_intact_through_a_small_window_over_a_jittered_link() {
    let mut w: World<Peer> = World::new(1);
    w.set_base_link(LinkFaults::clean(MS, 9 * MS));
    w.set_stream_window(4096);
    let data = pattern(300_000);
    let a = w.add_node(|_| Peer::default());
    let b = w.add_node(|_| Peer::default());
    w.run_until(Time::ZERO).unwrap();
    let s = w
        .with_node(a, |p, ctx| {
            let s = ctx.connect(b);
            p.outbox.insert(s, pattern(300_000));
            s
        })
        .unwrap();
    let done = w
        .run_until_cond(Time::from_secs(120), |w| {
            peer(w, b).got(s).len() >= data.len()
        })
        .unwrap();
    assert!(done, "only {} bytes arrived", peer(&w, b).got(s).len());
    assert!(peer(&w, b).got(s) == data.as_slice(), "bytes differ");
    let data_events = peer(&w, b).events.len() - 1;
    assert!(data_events > 70, "{data_events} Data events");
    let writables = peer(&w, a)
        .notices()
        .iter()
        .filter(|e| matches!(e, StreamEvent::Writable { .. }))
        .count();
    assert!(
        writables > 70,
        "flow control ran: {writables} Writable events"
    );
    assert_eq!(w.stats().stream_bytes_delivered, data.len() as u64);
    assert_eq!(w.stats().stream_bytes_written, data.len() as u64);
}

#[test]
fn a_reader_that_stops_reading_stops_the_writer_until_it_reads_again() {
    let window = 4096;
    let (mut w, a, b, s) = open(2, window);
    assert_eq!(writable(&mut w, a, s), window);
    w.with_node(b, |_, ctx| ctx.pause_reading(s));
    assert_eq!(write(&mut w, a, s, &pattern(10_000)), Ok(window));
    assert_eq!(writable(&mut w, a, s), 0);
    after(&mut w, 1_000 * MS);
    // The bytes wait at the reader unread, so no credit comes back.
    assert!(peer(&w, b).got(s).is_empty());
    assert_eq!(writable(&mut w, a, s), 0);
    assert_eq!(write(&mut w, a, s, b"more"), Ok(0));
    assert_eq!(
        peer(&w, a).notices().len(),
        1,
        "no Writable while nothing is read"
    );

    w.with_node(b, |_, ctx| ctx.resume_reading(s));
    after(&mut w, 20 * MS);
    assert_eq!(peer(&w, b).got(s), &pattern(10_000)[..window]);
    assert_eq!(
        peer(&w, a).notices().last(),
        Some(&StreamEvent::Writable { stream: s })
    );
    assert_eq!(writable(&mut w, a, s), window);
    assert_eq!(write(&mut w, a, s, b"more"), Ok(4));
    after(&mut w, 20 * MS);
    assert!(peer(&w, b).got(s).ends_with(b"more"));
}

#[test]
fn a_partition_stalls_a_stream_without_losing_data_and_repair_delivers_it() {
    let (mut w, a, b, s) = open(3, 64 * 1024);
    w.apply(Fault::Partition {
        groups: vec![vec![0], vec![1]],
    });
    let data = pattern(20_000);
    assert_eq!(write(&mut w, a, s, &data), Ok(data.len()));
    after(&mut w, 2_000 * MS);
    assert!(peer(&w, b).got(s).is_empty());
    assert!(w.stats().stream_stalls > 0);
    w.apply(Fault::Repair);
    after(&mut w, 1_000 * MS);
    assert!(peer(&w, b).got(s) == data.as_slice());
    assert!(peer(&w, a).closed().is_empty());
    assert!(peer(&w, b).closed().is_empty());
}

#[test]
fn a_crash_of_one_end_resets_the_stream_at_the_other() {
    let (mut w, a, b, s) = open(4, 64 * 1024);
    w.apply(Fault::Crash { node: 1 });
    after(&mut w, 10 * MS);
    assert_eq!(peer(&w, a).closed(), vec![CloseReason::Reset]);
    assert_eq!(write(&mut w, a, s, b"x"), Err(StreamError::Closed));
    assert_eq!(writable(&mut w, a, s), 0);
    // The restarted node knows nothing of the stream.
    w.apply(Fault::Restart { node: 1 });
    after(&mut w, 10 * MS);
    assert!(peer(&w, b).events.is_empty());
}

#[test]
fn reset_streams_closes_both_ends_with_reset_and_drops_data_in_flight() {
    let (mut w, a, b, s) = open(5, 64 * 1024);
    assert_eq!(write(&mut w, a, s, b"never arrives"), Ok(13));
    w.apply(Fault::ResetStreams { node: 0 });
    after(&mut w, 10 * MS);
    assert_eq!(peer(&w, a).closed(), vec![CloseReason::Reset]);
    assert_eq!(peer(&w, b).closed(), vec![CloseReason::Reset]);
    assert!(peer(&w, b).got(s).is_empty());
    assert_eq!(write(&mut w, b, s, b"x"), Err(StreamError::Closed));
    assert_eq!(w.stats().streams_reset, 1);
}

#[test]
fn connect_to_a_down_or_unreachable_node_is_refused() {
    let mut w: World<Peer> = World::new(6);
    w.set_base_link(LinkFaults::clean(MS, 3 * MS));
    let a = w.add_node(|_| Peer::default());
    let down = w.add_node(|_| Peer::default());
    let late = w.add_node_at(Time::from_secs(100), |_| Peer::default());
    let cut = w.add_node(|_| Peer::default());
    w.run_until(Time::ZERO).unwrap();
    w.apply(Fault::Crash { node: down.0 });
    w.apply(Fault::Isolate { node: cut.0 });
    let ids: Vec<StreamId> = [down, late, cut]
        .iter()
        .map(|&to| w.with_node(a, |_, ctx| ctx.connect(to)).unwrap())
        .collect();
    after(&mut w, 2_000 * MS);
    let refused: Vec<StreamEvent> = ids
        .iter()
        .map(|&stream| StreamEvent::Closed {
            stream,
            reason: CloseReason::Refused,
        })
        .collect();
    let mut got = peer(&w, a).notices();
    got.sort_by_key(|e| e.stream());
    assert_eq!(got, refused);
    assert_eq!(w.stats().streams_refused, 3);
    assert_eq!(w.stats().streams_opened, 0);
    assert!(peer(&w, cut).events.is_empty());
}

#[test]
fn a_graceful_close_delivers_all_data_then_peer_closed() {
    let (mut w, a, b, s) = open(7, 4096);
    // More than one window: the close waits until the outbox is flushed.
    w.with_node(a, |p, ctx| {
        p.outbox.insert(s, pattern(10_000));
        p.close_when_flushed = true;
        p.pump(ctx, s);
    });
    after(&mut w, 1_000 * MS);
    let reader = peer(&w, b);
    assert!(reader.got(s) == pattern(10_000).as_slice());
    assert_eq!(
        reader.events.last().map(|(_, e)| e.clone()),
        Some(StreamEvent::Closed {
            stream: s,
            reason: CloseReason::PeerClosed
        })
    );
    assert_eq!(reader.closed().len(), 1);
    assert_eq!(write(&mut w, a, s, b"x"), Err(StreamError::Closed));
}

#[test]
fn a_close_that_reaches_a_paused_reader_is_delivered_after_its_unread_data() {
    let (mut w, a, b, s) = open(8, 4096);
    w.with_node(b, |_, ctx| ctx.pause_reading(s));
    assert_eq!(write(&mut w, a, s, b"last words"), Ok(10));
    w.with_node(a, |_, ctx| ctx.close(s));
    after(&mut w, 100 * MS);
    assert_eq!(peer(&w, b).notices().len(), 1, "nothing while paused");
    w.with_node(b, |_, ctx| ctx.resume_reading(s));
    after(&mut w, 10 * MS);
    assert_eq!(peer(&w, b).got(s), b"last words");
    assert_eq!(peer(&w, b).closed(), vec![CloseReason::PeerClosed]);
}

#[test]
fn a_close_that_reaches_a_paused_reader_with_nothing_unread_is_delivered_on_resume() {
    let (mut w, a, b, s) = open(9, 4096);
    w.with_node(b, |_, ctx| ctx.pause_reading(s));
    w.with_node(a, |_, ctx| ctx.close(s));
    after(&mut w, 100 * MS);
    assert!(peer(&w, b).closed().is_empty(), "nothing while paused");
    w.with_node(b, |_, ctx| ctx.resume_reading(s));
    after(&mut w, 10 * MS);
    assert_eq!(peer(&w, b).closed(), vec![CloseReason::PeerClosed]);
}

#[test]
fn a_paused_node_gets_its_stream_data_after_resume() {
    let (mut w, a, b, s) = open(10, 64 * 1024);
    w.apply(Fault::Pause { node: 1 });
    assert_eq!(write(&mut w, a, s, b"held"), Ok(4));
    after(&mut w, 100 * MS);
    assert!(peer(&w, b).got(s).is_empty());
    w.apply(Fault::Resume { node: 1 });
    after(&mut w, MS);
    assert_eq!(peer(&w, b).got(s), b"held");
}
