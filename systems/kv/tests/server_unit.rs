//! The server node driven by hand over a bare `NodeIo`, without a world: replies, counts,
//! malformed lines and the 500-message queue, checked effect by effect.

use faultline::{derive_rng, Addr, CloseReason, Ctx, Effect, NodeIo, Storage, StreamId, Time};
use kv::{History, KvEvent, QueueOutcome, Server, QUEUE_MAX_BYTES, QUEUE_MAX_MESSAGES};

struct Rig {
    io: NodeIo<KvEvent>,
    server: Server,
    effects: Vec<Effect>,
    history: Vec<KvEvent>,
}

impl Rig {
    fn new() -> Rig {
        let io = NodeIo::new(Addr(0), derive_rng(1, "server"), Storage::default());
        Rig {
            io,
            server: Server::new(),
            effects: Vec::new(),
            history: Vec::new(),
        }
    }

    fn call<R>(&mut self, f: impl FnOnce(&mut Server, &mut Ctx<'_, KvEvent>) -> R) -> R {
        let mut ctx = self.io.ctx(Time::ZERO);
        let r = f(&mut self.server, &mut ctx);
        self.io.drain_effects(&mut self.effects);
        self.history.extend(self.io.drain_history());
        r
    }

    /// A client connects with a receive window of `window` bytes.
    fn accept(&mut self, n: u64, window: usize) -> StreamId {
        let stream = StreamId((9 << 32) | n);
        self.io.open_stream(stream, window);
        self.call(|s, ctx| s.on_accepted(ctx, stream, Addr(n as u32 + 1)));
        stream
    }

    fn send(&mut self, stream: StreamId, data: &str) {
        self.call(|s, ctx| s.on_data(ctx, stream, data.as_bytes()));
    }

    /// Everything written to `stream` since the last call.
    fn take_written(&mut self, stream: StreamId) -> String {
        let mut out = Vec::new();
        self.effects.retain(|e| match e {
            Effect::Write { stream: s, data } if *s == stream => {
                out.extend_from_slice(data);
                false
            }
            _ => true,
        });
        String::from_utf8(out).unwrap()
    }

    /// The client read `bytes`: give the credit back and deliver `Writable` if asked for.
    fn client_reads(&mut self, stream: StreamId, bytes: usize) {
        if self.io.grant_credit(stream, bytes) {
            self.call(|s, ctx| s.on_writable(ctx, stream));
        }
    }
}

#[test]
fn only_get_answers_one_line_per_value() {
    let mut rig = Rig::new();
    let c = rig.accept(1, 1 << 20);
    rig.send(c, "Put:k:a\nPut:k:b\nPut:j:x\nUpdate:k:a:c\nDelete:j\n");
    assert_eq!(
        rig.take_written(c),
        "",
        "Put, Update and Delete produce no output"
    );
    rig.send(c, "Get:k\nGet:j\n");
    // Update moved "a" out and appended "c"; "j" was deleted so it answers nothing.
    assert_eq!(rig.take_written(c), "k:b\nk:c\n");
    assert_eq!(rig.server.stats().applied, 7);
}

#[test]
fn requests_split_across_chunks_and_long_values_work() {
    let mut rig = Rig::new();
    let c = rig.accept(1, 1 << 20);
    let value = "v".repeat(9000);
    let line = format!("Put:key_1_2:{value}\nGet:key_1_2\n");
    for chunk in line.as_bytes().chunks(1000) {
        rig.call(|s, ctx| s.on_data(ctx, c, chunk));
    }
    assert_eq!(rig.take_written(c), format!("key_1_2:{value}\n"));
}

#[test]
fn malformed_lines_are_ignored_counted_and_the_connection_stays() {
    let mut rig = Rig::new();
    let c = rig.accept(1, 1 << 20);
    rig.send(c, "hello\n\nPut:k\nPut:k:v\nGet\nGet:k\n");
    assert_eq!(rig.take_written(c), "k:v\n");
    assert_eq!(rig.server.stats().malformed, 4);
    assert_eq!(rig.server.count_active(), 1);
    let malformed = rig
        .history
        .iter()
        .filter(|e| matches!(e, KvEvent::Malformed { .. }))
        .count();
    assert_eq!(malformed, 4);
    // An over-long line is discarded up to its newline, counted, and reading goes on.
    let long = "x".repeat(kv::protocol::MAX_LINE_BYTES + 10);
    rig.send(c, &format!("Put:k:{long}\nGet:k\n"));
    assert_eq!(rig.take_written(c), "k:v\n");
    assert_eq!(rig.server.stats().malformed, 5);
}

#[test]
fn counts_follow_accepts_and_closes_exactly() {
    let mut rig = Rig::new();
    let a = rig.accept(1, 1000);
    let b = rig.accept(2, 1000);
    let c = rig.accept(3, 1000);
    assert_eq!(
        (rig.server.count_active(), rig.server.count_dropped()),
        (3, 0)
    );
    rig.call(|s, ctx| s.on_closed(ctx, b, CloseReason::PeerClosed));
    rig.call(|s, ctx| s.on_closed(ctx, b, CloseReason::Reset));
    assert_eq!(
        (rig.server.count_active(), rig.server.count_dropped()),
        (2, 1)
    );
    rig.send(b, "Put:k:v\n");
    assert_eq!(
        rig.server.stats().applied,
        0,
        "data on a closed stream is ignored"
    );
    rig.call(|s, ctx| s.on_closed(ctx, a, CloseReason::Reset));
    assert_eq!(
        (rig.server.count_active(), rig.server.count_dropped()),
        (1, 2)
    );
    rig.call(|s, ctx| s.close(ctx));
    assert_eq!(
        (rig.server.count_active(), rig.server.count_dropped()),
        (0, 3)
    );
    assert!(rig.effects.contains(&Effect::Close { stream: c }));
    // A closed server refuses new clients.
    let d = rig.accept(4, 1000);
    assert_eq!(rig.server.count_active(), 0);
    assert!(rig.effects.contains(&Effect::Close { stream: d }));
}

#[test]
fn a_slow_reader_fills_its_queue_then_drops_without_holding_up_others() {
    let mut rig = Rig::new();
    // The slow client's window holds 10 bytes: "k:v0000\n" is 8, so one message fits and
    // the next is taken in part.
    let slow = rig.accept(1, 10);
    let fast = rig.accept(2, 1 << 20);
    let mut put = String::new();
    for _ in 0..QUEUE_MAX_MESSAGES + 100 {
        put.push_str("Get:k\n");
    }
    rig.send(fast, "Put:k:v0000\n");
    rig.send(slow, &put);
    let slow_got = rig.take_written(slow);
    assert_eq!(slow_got, "k:v0000\nk:");
    assert_eq!(rig.server.queue_len(slow), Some(QUEUE_MAX_MESSAGES));
    // 600 replies: 1 sent whole, 500 queued (the first of them half written), 99 dropped.
    assert_eq!(rig.server.stats().messages_dropped, 99);
    let outcomes: Vec<QueueOutcome> = rig
        .history
        .iter()
        .filter_map(|e| match e {
            KvEvent::Reply {
                stream, outcome, ..
            } if *stream == slow => Some(*outcome),
            _ => None,
        })
        .collect();
    assert_eq!(outcomes[0], QueueOutcome::Sent);
    assert_eq!(outcomes[1], QueueOutcome::Queued { len: 1 });
    assert_eq!(outcomes[500], QueueOutcome::Queued { len: 500 });
    assert!(outcomes[501..].iter().all(|o| *o == QueueOutcome::Dropped));
    assert_eq!(outcomes.len(), 600);

    // The fast client and the store are not held up.
    rig.send(fast, "Put:k:w\nGet:k\n");
    assert_eq!(rig.take_written(fast), "k:v0000\nk:w\n");

    // The slow client reads: its queue drains in order, as the window allows.
    let mut got = slow_got;
    for _ in 0..2000 {
        rig.client_reads(slow, 10);
        got.push_str(&rig.take_written(slow));
    }
    assert_eq!(rig.server.queue_len(slow), Some(0));
    let expected = "k:v0000
"
    .repeat(1 + QUEUE_MAX_MESSAGES);
    assert_eq!(got, expected);
    assert_eq!(
        rig.server.stats().queue_high_water,
        QUEUE_MAX_MESSAGES as u64
    );
}

#[test]
fn counts_history_skips_per_message_events_but_drops_the_same() {
    let mut rig = Rig::new();
    rig.server = Server::with_history(kv::History::Counts);
    let slow = rig.accept(1, 10);
    rig.send(
        slow,
        &format!(
            "Put:k:v0000\n{}",
            "Get:k\n".repeat(QUEUE_MAX_MESSAGES + 100)
        ),
    );
    let stats = rig.server.stats();
    assert_eq!(
        (stats.messages_dropped, stats.queue_high_water),
        (99, QUEUE_MAX_MESSAGES as u64)
    );
    assert_eq!(stats.applied, 1 + QUEUE_MAX_MESSAGES as u64 + 100);
    let kinds: Vec<_> = rig.history.iter().map(std::mem::discriminant).collect();
    assert_eq!(
        kinds,
        vec![std::mem::discriminant(&rig.history[0])],
        "only the Joined event"
    );
    assert!(matches!(rig.history[0], KvEvent::Joined { .. }));
}

/// The attack of issue 16: store a value of nearly 1 MiB, send 500 Gets of it (4 KB), never
/// read. Copied into each reply that pinned 500 MiB; shared with the store it pins one value.
#[test]
fn five_hundred_queued_gets_of_one_big_value_hold_that_value_once() {
    let mut rig = Rig::new();
    rig.server = Server::with_history(History::Counts);
    // A window of one byte: every reply queues.
    let c = rig.accept(1, 1);
    // Nearly the longest line a request may be (1 MiB).
    let value = "v".repeat((1 << 20) - 100);
    rig.send(c, &format!("Put:big:{value}\n"));
    rig.send(c, &"Get:big\n".repeat(QUEUE_MAX_MESSAGES));
    assert_eq!(rig.take_written(c), "b");
    let stats = rig.server.stats();
    assert_eq!(
        (stats.queued_now, stats.messages_dropped),
        (QUEUE_MAX_MESSAGES as u64, 0),
        "all 500 replies wait, as the 500-message rule allows: {stats:?}"
    );
    let one_reply = "big:".len() + value.len() + 1;
    assert_eq!(
        stats.buffered_bytes as usize,
        QUEUE_MAX_MESSAGES * one_reply - 1,
        "what the client is owed",
    );
    let held = rig.server.queue_bytes_held() as usize;
    assert!(
        held <= value.len() + 4 * 1024,
        "{held} bytes held for 500 replies of one {} byte value",
        value.len()
    );
    // Deleting the value leaves the queue as the only holder: still charged once.
    let other = rig.accept(2, 1 << 20);
    rig.send(other, "Delete:big\n");
    assert_eq!(rig.server.queue_bytes_held() as usize, held);
    // The client reads at last: the rest of the first reply comes, from the shared bytes.
    rig.client_reads(c, one_reply - 1);
    let rest = rig.take_written(c);
    assert!(rest == format!("ig:{value}\n"), "{} bytes came", rest.len());
    assert_eq!(rig.server.queue_len(c), Some(QUEUE_MAX_MESSAGES - 1));
}

/// Different big values are not shared, so the byte bound (4 MiB) is what stops them.
#[test]
fn a_never_reading_client_asking_for_many_big_values_holds_a_bounded_number_of_bytes() {
    let mut rig = Rig::new();
    rig.server = Server::with_history(History::Counts);
    let c = rig.accept(1, 0);
    let values = 8;
    for i in 0..values {
        let value = format!("{i}").repeat((1 << 20) - 100);
        rig.send(c, &format!("Put:big:{value}\n"));
    }
    rig.send(c, &"Get:big\n".repeat(QUEUE_MAX_MESSAGES));
    let stats = rig.server.stats();
    let held = rig.server.queue_bytes_held() as usize;
    assert!(held <= QUEUE_MAX_BYTES, "{held} bytes held for one client");
    assert!(stats.queued_now >= 3, "{stats:?}");
    assert_eq!(
        stats.queued_now + stats.messages_dropped,
        (QUEUE_MAX_MESSAGES * values) as u64,
        "every reply is queued or counted as dropped: {stats:?}"
    );
}
