//! The exercise's nodes: the gossiped counter's replicas ([`counter`]) and the echo server
//! and clients ([`echo`]), as the kinds of one node type.

pub mod counter;
pub mod echo;

use counter::{CounterEvent, Replica};
use echo::{EchoClient, EchoEvent, EchoServer};

/// History events of the exercise nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExerciseEvent {
    Counter(CounterEvent),
    Echo(EchoEvent),
}

faultline::node_kinds! {
    /// One node of the exercise system.
    pub enum ExerciseNode: ExerciseEvent {
        Replica(Replica) => ExerciseEvent::Counter,
        EchoServer(EchoServer) => ExerciseEvent::Echo,
        EchoClient(EchoClient) => ExerciseEvent::Echo,
    }
}
