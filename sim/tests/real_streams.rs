//! The real runtime's streams over loopback TCP: flow control through a small window, a
//! paused reader, graceful close, reset and refused connections. Every run is bounded by a
//! timeout; ports come from port 0.
// These tests drive real processes and sockets: wall-clock deadlines and threads are the
// point here, not a leak into simulated code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use faultline::real::{External, RealConfig, Runtime};
use faultline::{Addr, CloseReason, Ctx, Node, StreamEvent, StreamId, TimerId};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const LIMIT: Option<Duration> = Some(Duration::from_secs(30));
const SMALL_WINDOW: usize = 4096;

fn tcp_config(window: usize) -> RealConfig {
    RealConfig {
        tcp_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        stream_window: window,
        ..RealConfig::default()
    }
}

/// Turn `rt`'s loop in short slices until `cond` holds about the runtime (not just its
/// node); false if it never does within the limit.
fn run_till<N: Node>(rt: &mut Runtime<N>, mut cond: impl FnMut(&Runtime<N>) -> bool) -> bool {
    let slice = Duration::from_millis(10);
    for _ in 0..LIMIT.unwrap().as_millis() / slice.as_millis() {
        if cond(rt) {
            return true;
        }
        rt.run_until(|_| false, Some(slice)).unwrap();
    }
    cond(rt)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// Echoes every stream back. What the window cannot take waits in a backlog; while the
/// backlog is large the server stops reading, so a slow client slows the server down.
#[derive(Default)]
struct EchoServer {
    backlog: BTreeMap<StreamId, Vec<u8>>,
    paused: BTreeMap<StreamId, bool>,
    closed: Vec<CloseReason>,
}

impl EchoServer {
    fn flush(&mut self, ctx: &mut Ctx<'_, ()>, stream: StreamId) {
        let Some(backlog) = self.backlog.get_mut(&stream) else {
            return;
        };
        let taken = ctx.write(stream, backlog).unwrap_or(0);
        backlog.drain(..taken);
        let paused = self.paused.entry(stream).or_default();
        let too_much = backlog.len() > SMALL_WINDOW;
        if too_much != *paused {
            *paused = too_much;
            if too_much {
                ctx.pause_reading(stream);
            } else {
                ctx.resume_reading(stream);
            }
        }
    }
}

impl Node for EchoServer {
    type Event = ();
    type Timer = u64;
    fn on_start(&mut self, _ctx: &mut Ctx<'_, ()>) {}
    fn on_stream(&mut self, ctx: &mut Ctx<'_, ()>, event: StreamEvent) {
        match event {
            StreamEvent::Accepted { stream, .. } => {
                self.backlog.insert(stream, Vec::new());
            }
            StreamEvent::Data { stream, data } => {
                self.backlog.entry(stream).or_default().extend(data);
                self.flush(ctx, stream);
            }
            StreamEvent::Writable { stream } => self.flush(ctx, stream),
            StreamEvent::Closed { stream, reason } => {
                self.backlog.remove(&stream);
                self.closed.push(reason);
            }
            StreamEvent::Connected { .. } => {}
        }
    }
}

/// Sends `payload` over one stream, writing whenever there is credit, and collects the echo.
struct EchoClient {
    server: Addr,
    stream: Option<StreamId>,
    payload: Vec<u8>,
    sent: usize,
    echoed: Vec<u8>,
    partial_writes: u32,
    writables: u32,
    connected: bool,
}

impl EchoClient {
    fn push(&mut self, ctx: &mut Ctx<'_, ()>) {
        let Some(stream) = self.stream else { return };
        while self.sent < self.payload.len() {
            let rest = &self.payload[self.sent..];
            let taken = ctx.write(stream, rest).expect("stream open");
            self.sent += taken;
            if taken < rest.len() {
                self.partial_writes += 1;
                break;
            }
        }
    }
}

impl Node for EchoClient {
    type Event = ();
    type Timer = u64;
    fn on_start(&mut self, ctx: &mut Ctx<'_, ()>) {
        self.stream = Some(ctx.connect(self.server));
        self.push(ctx); // before Connected: the first window's worth waits in the buffer
    }
    fn on_stream(&mut self, ctx: &mut Ctx<'_, ()>, event: StreamEvent) {
        match event {
            StreamEvent::Connected { .. } => self.connected = true,
            StreamEvent::Writable { .. } => {
                self.writables += 1;
                self.push(ctx);
            }
            StreamEvent::Data { data, .. } => self.echoed.extend(data),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn one_megabyte_echo_through_a_small_window() {
    const TOTAL: usize = 1 << 20;
    let (addr_tx, addr_rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let mut rt = Runtime::<EchoServer>::new(tcp_config(SMALL_WINDOW)).unwrap();
        addr_tx.send(rt.local_tcp_addr().unwrap()).unwrap();
        rt.start(EchoServer::default());
        let done = rt.run_until(|s| !s.closed.is_empty(), LIMIT).unwrap();
        (done, rt.node().closed.clone(), rt.stats())
    });
    let mut rt = Runtime::<EchoClient>::new(tcp_config(SMALL_WINDOW)).unwrap();
    let server_addr = rt.peer(addr_rx.recv().unwrap());
    rt.start(EchoClient {
        server: server_addr,
        stream: None,
        payload: pattern(TOTAL),
        sent: 0,
        echoed: Vec::new(),
        partial_writes: 0,
        writables: 0,
        connected: false,
    });
    assert_eq!(
        rt.node().sent,
        SMALL_WINDOW,
        "credit before Connected is one window"
    );
    assert!(
        rt.run_until(|c| c.echoed.len() >= TOTAL, LIMIT).unwrap(),
        "echo timed out"
    );
    let client = rt.node();
    assert!(client.connected);
    assert_eq!(client.sent, TOTAL);
    assert!(
        client.echoed == client.payload,
        "echo differs from what was sent"
    );
    assert!(client.partial_writes > 0 && client.writables > 0);
    assert_eq!(rt.stats().streams.bytes_written, TOTAL as u64);

    let stream = client.stream.unwrap();
    rt.with_node(|_, ctx| ctx.close(stream));
    let (done, closed, stats) = server.join().unwrap();
    assert!(done, "server never saw the close");
    assert_eq!(closed, vec![CloseReason::PeerClosed]);
    assert_eq!(stats.streams.bytes_read, TOTAL as u64);
    assert_eq!(stats.streams.accepted, 1);
}

/// Accepts one stream and does not read it until told to.
#[derive(Default)]
struct SlowReader {
    stream: Option<StreamId>,
    received: usize,
    received_while_paused: Option<usize>,
    expected: Option<usize>,
}

impl Node for SlowReader {
    type Event = ();
    type Timer = u64;
    fn on_start(&mut self, _ctx: &mut Ctx<'_, ()>) {}
    fn on_stream(&mut self, ctx: &mut Ctx<'_, ()>, event: StreamEvent) {
        match event {
            StreamEvent::Accepted { stream, .. } => {
                self.stream = Some(stream);
                ctx.pause_reading(stream);
            }
            StreamEvent::Data { data, .. } => self.received += data.len(),
            _ => {}
        }
    }
}

/// Writes a chunk every few milliseconds until no credit has come back for a while.
struct Flooder {
    server: Addr,
    stream: Option<StreamId>,
    written: usize,
    dry_ticks: u32,
    closed: Option<CloseReason>,
}

const DRY_TICKS_TO_STALL: u32 = 25;

impl Flooder {
    /// Write all the credit allows; returns how much that was.
    fn fill(&mut self, ctx: &mut Ctx<'_, ()>) -> usize {
        let taken = ctx.write(self.stream.unwrap(), &[0x5a; 16 * 1024]).unwrap();
        self.written += taken;
        taken
    }
}

impl Node for Flooder {
    type Event = ();
    type Timer = u64;
    fn on_start(&mut self, ctx: &mut Ctx<'_, ()>) {
        self.stream = Some(ctx.connect(self.server));
        ctx.set_timer(Duration::from_millis(10), 0);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, ()>, _timer: TimerId, _tag: u64) {
        let taken = self.fill(ctx);
        self.dry_ticks = if taken == 0 { self.dry_ticks + 1 } else { 0 };
        if self.dry_ticks < DRY_TICKS_TO_STALL {
            ctx.set_timer(Duration::from_millis(10), 0);
        }
    }
    fn on_stream(&mut self, ctx: &mut Ctx<'_, ()>, event: StreamEvent) {
        match event {
            StreamEvent::Writable { .. } if self.dry_ticks < DRY_TICKS_TO_STALL => {
                self.fill(ctx);
            }
            StreamEvent::Closed { reason, .. } => self.closed = Some(reason),
            _ => {}
        }
    }
}

#[test]
fn a_paused_reader_runs_the_writer_out_of_credit_and_resuming_delivers_everything() {
    let (tx, rx) = mpsc::channel::<(SocketAddr, External<SlowReader>)>();
    let (result_tx, result_rx) = mpsc::channel();
    let (finish_tx, finish_rx) = mpsc::channel::<()>();
    let reader = thread::spawn(move || {
        let mut rt = Runtime::<SlowReader>::new(tcp_config(SMALL_WINDOW)).unwrap();
        tx.send((rt.local_tcp_addr().unwrap(), rt.external()))
            .unwrap();
        rt.start(SlowReader::default());
        let done = rt
            .run_until(|r| r.expected.is_some_and(|e| r.received == e), LIMIT)
            .unwrap();
        result_tx
            .send((done, rt.node().received, rt.node().received_while_paused))
            .unwrap();
        // Keep the stream open until the writer has checked its credit.
        let _ = finish_rx.recv_timeout(LIMIT.unwrap());
    });
    let (reader_addr, reader_handle) = rx.recv().unwrap();
    let mut rt = Runtime::<Flooder>::new(tcp_config(SMALL_WINDOW)).unwrap();
    let server = rt.peer(reader_addr);
    rt.start(Flooder {
        server,
        stream: None,
        written: 0,
        dry_ticks: 0,
        closed: None,
    });
    assert!(
        rt.run_until(|f| f.dry_ticks >= DRY_TICKS_TO_STALL, LIMIT)
            .unwrap(),
        "credit never ran out"
    );
    let stream = rt.node().stream.unwrap();
    assert_eq!(rt.with_node(|_, ctx| ctx.writable_bytes(stream)), 0);
    // The kernel's buffers took what they could; the rest of the credit is stuck in ours.
    let written = rt.node().written;
    assert!(written >= SMALL_WINDOW, "wrote only {written} bytes");

    reader_handle.run(move |reader, ctx| {
        reader.received_while_paused = Some(reader.received);
        reader.expected = Some(written);
        ctx.resume_reading(reader.stream.unwrap());
    });
    // Keep the writer's loop turning so its buffer drains: all credit comes back.
    let mut full = false;
    for _ in 0..3000 {
        rt.run_until(|_| false, Some(Duration::from_millis(10)))
            .unwrap();
        if rt.with_node(|_, ctx| ctx.writable_bytes(stream)) == SMALL_WINDOW {
            full = true;
            break;
        }
    }
    assert!(full, "credit did not come back after the reader resumed");
    let (done, received, while_paused) = result_rx.recv().unwrap();
    assert!(done, "reader timed out");
    assert_eq!(while_paused, Some(0), "a paused reader reads nothing");
    assert_eq!(received, written);
    assert_eq!(rt.stats().streams.bytes_written, written as u64);

    finish_tx.send(()).unwrap();
    reader.join().unwrap();
    assert!(rt.run_until(|f| f.closed.is_some(), LIMIT).unwrap());
    assert_eq!(rt.node().closed, Some(CloseReason::PeerClosed));
}

/// Records every stream event; optionally opens a stream, writes and closes it on start.
#[derive(Default)]
struct Recorder {
    dial: Option<(Addr, Vec<u8>, bool)>,
    stream: Option<StreamId>,
    events: Vec<StreamEvent>,
}

impl Node for Recorder {
    type Event = ();
    type Timer = u64;
    fn on_start(&mut self, ctx: &mut Ctx<'_, ()>) {
        if let Some((to, data, close)) = self.dial.clone() {
            let stream = ctx.connect(to);
            self.stream = Some(stream);
            ctx.write(stream, &data).unwrap();
            if close {
                ctx.close(stream);
            }
        }
    }
    fn on_stream(&mut self, _ctx: &mut Ctx<'_, ()>, event: StreamEvent) {
        self.events.push(event);
    }
}

fn closed(events: &[StreamEvent]) -> Option<CloseReason> {
    events.iter().find_map(|e| match e {
        StreamEvent::Closed { reason, .. } => Some(*reason),
        _ => None,
    })
}

#[test]
fn peer_close_arrives_after_the_data_as_peer_closed() {
    let mut server = Runtime::<Recorder>::new(tcp_config(SMALL_WINDOW)).unwrap();
    server.start(Recorder::default());
    let mut client = Runtime::<Recorder>::new(RealConfig::default()).unwrap();
    let to = client.peer(server.local_tcp_addr().unwrap());
    client.start(Recorder {
        dial: Some((to, b"last words".to_vec(), true)),
        ..Recorder::default()
    });
    // The client connects, flushes and shuts down its side; the kernel queues it all for
    // the server even while the server's loop is not running.
    assert!(run_till(&mut client, |c| c.stats().streams.bytes_written == 10));
    assert!(server
        .run_until(|s| closed(&s.events).is_some(), LIMIT)
        .unwrap());

    let events = &server.node().events;
    let stream = events[0].stream();
    assert!(
        matches!(events[0], StreamEvent::Accepted { .. }),
        "{events:?}"
    );
    let data: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Data { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(data, b"last words");
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Closed {
            stream,
            reason: CloseReason::PeerClosed
        })
    );
    assert!(
        server.with_node(|_, ctx| ctx.write(stream, b"x")).is_err(),
        "closed stream takes no writes"
    );
    // The closer is told nothing (it closed the stream itself) and lets go of the socket
    // once the server has closed its end too.
    assert!(run_till(&mut client, |c| c.stats().open_connections == 0));
    assert!(
        client.node().events.is_empty(),
        "{:?}",
        client.node().events
    );
    assert_eq!(server.stats().open_connections, 0);
}

#[test]
fn connecting_to_a_closed_port_or_an_unknown_addr_is_refused() {
    let closed_port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut rt = Runtime::<Recorder>::new(RealConfig::default()).unwrap();
    let to = rt.peer(closed_port);
    rt.start(Recorder {
        dial: Some((to, b"hello?".to_vec(), false)),
        ..Recorder::default()
    });
    assert!(rt.run_until(|r| !r.events.is_empty(), LIMIT).unwrap());
    let stream = rt.node().stream.unwrap();
    assert_eq!(
        rt.node().events,
        vec![StreamEvent::Closed {
            stream,
            reason: CloseReason::Refused
        }]
    );

    let unknown = rt.with_node(|_, ctx| ctx.connect(Addr(4242)));
    assert!(rt.run_until(|r| r.events.len() == 2, LIMIT).unwrap());
    assert_eq!(
        rt.node().events[1],
        StreamEvent::Closed {
            stream: unknown,
            reason: CloseReason::Refused
        }
    );
    assert_eq!(rt.stats().streams.refused, 2);
}

#[test]
fn a_peer_that_resets_gives_closed_reset() {
    let mut rt = Runtime::<Recorder>::new(tcp_config(SMALL_WINDOW)).unwrap();
    rt.start(Recorder::default());
    let mut peer = TcpStream::connect(rt.local_tcp_addr().unwrap()).unwrap();
    assert!(rt.run_until(|r| !r.events.is_empty(), LIMIT).unwrap());
    let stream = rt.node().events[0].stream();
    rt.with_node(|_, ctx| ctx.write(stream, b"unread reply").unwrap());
    // Wait until the reply is in the peer's receive buffer, then close without reading
    // it: the kernel answers with a reset instead of a graceful close.
    peer.write_all(b"ping").unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut first = [0u8; 1];
    peer.read_exact(&mut first).unwrap();
    drop(peer);
    assert!(rt
        .run_until(|r| closed(&r.events).is_some(), LIMIT)
        .unwrap());
    assert_eq!(closed(&rt.node().events), Some(CloseReason::Reset));
    assert_eq!(rt.stats().streams.resets, 1);
}
