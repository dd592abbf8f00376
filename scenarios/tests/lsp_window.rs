//! The official window, back-off, unacked-limit and ordering intents (lsp2_test.go), in
//! the simulator with the spec's parameters `{K, δ, ω, MaxBackOff, M}`, all ISNs 0.

mod lsp_common;

use faultline::{Addr, Fault, LinkFaults, Time};
use lsp::{Message, MsgType, Params, ServerEvent};
use lsp_common::echo;
use scenarios::lsp::lab::{payloads, Lab, LabSpec};
use scenarios::lsp::node::ClientPlan;
use std::collections::BTreeSet;

fn is_ack(bytes: &[u8]) -> bool {
    Message::decode(bytes).is_ok_and(|m| m.ty == MsgType::Ack && m.seq_num != 0)
}

/// A lab with `clients` idle clients and a non-echo server, all connected.
fn idle_lab(seed: u64, params: Params, clients: usize) -> Lab {
    let mut spec = LabSpec::new(seed, params).clients(clients, |_| ClientPlan::default());
    spec.echo = false;
    let mut lab = Lab::new(spec);
    assert!(lab.run_until(lab.epochs(0.5), |l| {
        (0..l.clients.len()).all(|i| {
            l.client(i)
                .endpoint
                .as_ref()
                .is_some_and(|e| e.is_connected())
        })
    }));
    lab
}

fn conn_of(lab: &Lab, i: usize) -> i64 {
    lab.client(i).endpoint.as_ref().unwrap().conn_id()
}

/// What the server has read from client `i`, in order.
fn server_reads(lab: &Lab, i: usize) -> Vec<Vec<u8>> {
    let conn = conn_of(lab, i);
    lab.server()
        .log
        .iter()
        .filter_map(|(_, e)| match e {
            ServerEvent::Message { conn: c, data } if *c == conn => Some(data.clone()),
            _ => None,
        })
        .collect()
}

/// Drop the Acks (not heartbeats) the server (`true`) or the clients send.
fn block_acks(lab: &mut Lab, server: bool) {
    let who: Vec<Addr> = if server {
        vec![lab.server]
    } else {
        lab.clients.clone()
    };
    lab.set_rule(Some(Box::new(move |_, from, _, b| {
        !(who.contains(&from) && is_ack(b))
    })));
}

fn client_writes(lab: &mut Lab, i: usize, msgs: &[Vec<u8>]) {
    for m in msgs {
        lab.with_client(i, |c, ctx| c.write(ctx, m.clone()))
            .unwrap();
    }
}

/// With acks blocked only `through` messages get through each way; once acks flow, the
/// rest arrive in order.
fn window(seed: u64, clients: usize, msgs: usize, params: Params, through: usize) {
    let mut lab = idle_lab(seed, params, clients);
    let n = clients;
    // Client -> server.
    block_acks(&mut lab, true);
    for i in 0..n {
        client_writes(&mut lab, i, &payloads(i, msgs));
    }
    let t = lab.world.now();
    lab.run_to(t + lab.params.epoch() * 2);
    for i in 0..n {
        assert_eq!(
            server_reads(&lab, i),
            payloads(i, msgs)[..through].to_vec(),
            "client {i}"
        );
    }
    lab.set_rule(None);
    let limit = lab.world.now() + lab.params.epoch() * 4;
    assert!(lab.run_until(limit, |l| (0..n).all(|i| server_reads(l, i).len() == msgs)));
    for i in 0..n {
        assert_eq!(server_reads(&lab, i), payloads(i, msgs));
    }
    // Server -> client.
    block_acks(&mut lab, false);
    for i in 0..n {
        let conn = conn_of(&lab, i);
        for m in payloads(100 + i, msgs) {
            lab.with_server(|s, ctx| s.write(ctx, conn, m)).unwrap();
        }
    }
    let t = lab.world.now();
    lab.run_to(t + lab.params.epoch() * 2);
    for i in 0..n {
        assert_eq!(
            lab.client(i).reads,
            payloads(100 + i, msgs)[..through].to_vec(),
            "client {i}"
        );
    }
    lab.set_rule(None);
    let limit = lab.world.now() + lab.params.epoch() * 4;
    assert!(lab.run_until(limit, |l| (0..n).all(|i| l.client(i).reads.len() == msgs)));
    for i in 0..n {
        assert_eq!(lab.client(i).reads, payloads(100 + i, msgs));
    }
    assert_eq!(lab.window_violations(), Vec::<String>::new());
}

