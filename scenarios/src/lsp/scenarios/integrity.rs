//! The integrity intents (lsp6_test.go; systems/lsp/SPEC.md §12): lengthened, shortened
//! and corrupted payloads (Size and Checksum left as sent), both directions, 1 client,
//! params (5, 2000, 1, 1). The ISN and the latency jitter vary with the seed.

use super::{client_writes, connect_all, params, server_writes, Intent};
use crate::lsp::invariants::end::{expect, expect_eq};
use crate::lsp::invariants::{READS_EXACT, TAMPERED_NEVER_DELIVERED};
use crate::lsp::nodes::ClientPlan;
use crate::lsp::world::{Lab, LabSpec, Step, Tamper};
use faultline::Addr;
use lsp::{Message, MsgType, Stats};

fn world(seed: u64) -> LabSpec {
    LabSpec::new(seed, params(5, 2000, 1, 1))
        .clients(1, None, |_| ClientPlan::default())
        .sink()
}

/// Tamper with every Data `sender` sends (none: leave the network clean).
fn tamper_from(lab: &mut Lab, sender: Addr, how: Option<Tamper>) {
    let Some(how) = how else {
        lab.set_rule(None);
        return;
    };
    lab.set_rule(Some(Box::new(move |_, from, _, bytes| {
        if from == sender {
            if let Ok(mut m) = Message::decode(bytes) {
                if m.ty == MsgType::Data {
                    how.apply(&mut m);
                    *bytes = m.encode();
                }
            }
        }
        true
    })));
}

fn reads(lab: &Lab, to_server: bool) -> Vec<Vec<u8>> {
    if to_server {
        lab.server_reads(0)
    } else {
        lab.client(0).reads.clone()
    }
}

/// The receiving endpoint counted what it refused: `counted` holds of its counters.
fn refusals_counted(lab: &Lab, to_server: bool, counted: fn(&Stats) -> bool) -> Step<()> {
    let stats = if to_server {
        lab.server().endpoint.as_ref().map(|e| *e.stats())
    } else {
        lab.client(0).endpoint.as_ref().map(|e| *e.stats())
    }
    .unwrap_or_default();
    let what = format!("receiver counters {stats:?}");
    expect(lab, TAMPERED_NEVER_DELIVERED, counted(&stats), what)
}

/// Send `payload` with the sender's Data tampered `how`; after two epochs (the first send
/// and at least one retransmission, all tampered alike) the receiver has read `expect`,
/// or nothing new if `None`. Then two clean epochs let whatever was held back arrive.
fn step(
    lab: &mut Lab,
    to_server: bool,
    how: Option<Tamper>,
    payload: &[u8],
    want: Option<&[u8]>,
) -> Step<()> {
    let sender = if to_server {
        lab.clients[0]
    } else {
        lab.server
    };
    tamper_from(lab, sender, how);
    let before = reads(lab, to_server).len();
    if to_server {
        client_writes(lab, 0, &[payload.to_vec()])?;
    } else {
        server_writes(lab, 0, vec![payload.to_vec()])?;
    }
    let t = lab.world.now();
    lab.run_to(t + lab.params.epoch() * 2)?;
    let got = reads(lab, to_server);
    let invariant = if how.is_none() {
        READS_EXACT
    } else {
        TAMPERED_NEVER_DELIVERED
    };
    match want {
        Some(want) => expect_eq(
            lab,
            invariant,
            format!("{how:?}: reads"),
            got[before..].to_vec(),
            vec![want.to_vec()],
        )?,
        None => expect_eq(
            lab,
            invariant,
            format!("{how:?}: messages read"),
            got.len(),
            before,
        )?,
    }
    lab.set_rule(None);
    let t = lab.world.now();
    lab.run_to(t + lab.params.epoch() * 2)
}

/// TestVariableLengthMsg: a normal payload is read exactly, a lengthened one cut to its
/// Size, a shortened one never (until it is sent intact).
fn variable_length(name: &'static str, about: &'static str, to_server: bool) -> Intent {
    Intent::new(name, about, world, move |lab| {
        connect_all(lab)?;
        step(lab, to_server, None, b"1000", Some(b"1000"))?;
        step(
            lab,
            to_server,
            Some(Tamper::Lengthen),
            b"54321",
            Some(b"54321"),
        )?;
        step(lab, to_server, Some(Tamper::Shorten), b"999000", None)?;
        refusals_counted(lab, to_server, |s| s.truncated >= 1 && s.short_payload >= 2)?;
        // The shortened message was delivered intact once the network stopped tampering.
        let last = reads(lab, to_server).last().cloned();
        expect_eq(
            lab,
            READS_EXACT,
            "last read",
            last,
            Some(b"999000".to_vec()),
        )
    })
}

/// TestCorruptedMsg: a normal payload is read, a corrupted one never (until it is sent
/// intact).
fn corrupted(name: &'static str, about: &'static str, to_server: bool) -> Intent {
    Intent::new(name, about, world, move |lab| {
        connect_all(lab)?;
        step(lab, to_server, None, b"2000", Some(b"2000"))?;
        step(lab, to_server, Some(Tamper::Corrupt), b"123456", None)?;
        refusals_counted(lab, to_server, |s| s.bad_checksum >= 2)?;
        let all = reads(lab, to_server);
        expect_eq(
            lab,
            READS_EXACT,
            "reads",
            all,
            vec![b"2000".to_vec(), b"123456".to_vec()],
        )
    })
}

/// The intents of lsp6_test.go.
pub fn intents() -> Vec<Intent> {
    vec![
        variable_length("lsp-variable-length-msg-server", "TestVariableLengthMsgServer: client to server, a lengthened payload is read cut to its Size, a shortened one never until sent intact ((5, 2000, 1, 1))", true),
        variable_length("lsp-variable-length-msg-client", "TestVariableLengthMsgClient: server to client, a lengthened payload is read cut to its Size, a shortened one never until sent intact ((5, 2000, 1, 1))", false),
        corrupted("lsp-corrupted-msg-server", "TestCorruptedMsgServer: client to server, a payload with its first byte flipped is never read until sent intact ((5, 2000, 1, 1))", true),
        corrupted("lsp-corrupted-msg-client", "TestCorruptedMsgClient: server to client, a payload with its first byte flipped is never read until sent intact ((5, 2000, 1, 1))", false),
    ]
}
