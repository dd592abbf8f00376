//! P3, CMUD (`systems/cmud`, behaviour reference `systems/cmud/SPEC.md`): its catalog
//! entries. The world is built in [`world`], the scenario nodes are in [`nodes`], every
//! invariant in [`invariants`], the scenarios in [`scenarios`]; [`cli`] is `faultline
//! cmud` (server, client, play, bench as real programs) and [`bench`] its benchmarks.

use faultline::harness::Scenario;
use faultline::Budget;
use std::time::Duration;

// Benchmarks time themselves on the wall clock and may use threads: they run outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod bench;
// The real programs run on the OS clock and sockets, outside the simulator.
#[allow(clippy::disallowed_methods)]
pub mod cli;
pub mod invariants;
pub mod nodes;
pub mod scenarios;
pub mod world;

use scenarios::Group;

/// This system's scenarios for the catalog: the official tests' intents in SPEC.md §7's
/// order, then the ones beyond them (§8).
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    let group = |name, about, variants, plan, secs| -> Box<dyn Scenario> {
        Box::new(Group {
            name,
            about,
            variants,
            plan,
            budget: Budget::new(2_000_000, Duration::from_secs(secs)),
        })
    };
    vec![
        Box::new(scenarios::ClientTests),
        Box::new(scenarios::MailboxTests),
        group("cmud-one-actor", "P3 TestOneActor{Get,Put1,Put2,List1,List2,Trace,MultiClient1,MultiClient2} (variant = seed % 8): exact answers in 5 s; stats >= queries", 8, scenarios::one_actor, 10),
        Box::new(scenarios::RemoteTell),
        group("cmud-local-sync-basic", "P3 TestLocalSyncBasic1-4: 2/4 actors, Put on one or on all, Get everywhere 500 ms later", 4, scenarios::local_basic, 10),
        group("cmud-local-sync-frequency", "P3 TestLocalSyncFrequency1-4: 300 Puts 10 ms apart on one/all of 2/4 actors; List everywhere 500 ms later; rate <= 10/s", 4, scenarios::local_frequency, 20),
        group("cmud-local-sync-size", "P3 TestLocalSyncSize1-4: round 1, 1000 filler Puts, round 2: round-2 bytes <= 2x round-1; rate <= 10/s", 4, scenarios::local_size, 20),
        group("cmud-local-sync-lww", "P3 TestLocalSyncLWW1-4: 4 actors; later Put wins, concurrent Puts then causal overwrite, re-Put gets a newer stamp", 4, scenarios::local_lww, 10),
        group("cmud-local-sync-stress", "P3 TestLocalSyncStress1-2: 2/4 actors, 4 clients x 100 random calls on 50 keys; converged, LWW", 2, scenarios::local_stress, 20),
        group("cmud-remote-sync-basic", "P3 TestRemoteSyncBasic1-4: 2/4 servers x 1 actor at 200 ms; Get everywhere 2 s after; RemoteBytesReceived > 0", 4, scenarios::remote_basic, 10),
        group("cmud-remote-sync-local", "P3 TestRemoteSyncLocal1-4: 2/4 servers x 4 actors at 200 ms; Get on every actor 2 s after", 4, scenarios::remote_local, 10),
        group("cmud-remote-sync-frequency", "P3 TestRemoteSyncFrequency1-4: 2/4 servers x 4 actors, 300 Puts 10 ms apart; rate <= 10/s on every server", 4, scenarios::remote_frequency, 20),
        group("cmud-remote-sync-size", "P3 TestRemoteSyncSize1-4: 2/4 servers x 4 actors; round-2 bytes <= 2x round-1 on every server", 4, scenarios::remote_size, 30),
        group("cmud-remote-sync-nobcast", "P3 TestRemoteSyncNoBcast1-2: sender with 1/4 actors; the 4-actor receiver gets <= 2x the remote bytes of the 1-actor one", 2, scenarios::remote_nobcast, 10),
        group("cmud-remote-sync-lww", "P3 TestRemoteSyncLWW1-4: 4 servers x 1 actor at 200 ms, as the local LWW tests with 2 s deadlines", 4, scenarios::remote_lww, 10),
        group("cmud-server-startup", "P3 TestServerStartup1-5: a newcomer gets old state, its start-up Puts reach the old servers, LWW around start-up, 4 servers joining one by one", 5, scenarios::startup, 30),
        group("cmud-remote-stress", "P3 TestRemoteSyncStress1-2: 2/4 servers x 4 actors x 4 clients of random calls at 200 ms; converged, LWW", 2, scenarios::remote_stress, 30),
        Box::new(scenarios::Swarm),
        group("cmud-link-reset", "anti-entropy: 2 servers cut apart while both take Puts, then server 0's streams reset, losing the stalled syncs; after the reconnect every actor reads every Put", 1, scenarios::link_reset, 10),
        group("cmud-crash-after-put", "durability: server 1 acks a Put and crashes a few ms later, before any sync left it; after the restart every actor reads the acked Put", 1, scenarios::crash_after_put, 10),
        Box::new(scenarios::ClockSkew),
    ]
}
