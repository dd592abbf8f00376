//! faultline's nodes on madsim, the peer simulator.
//!
//! Every faultline [`Node`](faultline::Node) is a sans-IO state machine, so it can run on any
//! runtime that carries out its effects. [`Sim`] runs nodes on madsim (built with
//! `RUSTFLAGS="--cfg madsim"`): each node is a madsim node with its own IP, datagrams travel
//! on madsim's [`Endpoint`](madsim::net::Endpoint), streams on madsim's
//! [`TcpStream`](madsim::net::TcpStream) connections, timers on madsim's clock, storage keeps
//! only what was synced when madsim kills a node, and madsim's restart builds a fresh node
//! over that storage. History events go into the same [`Checker`](faultline::Checker)s the
//! faultline world uses, so the very same system code is checked by the very same
//! invariants on two independent simulators.
//!
//! - [`Sim`]: the runtime (see its docs for how each part of the node contract maps onto
//!   madsim, and where madsim cannot follow);
//! - [`faults`]: faultline's fault verbs through madsim's controls, and which ones madsim
//!   cannot express;
//! - [`raft`], [`lsp`], [`kv`], [`miner`], [`exercise`]: the cross-check scenarios, each the faultline
//!   catalog scenario's workload and invariants on madsim;
//! - [`bench`]: the side-by-side benchmark (the same Raft scenario and the `bench sim`
//!   workload on both simulators).
//!
//! Outside `--cfg madsim` the crate is empty: madsim's simulator (its executor, network and
//! clock) exists only under that flag.

#![cfg(madsim)]

// Benchmarks time themselves on the wall clock, outside the simulated nodes.
#[allow(clippy::disallowed_methods)]
pub mod bench;
pub mod cli;
pub mod drive;
pub mod exercise;
pub mod faults;
pub mod kv;
pub mod lsp;
pub mod miner;
pub mod raft;
mod runtime;
mod streams;
pub mod ticks;

pub use runtime::{Outcome, Sim, Tap, View};

/// What one run of a cross-check scenario found.
#[derive(Debug)]
pub struct MadsimRun {
    /// The first failure, if any.
    pub halt: Option<faultline::Halt>,
    /// Handler calls.
    pub events: u64,
    /// A fold of what the clients saw, to compare two runs of one seed.
    pub digest: u64,
}

/// Run `f` on a fresh madsim runtime seeded with `seed`, whose network delivers every
/// packet after a latency drawn from `latency` (madsim's buggify stays off, as it is by
/// default: its random delays would be faults faultline's runs do not have).
pub fn run_on_madsim<F, R>(
    seed: u64,
    latency: std::ops::Range<std::time::Duration>,
    f: impl FnOnce() -> F,
) -> R
where
    F: std::future::Future<Output = R>,
{
    let mut config = madsim::Config::default();
    config.net.send_latency = latency;
    let rt = madsim::runtime::Runtime::with_seed_and_config(seed, config);
    rt.block_on(f())
}
