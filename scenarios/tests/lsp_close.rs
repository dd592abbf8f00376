//! The official slow-start and close intents (lsp3_test.go) and the buffering-under-a-
//! toggled-network intents (lsp4_test.go), in the simulator with the spec's parameters.

mod lsp_common;

use faultline::Time;
use lsp::{ClientEvent, LspError, Params, ServerEvent};
use lsp_common::echo;
use scenarios::lsp::lab::{echo_plan, payloads, Lab, LabSpec};
use scenarios::lsp::node::ClientPlan;

fn close_params(k: u32) -> Params {
    Params::new(k, 500, 1, 0, 1)
}

fn conn_of(lab: &Lab, i: usize) -> i64 {
    lab.client(i).endpoint.as_ref().unwrap().conn_id()
}

fn client_saw(lab: &Lab, i: usize, want: &ClientEvent) -> bool {
    lab.client(i).log.iter().any(|(_, e)| e == want)
}

fn server_saw(lab: &Lab, want: &ServerEvent) -> bool {
    lab.server().log.iter().any(|(_, e)| e == want)
}

/// The server starts 3 epochs after its clients; connect retries must get through.
fn server_slow_start(seed: u64, clients: usize) {
    let params = close_params(5);
    let mut spec = LabSpec::new(seed, params).clients(clients, |i| echo_plan(i, 10, true, false));
    spec.server_start = Time::from_millis(3 * 500);
    let mut lab = Lab::new(spec);
    let done = lab.run_until(lab.epochs(5.0), |l| {
        (0..clients).all(|i| l.client(i).reads.len() == 10)
    });
    assert!(done, "echoes incomplete after 5 epochs");
    lsp_common::assert_echoes(&lab, 10);
    for i in 0..clients {
        let first = lab.client(i).log.first().unwrap();
        assert!(
            matches!(first.1, ClientEvent::Connected { .. }) && first.0 >= Time::from_millis(1500)
        );
    }
}

#[test]
fn server_slow_start1() {
    server_slow_start(71, 1);
}
#[test]
fn server_slow_start2() {
    server_slow_start(72, 3);
}

/// After the echoes the server closes: it completes at once (all acked), then every
/// client's read fails by timeout; the server reads and writes nothing more.
fn server_close(seed: u64, clients: usize, k: u32, max_epochs: f64) {
    let params = close_params(k);
    let mut lab = echo(
        seed,
        params,
        clients,
        10,
        true,
        0,
        Time::from_millis(2000),
        |_| {},
    );
    lab.with_server(|s, ctx| s.close(ctx)).unwrap();
    lab.run_to(lab.world.now() + std::time::Duration::from_millis(50));
    assert!(server_saw(&lab, &ServerEvent::Closed { lost_any: false }));
    assert_eq!(
        lab.with_server(|s, ctx| s.write(ctx, 1, b"late".to_vec())),
        Err(LspError::Closed)
    );
    assert_eq!(
        lab.with_server(|s, ctx| s.close(ctx)),
        Err(LspError::Closed)
    );
    // A client writing now gets nothing read by the closed server.
    let _ = lab.with_client(0, |c, ctx| c.write(ctx, b"anyone?".to_vec()));
    let limit = lab.epochs(max_epochs);
    assert!(lab.run_until(limit, |l| (0..clients).all(|i| client_saw(
        l,
        i,
        &ClientEvent::Lost
    ))));
    let closed_at = lab
        .server()
        .log
        .iter()
        .position(|(_, e)| matches!(e, ServerEvent::Closed { .. }))
        .unwrap();
    assert!(
        lab.server().log[closed_at + 1..].is_empty(),
        "{:?}",
        &lab.server().log[closed_at..]
    );
    for i in 0..clients {
        assert_eq!(
            lab.with_client(i, |c, ctx| c.write(ctx, vec![1])),
            Err(LspError::Lost)
        );
    }
}

#[test]
fn server_close1() {
    server_close(81, 1, 5, 10.0);
}
#[test]
fn server_close2() {
    server_close(82, 3, 2, 5.0);
}

