//! Client and server endpoints driven by hand, one protocol rule per test.

#[path = "common/mod.rs"]
mod harness;

use faultline::{Addr, Time};
use harness::{Pair, CLIENT, SERVER};
use lsp::{ClientEvent, LspError, Message, MsgType, Params, ServerEvent};

fn secs(s: u64) -> Time {
    Time::from_secs(s)
}

fn connected(params: Params, isn: i64) -> Pair {
    let mut p = Pair::new(params, isn);
    p.settle();
    assert_eq!(p.client_events, vec![ClientEvent::Connected { conn_id: 1 }]);
    assert_eq!(
        p.server_events,
        vec![ServerEvent::Accepted {
            conn: 1,
            from: CLIENT
        }]
    );
    p.client_events.clear();
    p.server_events.clear();
    p
}

#[test]
fn connect_then_echo_both_ways_numbered_from_isn_plus_one() {
    let mut p = connected(Params::default(), 41);
    p.with_client(|c, ctx| c.write(ctx, b"ping".to_vec()))
        .unwrap();
    p.settle();
    assert_eq!(
        p.server_events,
        vec![ServerEvent::Message {
            conn: 1,
            data: b"ping".to_vec()
        }]
    );
    p.with_server(|s, ctx| s.write(ctx, 1, b"pong".to_vec()))
        .unwrap();
    p.settle();
    assert_eq!(
        p.client_events,
        vec![ClientEvent::Message(b"pong".to_vec())]
    );
    let data: Vec<(Addr, i64)> = p
        .sent
        .iter()
        .filter(|(_, _, m)| m.ty == MsgType::Data)
        .map(|(_, from, m)| (*from, m.seq_num))
        .collect();
    assert_eq!(data, vec![(CLIENT, 42), (SERVER, 42)]);
}

#[test]
fn connect_is_resent_every_epoch_and_fails_after_epoch_limit() {
    let params = Params::new(3, 1000, 1, 0, 1);
    let mut p = Pair::new(params, 0);
    p.filter = Box::new(|_, to, _| to != SERVER);
    p.advance(secs(10));
    let connects: Vec<Time> = p
        .sent
        .iter()
        .filter(|(_, _, m)| m.ty == MsgType::Connect)
        .map(|(t, _, _)| *t)
        .collect();
    assert_eq!(connects, vec![secs(0), secs(1), secs(2)]);
    assert_eq!(p.client_events, vec![ClientEvent::ConnectFailed]);
    assert!(p.client.is_done());
    assert_eq!(
        p.with_client(|c, ctx| c.write(ctx, vec![1])),
        Err(LspError::Closed)
    );
}

#[test]
fn duplicate_connect_is_reacked_not_a_second_connection() {
    let mut p = connected(Params::default(), 7);
    let connect = Message::connect(7).encode();
    p.deliver(CLIENT, SERVER, &connect);
    let last = &p.sent.last().unwrap().2;
    assert_eq!((last.ty, last.conn_id, last.seq_num), (MsgType::Ack, 1, 7));
    assert!(p.server_events.is_empty());
    assert_eq!(p.server.conns().count(), 1);
}

#[test]
fn client_close_waits_for_every_ack() {
    let mut p = connected(Params::new(5, 1000, 1, 0, 1), 0);
    // The server's acks are lost for now.
    p.filter = Box::new(|from, _, bytes| {
        from != SERVER || Message::decode(bytes).unwrap().ty != MsgType::Ack
    });
    for i in 0..3u8 {
        p.with_client(|c, ctx| c.write(ctx, vec![i])).unwrap();
    }
    p.with_client(|c, ctx| c.close(ctx)).unwrap();
    p.advance(secs(3));
    assert!(
        p.client_events.is_empty(),
        "close must wait: {:?}",
        p.client_events
    );
    p.filter = Box::new(|_, _, _| true);
    p.advance(secs(7));
    assert_eq!(p.client_events, vec![ClientEvent::Closed { lost: false }]);
    let got: Vec<_> = p
        .server_events
        .iter()
        .filter(|e| matches!(e, ServerEvent::Message { .. }))
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!(
        p.with_client(|c, ctx| c.write(ctx, vec![9])),
        Err(LspError::Closed)
    );
}

#[test]
fn loss_after_epoch_limit_reads_remaining_data_first() {
    let mut p = connected(Params::new(4, 1000, 1, 0, 1), 0);
    p.with_server(|s, ctx| s.write(ctx, 1, b"last words".to_vec()))
        .unwrap();
    p.settle();
    // The server goes silent.
    p.filter = Box::new(|from, _, _| from != SERVER);
    p.advance(secs(2));
    assert_eq!(
        p.client_events,
        vec![ClientEvent::Message(b"last words".to_vec())]
    );
    p.advance(secs(10));
    assert_eq!(p.client_events[1], ClientEvent::Lost);
    // Silence began at 0 s; the client's epochs tick at 1, 2, 3, 4 s: lost at the 4th.
    assert!(p.client.is_done());
    assert_eq!(
        p.with_client(|c, ctx| c.write(ctx, vec![1])),
        Err(LspError::Lost)
    );
    // The server, hearing heartbeats until the client stopped, then loses it too.
    assert!(p.server_events.contains(&ServerEvent::Lost { conn: 1 }));
}