#[test]
fn window1() {
    window(31, 1, 10, Params::new(3, 500, 5, 0, 50), 5);
}
#[test]
fn window2() {
    window(32, 5, 25, Params::new(3, 500, 10, 0, 50), 10);
}
#[test]
fn window3() {
    window(33, 10, 25, Params::new(3, 500, 10, 0, 50), 10);
}

#[test]
fn max_unacked_messages1() {
    window(41, 1, 10, Params::new(3, 500, 50, 0, 5), 5);
}
#[test]
fn max_unacked_messages2() {
    window(42, 5, 25, Params::new(3, 500, 50, 0, 10), 10);
}
#[test]
fn max_unacked_messages3() {
    window(43, 10, 25, Params::new(3, 500, 50, 0, 10), 10);
}

/// "Scattered": the first transmission of the first half of the data is dropped, the
/// second half arrives; nothing may be read until retransmission fills the gap.
fn scattered(seed: u64, clients: usize) {
    let params = Params::new(3, 1000, 20, 0, 20);
    let msgs = 10;
    let mut lab = idle_lab(seed, params, clients);
    let n = clients;
    // First client -> server, then server -> client.
    for from_clients in [true, false] {
        let mut dropped = BTreeSet::new();
        let clients_addrs = lab.clients.clone();
        lab.set_rule(Some(Box::new(move |_, from, to, b| {
            let Ok(m) = Message::decode(b) else {
                return true;
            };
            let sent_by_client = clients_addrs.contains(&from);
            if m.ty != MsgType::Data || sent_by_client != from_clients {
                return true;
            }
            // ISN 0: data is 1..=10; drop the first try of 1..=5.
            !(m.seq_num <= 5 && dropped.insert((from, to, m.seq_num)))
        })));
        for i in 0..n {
            if from_clients {
                client_writes(&mut lab, i, &payloads(i, msgs));
            } else {
                let conn = conn_of(&lab, i);
                for m in payloads(100 + i, msgs) {
                    lab.with_server(|s, ctx| s.write(ctx, conn, m)).unwrap();
                }
            }
        }
        let t = lab.world.now();
        lab.run_to(t + lab.params.epoch().mul_f64(0.9));
        for i in 0..n {
            let got = if from_clients {
                server_reads(&lab, i).len()
            } else {
                lab.client(i).reads.len()
            };
            assert_eq!(got, 0, "read past the gap (client {i})");
        }
        let limit = lab.world.now() + lab.params.epoch() * 3;
        assert!(lab.run_until(limit, |l| (0..n).all(|i| {
            if from_clients {
                server_reads(l, i).len() == msgs
            } else {
                l.client(i).reads.len() == msgs
            }
        })));
        for i in 0..n {
            if from_clients {
                assert_eq!(server_reads(&lab, i), payloads(i, msgs));
            } else {
                assert_eq!(lab.client(i).reads, payloads(100 + i, msgs));
            }
        }
    }
    assert_eq!(lab.window_violations(), Vec::<String>::new());
}

#[test]
fn window4() {
    scattered(34, 1);
}
#[test]
fn window5() {
    scattered(35, 5);
}
#[test]
fn window6() {
    scattered(36, 10);
}

/// Quarters written while acks are blocked, unblocked, blocked again: M caps what goes
/// out under back-off, and the rest follows once acks flow.
fn max_unacked_quarters(seed: u64, clients: usize, window: u64) {
    let params = Params::new(100, 1000, window, 10, 10);
    let mut lab = idle_lab(seed, params, clients);
    let n = clients;
    let all: Vec<Vec<Vec<u8>>> = (0..n).map(|i| payloads(i, 20)).collect();
    block_acks(&mut lab, true);
    for (i, msgs) in all.iter().enumerate() {
        client_writes(&mut lab, i, &msgs[..15]);
    }
    let t = lab.world.now();
    lab.run_to(t + lab.params.epoch() * 2);
    for (i, msgs) in all.iter().enumerate() {
        assert_eq!(
            server_reads(&lab, i),
            msgs[..10].to_vec(),
            "M = 10 caps the first three quarters"
        );
        assert_eq!(lab.client(i).endpoint.as_ref().unwrap().unacked_len(), 10);
    }
    lab.set_rule(None);
    let limit = lab.world.now() + lab.params.epoch() * 15;
    assert!(lab.run_until(limit, |l| (0..n).all(|i| {
        server_reads(l, i).len() == 15 && l.client(i).endpoint.as_ref().unwrap().unacked_len() == 0
    })));
    block_acks(&mut lab, true);
    for (i, msgs) in all.iter().enumerate() {
        client_writes(&mut lab, i, &msgs[15..]);
    }
    let t = lab.world.now();
    lab.run_to(t + lab.params.epoch() * 2);
    for (i, msgs) in all.iter().enumerate() {
        assert_eq!(server_reads(&lab, i), *msgs);
        assert_eq!(lab.client(i).endpoint.as_ref().unwrap().unacked_len(), 5);
    }
    lab.set_rule(None);
    let limit = lab.world.now() + lab.params.epoch() * 15;
    assert!(lab.run_until(limit, |l| (0..n).all(|i| l
        .client(i)
        .endpoint
        .as_ref()
        .unwrap()
        .unacked_len()
        == 0)));
    assert_eq!(lab.window_violations(), Vec::<String>::new());
    assert_eq!(lab.monitor.borrow().max_outstanding_seen, 10);
}

