//! The ISN and CAck intents (lsp5_test.go; systems/lsp/SPEC.md §12). The ISNs are random
//! (drawn from each client's RNG, so they vary with the seed).

use super::{client_writes, connect_all, wait_for, Intent};
use crate::lsp::invariants::end::{expect, expect_eq};
use crate::lsp::invariants::{CACK_ACKS_ALL, DELIVERED_BY_DEADLINE, ISN_SEQUENCE, NO_RESEND};
use crate::lsp::nodes::ClientPlan;
use crate::lsp::world::{payloads, LabSpec};
use faultline::Addr;
use lsp::{Message, MsgType, Params};
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};

/// TestBasicISN: 100 clients with random ISNs in 1..=256 write one message each. Per
/// connection the non-heartbeat sequence numbers on the wire are: the server's connect
/// Ack `isn`, the client's Data `isn+1`, the server's Ack `isn+1`.
fn basic_isn() -> Intent {
    const CLIENTS: usize = 100;
    let build = |seed| {
        let mut spec = LabSpec::new(seed, Params::default()).sink();
        spec.clients = (0..CLIENTS)
            .map(|i| {
                let plan = ClientPlan {
                    messages: payloads(i, 1),
                    ..ClientPlan::default()
                };
                (None, plan)
            })
            .collect();
        spec
    };
    let about = "TestBasicISN: 100 clients with random ISNs in 1..=256 write once; the wire shows Ack isn, Data isn+1, Ack isn+1 per connection (default params)";
    Intent::new("lsp-basic-isn", about, build, |lab| {
        lab.net.borrow_mut().sniff = true;
        let limit = lab.epochs(0.9);
        wait_for(
            lab,
            limit,
            DELIVERED_BY_DEADLINE,
            "not every client connected and got its write acked",
            |l| {
                (0..CLIENTS).all(|i| {
                    l.client(i)
                        .endpoint
                        .as_ref()
                        .is_some_and(|e| e.unacked_len() == 0 && e.is_connected())
                })
            },
        )?;
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
        for i in 0..CLIENTS {
            let (isn, conn) = lab
                .client(i)
                .endpoint
                .as_ref()
                .map_or((0, 0), |e| (e.isn(), e.conn_id()));
            expect(
                lab,
                ISN_SEQUENCE,
                (1..=256).contains(&isn),
                format!("client {i} ISN {isn}"),
            )?;
            isns.insert(isn);
            let seen = per_conn.get(&conn).cloned().unwrap_or_default();
            let want = vec![
                (lab.server, MsgType::Ack, isn),
                (lab.clients[i], MsgType::Data, isn + 1),
                (lab.server, MsgType::Ack, isn + 1),
            ];
            expect_eq(
                lab,
                ISN_SEQUENCE,
                format!("conn {conn} on the wire"),
                seen,
                want,
            )?;
        }
        let distinct = isns.len();
        expect(
            lab,
            ISN_SEQUENCE,
            distinct > 50,
            format!("ISNs should be random: {distinct} distinct"),
        )
    })
}

