//! The exercise's worlds: five counter replicas, or an echo server with its clients. Each
//! world owns its checker.

use super::invariants::{CounterChecker, EchoChecker};
use super::nodes::counter::Replica;
use super::nodes::echo::{EchoClient, EchoServer};
use super::nodes::ExerciseNode;
use faultline::{Time, World};

/// Counter replicas in `exercise-counter`.
pub const REPLICAS: usize = 5;
/// Echo clients in `exercise-echo` (node 0 is the server).
pub const ECHO_CLIENTS: usize = 4;
/// Bytes each echo client sends per session.
pub const ECHO_BYTES: usize = 200_000;
/// The echo world's stream window, which is also the server's output backlog bound.
const ECHO_WINDOW_BYTES: usize = 16 * 1024;

/// [`REPLICAS`] replicas, nodes 0.., that count until `stop` (local time).
pub fn counter_world(seed: u64, stop: Time) -> World<ExerciseNode> {
    let mut world: World<ExerciseNode> = World::new(seed);
    for _ in 0..REPLICAS {
        world.add_node(move |me| ExerciseNode::Replica(Replica::new(me, REPLICAS, stop)));
    }
    world.set_checker(CounterChecker::new(REPLICAS));
    world
}

/// The echo server (node 0) and [`ECHO_CLIENTS`] clients.
pub fn echo_world(seed: u64) -> World<ExerciseNode> {
    let mut world: World<ExerciseNode> = World::new(seed);
    world.set_stream_window(ECHO_WINDOW_BYTES);
    let server = world.add_node(|_| ExerciseNode::EchoServer(EchoServer::new(ECHO_WINDOW_BYTES)));
    for _ in 0..ECHO_CLIENTS {
        world.add_node(move |_| ExerciseNode::EchoClient(EchoClient::new(server, ECHO_BYTES)));
    }
    world.set_checker(EchoChecker);
    world
}
