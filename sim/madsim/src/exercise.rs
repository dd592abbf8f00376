//! The simulator exercise's stream echo on madsim (`exercise-echo`): an echo server and 4
//! clients that each send 200 KB as fast as their stream credit allows, over a 16 KiB
//! window, and now and then stop reading, so back-pressure crosses the server. This is the
//! cross-check of the stream contract: in-order delivery (every echo is checked against
//! what was sent, by the same `EchoChecker`), flow control and `Writable`, paused reading,
//! and reset notices: clients are killed and restarted by madsim during the fault phase,
//! which resets their streams at the server. After the heal every client must finish.

use crate::drive::run_schedule;
use crate::faults::latency_range;
use crate::runtime::{Sim, View};
use faultline::{Addr, Failure, Fault, Halt, LinkFaults, Schedule, TimedFault};
use rand::Rng;
use scenarios::exercise::invariants::{EchoChecker, EVERY_CLIENT_DONE_AFTER_HEAL};
use scenarios::exercise::nodes::echo::{EchoClient, EchoServer};
use scenarios::exercise::nodes::ExerciseNode;
use scenarios::exercise::world::{ECHO_BYTES, ECHO_CLIENTS};
use std::time::Duration;

/// The scenario's name, as in faultline's catalog.
pub const NAME: &str = "exercise-echo";

const WINDOW: usize = 16 * 1024;
const PHASE: Duration = Duration::from_secs(10);

/// The network: faultline's default 1-2 ms.
fn link() -> LinkFaults {
    LinkFaults::default()
}

/// Clients crash and restart at times drawn from the seed during the fault phase.
pub fn schedule(seed: u64) -> Schedule {
    let mut rng = faultline::derive_rng(seed, "madsim/exercise-echo/faults");
    let heal = faultline::time::duration_nanos(PHASE);
    let ms = |x: u64| x * 1_000_000;
    let mut faults = Vec::new();
    let mut t = ms(rng.gen_range(200..1500));
    while t < heal {
        let node = rng.gen_range(1..=ECHO_CLIENTS as u32);
        faults.push(TimedFault {
            at_ns: t,
            fault: Fault::Crash { node },
        });
        let back = (t + ms(rng.gen_range(50..1500))).min(heal);
        faults.push(TimedFault {
            at_ns: back,
            fault: Fault::Restart { node },
        });
        t += ms(rng.gen_range(500..3000));
    }
    faults.sort_by_key(|f| f.at_ns);
    Schedule {
        swarm: vec!["client crashes".into()],
        faults,
        heal_at_ns: heal,
        end_ns: 2 * heal,
        triggers: Vec::new(),
    }
}

fn clients_done(v: &View<'_, ExerciseNode>) -> Result<(), Failure> {
    for i in 1..=ECHO_CLIENTS as u32 {
        match v.node(Addr(i)) {
            Some(ExerciseNode::EchoClient(c)) if c.done => {}
            Some(_) => {
                return Err(EVERY_CLIENT_DONE_AFTER_HEAL.fail(format!("n{i} did not finish")))
            }
            None => return Err(EVERY_CLIENT_DONE_AFTER_HEAL.fail(format!("n{i} is down"))),
        }
    }
    Ok(())
}

/// Run the scenario with `seed` on a fresh madsim runtime: the first failure, if any, and
/// how many events the nodes handled.
pub fn run(seed: u64) -> (Option<Halt>, u64) {
    let schedule = schedule(seed);
    crate::run_on_madsim(seed, latency_range(&link()), || async move {
        let sim = Sim::<ExerciseNode>::new();
        sim.set_stream_window(WINDOW);
        let server = sim.add_node(|_| ExerciseNode::EchoServer(EchoServer::new(WINDOW)));
        for _ in 0..ECHO_CLIENTS {
            sim.add_node(move |_| ExerciseNode::EchoClient(EchoClient::new(server, ECHO_BYTES)));
        }
        sim.set_checker(EchoChecker);
        let halt = run_schedule(&sim, &schedule, link(), |sim| sim.view(clients_done)).await;
        (halt, sim.outcome().events)
    })
}
