//! Each invariant of the checker and of the end checks fails when it should.

use super::end::held_up;
use super::KvChecker;
use crate::kv::nodes::{ClientEvent, KvWorldEvent};
use faultline::{Addr, Checker, CloseReason, Failure, StreamId, Time};
use kv::protocol::Request;
use kv::{KvEvent, QueueOutcome};

const SERVER: Addr = Addr(0);
const CLIENT: Addr = Addr(1);
const S: StreamId = StreamId(1 << 32);

fn server(c: &mut KvChecker, e: KvEvent) -> Result<(), Failure> {
    c.on_event(Time::ZERO, SERVER, &KvWorldEvent::Server(e))
}

fn joined(c: &mut KvChecker) {
    server(
        c,
        KvEvent::Joined {
            stream: S,
            active: 1,
            dropped: 0,
        },
    )
    .unwrap();
}

fn put(c: &mut KvChecker, k: &str, v: &str) {
    let req = Request::Put {
        key: k.into(),
        value: v.into(),
    };
    server(c, KvEvent::Applied { stream: S, req }).unwrap();
}

fn get(c: &mut KvChecker, k: &str) {
    server(
        c,
        KvEvent::Applied {
            stream: S,
            req: Request::Get { key: k.into() },
        },
    )
    .unwrap();
}

fn reply(line: &str, outcome: QueueOutcome) -> KvEvent {
    KvEvent::Reply {
        stream: S,
        line: line.into(),
        outcome,
    }
}

#[test]
fn wrong_or_missing_get_replies_fail() {
    let mut c = KvChecker::new(SERVER);
    joined(&mut c);
    put(&mut c, "k", "a");
    put(&mut c, "k", "b");
    get(&mut c, "k");
    server(&mut c, reply("k:a\n", QueueOutcome::Sent)).unwrap();
    let err = server(&mut c, reply("k:c\n", QueueOutcome::Sent)).unwrap_err();
    assert_eq!(err.invariant, "get-matches-model");

    let mut c = KvChecker::new(SERVER);
    joined(&mut c);
    put(&mut c, "k", "a");
    get(&mut c, "k");
    let req = Request::Delete { key: b"k".to_vec() };
    let err = server(&mut c, KvEvent::Applied { stream: S, req }).unwrap_err();
    assert_eq!(
        err.invariant, "get-matches-model",
        "a Get that answers too few lines"
    );
}

#[test]
fn queue_claims_are_checked_against_the_checkers_count() {
    let mut c = KvChecker::new(SERVER);
    joined(&mut c);
    put(&mut c, "k", "a");
    get(&mut c, "k");
    let err = server(&mut c, reply("k:a\n", QueueOutcome::Dropped)).unwrap_err();
    assert_eq!(err.invariant, "queue-bound", "a drop with an empty queue");

    let mut c = KvChecker::new(SERVER);
    joined(&mut c);
    put(&mut c, "k", "a");
    get(&mut c, "k");
    server(&mut c, reply("k:a\n", QueueOutcome::Queued { len: 1 })).unwrap();
    get(&mut c, "k");
    let err = server(&mut c, reply("k:a\n", QueueOutcome::Sent)).unwrap_err();
    assert_eq!(err.invariant, "queue-bound", "a reply overtaking the queue");
}

#[test]
fn client_lines_must_follow_what_the_server_sent() {
    let mut c = KvChecker::new(SERVER);
    joined(&mut c);
    put(&mut c, "k", "a");
    get(&mut c, "k");
    server(&mut c, reply("k:a\n", QueueOutcome::Sent)).unwrap();
    let got = |line: &str| {
        KvWorldEvent::Client(ClientEvent::Got {
            stream: S,
            line: line.into(),
        })
    };
    c.on_event(Time::ZERO, CLIENT, &got("k:a")).unwrap();
    let err = c.on_event(Time::ZERO, CLIENT, &got("k:a")).unwrap_err();
    assert_eq!(err.invariant, "delivery-in-order", "a duplicate delivery");
}

#[test]
fn counts_must_match_connections() {
    let mut c = KvChecker::new(SERVER);
    joined(&mut c);
    let left = KvEvent::Left {
        stream: S,
        reason: CloseReason::Reset,
        active: 0,
        dropped: 0,
    };
    assert_eq!(server(&mut c, left).unwrap_err().invariant, "counts-exact");
    let mut c = KvChecker::new(SERVER);
    joined(&mut c);
    let left = KvEvent::Left {
        stream: S,
        reason: CloseReason::Reset,
        active: 0,
        dropped: 1,
    };
    server(&mut c, left.clone()).unwrap();
    assert_eq!(server(&mut c, left).unwrap_err().invariant, "counts-exact");
}

#[test]
fn probes_must_see_the_expected_counts_and_be_answered() {
    let stats = |active, dropped| {
        KvEvent::Stats(kv::ServerStats {
            active,
            dropped,
            ..Default::default()
        })
    };
    let mut c = KvChecker::new(SERVER);
    c.expect_counts("round 1".into(), (1, 0));
    c.expect_counts("round 2".into(), (0, 0));
    joined(&mut c);
    server(&mut c, stats(1, 0)).unwrap();
    let err = server(&mut c, stats(1, 0)).unwrap_err();
    assert_eq!(err.invariant, "counts-true-after-wait", "{err}");

    let mut c = KvChecker::new(SERVER);
    c.expect_counts("round 1".into(), (0, 0));
    let err = c.finish().unwrap_err();
    assert_eq!(
        err.invariant, "counts-true-after-wait",
        "a probe never answered"
    );
}

#[test]
fn events_must_come_from_their_kind_of_node() {
    let mut c = KvChecker::new(SERVER);
    let connected = KvWorldEvent::Client(ClientEvent::Connected { stream: S });
    let err = c.on_event(Time::ZERO, SERVER, &connected).unwrap_err();
    assert_eq!(err.invariant, "event-source");
}

#[test]
fn held_up_allows_draw_noise_and_flags_waiting() {
    let ms = |v: &[u64]| v.iter().map(|x| x * 1_000_000).collect::<Vec<_>>();
    let alone = ms(&[3, 4, 5, 6, 20]);
    assert_eq!(held_up(&alone, &ms(&[3, 4, 6, 7, 24])), None);
    // One Get waited a second behind a stalled reader.
    assert!(held_up(&alone, &ms(&[3, 4, 5, 6, 1020]))
        .unwrap()
        .starts_with("p99"));
    assert!(
        held_up(&alone, &ms(&[3, 4, 5, 6])).is_some(),
        "a Get never answered"
    );
}

#[test]
fn invariant_names_are_unique() {
    let names: std::collections::BTreeSet<_> = super::ALL.iter().map(|i| i.name).collect();
    assert_eq!(names.len(), super::ALL.len(), "a name declared twice");
}