#[test]
fn max_unacked_messages4() {
    max_unacked_quarters(44, 1, 20);
}
#[test]
fn max_unacked_messages5() {
    max_unacked_quarters(45, 5, 15);
}
#[test]
fn max_unacked_messages6() {
    max_unacked_quarters(46, 5, 20);
}

/// The server's writes are all dropped; over 14 epochs each client sends each of its ω
/// messages at epochs 0, 1, 3, 6 and 11: 5ω, inside the official [4ω, 6ω] per client.
fn exp_back_off(seed: u64, clients: usize, msgs: usize) {
    let params = Params::new(100, 2000, 5, 4, 5);
    let mut lab = idle_lab(seed, params, clients);
    lab.net.borrow_mut().sniff = true;
    lab.write_drop(lab.server, 1.0);
    let t0 = lab.world.now();
    for i in 0..clients {
        client_writes(&mut lab, i, &payloads(i, msgs));
    }
    lab.run_to(Time((t0 + lab.params.epoch() * 14).as_nanos() - 1));
    let data = lab
        .net
        .borrow()
        .data_between(
            t0,
            lab.world.now() + std::time::Duration::from_nanos(1),
            None,
        )
        .len();
    let w = 5 * clients;
    assert!(
        (4 * w..=6 * w).contains(&data),
        "{data} Data sent, want {}..={}",
        4 * w,
        6 * w
    );
    assert_eq!(data, 5 * w);
    // Per message: resends on the 1st, 3rd, 6th and 11th epoch tick after the first send,
    // so the gaps between transmissions are 1, 2, 3 and 5 epochs after the first tick.
    let net = lab.net.borrow();
    for &client in &lab.clients {
        let times: Vec<u64> = net
            .data_between(t0, lab.world.now(), Some(client))
            .iter()
            .filter(|s| s.msg.seq_num == 1)
            .map(|s| s.at.as_nanos())
            .collect();
        let gaps: Vec<u64> = times
            .windows(2)
            .skip(1)
            .map(|w| (w[1] - w[0]) / 2_000_000_000)
            .collect();
        assert_eq!(times.len(), 5, "{client}");
        assert_eq!(gaps, vec![2, 3, 5], "{client}");
    }
}

#[test]
fn exp_back_off1() {
    exp_back_off(51, 1, 10);
}
#[test]
fn exp_back_off2() {
    exp_back_off(52, 10, 15);
}

/// Half of all writes are held back up to 500 ms; reads stay in exact order.
fn out_of_order(seed: u64, clients: usize, msgs: usize) {
    let params = Params::new(3, 5000, 30, 0, 30);
    let lab = echo(
        seed,
        params,
        clients,
        msgs,
        false,
        0,
        Time::from_secs(5),
        |lab| {
            let mut link = LinkFaults::clean(1_000_000, 2_000_000);
            link.reorder = 0.5;
            link.reorder_delay_ns = 500_000_000;
            lab.world.apply(Fault::Link {
                from: None,
                to: None,
                faults: link,
            });
        },
    );
    assert!(lab.world.stats().datagrams_reordered > 0);
}

#[test]
fn out_of_order_msg1() {
    out_of_order(61, 1, 10);
}
#[test]
fn out_of_order_msg2() {
    out_of_order(62, 5, 25);
}
#[test]
fn out_of_order_msg3() {
    out_of_order(63, 10, 25);
}
