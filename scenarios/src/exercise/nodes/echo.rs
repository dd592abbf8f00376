//! The simulator's exercise, part two: an echo over flow-controlled streams.
//!
//! A client writes a deterministic byte sequence as fast as the stream's credit allows and
//! now and then stops reading for a while; the server echoes everything back and, when its
//! own output backs up past one window, stops reading too, so back-pressure crosses the
//! server. Safety: what comes back is always a prefix of what was sent in that session.
//! A reset ends the session; the client reconnects and starts over. Liveness: after the heal
//! phase every client finishes a whole session.

use faultline::{Addr, CloseReason, Ctx, Node, StreamEvent, StreamId, TimerId};
use rand::Rng;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

faultline::timer_tags! {
    /// A client's timers: reconnect after a lost session, stop or start reading.
    pub enum EchoTimer {
        Reconnect = 1,
        ToggleReading = 2,
    }
}
const RECONNECT_AFTER: Duration = Duration::from_millis(100);

/// What the echo nodes record for the checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EchoEvent {
    /// Echoed bytes differ from what was sent at `offset`.
    Mismatch { offset: usize },
    /// The session ended before it was done.
    SessionLost { reason: CloseReason },
    /// Every byte of a session came back.
    Done { bytes: usize },
}

/// The echo server: one output queue per stream.
#[derive(Default)]
pub struct EchoServer {
    pending: BTreeMap<StreamId, VecDeque<u8>>,
    window: usize,
}

impl EchoServer {
    pub fn new(window: usize) -> EchoServer {
        EchoServer {
            pending: BTreeMap::new(),
            window,
        }
    }

    fn flush(&mut self, ctx: &mut Ctx<'_, EchoEvent>, stream: StreamId) {
        let Some(queue) = self.pending.get_mut(&stream) else {
            return;
        };
        while !queue.is_empty() {
            let (front, _) = queue.as_slices();
            match ctx.write(stream, front) {
                Ok(0) | Err(_) => break,
                Ok(n) => drop(queue.drain(..n)),
            }
        }
        // Stop reading while our own output is backed up: back-pressure to the client.
        if queue.len() > self.window {
            ctx.pause_reading(stream);
        } else {
            ctx.resume_reading(stream);
        }
    }
}

impl Node for EchoServer {
    type Event = EchoEvent;
    type Timer = ();

    fn on_start(&mut self, _: &mut Ctx<'_, EchoEvent>) {}

    fn on_stream(&mut self, ctx: &mut Ctx<'_, EchoEvent>, event: StreamEvent) {
        match event {
            StreamEvent::Accepted { stream, .. } => {
                self.pending.insert(stream, VecDeque::new());
            }
            StreamEvent::Data { stream, data } => {
                if let Some(queue) = self.pending.get_mut(&stream) {
                    queue.extend(data);
                    self.flush(ctx, stream);
                }
            }
            StreamEvent::Writable { stream } => self.flush(ctx, stream),
            StreamEvent::Closed { stream, .. } => {
                self.pending.remove(&stream);
            }
            StreamEvent::Connected { .. } => {}
        }
    }
}

/// A client that sends `total` bytes per session and checks the echo.
pub struct EchoClient {
    server: Addr,
    total: usize,
    stream: Option<StreamId>,
    sent: Vec<u8>,
    received: usize,
    reading: bool,
    pub done: bool,
}

impl EchoClient {
    pub fn new(server: Addr, total: usize) -> EchoClient {
        EchoClient {
            server,
            total,
            stream: None,
            sent: Vec::new(),
            received: 0,
            reading: true,
            done: false,
        }
    }

    fn connect(&mut self, ctx: &mut Ctx<'_, EchoEvent>) {
        self.sent.clear();
        self.received = 0;
        self.reading = true;
        self.stream = Some(ctx.connect(self.server));
        self.pump(ctx);
    }

    /// Write fresh bytes while there is credit.
    fn pump(&mut self, ctx: &mut Ctx<'_, EchoEvent>) {
        let Some(stream) = self.stream else { return };
        while self.sent.len() < self.total {
            let chunk_len = ctx
                .rng()
                .gen_range(1..=4096)
                .min(self.total - self.sent.len());
            let start = self.sent.len();
            let chunk: Vec<u8> = (start..start + chunk_len)
                .map(|i| (i * 31 % 251) as u8)
                .collect();
            match ctx.write(stream, &chunk) {
                Ok(n) => self.sent.extend_from_slice(&chunk[..n]),
                Err(_) => return,
            }
            if ctx.writable_bytes(stream) == 0 {
                return;
            }
        }
    }
}

impl Node for EchoClient {
    type Event = EchoEvent;
    type Timer = EchoTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, EchoEvent>) {
        self.connect(ctx);
        let pause = Duration::from_millis(ctx.rng().gen_range(100..500));
        ctx.set_timer(pause, EchoTimer::ToggleReading);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, EchoEvent>, _id: TimerId, tag: EchoTimer) {
        match tag {
            EchoTimer::Reconnect if !self.done => self.connect(ctx),
            EchoTimer::ToggleReading if !self.done => {
                if let Some(stream) = self.stream {
                    self.reading = !self.reading;
                    if self.reading {
                        ctx.resume_reading(stream);
                    } else {
                        ctx.pause_reading(stream);
                    }
                }
                let next = Duration::from_millis(ctx.rng().gen_range(100..500));
                ctx.set_timer(next, EchoTimer::ToggleReading);
            }
            _ => {}
        }
    }

    fn on_stream(&mut self, ctx: &mut Ctx<'_, EchoEvent>, event: StreamEvent) {
        if Some(event.stream()) != self.stream {
            return;
        }
        match event {
            StreamEvent::Data { stream, data } => {
                let expected = self.sent.get(self.received..self.received + data.len());
                if expected != Some(&data[..]) {
                    let offset = self.received;
                    ctx.record(EchoEvent::Mismatch { offset });
                }
                self.received += data.len();
                if self.received == self.total {
                    self.done = true;
                    ctx.record(EchoEvent::Done { bytes: self.total });
                    ctx.close(stream);
                    self.stream = None;
                }
            }
            StreamEvent::Writable { .. } | StreamEvent::Connected { .. } => self.pump(ctx),
            StreamEvent::Closed { reason, .. } => {
                self.stream = None;
                ctx.record(EchoEvent::SessionLost { reason });
                ctx.set_timer(RECONNECT_AFTER, EchoTimer::Reconnect);
            }
            StreamEvent::Accepted { .. } => {}
        }
    }
}
