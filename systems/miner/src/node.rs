//! One node type for a whole miner world: a scenario's world holds one node type, so the
//! three roles are the kinds of [`MinerNode`].

use crate::client::ClientNode;
use crate::event::MinerEvent;
use crate::server::ServerNode;
use crate::worker::WorkerNode;

faultline::node_kinds! {
    /// The server, a miner or a client.
    pub enum MinerNode: MinerEvent {
        Server(ServerNode),
        Worker(WorkerNode),
        Client(ClientNode),
    }
}

#[cfg(test)]
mod tests {
    use crate::worker::MinerTimer;
    use faultline::TimerTag;

    #[test]
    fn lsp_timers_decode_as_the_lsp_tag() {
        assert_eq!(
            MinerTimer::from_raw(lsp::LspTimer::Epoch.to_raw()),
            Some(MinerTimer::Lsp)
        );
    }
}
