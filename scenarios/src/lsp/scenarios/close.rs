//! The slow-start and close intents (lsp3_test.go; systems/lsp/SPEC.md §12): echo
//! clients of 10 lockstep messages with params `(K, 500 ms, ω = 1, M = 1)`. The original
//! fixes every ISN at 0, so only the latency jitter varies with the seed.

use super::{connect_all, echoes_within, wait_for, Intent};
use crate::lsp::invariants::end::{expect, expect_eq};
use crate::lsp::invariants::{
    CALLS_AFTER_CLOSE_FAIL, CLOSE_COMPLETES, CONNECTS, LOSS_DETECTED, READS_EXACT,
};
use crate::lsp::world::{echo_plan, payloads, Lab, LabSpec, Step};
use faultline::Time;
use lsp::{ClientEvent, LspError, Params, ServerEvent};
use std::time::Duration;

const MSGS: usize = 10;

fn close_params(k: u32) -> Params {
    Params::new(k, 500, 1, 0, 1)
}

/// Echo clients with ISN 0 that close after their echoes if `close`.
fn echo_world(clients: usize, k: u32, close: bool) -> impl Fn(u64) -> LabSpec {
    move |seed| {
        LabSpec::new(seed, close_params(k))
            .clients(clients, Some(0), |i| echo_plan(i, MSGS, true, close))
    }
}

fn client_saw(lab: &Lab, i: usize, want: &ClientEvent) -> bool {
    lab.client(i).log.iter().any(|(_, e)| e == want)
}

fn server_saw(lab: &Lab, want: &ServerEvent) -> bool {
    lab.server().log.iter().any(|(_, e)| e == want)
}

/// Connect, and every echo back within 2 s.
fn echoes(lab: &mut Lab) -> Step<()> {
    connect_all(lab)?;
    echoes_within(lab, Time::from_millis(2000), MSGS)
}

/// A call that must succeed.
fn accepted(lab: &Lab, what: &str, r: Result<(), LspError>) -> Step<()> {
    expect_eq(lab, CLOSE_COMPLETES, what, r, Ok(()))
}

/// Wait until every client has seen its connection lost.
fn wait_all_lost(lab: &mut Lab, max_epochs: f64) -> Step<()> {
    let n = lab.clients.len();
    let limit = lab.epochs(max_epochs);
    wait_for(
        lab,
        limit,
        LOSS_DETECTED,
        "not every client saw its connection lost",
        |l| (0..n).all(|i| client_saw(l, i, &ClientEvent::Lost)),
    )
}

/// TestServerSlowStart: the server starts 3 epochs after its clients; connect retries
/// must get through and every echo arrive within 5 epochs.
fn server_slow_start(name: &'static str, about: &'static str, clients: usize) -> Intent {
    let build = move |seed| LabSpec {
        server_start: Time::from_millis(3 * 500),
        ..echo_world(clients, 5, false)(seed)
    };
    Intent::new(name, about, build, move |lab| {
        let limit = lab.epochs(5.0);
        echoes_within(lab, limit, MSGS)?;
        for i in 0..clients {
            let first = lab.client(i).log.first().cloned();
            let ok = first.as_ref().is_some_and(|(t, e)| {
                matches!(e, ClientEvent::Connected { .. }) && *t >= Time::from_millis(1500)
            });
            expect(
                lab,
                CONNECTS,
                ok,
                format!("client {i}'s first event: {first:?}"),
            )?;
        }
        Ok(())
    })
}

/// What happens once every echo is back, given the clients and the epochs allowed.
type AfterEchoes = fn(&mut Lab, usize, f64) -> Step<()>;

/// `clients` echo clients (K = `k`) get every echo back, then `then` runs: the close
/// intents that differ only in what the server closes.
fn after_echoes(
    name: &'static str,
    about: &'static str,
    clients: usize,
    k: u32,
    max_epochs: f64,
    then: AfterEchoes,
) -> Intent {
    Intent::new(name, about, echo_world(clients, k, false), move |lab| {
        echoes(lab)?;
        then(lab, clients, max_epochs)
    })
}

