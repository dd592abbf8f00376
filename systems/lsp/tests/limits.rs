//! Limits a hostile peer cannot get past: an ISN that would overflow or collide with the
//! heartbeat's number, a payload over the maximum, and a send queue that the peer never
//! acknowledges (SPEC.md §4, §6, §7).

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod harness;

use faultline::{Addr, Time};
use harness::{Pair, CLIENT, SERVER};
use lsp::{LspError, Message, MsgType, Params, ServerEvent, MAX_PAYLOAD, MAX_QUEUED_BYTES};

const ISN: i64 = 100;
const STRANGER: Addr = Addr(7);

fn connected() -> Pair {
    let mut p = Pair::new(Params::default(), ISN);
    p.settle();
    assert!(p.client.is_connected());
    p
}

fn sent_to(p: &Pair, to_client: bool) -> usize {
    // Everything the server sent (the harness only logs senders).
    p.sent
        .iter()
        .filter(|(_, from, _)| (*from == SERVER) == to_client)
        .count()
}

#[test]
fn a_connect_whose_isn_would_overflow_or_number_data_0_is_refused() {
    for isn in [i64::MAX, lsp::MAX_ISN + 1, -1, i64::MIN] {
        let mut p = connected();
        let before = (sent_to(&p, true), p.server.stats().malformed);
        p.deliver(STRANGER, SERVER, &Message::connect(isn).encode());
        assert_eq!(sent_to(&p, true), before.0, "isn {isn} was acknowledged");
        assert_eq!(p.server.stats().malformed, before.1 + 1, "isn {isn}");
        assert!(
            !p.server_events
                .iter()
                .any(|e| matches!(e, ServerEvent::Accepted { from, .. } if *from == STRANGER)),
            "isn {isn} made a connection"
        );
    }
    // The edges of the range are fine.
    for isn in [0, lsp::MAX_ISN] {
        let mut p = connected();
        p.deliver(STRANGER, SERVER, &Message::connect(isn).encode());
        assert!(p
            .server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::Accepted { from, .. } if *from == STRANGER)));
    }
}

#[test]
fn a_data_over_the_maximum_payload_is_dropped_unacknowledged() {
    let mut p = connected();
    let conn = p.client.conn_id();
    let before = (sent_to(&p, true), p.server.stats().malformed);
    let big = Message::data(conn, ISN + 1, vec![b'x'; MAX_PAYLOAD + 1]);
    p.deliver(CLIENT, SERVER, &big.encode());
    assert_eq!(sent_to(&p, true), before.0, "the oversized Data was acked");
    assert_eq!(p.server.stats().malformed, before.1 + 1);
    assert!(!p
        .server_events
        .iter()
        .any(|e| matches!(e, ServerEvent::Message { .. })));
    // The largest allowed payload goes through, and its echo can be written.
    let max = Message::data(conn, ISN + 1, vec![b'y'; MAX_PAYLOAD]);
    p.deliver(CLIENT, SERVER, &max.encode());
    let acked = p
        .sent
        .iter()
        .any(|(_, from, m)| *from == SERVER && m.ty == MsgType::Ack && m.seq_num == ISN + 1);
    assert!(acked);
    let data = p
        .server_events
        .iter()
        .find_map(|e| match e {
            ServerEvent::Message { data, .. } => Some(data.clone()),
            _ => None,
        })
        .expect("delivered");
    p.with_server(|s, ctx| s.write(ctx, conn, data))
        .expect("the echo fits");
}

#[test]
fn a_peer_that_never_acknowledges_cannot_grow_the_send_queue() {
    let mut p = connected();
    let conn = p.client.conn_id();
    // From now on nothing the server sends arrives: no Acks come back.
    p.filter = Box::new(|from, _, _| from != SERVER);
    let mut accepted = 0usize;
    let refused = loop {
        match p.with_server(|s, ctx| s.write(ctx, conn, vec![0; MAX_PAYLOAD])) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted <= MAX_QUEUED_BYTES / MAX_PAYLOAD + 1, "no bound");
        if accepted.is_multiple_of(100) {
            p.advance(Time(p.now.0 + 1_000_000));
        }
    };
    assert!(matches!(refused, LspError::Full(n) if n >= MAX_QUEUED_BYTES));
    assert_eq!(accepted, MAX_QUEUED_BYTES.div_ceil(MAX_PAYLOAD));
}