/// TestCAckServer: the middlebox drops the server's Acks and turns the last one of each
/// client into a CAck; after 2 epochs the sniffer watches 12 epochs: no Data may be
/// retransmitted. `writes(seed, i)` is how many messages client `i` writes; `pass(i, k)` lets
/// the k-th Ack through before the final CAck.
fn cack_server(
    name: &'static str,
    about: &'static str,
    params: Params,
    writes: fn(u64, usize) -> usize,
    pass: fn(usize, usize) -> bool,
) -> Intent {
    const CLIENTS: usize = 5;
    let build = move |seed| {
        let mut spec = LabSpec::new(seed, params)
            .clients(CLIENTS, None, |_| ClientPlan::default())
            .sink();
        // Fixed latency: Data and Acks keep their order, so the last Ack is the highest.
        spec.latency_ns = (1_000_000, 1_000_000);
        spec
    };
    Intent::new(name, about, build, move |lab| {
        connect_all(lab)?;
        lab.net.borrow_mut().sniff = true;
        let seed = lab.world.seed();
        let writes = move |i| writes(seed, i);
        let counts: BTreeMap<i64, (usize, usize)> = (0..CLIENTS)
            .map(|i| (lab.conn_of(i), (i, writes(i))))
            .collect();
        let server = lab.server;
        let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
        lab.set_rule(Some(Box::new(move |_, from, _, bytes| {
            let Ok(m) = Message::decode(bytes) else {
                return true;
            };
            let Some(&(i, total)) = counts.get(&m.conn_id) else {
                return true;
            };
            if from != server || m.ty != MsgType::Ack || m.seq_num == 0 {
                return true;
            }
            let k = seen.entry(m.conn_id).or_default();
            *k += 1;
            if *k == total {
                *bytes = Message::cack(m.conn_id, m.seq_num).encode();
                return true;
            }
            pass(i, *k)
        })));
        for i in 0..CLIENTS {
            client_writes(lab, i, &payloads(i, writes(i)))?;
        }
        let t0 = lab.world.now();
        let from = t0 + params.epoch() * 2;
        lab.run_to(from + params.epoch() * 12)?;
        let net = lab.net.clone();
        let net = net.borrow();
        let resent: Vec<&Message> = net
            .data_between(from, lab.world.now(), None)
            .iter()
            .map(|s| &s.msg)
            .collect();
        expect(
            lab,
            NO_RESEND,
            resent.is_empty(),
            format!("retransmitted after the CAck: {resent:?}"),
        )?;
        for i in 0..CLIENTS {
            let sent = net.data_between(t0, from, Some(lab.clients[i])).len();
            expect_eq(
                lab,
                CACK_ACKS_ALL,
                format!("client {i} sent each message once"),
                sent,
                writes(i),
            )?;
            let unacked = lab
                .client(i)
                .endpoint
                .as_ref()
                .map_or(0, |e| e.unacked_len());
            expect_eq(
                lab,
                CACK_ACKS_ALL,
                format!("client {i} unacked"),
                unacked,
                0,
            )?;
        }
        let cacks = net
            .sniffed
            .iter()
            .filter(|s| s.msg.ty == MsgType::CAck)
            .count();
        expect_eq(lab, CACK_ACKS_ALL, "CAcks on the wire", cacks, CLIENTS)
    })
}

/// A random number of writes for client `i`, in 1..=100, drawn from the seed.
fn random_writes(seed: u64, i: usize) -> usize {
    faultline::derive_rng(seed, &format!("lsp/cack-writes/{i}")).gen_range(1..=100)
}

/// The intents of lsp5_test.go.
pub fn intents() -> Vec<Intent> {
    vec![
        basic_isn(),
        cack_server("lsp-cack-server1", "TestCAckServer1: 5 clients write once; the server's Ack becomes a CAck: nothing resent over 12 epochs ((5, 1000, 1, 1); fixed 1 ms latency, the seed varies the ISNs)", Params::new(5, 1000, 1, 0, 1), |_, _| 1, |_, _| false),
        cack_server("lsp-cack-server2", "TestCAckServer2: 5 clients write 50; 49 Acks dropped, the 50th becomes a CAck: nothing resent ((5, 1000, 100, 50); fixed 1 ms latency, the seed varies the ISNs)", Params::new(5, 1000, 100, 0, 50), |_, _| 50, |_, _| false),
        cack_server("lsp-cack-server3", "TestCAckServer3: 5 clients write 1..=100 times (drawn from the seed); all Acks but the last dropped, it becomes a CAck: nothing resent ((5, 1000, 100, 100); fixed 1 ms latency)", Params::new(5, 1000, 100, 0, 100), random_writes, |_, _| false),
        cack_server("lsp-cack-server4", "TestCAckServer4: as CAckServer3, with a fixed pseudo-random third of the Acks let through before the final CAck: nothing resent (fixed 1 ms latency)", Params::new(5, 1000, 100, 0, 100), random_writes, |i, k| (i * 7 + k * 13) % 3 == 0),
    ]
}
