//! The official basic, send/receive and robustness intents (lsp1_test.go), in the
//! simulator with the spec's parameters. Each test is named after the one it covers.

mod lsp_common;

use faultline::Time;
use lsp::Params;
use lsp_common::echo;

fn p(k: u32, ms: u64, w: u64, m: u64) -> Params {
    Params::new(k, ms, w, 0, m)
}

fn basic(seed: u64, clients: usize, msgs: usize, params: Params, sleeps: bool, limit_s: u64) {
    let pause = if sleeps { 100 } else { 0 };
    echo(
        seed,
        params,
        clients,
        msgs,
        true,
        pause,
        Time::from_secs(limit_s),
        |_| {},
    );
    // And once more with every message written at once, which fills the window.
    echo(
        seed,
        params,
        clients,
        msgs,
        false,
        pause,
        Time::from_secs(limit_s),
        |_| {},
    );
}

#[test]
fn basic1() {
    basic(1, 1, 3, p(5, 2000, 1, 1), false, 2);
}
#[test]
fn basic2() {
    basic(2, 1, 50, p(5, 2000, 1, 1), false, 2);
}
#[test]
fn basic3() {
    basic(3, 2, 50, p(5, 2000, 1, 1), false, 2);
}
#[test]
fn basic4() {
    basic(4, 10, 50, p(5, 2000, 2, 2), false, 2);
}
#[test]
fn basic5() {
    basic(5, 2, 500, p(5, 2000, 2, 1), false, 2);
}
#[test]
fn basic6() {
    basic(6, 10, 500, p(5, 2000, 20, 10), false, 15);
}
#[test]
fn basic7() {
    basic(7, 4, 10, p(5, 2000, 2, 2), true, 15);
}
#[test]
fn basic8() {
    basic(8, 5, 10, p(5, 2000, 10, 10), true, 15);
}
#[test]
fn basic9() {
    basic(9, 2, 50, p(5, 2000, 10, 10), true, 15);
}

/// Finishes within one epoch and never resends.
fn send_receive(seed: u64, clients: usize, params: Params, sleeps: bool) {
    let pause = if sleeps { 100 } else { 0 };
    let epoch = Time::from_millis(params.epoch_millis);
    let lab = echo(seed, params, clients, 6, true, pause, epoch, |_| {});
    assert!(lab.world.now() < epoch);
    assert_eq!(lab.monitor.borrow().data_resends, 0, "relied on a resend");
}

#[test]
fn send_receive1() {
    send_receive(11, 1, p(3, 5000, 1, 1), false);
}
#[test]
fn send_receive2() {
    send_receive(12, 4, p(3, 5000, 1, 1), false);
}
#[test]
fn send_receive3() {
    send_receive(13, 4, p(3, 10000, 1, 1), true);
}

/// 20 % of every write dropped on both sides once connected; all echoes within 15 s.
fn robust(seed: u64, clients: usize, msgs: usize, params: Params) {
    let lab = echo(
        seed,
        params,
        clients,
        msgs,
        true,
        0,
        Time::from_secs(15),
        |lab| {
            for a in std::iter::once(lab.server).chain(lab.clients.clone()) {
                lab.write_drop(a, 0.2);
            }
        },
    );
    assert!(
        lab.world.stats().datagrams_lost > 0,
        "the network dropped nothing"
    );
    assert!(lab.monitor.borrow().data_resends > 0);
}

#[test]
fn robust1() {
    robust(21, 1, 10, p(20, 50, 1, 1));
}
#[test]
fn robust2() {
    robust(22, 3, 15, p(20, 50, 1, 1));
}
#[test]
fn robust3() {
    robust(23, 5, 10, p(20, 50, 1, 1));
}
#[test]
fn robust4() {
    robust(24, 1, 10, p(20, 50, 2, 2));
}
#[test]
fn robust5() {
    robust(25, 3, 15, p(20, 50, 5, 5));
}
#[test]
fn robust6() {
    robust(26, 5, 10, p(20, 50, 10, 10));
}
