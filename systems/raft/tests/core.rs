//! Raft core rules tested message by message, with hand-delivered RPCs (no network), so each
//! test pins one rule of Figure 2: vote durability across a crash, the election restriction,
//! the fast back-up hint, commit only of current-term entries, and dropping garbage.

use faultline::{Addr, Effect, NodeIo, Storage, Time};
use raft::msg::{Conflict, Entry, Msg};
use raft::{Config, Event, KvServer, Raft};

fn io(me: u32, storage: Storage) -> NodeIo<Event> {
    NodeIo::new(
        Addr(me),
        faultline::derive_rng(7, &format!("test/{me}")),
        storage,
    )
}

fn peers(n: u32) -> Vec<Addr> {
    (0..n).map(Addr).collect()
}

/// The messages a node sent since the last call, decoded, with their destination.
fn sent(io: &mut NodeIo<Event>) -> Vec<(Addr, Msg)> {
    let mut effects = Vec::new();
    io.drain_effects(&mut effects);
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Send { to, data } => {
                Some((to, Msg::decode(&data).expect("our own messages decode")))
            }
            _ => None,
        })
        .collect()
}

fn started(me: u32, n: u32, io: &mut NodeIo<Event>) -> Raft {
    let mut r = Raft::new(Config::default(), me, peers(n));
    r.on_start(&mut io.ctx(Time::ZERO));
    r
}

fn vote_reply(io: &mut NodeIo<Event>, to: u32) -> bool {
    let replies: Vec<bool> = sent(io)
        .into_iter()
        .filter(|(a, _)| *a == Addr(to))
        .filter_map(|(_, m)| match m {
            Msg::Vote { granted, .. } => Some(granted),
            _ => None,
        })
        .collect();
    assert_eq!(replies.len(), 1, "exactly one vote reply");
    replies[0]
}

#[test]
fn a_vote_survives_a_crash() {
    let mut x = io(2, Storage::default());
    let mut r = started(2, 3, &mut x);
    let rv = Msg::RequestVote {
        term: 1,
        last_index: 0,
        last_term: 0,
    };
    r.on_message(&mut x.ctx(Time::from_millis(10)), 0, rv.clone());
    assert!(
        vote_reply(&mut x, 0),
        "first candidate of term 1 gets the vote"
    );
    // A different candidate of the same term is refused, before and after a crash.
    let rv_b = rv.clone();
    r.on_message(&mut x.ctx(Time::from_millis(11)), 1, rv_b.clone());
    assert!(!vote_reply(&mut x, 1));
    x.crash();
    let mut r = started(2, 3, &mut x);
    assert_eq!(r.term(), 1);
    r.on_message(&mut x.ctx(Time::from_millis(12)), 1, rv_b);
    assert!(
        !vote_reply(&mut x, 1),
        "the vote given before the crash must hold after it"
    );
    // The first candidate asking again (a duplicate) still gets it.
    r.on_message(&mut x.ctx(Time::from_millis(13)), 0, rv);
    assert!(vote_reply(&mut x, 0));
}

#[test]
fn election_restriction_refuses_a_shorter_or_older_log() {
    let mut x = io(2, Storage::default());
    let mut r = started(2, 3, &mut x);
    // Learn two entries of term 2 from leader 0.
    let entries = vec![
        Entry {
            term: 2,
            command: vec![1],
        },
        Entry {
            term: 2,
            command: vec![2],
        },
    ];
    let ae = Msg::AppendEntries {
        term: 2,
        prev_index: 0,
        prev_term: 0,
        entries,
        commit: 0,
    };
    r.on_message(&mut x.ctx(Time::from_millis(1)), 0, ae);
    sent(&mut x);
    // A candidate with a shorter log of the same last term: refused.
    r.on_message(
        &mut x.ctx(Time::from_millis(2)),
        1,
        Msg::RequestVote {
            term: 3,
            last_index: 1,
            last_term: 2,
        },
    );
    assert!(!vote_reply(&mut x, 1));
    // A longer log with an older last term: refused.
    r.on_message(
        &mut x.ctx(Time::from_millis(3)),
        1,
        Msg::RequestVote {
            term: 4,
            last_index: 9,
            last_term: 1,
        },
    );
    assert!(!vote_reply(&mut x, 1));
    // A newer last term, even if shorter: granted.
    r.on_message(
        &mut x.ctx(Time::from_millis(4)),
        1,
        Msg::RequestVote {
            term: 5,
            last_index: 1,
            last_term: 3,
        },
    );
    assert!(vote_reply(&mut x, 1));
}

