//! History events the miner's nodes record for checkers (see `scenarios/src/miner`).
//!
//! The server records what it decides (requests in, chunks folded, answers out, peers
//! lost); a client records what it sent and what it got; a miner records what it mined.
//! Together they let a checker verify the promises of SPEC.md §5, §6 from outside: answers equal the
//! brute-force minimum, each request is answered once, nothing goes to a lost client, and
//! an answer's chunks cover its range exactly.

use crate::scheduler::ReqId;
use faultline::Addr;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MinerEvent {
    /// Server: LSP connection `conn` is the peer at `from`.
    Accepted { conn: i64, from: Addr },
    /// Server: `conn` joined as a miner.
    MinerJoined { conn: i64 },
    /// Server: miner `conn` was lost (its chunk, if any, went back to its request).
    MinerLost { conn: i64 },
    /// Server: client `conn` was lost (its requests are forgotten).
    ClientLost { conn: i64 },
    /// Server: miner `conn` sent a wrong result (a nonce outside its chunk, or a hash that
    /// is not its nonce's): it gets no more work and its connection is closed.
    MinerQuarantined { conn: i64 },
    /// Server: client `conn` is disconnected because the last miner was quarantined and
    /// no honest miner is left to answer it (its requests are forgotten).
    NoHonestMiner { conn: i64 },
    /// Server: client `conn` asked for `[lower, upper]` of `data`; it is request `req`.
    RequestIn {
        conn: i64,
        req: ReqId,
        data: String,
        lower: u64,
        upper: u64,
    },
    /// Server: sent `[lower, upper]` of `req` to miner `conn`.
    ChunkSent {
        conn: i64,
        req: ReqId,
        lower: u64,
        upper: u64,
    },
    /// Server: the result `(hash, nonce)` miner `conn` sent for chunk `[lower, upper]` is
    /// folded into `req`.
    ChunkFolded {
        conn: i64,
        req: ReqId,
        lower: u64,
        upper: u64,
        hash: u64,
        nonce: u64,
    },
    /// Server: wrote the answer of `req` to client `conn`.
    Answered {
        conn: i64,
        req: ReqId,
        hash: u64,
        nonce: u64,
    },
    /// Client: sent its request for `[0, upper]` of `data`.
    ClientRequest { data: String, upper: u64 },
    /// Client: got its answer.
    ClientResult { hash: u64, nonce: u64 },
    /// Client: lost the server (or never reached it).
    ClientDisconnected,
    /// Miner: mined `[lower, upper]` (answered after its virtual work time).
    Mined {
        lower: u64,
        upper: u64,
        hash: u64,
        nonce: u64,
    },
    /// Miner: its connection is gone; it has shut down.
    MinerStopped,
}
