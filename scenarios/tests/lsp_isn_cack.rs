//! The official ISN and CAck intents (lsp5_test.go), in the simulator.

mod lsp_common;

use faultline::Addr;
use lsp::{Message, MsgType, Params};
use scenarios::lsp::lab::{payloads, Lab, LabSpec};
use scenarios::lsp::node::ClientPlan;
use std::collections::{BTreeMap, BTreeSet};

/// 100 clients with random ISNs in 1..=256 write one message each. Per connection the
/// non-heartbeat sequence numbers on the wire are: the server's connect Ack `isn`, the
/// client's Data `isn+1`, the server's Ack `isn+1`.
#[test]
fn basic_isn() {
    let params = Params::default();
    let mut spec = LabSpec::new(150, params);
    spec.echo = false;
    spec.clients = (0..100)
        .map(|i| {
            (
                None,
                ClientPlan {
                    messages: payloads(i, 1),
                    ..ClientPlan::default()
                },
            )
        })
        .collect();
    let mut lab = Lab::new(spec);
    lab.net.borrow_mut().sniff = true;
    let done = lab.run_until(lab.epochs(0.9), |l| {
        (0..100).all(|i| {
            l.client(i)
                .endpoint
                .as_ref()
                .is_some_and(|e| e.unacked_len() == 0 && e.is_connected())
        })
    });
    assert!(done);
    let mut per_conn: BTreeMap<i64, Vec<(Addr, MsgType, i64)>> = BTreeMap::new();
    for s in &lab.net.borrow().sniffed {
        let m = &s.msg;
        if m.ty == MsgType::Connect || (m.ty == MsgType::Ack && m.seq_num == 0) {
            continue;
        }
        per_conn
            .entry(m.conn_id)
            .or_default()
            .push((s.from, m.ty, m.seq_num));
    }
    let mut isns = BTreeSet::new();
    for i in 0..100 {
        let ep = lab.client(i).endpoint.as_ref().unwrap();
        let isn = ep.isn();
        assert!((1..=256).contains(&isn));
        isns.insert(isn);
        let seen = &per_conn[&ep.conn_id()];
        assert_eq!(
            seen,
            &vec![
                (lab.server, MsgType::Ack, isn),
                (lab.clients[i], MsgType::Data, isn + 1),
                (lab.server, MsgType::Ack, isn + 1)
            ]
        );
    }
    assert!(
        isns.len() > 50,
        "ISNs should be random: {} distinct",
        isns.len()
    );
}

/// The middlebox drops the server's Acks and turns the last one of each client into a
/// CAck; after 2 epochs the sniffer watches 12 epochs: no Data may be retransmitted.
/// `writes(i)` is how many messages client `i` writes; `pass(i, k)` lets the k-th Ack
/// through before the final CAck (TestCAckServer4 drops them at random).
fn cack_server(
    seed: u64,
    params: Params,
    writes: impl Fn(usize) -> usize,
    pass: impl Fn(usize, usize) -> bool + 'static,
) {
    let clients = 5;
    let mut spec = LabSpec::new(seed, params).clients(clients, |_| ClientPlan::default());
    spec.echo = false;
    // Fixed latency: Data and Acks keep their order, so the last Ack is the highest.
    spec.latency_ns = (1_000_000, 1_000_000);
    let mut lab = Lab::new(spec);
    assert!(lab.run_until(lab.epochs(0.5), |l| {
        (0..clients).all(|i| {
            l.client(i)
                .endpoint
                .as_ref()
                .is_some_and(|e| e.is_connected())
        })
    }));
    lab.net.borrow_mut().sniff = true;
    let counts: BTreeMap<i64, (usize, usize)> = (0..clients)
        .map(|i| {
            (
                lab.client(i).endpoint.as_ref().unwrap().conn_id(),
                (i, writes(i)),
            )
        })
        .collect();
    let server = lab.server;
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    lab.set_rule(Some(Box::new(move |_, from, _, bytes| {
        let Ok(m) = Message::decode(bytes) else {
            return true;
        };
        if from != server || m.ty != MsgType::Ack || m.seq_num == 0 {
            return true;
        }
        let (i, total) = counts[&m.conn_id];
        let k = seen.entry(m.conn_id).or_default();
        *k += 1;
        if *k == total {
            *bytes = Message::cack(m.conn_id, m.seq_num).encode();
            return true;
        }
        pass(i, *k)
    })));
    for i in 0..clients {
        for m in payloads(i, writes(i)) {
            lab.with_client(i, |c, ctx| c.write(ctx, m)).unwrap();
        }
    }
    let t0 = lab.world.now();
    let from = t0 + params.epoch() * 2;
    lab.run_to(from + params.epoch() * 12);
    let net = lab.net.borrow();
    let resent = net.data_between(from, lab.world.now(), None);
    assert!(
        resent.is_empty(),
        "retransmitted after the CAck: {:?}",
        resent.iter().map(|s| &s.msg).collect::<Vec<_>>()
    );
    for i in 0..clients {
        let sent = net.data_between(t0, from, Some(lab.clients[i])).len();
        assert_eq!(sent, writes(i), "client {i} sent each message once");
        assert_eq!(lab.client(i).endpoint.as_ref().unwrap().unacked_len(), 0);
    }
    let cacks = net
        .sniffed
        .iter()
        .filter(|s| s.msg.ty == MsgType::CAck)
        .count();
    assert_eq!(cacks, clients);
}

#[test]
fn cack_server1() {
    cack_server(161, Params::new(5, 1000, 1, 0, 1), |_| 1, |_, _| false);
}

#[test]
fn cack_server2() {
    cack_server(162, Params::new(5, 1000, 100, 0, 50), |_| 50, |_, _| false);
}

/// A "random" number of writes per client, fixed by the seed.
fn random_writes(i: usize) -> usize {
    1 + (i * 37 + 11) % 100
}

#[test]
fn cack_server3() {
    cack_server(
        163,
        Params::new(5, 1000, 100, 0, 100),
        random_writes,
        |_, _| false,
    );
}

#[test]
fn cack_server4() {
    // Acks dropped at random (a fixed pseudo-random pattern) before the final CAck.
    cack_server(
        164,
        Params::new(5, 1000, 100, 0, 100),
        random_writes,
        |i, k| (i * 7 + k * 13) % 3 == 0,
    );
}
