//! Property: whatever garbage or well-formed-but-wrong messages reach the endpoints, they
//! never panic, deliver exactly what the real peer wrote (once, in order), and count the
//! rejects.

#[path = "common/mod.rs"]
mod harness;

use faultline::Addr;
use harness::{Pair, CLIENT, SERVER};
use lsp::{ClientEvent, Message, Params, ServerEvent};
use proptest::prelude::*;

const ISN: i64 = 100;

#[derive(Clone, Debug)]
enum Op {
    ClientWrite(Vec<u8>),
    ServerWrite(Vec<u8>),
    /// Random bytes that are not a JSON object.
    Garbage {
        to_server: bool,
        bytes: Vec<u8>,
    },
    /// A valid Data from an address that is not the peer.
    Stranger {
        to_server: bool,
        seq: i64,
        payload: Vec<u8>,
    },
    /// A valid Data for a connection id that is not this one.
    WrongConn {
        to_server: bool,
        conn: i64,
        payload: Vec<u8>,
    },
    /// Right connection, checksum off by `delta`.
    BadChecksum {
        to_server: bool,
        delta: u16,
        payload: Vec<u8>,
    },
    /// Right connection, `Size` larger than the payload.
    Short {
        to_server: bool,
        extra: i64,
        payload: Vec<u8>,
    },
    /// Right connection, a sequence number at or before the ISN: already "delivered".
    Replay {
        to_server: bool,
        back: i64,
        payload: Vec<u8>,
    },
    /// Right connection, far past any window.
    FarAhead {
        to_server: bool,
        ahead: i64,
    },
    /// An Ack / CAck of a sequence number never sent.
    AckUnsent {
        to_server: bool,
        ahead: i64,
        cumulative: bool,
    },
    /// Let some time pass.
    Tick(u64),
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..40)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => payload().prop_map(Op::ClientWrite),
        3 => payload().prop_map(Op::ServerWrite),
        2 => (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..80))
            .prop_filter("not an object", |(_, b)| b.iter().find(|c| !c.is_ascii_whitespace()) != Some(&b'{'))
            .prop_map(|(to_server, bytes)| Op::Garbage { to_server, bytes }),
        1 => (any::<bool>(), 101i64..200, payload()).prop_map(|(to_server, seq, payload)| Op::Stranger { to_server, seq, payload }),
        1 => (any::<bool>(), prop_oneof![Just(0i64), 2i64..1000, Just(-1i64), Just(i64::MAX)], payload())
            .prop_map(|(to_server, conn, payload)| Op::WrongConn { to_server, conn, payload }),
        1 => (any::<bool>(), 1u16..=u16::MAX, payload()).prop_map(|(to_server, delta, payload)| Op::BadChecksum { to_server, delta, payload }),
        1 => (any::<bool>(), 1i64..10, payload()).prop_map(|(to_server, extra, payload)| Op::Short { to_server, extra, payload }),
        1 => (any::<bool>(), 0i64..100, payload()).prop_map(|(to_server, back, payload)| Op::Replay { to_server, back, payload }),
        1 => (any::<bool>(), 2000i64..1_000_000).prop_map(|(to_server, ahead)| Op::FarAhead { to_server, ahead }),
        1 => (any::<bool>(), 10_000i64..1_000_000, any::<bool>()).prop_map(|(to_server, ahead, cumulative)| Op::AckUnsent { to_server, ahead, cumulative }),
        1 => (0u64..3000).prop_map(Op::Tick),
    ]
}

fn ends(to_server: bool) -> (Addr, Addr) {
    if to_server {
        (CLIENT, SERVER)
    } else {
        (SERVER, CLIENT)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn hostile_datagrams_never_break_delivery(ops in proptest::collection::vec(op(), 1..80)) {
        let params = Params::new(5, 1000, 4, 2, 3);
        let mut p = Pair::new(params, ISN);
        p.settle();
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        let mut must_reject = [0u64; 2]; // [client, server]
        for op in ops {
            match op {
                Op::ClientWrite(b) => {
                    p.with_client(|c, ctx| c.write(ctx, b.clone())).unwrap();
                    to_server.push(b);
                }
                Op::ServerWrite(b) => {
                    p.with_server(|s, ctx| s.write(ctx, 1, b.clone())).unwrap();
                    to_client.push(b);
                }
                Op::Garbage { to_server, bytes } => {
                    let (from, to) = ends(to_server);
                    p.deliver(from, to, &bytes);
                    must_reject[to_server as usize] += 1;
                }
                Op::Stranger { to_server, seq, payload } => {
                    let (_, to) = ends(to_server);
                    p.deliver(Addr(7), to, &Message::data(1, seq, payload).encode());
                    must_reject[to_server as usize] += 1;
                }
                Op::WrongConn { to_server, conn, payload } => {
                    let (from, to) = ends(to_server);
                    p.deliver(from, to, &Message::data(conn, ISN + 1, payload).encode());
                    must_reject[to_server as usize] += 1;
                }
                Op::BadChecksum { to_server, delta, payload } => {
                    let (from, to) = ends(to_server);
                    let mut m = Message::data(1, ISN + 1, payload);
                    m.checksum = m.checksum.wrapping_add(delta);
                    p.deliver(from, to, &m.encode());
                    must_reject[to_server as usize] += 1;
                }
                Op::Short { to_server, extra, payload } => {
                    let (from, to) = ends(to_server);
                    let mut m = Message::data(1, ISN + 1, payload);
                    m.size += extra;
                    m.checksum = lsp::checksum(1, ISN + 1, m.size, m.payload.as_deref().unwrap());
                    p.deliver(from, to, &m.encode());
                    must_reject[to_server as usize] += 1;
                }
                Op::Replay { to_server, back, payload } => {
                    let (from, to) = ends(to_server);
                    p.deliver(from, to, &Message::data(1, ISN - back, payload).encode());
                }
                Op::FarAhead { to_server, ahead } => {
                    let (from, to) = ends(to_server);
                    p.deliver(from, to, &Message::data(1, ISN + ahead, b"?".to_vec()).encode());
                    must_reject[to_server as usize] += 1;
                }
                Op::AckUnsent { to_server, ahead, cumulative } => {
                    let (from, to) = ends(to_server);
                    let m = if cumulative { Message::cack(1, ISN + ahead) } else { Message::ack(1, ISN + ahead) };
                    p.deliver(from, to, &m.encode());
                    must_reject[to_server as usize] += 1;
                }
                Op::Tick(ms) => {
                    let until = p.now + std::time::Duration::from_millis(ms);
                    p.advance(until);
                }
            }
            p.settle();
        }
        p.advance(p.now + std::time::Duration::from_secs(2));
        let got_server: Vec<Vec<u8>> = p.server_events.iter().filter_map(|e| match e {
            ServerEvent::Message { conn: 1, data } => Some(data.clone()),
            ServerEvent::Accepted { conn: 1, .. } => None,
            other => panic!("unexpected server event {other:?}"),
        }).collect();
        let got_client: Vec<Vec<u8>> = p.client_events.iter().filter_map(|e| match e {
            ClientEvent::Message(d) => Some(d.clone()),
            ClientEvent::Connected { conn_id: 1 } => None,
            other => panic!("unexpected client event {other:?}"),
        }).collect();
        prop_assert_eq!(got_server, to_server);
        prop_assert_eq!(got_client, to_client);
        prop_assert_eq!(p.client.stats().rejects(), must_reject[0]);
        prop_assert_eq!(p.server.stats().rejects(), must_reject[1]);
    }
}
