//! Buffering and close under a toggled network (lsp4_test.go; systems/lsp/SPEC.md §12):
//! params `{5, δ, 1, 0, 1}`; messages are written while every datagram is dropped, then
//! the network comes back and everything must get through, and every Close complete,
//! within the test's epochs. The ISN and the latency jitter vary with the seed.

use super::{client_writes, connect_all, server_writes, wait_for, Intent};
use crate::lsp::invariants::end::{expect, expect_eq};
use crate::lsp::invariants::{
    CLOSE_COMPLETES, DELIVERED_BY_DEADLINE, NOTHING_WHILE_OFF, READS_EXACT,
};
use crate::lsp::nodes::ClientPlan;
use crate::lsp::world::{payloads, Lab, LabSpec, Step};
use lsp::{ClientEvent, LspError, Params, ServerEvent};

/// What is buffered while the network is off.
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

impl Toggle {
    fn server_writes(self) -> bool {
        matches!(
            self,
            Toggle::ServerFastClose | Toggle::ServerToClient | Toggle::RoundTrip
        )
    }

    fn client_writes(self) -> bool {
        matches!(self, Toggle::ClientToServer | Toggle::RoundTrip)
    }
}

fn client_closed(lab: &Lab, i: usize) -> bool {
    let want = ClientEvent::Closed { lost: false };
    lab.client(i).log.iter().any(|(_, e)| *e == want)
}

fn server_closed(lab: &Lab) -> bool {
    let want = ServerEvent::Closed { lost_any: false };
    lab.server().log.iter().any(|(_, e)| *e == want)
}

fn accepted(lab: &Lab, what: &str, r: Result<(), LspError>) -> Step<()> {
    expect_eq(lab, CLOSE_COMPLETES, what, r, Ok(()))
}

/// Write (and close) with the network off, check nothing completes, turn it on, and
/// demand everything within `max_epochs` of the start.
fn toggled(lab: &mut Lab, what: Toggle, msgs: usize, max_epochs: f64) -> Step<()> {
    let n = lab.clients.len();
    connect_all(lab)?;
    lab.set_rule(Some(Box::new(|_, _, _, _| false)));
    for i in 0..n {
        if what.server_writes() {
            server_writes(lab, i, payloads(100 + i, msgs))?;
        }
        if what.client_writes() {
            client_writes(lab, i, &payloads(i, msgs))?;
        }
        if what == Toggle::ClientToServer {
            let r = lab.with_client(i, |c, ctx| c.close(ctx))?;
            accepted(lab, &format!("client {i} Close"), r)?;
        }
    }
    if what == Toggle::ServerFastClose {
        let r = lab.with_server(|s, ctx| s.close(ctx))?;
        accepted(lab, "server Close", r)?;
    }
    let t = lab.world.now();
    lab.run_to(t + lab.params.epoch() * 2)?;
    expect(
        lab,
        NOTHING_WHILE_OFF,
        !server_closed(lab),
        "the server's Close completed while the network was off",
    )?;
    for i in 0..n {
        expect(
            lab,
            NOTHING_WHILE_OFF,
            !client_closed(lab, i),
            format!("client {i}'s Close completed while the network was off"),
        )?;
        let reads = lab.client(i).reads.len();
        expect_eq(
            lab,
            NOTHING_WHILE_OFF,
            format!("client {i} reads while off"),
            reads,
            0,
        )?;
    }
    // Network on: everything buffered gets through, in order, and closes complete.
    lab.set_rule(None);
    let limit = lab.epochs(max_epochs);
    wait_for(
        lab,
        limit,
        DELIVERED_BY_DEADLINE,
        format!("not flushed within {max_epochs} epochs"),
        |l| {
            (0..n).all(|i| {
                (!what.server_writes() || l.client(i).reads.len() == msgs)
                    && (!what.client_writes() || l.server_read_count(i) == msgs)
                    && (what != Toggle::ClientToServer || client_closed(l, i))
            }) && (what != Toggle::ServerFastClose || server_closed(l))
        },
    )?;
    for i in 0..n {
        if what.server_writes() {
            let got = lab.client(i).reads.clone();
            expect_eq(
                lab,
                READS_EXACT,
                format!("client {i} reads"),
                got,
                payloads(100 + i, msgs),
            )?;
        }
        if what.client_writes() {
            let got = lab.server_reads(i);
            expect_eq(
                lab,
                READS_EXACT,
                format!("server reads of client {i}"),
                got,
                payloads(i, msgs),
            )?;
        }
    }
    Ok(())
}

