//! Snapshots and log compaction (SPEC.md §13): a follower assembling a chunked
//! InstallSnapshot from hand-delivered messages, duplicates and gaps included, and
//! restarting from it; AppendEntries that reach into a snapshot; and a simulated
//! 3-server cluster whose leader compacts past a cut-off follower and catches it up.

use faultline::{Addr, Effect, Fault, NodeIo, Storage, Time, World};
use raft::kv::{Command, KvState, Op};
use raft::msg::{Entry, Msg};
use raft::{Config, Event, KvServer};

fn io(me: u32, storage: Storage) -> NodeIo<Event> {
    NodeIo::new(
        Addr(me),
        faultline::derive_rng(7, &format!("test/{me}")),
        storage,
    )
}

fn cfg() -> Config {
    Config {
        snapshot_every: 5,
        snapshot_chunk: 8,
        ..Config::default()
    }
}

fn sent(io: &mut NodeIo<Event>) -> Vec<Msg> {
    let mut effects = Vec::new();
    io.drain_effects(&mut effects);
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Send { data, .. } => Msg::decode(&data),
            _ => None,
        })
        .collect()
}

fn put(client: u64, seq: u64, key: &str, value: &str) -> Command {
    Command::Client {
        client,
        seq,
        op: Op::Put {
            key: key.into(),
            value: value.into(),
        },
    }
}

/// A state machine after ten puts, as the leader would snapshot it at index 10.
fn leader_state() -> KvState {
    let mut kv = KvState::default();
    for seq in 1..=10 {
        kv.apply(&put(1, seq, &format!("k{seq}"), &format!("v{seq}")));
    }
    kv
}

fn deliver(s: &mut KvServer, x: &mut NodeIo<Event>, at_ms: u64, msg: Msg) -> Vec<Msg> {
    s.on_datagram(&mut x.ctx(Time::from_millis(at_ms)), Addr(0), &msg.encode());
    sent(x)
}

fn chunk(data: &[u8], offset: usize, len: usize) -> Msg {
    let end = (offset + len).min(data.len());
    Msg::InstallSnapshot {
        term: 2,
        last_index: 10,
        last_term: 2,
        offset: offset as u64,
        data: data[offset..end].to_vec(),
        done: end == data.len(),
    }
}

fn reply(msgs: &[Msg]) -> (u64, bool) {
    match msgs {
        [Msg::SnapshotReply { received, done, .. }] => (*received, *done),
        other => panic!("want one SnapshotReply, got {other:?}"),
    }
}

#[test]
fn a_follower_installs_a_chunked_snapshot_and_restarts_from_it() {
    let state = leader_state();
    let data = state.to_snapshot();
    assert!(data.len() > 24, "several chunks of 8 bytes");
    let mut x = io(1, Storage::default());
    let mut s = KvServer::new(cfg(), 1, (0..3).map(Addr).collect());
    s.on_start(&mut x.ctx(Time::ZERO));
    sent(&mut x);

    // A chunk past what the follower holds is not taken; the reply says where to resume.
    assert_eq!(
        reply(&deliver(&mut s, &mut x, 1, chunk(&data, 8, 8))),
        (0, false)
    );
    let mut offset = 0;
    let mut t = 2;
    while offset < data.len() {
        let msgs = deliver(&mut s, &mut x, t, chunk(&data, offset, 8));
        // Every chunk twice: the duplicate changes nothing.
        let again = deliver(&mut s, &mut x, t, chunk(&data, offset, 8));
        offset = (offset + 8).min(data.len());
        let done = offset == data.len();
        assert_eq!(reply(&msgs), (offset as u64, done));
        assert_eq!(
            reply(&again).1,
            done,
            "a repeat after install says installed"
        );
        t += 1;
    }
    assert_eq!(s.kv(), &state, "the state machine is the snapshot's");
    assert_eq!((s.raft().log().base(), s.raft().commit_index()), (10, 10));
    assert_eq!(s.raft().stats().snapshots_installed, 1);
    assert_eq!(raft::persist::stored_entries(x.storage()), 0);

    // An AppendEntries reaching back into the snapshot is trimmed to what follows it.
    let entries: Vec<Entry> = (9..=12)
        .map(|seq| Entry {
            term: 2,
            command: put(1, seq + 10, "k9", &format!("w{seq}")).encode(),
        })
        .collect();
    let ae = Msg::AppendEntries {
        term: 2,
        prev_index: 8,
        prev_term: 2,
        entries,
        commit: 12,
    };
    let msgs = deliver(&mut s, &mut x, 50, ae);
    assert!(
        matches!(
            msgs[..],
            [Msg::AppendReply {
                success: true,
                matched: 12,
                ..
            }]
        ),
        "{msgs:?}"
    );
    assert_eq!(
        (s.raft().log().last_index(), s.raft().commit_index()),
        (12, 12)
    );
    assert_eq!(s.kv().get("k9"), Some("w12"));

    // A crash and a restart: the snapshot and the log after it come back, and the
    // duplicate table with them (a retry of the last put is answered, not applied again).
    x.crash();
    let mut s = KvServer::new(cfg(), 1, (0..3).map(Addr).collect());
    s.on_start(&mut x.ctx(Time::from_millis(100)));
    assert_eq!(s.raft().log().base(), 10);
    assert_eq!(
        s.raft().last_applied(),
        10,
        "the log after it waits for a commit"
    );
    assert_eq!(s.kv(), &state);
    assert!(s.kv().seen(1, 10));
}

