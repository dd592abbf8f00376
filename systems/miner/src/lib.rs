//! P1b, the distributed bitcoin miner (spec ../shared/spec/cmu440.md, "P1 Part B"): a
//! server splits each client's request (find the nonce in [0, N] whose hash of
//! "<message> <nonce>" is smallest) into chunks, hands them to miners that join at any
//! time, survives lost miners (their chunk goes to another miner) and lost clients (their
//! work is forgotten), and answers each client with the overall minimum. Everyone speaks
//! the original JSON messages ([`message`]) over LSP. The hash and the miner's fast loop
//! are in [`hash`]; the scheduling policy, a pure module with no I/O, is in [`scheduler`].

pub mod hash;
pub mod message;
pub mod scheduler;

pub use hash::{hash, min_hash, Best};
pub use message::{DecodeError, Message};
