//! End checks: what must hold once a swarm scenario's heal phase is over, and the checks
//! the intents share at the end of a phase.

use super::{
    CLOSE_ONLY_WHEN_ALL_ACKED, EVERY_CLIENT_FINISHES, LOST_WITHIN_BOUND, NODES_UP,
    NO_CONNECTION_LOST, READS_EXACT, SERVER_DROPS_GONE_CLIENTS, WINDOW_AND_MAX_UNACKED,
};
use crate::lsp::nodes::{ClientNode, LspNode, ServerNode};
use crate::lsp::world::{Lab, Step};
use faultline::{Addr, Failure, Invariant, Time};
use lsp::{ClientEvent, Params, ServerEvent};
use std::fmt::Debug;
use std::time::Duration;

/// The wire monitor saw no window or unacked-limit violation.
pub fn window_held(violations: &[String]) -> Result<(), Failure> {
    match violations.first() {
        Some(v) => Err(WINDOW_AND_MAX_UNACKED.fail(v.clone())),
        None => Ok(()),
    }
}

/// After the heal phase: every client finished (closed after all its `msgs` echoes, or
/// lost with a justified silence), and the server let go of every connection. With the
/// server cut off at `cut_at`, every connection still up then was lost within the bound
/// (SPEC.md §8b), whose slack for the link is `latency_max`. `node` looks a node up (in a
/// faultline world, or in another simulator running the same nodes).
pub fn swarm_end<'a>(
    node: impl Fn(Addr) -> Option<&'a LspNode>,
    params: &Params,
    (server, clients): (Addr, &[Addr]),
    msgs: usize,
    cut_at: Option<Time>,
    latency_max: Duration,
) -> Result<(), Failure> {
    // K epochs after the last thing heard, which is at most one latency after the cut,
    // plus the moment the epoch timer is late by up to one epoch's phase.
    let bound = params.epoch() * (params.epoch_limit + 1) + latency_max;
    for &addr in clients {
        let c = node(addr)
            .and_then(|n| n.kind::<ClientNode>())
            .ok_or_else(|| NODES_UP.fail(format!("{addr} is down")))?;
        client_finished(addr, c, msgs)?;
        if let Some(cut) = cut_at {
            client_lost_in_time(addr, c, cut, bound)?;
        }
    }
    let server = node(server)
        .and_then(|n| n.kind::<ServerNode>())
        .ok_or_else(|| NODES_UP.fail("the server is down"))?;
    let live = server.endpoint.as_ref().map_or(0, |e| e.conns().count());
    if live > 0 {
        return Err(SERVER_DROPS_GONE_CLIENTS.fail(format!(
            "{live} connections still open after every client finished"
        )));
    }
    if let Some(cut) = cut_at {
        for (t, e) in &server.log {
            if let ServerEvent::Lost { conn } = e {
                if *t > cut + bound {
                    return Err(LOST_WITHIN_BOUND
                        .fail(format!("server lost conn {conn} at {t}, cut at {cut}")));
                }
            }
        }
    }
    Ok(())
}

fn client_finished(addr: Addr, c: &ClientNode, msgs: usize) -> Result<(), Failure> {
    if !c.endpoint.as_ref().is_some_and(|e| e.is_done()) {
        return Err(EVERY_CLIENT_FINISHES.fail(format!(
            "{addr} neither finished nor lost its connection ({} of {msgs} echoes read)",
            c.reads.len()
        )));
    }
    let clean = c
        .log
        .iter()
        .any(|(_, e)| *e == ClientEvent::Closed { lost: false });
    if clean && c.reads.len() != msgs {
        return Err(
            CLOSE_ONLY_WHEN_ALL_ACKED.fail(format!("{addr} closed after {} echoes", c.reads.len()))
        );
    }
    Ok(())
}

fn client_lost_in_time(
    addr: Addr,
    c: &ClientNode,
    cut: Time,
    bound: Duration,
) -> Result<(), Failure> {
    let lost_at = c
        .log
        .iter()
        .find_map(|(t, e)| matches!(e, ClientEvent::Lost).then_some(*t));
    let failed_to_connect = || {
        c.log
            .iter()
            .any(|(t, e)| *e == ClientEvent::ConnectFailed && *t <= cut + bound)
    };
    match lost_at {
        Some(t) if t > cut + bound => Err(LOST_WITHIN_BOUND.fail(format!(
            "{addr} declared lost at {t}, server cut off at {cut}, bound {bound:?}"
        ))),
        None if !failed_to_connect() => {
            Err(LOST_WITHIN_BOUND.fail(format!("{addr} never lost the cut-off server")))
        }
        _ => Ok(()),
    }
}

/// `got` must equal `want`, or `invariant` fails with `what` and both values.
pub fn expect_eq<T: PartialEq + Debug>(
    lab: &Lab,
    invariant: Invariant,
    what: impl std::fmt::Display,
    got: T,
    want: T,
) -> Step<()> {
    if got == want {
        return Ok(());
    }
    Err(lab.fail(invariant, format!("{what}: got {got:?}, want {want:?}")))
}

/// `holds`, or `invariant` fails with `what`.
pub fn expect(lab: &Lab, invariant: Invariant, holds: bool, what: impl Into<String>) -> Step<()> {
    if holds {
        Ok(())
    } else {
        Err(lab.fail(invariant, what))
    }
}

/// The wire monitor saw no violation so far.
pub fn window_held_so_far(lab: &Lab) -> Step<()> {
    window_held(&lab.window_violations()).map_err(|failure| faultline::Halt {
        at: lab.world.now(),
        failure,
    })
}

/// Every client read exactly `want(i)` back, in order, none lost its connection, and the
/// window rules held on the wire.
pub fn echoes_exact(lab: &Lab, want: impl Fn(usize) -> Vec<Vec<u8>>) -> Step<()> {
    for i in 0..lab.clients.len() {
        let c = lab.client(i);
        expect_eq(
            lab,
            READS_EXACT,
            format!("client {i} reads"),
            &c.reads,
            &want(i),
        )?;
        let lost = c.log.iter().any(|(_, e)| matches!(e, ClientEvent::Lost));
        expect(
            lab,
            NO_CONNECTION_LOST,
            !lost,
            format!("client {i} lost its connection"),
        )?;
    }
    window_held_so_far(lab)
}
