//! The official integrity intents (lsp6_test.go): lengthened, shortened and corrupted
//! payloads (Size and Checksum left as sent), both directions, params (5, 2000, 1, 1).

mod lsp_common;

use faultline::Addr;
use lsp::{Message, MsgType, Params, ServerEvent};
use scenarios::lsp::lab::{Lab, LabSpec};
use scenarios::lsp::node::ClientPlan;

#[derive(Clone, Copy, Debug)]
enum Tamper {
    None,
    Lengthen,
    Shorten,
    Corrupt,
}

impl Tamper {
    /// What the original test network does to a Data payload.
    fn apply(self, p: &mut Vec<u8>) {
        match self {
            Tamper::None => {}
            Tamper::Lengthen => p.extend_from_slice(b"123"),
            Tamper::Shorten => p.truncate(p.len() / 2),
            Tamper::Corrupt => match p.first_mut() {
                Some(b) => *b ^= 0xFF,
                None => *p = vec![0xFF],
            },
        }
    }
}

fn lab(seed: u64) -> Lab {
    let params = Params::new(5, 2000, 1, 0, 1);
    let mut spec = LabSpec::new(seed, params).clients(1, |_| ClientPlan::default());
    spec.echo = false;
    let mut lab = Lab::new(spec);
    assert!(lab.run_until(lab.epochs(0.5), |l| l
        .client(0)
        .endpoint
        .as_ref()
        .is_some_and(|e| e.is_connected())));
    lab
}

fn tamper_from(lab: &mut Lab, sender: Addr, how: Tamper) {
    lab.set_rule(Some(Box::new(move |_, from, _, bytes| {
        if from == sender {
            if let Ok(mut m) = Message::decode(bytes) {
                if m.ty == MsgType::Data {
                    how.apply(m.payload.get_or_insert_with(Vec::new));
                    *bytes = m.encode();
                }
            }
        }
        true
    })));
}

fn reads(lab: &Lab, to_server: bool) -> Vec<Vec<u8>> {
    if to_server {
        lab.server()
            .log
            .iter()
            .filter_map(|(_, e)| match e {
                ServerEvent::Message { data, .. } => Some(data.clone()),
                _ => None,
            })
            .collect()
    } else {
        lab.client(0).reads.clone()
    }
}

fn send(lab: &mut Lab, to_server: bool, payload: &[u8]) {
    let p = payload.to_vec();
    if to_server {
        lab.with_client(0, |c, ctx| c.write(ctx, p)).unwrap();
    } else {
        let conn = lab.client(0).endpoint.as_ref().unwrap().conn_id();
        lab.with_server(|s, ctx| s.write(ctx, conn, p)).unwrap();
    }
}

/// Send `payload` with the sender's Data tampered `how`; after `epochs` epochs the
/// receiver has read `expect` (or nothing new if `None`).
fn step(lab: &mut Lab, to_server: bool, how: Tamper, payload: &[u8], expect: Option<&[u8]>) {
    let sender = if to_server {
        lab.clients[0]
    } else {
        lab.server
    };
    tamper_from(lab, sender, how);
    let before = reads(lab, to_server).len();
    send(lab, to_server, payload);
    let t = lab.world.now();
    // Two epochs: the first send and at least one retransmission, all tampered alike.
    lab.run_to(t + lab.params.epoch() * 2);
    let got = reads(lab, to_server);
    match expect {
        Some(want) => assert_eq!(got[before..].to_vec(), vec![want.to_vec()], "{how:?}"),
        None => assert_eq!(got.len(), before, "{how:?}: a tampered message was read"),
    }
    // Untampered again: whatever was held back arrives, then the network is clean.
    lab.set_rule(None);
    let t = lab.world.now();
    lab.run_to(t + lab.params.epoch() * 2);
}

fn variable_length(seed: u64, to_server: bool) {
    let mut lab = lab(seed);
    step(&mut lab, to_server, Tamper::None, b"1000", Some(b"1000"));
    step(
        &mut lab,
        to_server,
        Tamper::Lengthen,
        b"54321",
        Some(b"54321"),
    );
    step(&mut lab, to_server, Tamper::Shorten, b"999000", None);
    let stats = if to_server {
        *lab.server().endpoint.as_ref().unwrap().stats()
    } else {
        *lab.client(0).endpoint.as_ref().unwrap().stats()
    };
    assert!(
        stats.truncated >= 1 && stats.short_payload >= 2,
        "{stats:?}"
    );
    // The shortened message was delivered intact once the network stopped tampering.
    assert_eq!(reads(&lab, to_server).last().unwrap(), b"999000");
}

fn corrupted(seed: u64, to_server: bool) {
    let mut lab = lab(seed);
    step(&mut lab, to_server, Tamper::None, b"2000", Some(b"2000"));
    step(&mut lab, to_server, Tamper::Corrupt, b"123456", None);
    let stats = if to_server {
        *lab.server().endpoint.as_ref().unwrap().stats()
    } else {
        *lab.client(0).endpoint.as_ref().unwrap().stats()
    };
    assert!(stats.bad_checksum >= 2, "{stats:?}");
    assert_eq!(
        reads(&lab, to_server),
        vec![b"2000".to_vec(), b"123456".to_vec()]
    );
}

#[test]
fn variable_length_msg_server() {
    variable_length(171, true);
}
#[test]
fn variable_length_msg_client() {
    variable_length(172, false);
}
#[test]
fn corrupted_msg_server() {
    corrupted(173, true);
}
#[test]
fn corrupted_msg_client() {
    corrupted(174, false);
}
