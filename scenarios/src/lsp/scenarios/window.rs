//! The window, back-off, unacked-limit and ordering intents (lsp2_test.go;
//! systems/lsp/SPEC.md §12), with the spec's parameters `{K, δ, ω, MaxBackOff, M}`. The
//! original fixes every ISN at 0, so only the latency jitter varies with the seed.

use super::{client_writes, connect_all, echoes_within, server_writes, wait_for, Intent};
use crate::lsp::invariants::end::{expect, expect_eq};
use crate::lsp::invariants::{
    BACKOFF_SCHEDULE, DELIVERED_BY_DEADLINE, FAULT_EXERCISED, HELD_BY_WINDOW, NO_READ_PAST_GAP,
    READS_EXACT,
};
use crate::lsp::nodes::ClientPlan;
use crate::lsp::world::{echo_plan, payloads, Lab, LabSpec, Step};
use faultline::{Addr, Fault, LinkFaults, Time};
use lsp::{Message, MsgType, Params};
use std::collections::BTreeSet;
use std::time::Duration;

/// `clients` idle clients with ISN 0 and a sink server.
fn idle_world(clients: usize, params: Params) -> impl Fn(u64) -> LabSpec {
    move |seed| {
        LabSpec::new(seed, params)
            .clients(clients, Some(0), |_| ClientPlan::default())
            .sink()
    }
}