fn intent(
    name: &'static str,
    about: &'static str,
    what: Toggle,
    (clients, msgs): (usize, usize),
    epoch_ms: u64,
    max_epochs: f64,
) -> Intent {
    let params = Params::new(5, epoch_ms, 1, 0, 1);
    let build = move |seed| {
        LabSpec::new(seed, params)
            .clients(clients, None, |_| ClientPlan::default())
            .sink()
    };
    Intent::new(name, about, build, move |lab| {
        toggled(lab, what, msgs, max_epochs)
    })
}

/// The intents of lsp4_test.go.
pub fn intents() -> Vec<Intent> {
    use Toggle::*;
    vec![
        intent("lsp-server-fast-close1", "TestServerFastClose1: with the network off the server writes 10 msgs to 1 client and closes; all arrive and Close completes within 12 epochs (500 ms)", ServerFastClose, (1, 10), 500, 12.0),
        intent("lsp-server-fast-close2", "TestServerFastClose2: with the network off the server writes 10 msgs to each of 3 clients and closes; all arrive, Close completes within 12 epochs", ServerFastClose, (3, 10), 500, 12.0),
        intent("lsp-server-fast-close3", "TestServerFastClose3: with the network off the server writes 500 msgs to each of 5 clients and closes; all arrive, Close completes within 20 epochs (2000 ms)", ServerFastClose, (5, 500), 2000, 20.0),
        intent("lsp-server-to-client1", "TestServerToClient1: with the network off the server writes 10 msgs to 1 client; all arrive in order within 12 epochs (500 ms)", ServerToClient, (1, 10), 500, 12.0),
        intent("lsp-server-to-client2", "TestServerToClient2: with the network off the server writes 10 msgs to each of 3 clients; all arrive in order within 12 epochs (500 ms)", ServerToClient, (3, 10), 500, 12.0),
        intent("lsp-server-to-client3", "TestServerToClient3: with the network off the server writes 500 msgs to each of 5 clients; all arrive in order within 20 epochs (2000 ms)", ServerToClient, (5, 500), 2000, 20.0),
        intent("lsp-client-to-server1", "TestClientToServer1: with the network off 1 client writes 10 msgs and closes; the server reads all, Close completes within 12 epochs (500 ms)", ClientToServer, (1, 10), 500, 12.0),
        intent("lsp-client-to-server2", "TestClientToServer2: with the network off 3 clients write 10 msgs and close; the server reads all, Closes complete within 12 epochs (500 ms)", ClientToServer, (3, 10), 500, 12.0),
        intent("lsp-client-to-server3", "TestClientToServer3: with the network off 5 clients write 500 msgs and close; the server reads all, Closes complete within 20 epochs (2000 ms)", ClientToServer, (5, 500), 2000, 20.0),
        intent("lsp-round-trip1", "TestRoundTrip1: with the network off 1 client and the server write 10 msgs each way; all arrive in order within 12 epochs (500 ms)", RoundTrip, (1, 10), 500, 12.0),
        intent("lsp-round-trip2", "TestRoundTrip2: with the network off 3 clients and the server write 10 msgs each way; all arrive in order within 12 epochs (500 ms)", RoundTrip, (3, 10), 500, 12.0),
        intent("lsp-round-trip3", "TestRoundTrip3: with the network off 5 clients and the server write 500 msgs each way; all arrive in order within 20 epochs (2000 ms)", RoundTrip, (5, 500), 2000, 20.0),
    ]
}