/// The server closes every connection; each client detects the loss by timeout.
fn server_close_conns(seed: u64, clients: usize, k: u32, max_epochs: f64) {
    let params = close_params(k);
    let mut lab = echo(
        seed,
        params,
        clients,
        10,
        true,
        0,
        Time::from_millis(2000),
        |_| {},
    );
    for i in 0..clients {
        let conn = conn_of(&lab, i);
        lab.with_server(|s, ctx| s.close_conn(ctx, conn)).unwrap();
        // Closed (still flushing the last ack) or already dropped: an error either way.
        assert!(lab
            .with_server(|s, ctx| s.write(ctx, conn, vec![1]))
            .is_err());
    }
    let limit = lab.epochs(max_epochs);
    assert!(lab.run_until(limit, |l| (0..clients).all(|i| client_saw(
        l,
        i,
        &ClientEvent::Lost
    ))));
    for i in 0..clients {
        let conn = conn_of(&lab, i);
        assert!(server_saw(&lab, &ServerEvent::ConnClosed { conn }));
        assert_eq!(
            lab.with_server(|s, ctx| s.write(ctx, conn, vec![1])),
            Err(LspError::UnknownConn(conn))
        );
    }
    assert_eq!(
        lab.with_server(|s, ctx| s.close_conn(ctx, 999)),
        Err(LspError::UnknownConn(999))
    );
}

#[test]
fn server_close_conns1() {
    server_close_conns(91, 1, 5, 10.0);
}
#[test]
fn server_close_conns2() {
    server_close_conns(92, 3, 2, 5.0);
}

/// Clients close after their echoes; the server's read reports each loss; then the
/// server closes; reads and writes fail on both sides.
fn client_close(seed: u64, clients: usize, max_epochs: f64) {
    let params = close_params(5);
    let spec = LabSpec::new(seed, params).clients(clients, |i| echo_plan(i, 10, true, true));
    let mut lab = Lab::new(spec);
    let limit = lab.epochs(max_epochs);
    let all_lost = |l: &Lab| {
        (0..clients).all(|i| {
            l.client(i)
                .endpoint
                .as_ref()
                .is_some_and(|e| e.conn_id() > 0)
        }) && (0..clients).all(|i| {
            server_saw(
                l,
                &ServerEvent::Lost {
                    conn: conn_of(l, i),
                },
            )
        })
    };
    assert!(
        lab.run_until(limit, all_lost),
        "the server did not see every client go"
    );
    for i in 0..clients {
        assert!(client_saw(&lab, i, &ClientEvent::Closed { lost: false }));
        assert_eq!(lab.client(i).reads, payloads(i, 10));
        assert_eq!(
            lab.with_client(i, |c, ctx| c.write(ctx, vec![1])),
            Err(LspError::Closed)
        );
        assert_eq!(
            lab.with_client(i, |c, ctx| c.close(ctx)),
            Err(LspError::Closed)
        );
    }
    lab.with_server(|s, ctx| s.close(ctx)).unwrap();
    assert!(server_saw(&lab, &ServerEvent::Closed { lost_any: false }));
    assert_eq!(
        lab.with_server(|s, ctx| s.write(ctx, 1, vec![1])),
        Err(LspError::Closed)
    );
}

#[test]
fn client_close1() {
    client_close(101, 2, 10.0);
}
#[test]
fn client_close2() {
    client_close(102, 3, 15.0);
}

/// What the lsp4 tests buffer while the network is off.
#[derive(Clone, Copy, PartialEq)]
enum Toggle {
    /// The server writes, then closes (TestServerFastClose).
    ServerFastClose,
    /// The server writes (TestServerToClient).
    ServerToClient,
    /// Clients write, then close (TestClientToServer).
    ClientToServer,
    /// Both write (TestRoundTrip).
    RoundTrip,
}

