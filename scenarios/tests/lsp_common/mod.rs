//! Shared steps of the official-intent LSP tests (spec "P1 Part A" §12).
#![allow(dead_code)]

use faultline::Time;
use lsp::{ClientEvent, Params};
use scenarios::lsp::lab::{echo_plan, Lab, LabSpec};

/// Run an echo test: `clients` clients each write `msgs` messages and read the echoes.
/// Returns the lab once every client has read every echo; fails past `limit`.
#[allow(clippy::too_many_arguments)] // mirrors the columns of the spec's test tables
pub fn echo(
    seed: u64,
    params: Params,
    clients: usize,
    msgs: usize,
    lockstep: bool,
    pause_max_ms: u64,
    limit: Time,
    setup: impl FnOnce(&mut Lab),
) -> Lab {
    let spec = LabSpec::new(seed, params).clients(clients, |i| {
        let mut p = echo_plan(i, msgs, lockstep, false);
        p.pause_max_ms = pause_max_ms;
        p
    });
    let mut lab = Lab::new(spec);
    // Let every client connect before the network turns bad (the originals set drop
    // rates after NewClient returns).
    let connected = lab.run_until(lab.epochs(0.5), |l| {
        (0..l.clients.len()).all(|i| {
            l.client(i)
                .endpoint
                .as_ref()
                .is_some_and(|e| e.is_connected())
        })
    });
    assert!(connected, "clients did not connect");
    setup(&mut lab);
    let done = lab.run_until(limit, |l| {
        (0..l.clients.len()).all(|i| l.client(i).reads.len() == msgs)
    });
    assert!(done, "not every echo arrived by {limit}: {:?}", reads(&lab));
    assert_echoes(&lab, msgs);
    lab
}

/// Reads per client.
pub fn reads(lab: &Lab) -> Vec<usize> {
    (0..lab.clients.len())
        .map(|i| lab.client(i).reads.len())
        .collect()
}

/// Every client read exactly its own messages back, in order, and nothing was lost;
/// the window rules held on the wire.
pub fn assert_echoes(lab: &Lab, msgs: usize) {
    for i in 0..lab.clients.len() {
        assert_eq!(
            lab.client(i).reads,
            scenarios::lsp::lab::payloads(i, msgs),
            "client {i}"
        );
        assert!(
            !lab.client(i)
                .log
                .iter()
                .any(|(_, e)| matches!(e, ClientEvent::Lost)),
            "client {i} lost its connection"
        );
    }
    assert_eq!(lab.window_violations(), Vec::<String>::new());
}