#[test]
fn close_conn_flushes_then_goes_silent() {
    let mut p = connected(Params::new(3, 1000, 1, 0, 1), 0);
    p.with_server(|s, ctx| s.write(ctx, 1, b"bye".to_vec()))
        .unwrap();
    p.with_server(|s, ctx| s.close_conn(ctx, 1)).unwrap();
    assert_eq!(
        p.with_server(|s, ctx| s.close_conn(ctx, 1)),
        Err(LspError::UnknownConn(1))
    );
    p.settle();
    assert_eq!(p.server_events, vec![ServerEvent::ConnClosed { conn: 1 }]);
    p.advance(secs(10));
    assert_eq!(
        p.client_events,
        vec![ClientEvent::Message(b"bye".to_vec()), ClientEvent::Lost]
    );
    assert_eq!(
        p.with_server(|s, ctx| s.write(ctx, 1, vec![1])),
        Err(LspError::UnknownConn(1))
    );
}

#[test]
fn server_close_reports_a_client_lost_while_flushing() {
    let mut p = connected(Params::new(3, 1000, 1, 0, 1), 0);
    p.filter = Box::new(|_, _, _| false);
    p.with_server(|s, ctx| s.write(ctx, 1, b"never acked".to_vec()))
        .unwrap();
    p.with_server(|s, ctx| s.close(ctx)).unwrap();
    assert_eq!(
        p.with_server(|s, ctx| s.write(ctx, 1, vec![1])),
        Err(LspError::Closed)
    );
    p.advance(secs(10));
    assert_eq!(
        p.server_events,
        vec![
            ServerEvent::Lost { conn: 1 },
            ServerEvent::Closed { lost_any: true }
        ]
    );
    assert!(p.server.is_closed());
}

#[test]
fn cack_stops_retransmission() {
    let mut p = connected(Params::new(5, 1000, 5, 0, 5), 0);
    p.filter = Box::new(|from, _, _| from != SERVER);
    for i in 0..4u8 {
        p.with_client(|c, ctx| c.write(ctx, vec![i])).unwrap();
    }
    p.settle();
    assert_eq!(p.client.unacked_len(), 4);
    p.deliver(SERVER, CLIENT, &Message::cack(1, 4).encode());
    assert_eq!(p.client.unacked_len(), 0);
    let before = p
        .sent
        .iter()
        .filter(|(_, _, m)| m.ty == MsgType::Data)
        .count();
    p.advance(secs(3));
    let after = p
        .sent
        .iter()
        .filter(|(_, _, m)| m.ty == MsgType::Data)
        .count();
    assert_eq!(before, after);
}

#[test]
fn messages_from_strangers_and_wrong_conns_are_counted_not_used() {
    let mut p = connected(Params::default(), 0);
    let data = Message::data(1, 1, b"spoof".to_vec()).encode();
    p.deliver(Addr(9), SERVER, &data);
    p.deliver(Addr(9), CLIENT, &data);
    p.deliver(CLIENT, SERVER, &Message::data(2, 1, b"x".to_vec()).encode());
    p.deliver(SERVER, CLIENT, &Message::data(5, 1, b"x".to_vec()).encode());
    p.deliver(CLIENT, SERVER, b"{not json");
    assert!(p.server_events.is_empty() && p.client_events.is_empty());
    assert_eq!(p.server.stats().unknown_conn, 2);
    assert_eq!(p.server.stats().malformed, 1);
    assert_eq!(p.client.stats().unknown_conn, 2);
}

#[test]
fn close_while_connecting_flushes_after_connecting() {
    let mut p = Pair::new(Params::new(5, 1000, 1, 0, 1), 0);
    p.filter = Box::new(|_, to, _| to != SERVER);
    p.with_client(|c, ctx| c.write(ctx, b"early".to_vec()))
        .unwrap();
    p.with_client(|c, ctx| c.close(ctx)).unwrap();
    assert_eq!(
        p.with_client(|c, ctx| c.write(ctx, vec![1])),
        Err(LspError::Closed)
    );
    p.advance(secs(2));
    assert!(p.client_events.is_empty());
    p.filter = Box::new(|_, _, _| true);
    p.advance(secs(4));
    assert_eq!(
        p.client_events,
        vec![
            ClientEvent::Connected { conn_id: 1 },
            ClientEvent::Closed { lost: false }
        ]
    );
    assert!(p.server_events.contains(&ServerEvent::Message {
        conn: 1,
        data: b"early".to_vec()
    }));
}

#[test]
fn close_while_connecting_to_nobody_reports_loss() {
    let mut p = Pair::new(Params::new(3, 1000, 1, 0, 1), 0);
    p.filter = Box::new(|_, _, _| false);
    p.with_client(|c, ctx| c.write(ctx, b"never".to_vec()))
        .unwrap();
    p.with_client(|c, ctx| c.close(ctx)).unwrap();
    p.advance(secs(5));
    assert_eq!(
        p.client_events,
        vec![
            ClientEvent::ConnectFailed,
            ClientEvent::Closed { lost: true }
        ]
    );
}