/// TestServerClose: after the echoes the server closes; it completes at once (all
/// acked), then every client's read fails by timeout; the server reads and writes nothing
/// more.
fn server_close(lab: &mut Lab, clients: usize, max_epochs: f64) -> Step<()> {
    let r = lab.with_server(|s, ctx| s.close(ctx))?;
    accepted(lab, "server Close", r)?;
    lab.run_to(lab.world.now() + Duration::from_millis(50))?;
    let closed = server_saw(lab, &ServerEvent::Closed { lost_any: false });
    expect(
        lab,
        CLOSE_COMPLETES,
        closed,
        "the server's Close did not complete",
    )?;
    let late = lab.with_server(|s, ctx| s.write(ctx, 1, b"late".to_vec()))?;
    expect_eq(
        lab,
        CALLS_AFTER_CLOSE_FAIL,
        "server Write after Close",
        late,
        Err(LspError::Closed),
    )?;
    let again = lab.with_server(|s, ctx| s.close(ctx))?;
    expect_eq(
        lab,
        CALLS_AFTER_CLOSE_FAIL,
        "second server Close",
        again,
        Err(LspError::Closed),
    )?;
    // A client writing now gets nothing read by the closed server.
    let _ = lab.with_client(0, |c, ctx| c.write(ctx, b"anyone?".to_vec()))?;
    wait_all_lost(lab, max_epochs)?;
    let log = &lab.server().log;
    let closed_at = log
        .iter()
        .position(|(_, e)| matches!(e, ServerEvent::Closed { .. }))
        .unwrap_or(log.len());
    let after = format!("{:?}", &log[closed_at.min(log.len())..]);
    let quiet = closed_at + 1 >= log.len();
    expect(
        lab,
        CALLS_AFTER_CLOSE_FAIL,
        quiet,
        format!("the closed server reported {after}"),
    )?;
    for i in 0..clients {
        let r = lab.with_client(i, |c, ctx| c.write(ctx, vec![1]))?;
        expect_eq(
            lab,
            CALLS_AFTER_CLOSE_FAIL,
            format!("client {i} Write after loss"),
            r,
            Err(LspError::Lost),
        )?;
    }
    Ok(())
}

/// TestServerCloseConns: the server closes every connection; each client detects the
/// loss by timeout.
fn server_close_conns(lab: &mut Lab, clients: usize, max_epochs: f64) -> Step<()> {
    for i in 0..clients {
        let conn = lab.conn_of(i);
        let r = lab.with_server(|s, ctx| s.close_conn(ctx, conn))?;
        accepted(lab, &format!("CloseConn({conn})"), r)?;
        // Closed (still flushing the last ack) or already dropped: an error either way.
        let w = lab.with_server(|s, ctx| s.write(ctx, conn, vec![1]))?;
        expect(
            lab,
            CALLS_AFTER_CLOSE_FAIL,
            w.is_err(),
            format!("Write to closed conn {conn} was accepted"),
        )?;
    }
    wait_all_lost(lab, max_epochs)?;
    for i in 0..clients {
        let conn = lab.conn_of(i);
        let dropped = server_saw(lab, &ServerEvent::ConnClosed { conn });
        expect(
            lab,
            CLOSE_COMPLETES,
            dropped,
            format!("CloseConn({conn}) never completed"),
        )?;
        let w = lab.with_server(|s, ctx| s.write(ctx, conn, vec![1]))?;
        expect_eq(
            lab,
            CALLS_AFTER_CLOSE_FAIL,
            format!("Write to dropped conn {conn}"),
            w,
            Err(LspError::UnknownConn(conn)),
        )?;
    }
    let r = lab.with_server(|s, ctx| s.close_conn(ctx, 999))?;
    expect_eq(
        lab,
        CALLS_AFTER_CLOSE_FAIL,
        "CloseConn(999)",
        r,
        Err(LspError::UnknownConn(999)),
    )
}