fn is_ack(bytes: &[u8]) -> bool {
    Message::decode(bytes).is_ok_and(|m| m.ty == MsgType::Ack && m.seq_num != 0)
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

/// What client `i` has read.
fn client_reads(lab: &Lab, i: usize) -> Vec<Vec<u8>> {
    lab.client(i).reads.clone()
}

/// What the receiving side of client `i`'s connection has read.
type Reads = fn(&Lab, usize) -> Vec<Vec<u8>>;
/// The `count` payloads written on client `i`'s connection.
type Payloads = fn(usize, usize) -> Vec<Vec<u8>>;

/// One direction of TestWindow / TestMaxUnackedMessages1-3: with the receiver's acks
/// blocked only `through` messages get through; once acks flow, the rest arrive in order.
fn window_direction(lab: &mut Lab, to_server: bool, msgs: usize, through: usize) -> Step<()> {
    let n = lab.clients.len();
    let (read, want): (Reads, Payloads) = if to_server {
        (Lab::server_reads, payloads)
    } else {
        (client_reads, |i, m| payloads(100 + i, m))
    };
    block_acks(lab, to_server);
    for i in 0..n {
        if to_server {
            client_writes(lab, i, &payloads(i, msgs))?;
        } else {
            server_writes(lab, i, payloads(100 + i, msgs))?;
        }
    }
    let t = lab.world.now();
    lab.run_to(t + lab.params.epoch() * 2)?;
    for i in 0..n {
        let what = format!(
            "reads from client {i}'s connection with acks blocked (to server: {to_server})"
        );
        expect_eq(
            lab,
            HELD_BY_WINDOW,
            what,
            read(lab, i),
            want(i, msgs)[..through].to_vec(),
        )?;
    }
    lab.set_rule(None);
    let limit = lab.world.now() + lab.params.epoch() * 4;
    let what = "not every message read after acks resumed";
    all_read_exact(lab, limit, what, read, |i| want(i, msgs))
}

/// Wait until the reader of every client's connection has read as many messages as
/// `want(i)` holds, then demand exactly those.
fn all_read_exact(
    lab: &mut Lab,
    limit: Time,
    what: &str,
    read: impl Fn(&Lab, usize) -> Vec<Vec<u8>>,
    want: impl Fn(usize) -> Vec<Vec<u8>>,
) -> Step<()> {
    let n = lab.clients.len();
    wait_for(lab, limit, DELIVERED_BY_DEADLINE, what, |l| {
        (0..n).all(|i| read(l, i).len() == want(i).len())
    })?;
    for i in 0..n {
        let what = format!("connection of client {i}");
        expect_eq(lab, READS_EXACT, what, read(lab, i), want(i))?;
    }
    Ok(())
}

/// TestWindow1-3 and TestMaxUnackedMessages1-3: client to server, then server to client.
fn window(
    name: &'static str,
    about: &'static str,
    clients: usize,
    msgs: usize,
    params: Params,
    through: usize,
) -> Intent {
    Intent::new(name, about, idle_world(clients, params), move |lab| {
        connect_all(lab)?;
        window_direction(lab, true, msgs, through)?;
        window_direction(lab, false, msgs, through)
    })
}

/// TestWindow4-6, "scattered": the first transmission of the first half of the data is
/// dropped, the second half arrives; nothing may be read until retransmission fills the
/// gap. Client to server, then server to client.
fn scattered(name: &'static str, about: &'static str, clients: usize) -> Intent {
    let msgs = 10;
    Intent::new(
        name,
        about,
        idle_world(clients, Params::new(3, 1000, 20, 0, 20)),
        move |lab| {
            connect_all(lab)?;
            let n = clients;
            for from_clients in [true, false] {
                let mut dropped = BTreeSet::new();
                let client_addrs = lab.clients.clone();
                lab.set_rule(Some(Box::new(move |_, from, to, b| {
                    let Ok(m) = Message::decode(b) else {
                        return true;
                    };
                    if m.ty != MsgType::Data || client_addrs.contains(&from) != from_clients {
                        return true;
                    }
                    // ISN 0: data is 1..=10; drop the first try of 1..=5.
                    !(m.seq_num <= 5 && dropped.insert((from, to, m.seq_num)))
                })));
                let read = |l: &Lab, i: usize| {
                    if from_clients {
                        l.server_reads(i)
                    } else {
                        client_reads(l, i)
                    }
                };
                let want = |i: usize| payloads(if from_clients { i } else { 100 + i }, msgs);
                for i in 0..n {
                    if from_clients {
                        client_writes(lab, i, &want(i))?;
                    } else {
                        server_writes(lab, i, want(i))?;
                    }
                }
                let t = lab.world.now();
                lab.run_to(t + lab.params.epoch() * 9 / 10)?;
                for i in 0..n {
                    let got = read(lab, i).len();
                    expect_eq(
                        lab,
                        NO_READ_PAST_GAP,
                        format!("reads past the gap (client {i})"),
                        got,
                        0,
                    )?;
                }
                let limit = lab.world.now() + lab.params.epoch() * 3;
                all_read_exact(lab, limit, "the gap was not filled", read, want)?;
            }
            Ok(())
        },
    )
}

/// With the server's acks blocked, every client `i` writes `all[i][range]`; two epochs pass.
fn write_with_acks_blocked(
    lab: &mut Lab,
    all: &[Vec<Vec<u8>>],
    range: std::ops::Range<usize>,
) -> Step<()> {
    block_acks(lab, true);
    for (i, msgs) in all.iter().enumerate() {
        client_writes(lab, i, &msgs[range.clone()])?;
    }
    let t = lab.world.now();
    lab.run_to(t + lab.params.epoch() * 2)
}

/// Acks flow again; `done` must hold within 15 epochs.
fn acks_resume_until(lab: &mut Lab, what: &str, done: impl Fn(&Lab) -> bool) -> Step<()> {
    lab.set_rule(None);
    let limit = lab.world.now() + lab.params.epoch() * 15;
    wait_for(lab, limit, DELIVERED_BY_DEADLINE, what, done)
}

/// TestMaxUnackedMessages4-6: quarters written while acks are blocked, unblocked, blocked
/// again: M = 10 caps what goes out under back-off, and the rest follows once acks flow.
fn quarters(name: &'static str, about: &'static str, clients: usize, window: u64) -> Intent {
    let params = Params::new(100, 1000, window, 10, 10);
    Intent::new(name, about, idle_world(clients, params), move |lab| {
        connect_all(lab)?;
        let n = clients;
        let unacked =
            |l: &Lab, i: usize| l.client(i).endpoint.as_ref().map_or(0, |e| e.unacked_len());
        let all: Vec<Vec<Vec<u8>>> = (0..n).map(|i| payloads(i, 20)).collect();
        write_with_acks_blocked(lab, &all, 0..15)?;
        for (i, msgs) in all.iter().enumerate() {
            let what = format!("M = 10 caps the first three quarters (client {i})");
            expect_eq(
                lab,
                HELD_BY_WINDOW,
                what,
                lab.server_reads(i),
                msgs[..10].to_vec(),
            )?;
            expect_eq(
                lab,
                HELD_BY_WINDOW,
                format!("client {i} unacked"),
                unacked(lab, i),
                10,
            )?;
        }
        acks_resume_until(lab, "three quarters not read and acked", |l| {
            (0..n).all(|i| l.server_read_count(i) == 15 && unacked(l, i) == 0)
        })?;
        write_with_acks_blocked(lab, &all, 15..20)?;
        for (i, msgs) in all.iter().enumerate() {
            expect_eq(
                lab,
                READS_EXACT,
                format!("client {i}"),
                lab.server_reads(i),
                msgs.clone(),
            )?;
            expect_eq(
                lab,
                HELD_BY_WINDOW,
                format!("client {i} unacked"),
                unacked(lab, i),
                5,
            )?;
        }
        acks_resume_until(lab, "the last quarter not acked", |l| {
            (0..n).all(|i| unacked(l, i) == 0)
        })?;
        let most = lab.net.borrow().monitor.max_outstanding_seen;
        expect_eq(
            lab,
            HELD_BY_WINDOW,
            "most unacked Data in flight on one connection",
            most,
            10,
        )
    })
}

/// TestExpBackOff: the server's writes are all dropped; over 14 epochs each client sends
/// each of its ω messages at epochs 0, 1, 3, 6 and 11: 5ω, inside the official [4ω, 6ω].
fn exp_back_off(name: &'static str, about: &'static str, clients: usize, msgs: usize) -> Intent {
    let params = Params::new(100, 2000, 5, 4, 5);
    Intent::new(name, about, idle_world(clients, params), move |lab| {
        connect_all(lab)?;
        lab.net.borrow_mut().sniff = true;
        lab.write_drop(lab.server, 1.0);
        let t0 = lab.world.now();
        for i in 0..clients {
            client_writes(lab, i, &payloads(i, msgs))?;
        }
        lab.run_to(Time((t0 + params.epoch() * 14).as_nanos() - 1))?;
        let end = lab.world.now() + Duration::from_nanos(1);
        let data = lab.net.borrow().data_between(t0, end, None).len();
        let w = 5 * clients;
        let within = (4 * w..=6 * w).contains(&data);
        expect(
            lab,
            BACKOFF_SCHEDULE,
            within,
            format!("{data} Data sent, want {}..={}", 4 * w, 6 * w),
        )?;
        expect_eq(lab, BACKOFF_SCHEDULE, "Data sent in 14 epochs", data, 5 * w)?;
        // Per message: resends on the 1st, 3rd, 6th and 11th epoch tick after the first
        // send, so the gaps between transmissions are 1, 2, 3 and 5 epochs after the first tick.
        for &client in &lab.clients {
            let times: Vec<u64> = lab
                .net
                .borrow()
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
            expect_eq(
                lab,
                BACKOFF_SCHEDULE,
                format!("{client}: sends of seq 1"),
                times.len(),
                5,
            )?;
            expect_eq(
                lab,
                BACKOFF_SCHEDULE,
                format!("{client}: epochs between resends"),
                gaps,
                vec![2, 3, 5],
            )?;
        }
        Ok(())
    })
}

/// TestOutOfOrderMsg: half of all datagrams are held back up to 500 ms; every echo is read in
/// exact order within 5 s.
fn out_of_order(name: &'static str, about: &'static str, clients: usize, msgs: usize) -> Intent {
    let params = Params::new(3, 5000, 30, 0, 30);
    let build = move |seed| {
        LabSpec::new(seed, params).clients(clients, Some(0), |i| echo_plan(i, msgs, false, false))
    };
    Intent::new(name, about, build, move |lab| {
        connect_all(lab)?;
        let mut link = LinkFaults::clean(1_000_000, 2_000_000);
        link.reorder = 0.5;
        link.reorder_delay_ns = 500_000_000;
        lab.world.apply(Fault::Link {
            from: None,
            to: None,
            faults: link,
        });
        echoes_within(lab, Time::from_secs(5), msgs)?;
        let reordered = lab.world.stats().datagrams_reordered;
        expect(
            lab,
            FAULT_EXERCISED,
            reordered > 0,
            "no datagram was delayed",
        )
    })
}

/// The intents of lsp2_test.go.
pub fn intents() -> Vec<Intent> {
    vec![
        exp_back_off("lsp-exp-backoff1", "TestExpBackOff1: 1 client, server writes all dropped: 5w Data in 14 epochs, in [4w, 6w], resends at epochs 1, 3, 6, 11 ({100, 2000, 5, 4, 5})", 1, 10),
        exp_back_off("lsp-exp-backoff2", "TestExpBackOff2: 10 clients, server writes all dropped: 5w Data each in 14 epochs, in [4w, 6w], resends at epochs 1, 3, 6, 11", 10, 15),
        window("lsp-window1", "TestWindow1: 1 client, 10 msgs each way with acks blocked: exactly w=5 get through, the rest once acks resume ({3, 500, 5, 0, 50})", 1, 10, Params::new(3, 500, 5, 0, 50), 5),
        window("lsp-window2", "TestWindow2: 5 clients, 25 msgs each way with acks blocked: exactly w=10 get through, the rest once acks resume ({3, 500, 10, 0, 50})", 5, 25, Params::new(3, 500, 10, 0, 50), 10),
        window("lsp-window3", "TestWindow3: 10 clients, 25 msgs each way with acks blocked: exactly w=10 get through, the rest once acks resume ({3, 500, 10, 0, 50})", 10, 25, Params::new(3, 500, 10, 0, 50), 10),
        scattered("lsp-window4", "TestWindow4: 1 client, first tries of msgs 1-5 of 10 dropped each way: nothing read before the gap fills, then exact order ({3, 1000, 20, 0, 20})", 1),
        scattered("lsp-window5", "TestWindow5: 5 clients, first tries of msgs 1-5 of 10 dropped each way: nothing read before the gap fills, then exact order", 5),
        scattered("lsp-window6", "TestWindow6: 10 clients, first tries of msgs 1-5 of 10 dropped each way: nothing read before the gap fills, then exact order", 10),
        window("lsp-max-unacked-messages1", "TestMaxUnackedMessages1: 1 client, 10 msgs each way with acks blocked: exactly M=5 get through with w=50 ({3, 500, 50, 0, 5})", 1, 10, Params::new(3, 500, 50, 0, 5), 5),
        window("lsp-max-unacked-messages2", "TestMaxUnackedMessages2: 5 clients, 25 msgs each way with acks blocked: exactly M=10 get through with w=50 ({3, 500, 50, 0, 10})", 5, 25, Params::new(3, 500, 50, 0, 10), 10),
        window("lsp-max-unacked-messages3", "TestMaxUnackedMessages3: 10 clients, 25 msgs each way with acks blocked: exactly M=10 get through with w=50 ({3, 500, 50, 0, 10})", 10, 25, Params::new(3, 500, 50, 0, 10), 10),
        quarters("lsp-max-unacked-messages4", "TestMaxUnackedMessages4: 1 client, 20 msgs in quarters with acks blocked, unblocked, blocked: M=10 caps, the rest follows ({100, 1000, 20, 10, 10})", 1, 20),
        quarters("lsp-max-unacked-messages5", "TestMaxUnackedMessages5: 5 clients, 20 msgs in quarters with acks blocked, unblocked, blocked: M=10 caps ({100, 1000, 15, 10, 10})", 5, 15),
        quarters("lsp-max-unacked-messages6", "TestMaxUnackedMessages6: 5 clients, 20 msgs in quarters with acks blocked, unblocked, blocked: M=10 caps ({100, 1000, 20, 10, 10})", 5, 20),
        out_of_order("lsp-out-of-order-msg1", "TestOutOfOrderMsg1: 1 client echoes 10 msgs at once with half of all datagrams held up to 500 ms: exact order within 5 s ({3, 5000, 30, 0, 30})", 1, 10),
        out_of_order("lsp-out-of-order-msg2", "TestOutOfOrderMsg2: 5 clients echo 25 msgs at once with half of all datagrams held up to 500 ms: exact order within 5 s", 5, 25),
        out_of_order("lsp-out-of-order-msg3", "TestOutOfOrderMsg3: 10 clients echo 25 msgs at once with half of all datagrams held up to 500 ms: exact order within 5 s", 10, 25),
    ]
}