fn toggled(seed: u64, what: Toggle, clients: usize, msgs: usize, epoch_ms: u64, max_epochs: f64) {
    let params = Params::new(5, epoch_ms, 1, 0, 1);
    let mut spec = LabSpec::new(seed, params).clients(clients, |_| ClientPlan::default());
    spec.echo = false;
    let mut lab = Lab::new(spec);
    assert!(lab.run_until(lab.epochs(0.5), |l| {
        (0..clients).all(|i| {
            l.client(i)
                .endpoint
                .as_ref()
                .is_some_and(|e| e.is_connected())
        })
    }));
    // Network off.
    lab.set_rule(Some(Box::new(|_, _, _, _| false)));
    let server_writes = matches!(
        what,
        Toggle::ServerFastClose | Toggle::ServerToClient | Toggle::RoundTrip
    );
    let client_writes = matches!(what, Toggle::ClientToServer | Toggle::RoundTrip);
    for i in 0..clients {
        if server_writes {
            let conn = conn_of(&lab, i);
            for m in payloads(100 + i, msgs) {
                lab.with_server(|s, ctx| s.write(ctx, conn, m)).unwrap();
            }
        }
        if client_writes {
            for m in payloads(i, msgs) {
                lab.with_client(i, |c, ctx| c.write(ctx, m)).unwrap();
            }
        }
        if what == Toggle::ClientToServer {
            lab.with_client(i, |c, ctx| c.close(ctx)).unwrap();
        }
    }
    if what == Toggle::ServerFastClose {
        lab.with_server(|s, ctx| s.close(ctx)).unwrap();
    }
    // Nothing completes while the network is off.
    let t = lab.world.now();
    lab.run_to(t + lab.params.epoch() * 2);
    assert!(!server_saw(&lab, &ServerEvent::Closed { lost_any: false }));
    for i in 0..clients {
        assert!(!client_saw(&lab, i, &ClientEvent::Closed { lost: false }));
        assert!(lab.client(i).reads.is_empty());
    }
    // Network on: everything buffered gets through, in order, and closes complete.
    lab.set_rule(None);
    let limit = lab.epochs(max_epochs);
    let server_reads = |l: &Lab, i: usize| {
        let conn = conn_of(l, i);
        l.server()
            .log
            .iter()
            .filter_map(|(_, e)| match e {
                ServerEvent::Message { conn: c, data } if *c == conn => Some(data.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let done = lab.run_until(limit, |l| {
        (0..clients).all(|i| {
            (!server_writes || l.client(i).reads.len() == msgs)
                && (!client_writes || server_reads(l, i).len() == msgs)
                && (what != Toggle::ClientToServer
                    || client_saw(l, i, &ClientEvent::Closed { lost: false }))
        }) && (what != Toggle::ServerFastClose
            || server_saw(l, &ServerEvent::Closed { lost_any: false }))
    });
    assert!(done, "not flushed within {max_epochs} epochs");
    for i in 0..clients {
        if server_writes {
            assert_eq!(lab.client(i).reads, payloads(100 + i, msgs));
        }
        if client_writes {
            assert_eq!(server_reads(&lab, i), payloads(i, msgs));
        }
    }
    assert_eq!(lab.window_violations(), Vec::<String>::new());
}

macro_rules! toggled_tests {
    ($($name:ident: $what:expr, $seed:expr, $clients:expr, $msgs:expr, $ms:expr, $max:expr;)*) => {
        $(#[test] fn $name() { toggled($seed, $what, $clients, $msgs, $ms, $max); })*
    };
}

toggled_tests! {
    server_fast_close1: Toggle::ServerFastClose, 111, 1, 10, 500, 12.0;
    server_fast_close2: Toggle::ServerFastClose, 112, 3, 10, 500, 12.0;
    server_fast_close3: Toggle::ServerFastClose, 113, 5, 500, 2000, 20.0;
    server_to_client1: Toggle::ServerToClient, 121, 1, 10, 500, 12.0;
    server_to_client2: Toggle::ServerToClient, 122, 3, 10, 500, 12.0;
    server_to_client3: Toggle::ServerToClient, 123, 5, 500, 2000, 20.0;
    client_to_server1: Toggle::ClientToServer, 131, 1, 10, 500, 12.0;
    client_to_server2: Toggle::ClientToServer, 132, 3, 10, 500, 12.0;
    client_to_server3: Toggle::ClientToServer, 133, 5, 500, 2000, 20.0;
    round_trip1: Toggle::RoundTrip, 141, 1, 10, 500, 12.0;
    round_trip2: Toggle::RoundTrip, 142, 3, 10, 500, 12.0;
    round_trip3: Toggle::RoundTrip, 143, 5, 500, 2000, 20.0;
}