/// TestClientClose: clients close after their echoes; the server's read reports each
/// loss; then the server closes; reads and writes fail on both sides.
fn client_close(
    name: &'static str,
    about: &'static str,
    clients: usize,
    max_epochs: f64,
) -> Intent {
    Intent::new(name, about, echo_world(clients, 5, true), move |lab| {
        let limit = lab.epochs(max_epochs);
        wait_for(
            lab,
            limit,
            LOSS_DETECTED,
            "the server did not see every client go",
            |l| {
                (0..clients).all(|i| l.conn_of(i) > 0)
                    && (0..clients)
                        .all(|i| server_saw(l, &ServerEvent::Lost { conn: l.conn_of(i) }))
            },
        )?;
        for i in 0..clients {
            let clean = client_saw(lab, i, &ClientEvent::Closed { lost: false });
            expect(
                lab,
                CLOSE_COMPLETES,
                clean,
                format!("client {i}'s Close did not complete cleanly"),
            )?;
            expect_eq(
                lab,
                READS_EXACT,
                format!("client {i} reads"),
                lab.client(i).reads.clone(),
                payloads(i, MSGS),
            )?;
            let w = lab.with_client(i, |c, ctx| c.write(ctx, vec![1]))?;
            expect_eq(
                lab,
                CALLS_AFTER_CLOSE_FAIL,
                format!("client {i} Write after Close"),
                w,
                Err(LspError::Closed),
            )?;
            let c = lab.with_client(i, |c, ctx| c.close(ctx))?;
            expect_eq(
                lab,
                CALLS_AFTER_CLOSE_FAIL,
                format!("client {i} second Close"),
                c,
                Err(LspError::Closed),
            )?;
        }
        let r = lab.with_server(|s, ctx| s.close(ctx))?;
        accepted(lab, "server Close", r)?;
        let closed = server_saw(lab, &ServerEvent::Closed { lost_any: false });
        expect(
            lab,
            CLOSE_COMPLETES,
            closed,
            "the server's Close did not complete at once",
        )?;
        let w = lab.with_server(|s, ctx| s.write(ctx, 1, vec![1]))?;
        expect_eq(
            lab,
            CALLS_AFTER_CLOSE_FAIL,
            "server Write after Close",
            w,
            Err(LspError::Closed),
        )
    })
}

/// The intents of lsp3_test.go.
pub fn intents() -> Vec<Intent> {
    vec![
        server_slow_start("lsp-server-slow-start1", "TestServerSlowStart1: the server starts 3 epochs after 1 client; Connect retries succeed, 10 echoes within 5 epochs (K=5, 500 ms)", 1),
        server_slow_start("lsp-server-slow-start2", "TestServerSlowStart2: the server starts 3 epochs after 3 clients; Connect retries succeed, 10 echoes each within 5 epochs (K=5, 500 ms)", 3),
        after_echoes("lsp-server-close1", "TestServerClose1: after 10 echoes the server closes at once; the client sees the loss within 10 epochs; calls after close fail (K=5, 500 ms)", 1, 5, 10.0, server_close),
        after_echoes("lsp-server-close2", "TestServerClose2: after 10 echoes each the server closes at once; 3 clients see the loss within 5 epochs; calls after close fail (K=2)", 3, 2, 5.0, server_close),
        after_echoes("lsp-server-close-conns1", "TestServerCloseConns1: after 10 echoes the server closes the connection; the client sees the loss within 10 epochs (K=5, 500 ms)", 1, 5, 10.0, server_close_conns),
        after_echoes("lsp-server-close-conns2", "TestServerCloseConns2: after 10 echoes each the server closes every connection; 3 clients see the loss within 5 epochs (K=2)", 3, 2, 5.0, server_close_conns),
        client_close("lsp-client-close1", "TestClientClose1: 2 clients close after 10 echoes; the server sees each go within 10 epochs, then closes; calls after close fail (K=5, 500 ms)", 2, 10.0),
        client_close("lsp-client-close2", "TestClientClose2: 3 clients close after 10 echoes; the server sees each go within 15 epochs, then closes; calls after close fail (K=5, 500 ms)", 3, 15.0),
    ]
}