#[test]
fn a_damaged_snapshot_stops_the_restart() {
    let mut x = io(1, Storage::default());
    let mut s = KvServer::new(cfg(), 1, (0..3).map(Addr).collect());
    s.on_start(&mut x.ctx(Time::ZERO));
    let data = leader_state().to_snapshot();
    let whole = chunk(&data, 0, data.len());
    deliver(&mut s, &mut x, 1, whole);
    assert_eq!(s.raft().log().base(), 10);
    let mut bytes = x.storage().get("raft/snapshot").unwrap().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    x.storage_mut().put("raft/snapshot", bytes);
    x.storage_mut().sync();
    x.crash();
    let mut s = KvServer::new(cfg(), 1, (0..3).map(Addr).collect());
    s.on_start(&mut x.ctx(Time::from_millis(5)));
    let d = s.raft().damaged().expect("refuses to start");
    assert_eq!(d.key, "raft/snapshot");
    assert!(sent(&mut x).is_empty(), "a damaged server says nothing");
}

/// Three servers snapshotting every 5 entries; server `cut` is cut off while 40 client
/// puts commit, then rejoins. (The requests come from the third server's address, which
/// counts the replies as stray datagrams.)
#[test]
fn a_leader_compacts_and_catches_a_follower_up_by_install() {
    let mut world: World<KvServer> = World::new(3);
    for i in 0..3 {
        world.add_node(move |_| KvServer::new(cfg(), i, (0..3).map(Addr).collect()));
    }
    world.run_until(Time::from_secs(2)).unwrap();
    let leader = (0..3)
        .find(|&i| world.node(Addr(i)).unwrap().raft().is_leader())
        .expect("a leader in 2 s");
    let cut = (leader + 1) % 3;
    world.fault_at(Time::from_secs(2), Fault::Isolate { node: cut });
    world.run_until(Time::from_millis(2100)).unwrap();
    let other = 3 - leader - cut;
    for seq in 1..=40 {
        let request = Msg::ClientRequest {
            client: 7,
            seq,
            op: Op::Put {
                key: format!("k{}", seq % 4),
                value: format!("value {seq}"),
            },
        };
        world.with_node(Addr(leader), |s, ctx| {
            s.on_datagram(ctx, Addr(other), &request.encode())
        });
        let next = world.now() + std::time::Duration::from_millis(20);
        world.run_until(next).unwrap();
    }
    let l = world.node(Addr(leader)).unwrap().raft();
    assert!(
        l.log().base() >= 35,
        "the leader compacted: base {}",
        l.log().base()
    );
    assert!(l.log().retained() < 10);
    let behind = world.node(Addr(cut)).unwrap().raft().log().last_index();
    assert!(
        behind < l.log().base(),
        "the cut-off server needs compacted entries"
    );

    world.fault_at(world.now(), Fault::Rejoin { node: cut });
    let until = world.now() + std::time::Duration::from_secs(2);
    world.run_until(until).unwrap();
    let (l, f) = (
        world.node(Addr(leader)).unwrap().raft(),
        world.node(Addr(cut)).unwrap().raft(),
    );
    assert!(
        f.stats().snapshots_installed >= 1,
        "caught up by a snapshot"
    );
    assert!(l.stats().snapshot_chunks_sent >= 2, "in several chunks");
    assert_eq!(f.commit_index(), l.commit_index());
    let (fs, ls) = (
        world.node(Addr(cut)).unwrap().kv().clone(),
        world.node(Addr(leader)).unwrap().kv().clone(),
    );
    assert_eq!(fs, ls, "the same state machine");
    for i in 0..3 {
        let r = world.node(Addr(i)).unwrap().raft();
        assert_eq!(
            raft::persist::stored_entries(world.storage(Addr(i))),
            r.log().retained(),
            "server {i} stores exactly its retained log"
        );
    }
}