#[test]
fn a_mismatch_reply_names_the_whole_conflicting_term() {
    let mut x = io(1, Storage::default());
    let mut r = started(1, 3, &mut x);
    let mut entries = vec![Entry {
        term: 1,
        command: vec![0],
    }];
    entries.extend((0..5).map(|k| Entry {
        term: 3,
        command: vec![k],
    }));
    r.on_message(
        &mut x.ctx(Time::from_millis(1)),
        0,
        Msg::AppendEntries {
            term: 3,
            prev_index: 0,
            prev_term: 0,
            entries,
            commit: 1,
        },
    );
    sent(&mut x);
    // A leader of term 4 whose entry 6 has term 2: the follower's term 3 starts at index 2.
    let ae = Msg::AppendEntries {
        term: 4,
        prev_index: 6,
        prev_term: 2,
        entries: vec![],
        commit: 1,
    };
    r.on_message(&mut x.ctx(Time::from_millis(2)), 2, ae);
    let replies = sent(&mut x);
    assert_eq!(
        replies,
        vec![(
            Addr(2),
            Msg::AppendReply {
                term: 4,
                success: false,
                matched: 0,
                conflict: Some(Conflict {
                    term: Some(3),
                    index: 2
                })
            }
        )]
    );
    // Past the end of the log: the hint is the log's length + 1.
    let ae = Msg::AppendEntries {
        term: 4,
        prev_index: 40,
        prev_term: 4,
        entries: vec![],
        commit: 1,
    };
    r.on_message(&mut x.ctx(Time::from_millis(3)), 2, ae);
    let replies = sent(&mut x);
    assert_eq!(
        replies,
        vec![(
            Addr(2),
            Msg::AppendReply {
                term: 4,
                success: false,
                matched: 0,
                conflict: Some(Conflict {
                    term: None,
                    index: 7
                })
            }
        )]
    );
}

#[test]
fn a_follower_commits_only_what_it_knows_matches() {
    let mut x = io(1, Storage::default());
    let mut r = started(1, 3, &mut x);
    // Stale entries 1..3 of term 1 from an old leader.
    let entries: Vec<Entry> = (0..3)
        .map(|k| Entry {
            term: 1,
            command: vec![k],
        })
        .collect();
    r.on_message(
        &mut x.ctx(Time::from_millis(1)),
        0,
        Msg::AppendEntries {
            term: 1,
            prev_index: 0,
            prev_term: 0,
            entries,
            commit: 0,
        },
    );
    // A new leader says commit = 3 but only vouches for index 1: commit stops at 1.
    let ae = Msg::AppendEntries {
        term: 2,
        prev_index: 1,
        prev_term: 1,
        entries: vec![],
        commit: 3,
    };
    r.on_message(&mut x.ctx(Time::from_millis(2)), 2, ae);
    assert_eq!(r.commit_index(), 1);
    assert_eq!(r.take_committed().len(), 1);
}

#[test]
fn garbage_is_dropped_and_counted() {
    let mut x = io(0, Storage::default());
    let mut node = KvServer::new(Config::default(), 0, peers(3));
    node.on_start(&mut x.ctx(Time::ZERO));
    sent(&mut x);
    let good = Msg::RequestVote {
        term: 1,
        last_index: 0,
        last_term: 0,
    }
    .encode();
    let mut flipped = good.clone();
    flipped[0] ^= 0x40;
    for bad in [
        vec![],
        vec![1, 2, 3],
        good[..good.len() - 1].to_vec(),
        flipped,
    ] {
        node.on_datagram(&mut x.ctx(Time::from_millis(1)), Addr(1), &bad);
    }
    // An RPC from a stranger (not a server of the cluster) is dropped too.
    node.on_datagram(&mut x.ctx(Time::from_millis(1)), Addr(9), &good);
    assert_eq!(node.malformed(), 5);
    assert!(sent(&mut x).is_empty(), "nothing answers garbage");
    assert_eq!(node.raft().term(), 0);
}
