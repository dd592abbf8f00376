//! The Raft consensus core (Raft paper, Figure 2; SPEC.md §2-§7): election, heartbeats,
//! log replication, commit and in-order apply, with durable term / vote / log.
//!
//! It is not a node by itself: a node that owns it (see [`crate::server`]) feeds it its
//! start, its Raft datagrams and its timers, proposes commands, and takes committed entries
//! with [`Raft::take_committed`]. Servers are named by index in the cluster list.
//!
//! Choices beyond Figure 2, each for a requirement of SPEC.md:
//! - RPCs are datagrams and may be lost, duplicated or reordered: a reply carries what it
//!   answers (`matched`), replies from old terms are ignored, and `next_index` never moves
//!   below `match_index + 1` (§5).
//! - Fast back-up: a refused AppendEntries says which term conflicts and where it starts,
//!   so the leader skips a whole term per round trip (§6).
//! - Term, vote and log are synced to storage before any message that depends on them (§7).
//! - One election timer is always pending and re-armed lazily to the current deadline, so a
//!   heartbeat costs no timer churn. The leader's heartbeat timer runs only while it leads.
//! - A new command is sent to followers at once; a follower's success reply triggers a
//!   further send only if it answers the latest request and more entries wait. This keeps
//!   the RPC counts of §11 (`raft-count`).
//! - Log compaction (§13, paper §7): the owner hands in a snapshot of its state machine
//!   and the log before it goes; a follower that needs compacted entries gets the snapshot
//!   instead, in chunks ([`install`]).

mod install;

use crate::config::{Bug, Config};
use crate::log::Log;
use crate::msg::{Conflict, Entry, Msg};
use crate::persist;
use crate::snapshot::{Incoming, Snapshot, SnapshotHow};
use faultline::{Addr, Ctx, Time, TimerId};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

faultline::timer_tags! {
    /// The core's timers; a node owning the core routes these to [`Raft::on_timer`].
    pub enum RaftTimer {
        Election = 1,
        Heartbeat = 2,
    }
}

/// Shortest wait when the election timer re-arms itself.
const MIN_REARM: std::time::Duration = std::time::Duration::from_millis(1);

/// History events the core records, for the safety checkers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftEvent {
    /// The node started (or restarted) with this durable state; its apply position is 0.
    Started { term: u64, log_len: u64 },
    /// The node became leader of `term`, holding a snapshot up to `snapshot_index` and
    /// after it a log whose entry terms are `log_terms`.
    BecameLeader {
        term: u64,
        log_terms: Vec<u64>,
        snapshot_index: u64,
    },
    /// The leader of `term` learned that its log is committed up to `upto`.
    Committed { term: u64, upto: u64 },
    /// The node applied the committed entry at `index`.
    Applied {
        index: u64,
        term: u64,
        command: Vec<u8>,
    },
    /// The node's durable state is damaged: it did not start, and takes no part from now on.
    StorageDamaged { detail: String },
    /// The node found a write cut short by a crash and recovered the state the write
    /// leads to, provably safe (`persist` module docs say when); it then starts as usual.
    StorageRecovered { detail: String },
    /// The node holds a snapshot of the state machine up to `index` (of term `term`) whose
    /// bytes have `digest`; its apply position is now `index` (SPEC.md §13).
    Snapshot {
        how: SnapshotHow,
        index: u64,
        term: u64,
        digest: u64,
    },
    /// The node granted its vote in `term` to `candidate` (itself when it stands).
    Voted { term: u64, candidate: u32 },
    /// The node dropped the conflicting entries of its log from `from` on.
    Truncated { from: u64 },
    /// The node follows in `term`: it adopted that newer term, or a candidate or leader
    /// stepped down. For reports (no checker needs it); standing as candidate is the
    /// `Voted` for itself, leading is `BecameLeader`.
    BecameFollower { term: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

/// Counters for tests and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftStats {
    pub elections_started: u64,
    pub append_sent: u64,
    pub vote_requests_sent: u64,
    pub syncs: u64,
    /// InstallSnapshot chunks sent, and snapshots taken and installed.
    pub snapshot_chunks_sent: u64,
    pub snapshots_taken: u64,
    pub snapshots_installed: u64,
}

/// Per-follower replication progress, kept by a leader.
#[derive(Clone, Copy, Debug)]
struct Progress {
    next: u64,
    matched: u64,
    /// The last index carried by the latest AppendEntries sent.
    sent_upto: u64,
    /// While the follower is sent a snapshot: how many of its bytes it holds.
    snapshot_offset: u64,
}

/// One Raft server's state.
pub struct Raft {
    cfg: Config,
    /// Index of this server in `peers`.
    me: u32,
    /// Transport address of every server, this one included, by index.
    peers: Vec<Addr>,
    // Durable (Figure 2).
    term: u64,
    vote: Option<u32>,
    log: Log,
    /// The latest snapshot (covering `log.base()`), kept to send to lagging followers.
    snapshot: Option<Snapshot>,
    // Volatile.
    role: Role,
    leader: Option<u32>,
    commit: u64,
    applied: u64,
    votes: BTreeSet<u32>,
    progress: Vec<Progress>,
    /// This node's current randomised election timeout, redrawn at every election and when
    /// a term's leadership ends, so deadlines only move forward between draws.
    election_timeout: std::time::Duration,
    election_deadline: Time,
    election_timer: Option<TimerId>,
    heartbeat_timer: Option<TimerId>,
    /// Committed entries not yet taken by the owner.
    committed: Vec<(u64, Entry)>,
    /// A snapshot the owner must restore its state machine from, before any entry in
    /// `committed` (loaded at start or installed from a leader).
    restore: Option<Snapshot>,
    /// A snapshot arriving from the leader.
    incoming: Option<Incoming>,
    stats: RaftStats,
    /// Set when the durable state was found damaged at start: the node then stays silent.
    damaged: Option<persist::Damage>,
    /// The highest term seen in any message received (for checkers; not durable).
    heard: u64,
    /// How many times the log was replaced or cut short (anything but an append), so a
    /// checker that saw a prefix of it knows whether that prefix still stands.
    log_rewrites: u64,
}

impl Raft {
    /// A server with index `me` in a cluster whose servers are at `peers` (by index).
    /// Durable state is loaded in [`Raft::on_start`].
    pub fn new(cfg: Config, me: u32, peers: Vec<Addr>) -> Raft {
        assert!(
            (me as usize) < peers.len(),
            "server index {me} outside the cluster"
        );
        let n = peers.len();
        let election_timeout = cfg.election_max;
        Raft {
            cfg,
            me,
            peers,
            term: 0,
            vote: None,
            log: Log::default(),
            snapshot: None,
            role: Role::Follower,
            leader: None,
            commit: 0,
            applied: 0,
            log_rewrites: 0,
            votes: BTreeSet::new(),
            progress: vec![
                Progress {
                    next: 1,
                    matched: 0,
                    sent_upto: 0,
                    snapshot_offset: 0,
                };
                n
            ],
            election_timeout,
            election_deadline: Time::ZERO,
            election_timer: None,
            heartbeat_timer: None,
            committed: Vec::new(),
            restore: None,
            incoming: None,
            stats: RaftStats::default(),
            damaged: None,
            heard: 0,
        }
    }

    pub fn me(&self) -> u32 {
        self.me
    }
    pub fn term(&self) -> u64 {
        self.term
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }
    /// The server this one believes leads its term (itself if leader).
    pub fn leader(&self) -> Option<u32> {
        self.leader
    }
    /// The log past the latest snapshot.
    pub fn log(&self) -> &Log {
        &self.log
    }
    /// The latest snapshot, if the log was ever compacted.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// How many times the log was replaced (at start, or by an installed snapshot) or cut
    /// short: between two equal readings it only grew at its end (or lost its prefix to
    /// compaction).
    pub fn log_rewrites(&self) -> u64 {
        self.log_rewrites
    }
    pub fn commit_index(&self) -> u64 {
        self.commit
    }
    pub fn last_applied(&self) -> u64 {
        self.applied
    }
    /// What is wrong with this node's durable state, if it refused to start on it.
    pub fn damaged(&self) -> Option<&persist::Damage> {
        self.damaged.as_ref()
    }

    /// The highest term carried by any message this incarnation has received.
    pub fn highest_term_heard(&self) -> u64 {
        self.heard
    }

    pub fn stats(&self) -> &RaftStats {
        &self.stats
    }
    /// The index of the server at `addr`, if it is one.
    pub fn peer_index(&self, addr: Addr) -> Option<u32> {
        self.peers.iter().position(|&a| a == addr).map(|i| i as u32)
    }
    fn last_index(&self) -> u64 {
        self.log.last_index()
    }
    /// The term at `index`, which must be the snapshot's last index or a retained one.
    fn term_at(&self, index: u64) -> u64 {
        self.log
            .term_at(index)
            .expect("a term asked of an index the log holds")
    }
    fn majority(&self) -> usize {
        self.peers.len() / 2 + 1
    }

    /// Load durable state and arm the election timer. Damaged state is not used: the node
    /// records what is wrong and stays silent, as a server that refuses to start would.
    pub fn on_start<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>) {
        let verify = !self.cfg.bugs.has(Bug::NoChecksumCheck);
        let durable = match persist::load_with(ctx.storage(), verify) {
            Ok(durable) => durable,
            Err(damage) => {
                let detail = damage.to_string();
                self.damaged = Some(damage);
                ctx.record(E::from(RaftEvent::StorageDamaged { detail }));
                return;
            }
        };
        if let Some(how) = durable.recovered {
            ctx.record(E::from(RaftEvent::StorageRecovered {
                detail: how.to_string(),
            }));
        }
        self.term = durable.term;
        self.vote = durable.vote;
        self.log = durable.log;
        self.log_rewrites += 1;
        ctx.record(E::from(RaftEvent::Started {
            term: self.term,
            log_len: self.last_index(),
        }));
        if let Some(snapshot) = durable.snapshot {
            // Everything in a snapshot was committed and applied before it was taken.
            self.commit = snapshot.index;
            self.applied = snapshot.index;
            self.record_snapshot(ctx, SnapshotHow::Loaded, &snapshot);
            self.restore = Some(snapshot.clone());
            self.snapshot = Some(snapshot);
        }
        self.redraw_election_timeout(ctx);
        self.reset_election_deadline(ctx);
        let wait = self.election_deadline.since(ctx.now());
        self.election_timer = Some(ctx.set_timer(wait, RaftTimer::Election));
    }

    /// Take the entries committed since the last call, in index order, each once.
    pub fn take_committed(&mut self) -> Vec<(u64, Entry)> {
        std::mem::take(&mut self.committed)
    }

    /// Append `command` if this server leads; returns its (index, term). Replication starts
    /// at once; commit comes later.
    pub fn propose<E: From<RaftEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        command: Vec<u8>,
    ) -> Option<(u64, u64)> {
        if self.role != Role::Leader {
            return None;
        }
        self.log.push(Entry {
            term: self.term,
            command,
        });
        let index = self.last_index();
        // An append: the log ended at `index - 1` before it.
        persist::save_log_from(ctx.storage(), &self.log, index, index - 1);
        self.sync(ctx);
        for peer in 0..self.peers.len() as u32 {
            if peer != self.me {
                self.send_append(ctx, peer);
            }
        }
        self.advance_commit(ctx);
        Some((index, self.term))
    }

    /// A timer with one of this core's tags fired (SPEC.md §3).
    pub fn on_timer<E: From<RaftEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        timer: TimerId,
        tag: RaftTimer,
    ) {
        if self.damaged.is_some() {
            return;
        }
        match tag {
            RaftTimer::Election if Some(timer) == self.election_timer => {
                let now = ctx.now();
                if now < self.election_deadline {
                    // Not yet (the deadline moved, or the clock fired early): wait for the
                    // rest, at least a millisecond so an early-firing clock cannot spin us.
                    let wait = self.election_deadline.since(now).max(MIN_REARM);
                    self.election_timer = Some(ctx.set_timer(wait, RaftTimer::Election));
                    return;
                }
                if self.role != Role::Leader {
                    self.start_election(ctx);
                } else {
                    self.reset_election_deadline(ctx);
                }
                let wait = self.election_deadline.since(now);
                self.election_timer = Some(ctx.set_timer(wait, RaftTimer::Election));
            }
            RaftTimer::Heartbeat
                if Some(timer) == self.heartbeat_timer && self.role == Role::Leader =>
            {
                self.broadcast_append(ctx);
                self.heartbeat_timer =
                    Some(ctx.set_timer(self.cfg.heartbeat, RaftTimer::Heartbeat));
            }
            _ => {}
        }
    }

    /// A Raft RPC from server `from` (an index). Client messages are not for the core.
    pub fn on_message<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>, from: u32, msg: Msg) {
        if self.damaged.is_some() {
            return;
        }
        let msg_term = match &msg {
            Msg::RequestVote { term, .. }
            | Msg::Vote { term, .. }
            | Msg::AppendEntries { term, .. }
            | Msg::AppendReply { term, .. }
            | Msg::InstallSnapshot { term, .. }
            | Msg::SnapshotReply { term, .. } => *term,
            Msg::ClientRequest { .. } | Msg::ClientReply { .. } => 0,
        };
        self.heard = self.heard.max(msg_term);
        match msg {
            Msg::RequestVote {
                term,
                last_index,
                last_term,
            } => self.on_request_vote(ctx, from, term, last_index, last_term),
            Msg::Vote { term, granted } => self.on_vote(ctx, from, term, granted),
            Msg::AppendEntries {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => self.on_append(ctx, from, term, prev_index, prev_term, entries, commit),
            Msg::AppendReply {
                term,
                success,
                matched,
                conflict,
            } => self.on_append_reply(ctx, from, term, success, matched, conflict),
            Msg::InstallSnapshot {
                term,
                last_index,
                last_term,
                offset,
                data,
                done,
            } => {
                let at = install::Chunk {
                    last_index,
                    last_term,
                    offset,
                    done,
                };
                self.on_install_snapshot(ctx, from, term, at, &data)
            }
            Msg::SnapshotReply {
                term,
                last_index,
                received,
                done,
            } => self.on_snapshot_reply(ctx, from, term, last_index, received, done),
            Msg::ClientRequest { .. } | Msg::ClientReply { .. } => {}
        }
    }

    fn send<E>(&mut self, ctx: &mut Ctx<'_, E>, to: u32, msg: &Msg) {
        ctx.send(self.peers[to as usize], msg.encode());
    }

    fn sync<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        ctx.storage().sync();
        self.stats.syncs += 1;
    }

    fn redraw_election_timeout<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        let min = faultline::time::duration_nanos(self.cfg.election_min);
        let max = faultline::time::duration_nanos(self.cfg.election_max).max(min);
        self.election_timeout = std::time::Duration::from_nanos(ctx.rng().gen_range(min..=max));
    }

    /// Push the election deadline to one timeout from now. The pending timer fires no later
    /// than the old deadline and re-arms itself for the rest.
    fn reset_election_deadline<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        self.election_deadline = ctx.now() + self.election_timeout;
    }

    /// Adopt a newer term: forget the vote, follow. Not synced here; callers sync before
    /// they answer.
    fn adopt_term<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>, term: u64) {
        debug_assert!(term > self.term);
        self.term = term;
        self.vote = None;
        self.leader = None;
        self.become_follower(ctx, true);
        persist::save_meta(ctx.storage(), self.term, self.vote);
    }

    /// Follow; recorded if that is a change of role, or of term (`new_term`).
    fn become_follower<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>, new_term: bool) {
        if self.role != Role::Follower || new_term {
            ctx.record(E::from(RaftEvent::BecameFollower { term: self.term }));
        }
        if self.role == Role::Leader {
            if let Some(t) = self.heartbeat_timer.take() {
                ctx.cancel_timer(t);
            }
            self.redraw_election_timeout(ctx);
            self.reset_election_deadline(ctx);
        }
        self.role = Role::Follower;
    }

    fn start_election<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>) {
        self.term += 1;
        self.role = Role::Candidate;
        self.vote = Some(self.me);
        self.leader = None;
        self.votes = BTreeSet::from([self.me]);
        self.stats.elections_started += 1;
        persist::save_meta(ctx.storage(), self.term, self.vote);
        self.sync(ctx);
        ctx.record(E::from(RaftEvent::Voted {
            term: self.term,
            candidate: self.me,
        }));
        self.redraw_election_timeout(ctx);
        self.reset_election_deadline(ctx);
        if self.votes.len() >= self.majority() {
            self.become_leader(ctx);
            return;
        }
        let msg = Msg::RequestVote {
            term: self.term,
            last_index: self.last_index(),
            last_term: self.term_at(self.last_index()),
        };
        for peer in 0..self.peers.len() as u32 {
            if peer != self.me {
                self.stats.vote_requests_sent += 1;
                self.send(ctx, peer, &msg);
            }
        }
    }

    fn become_leader<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>) {
        self.role = Role::Leader;
        self.leader = Some(self.me);
        let next = self.last_index() + 1;
        for p in &mut self.progress {
            *p = Progress {
                next,
                matched: 0,
                sent_upto: 0,
                snapshot_offset: 0,
            };
        }
        let log_terms = self.log.entries().iter().map(|e| e.term).collect();
        ctx.record(E::from(RaftEvent::BecameLeader {
            term: self.term,
            log_terms,
            snapshot_index: self.log.base(),
        }));
        self.broadcast_append(ctx);
        self.heartbeat_timer = Some(ctx.set_timer(self.cfg.heartbeat, RaftTimer::Heartbeat));
    }

    fn on_request_vote<E: From<RaftEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        from: u32,
        term: u64,
        last_index: u64,
        last_term: u64,
    ) {
        let mut dirty = false;
        if term > self.term {
            self.adopt_term(ctx, term);
            dirty = true;
        }
        // Election restriction (paper §5.4.1, SPEC.md §4): only a candidate at least as up
        // to date.
        let my_last = (self.term_at(self.last_index()), self.last_index());
        let bugs = self.cfg.bugs;
        let up_to_date = (last_term, last_index) >= my_last || bugs.has(Bug::NoElectionRestriction);
        let may_vote = self.vote.is_none_or(|v| v == from) || bugs.has(Bug::VoteTwice);
        let granted = term == self.term && may_vote && up_to_date && self.role == Role::Follower;
        if granted && self.vote != Some(from) {
            self.vote = Some(from);
            persist::save_meta(ctx.storage(), self.term, self.vote);
            ctx.record(E::from(RaftEvent::Voted {
                term: self.term,
                candidate: from,
            }));
            dirty = true;
        }
        if granted {
            self.reset_election_deadline(ctx);
        }
        if dirty && !(granted && bugs.has(Bug::VoteNotSynced)) {
            self.sync(ctx);
        }
        self.send(
            ctx,
            from,
            &Msg::Vote {
                term: self.term,
                granted,
            },
        );
    }

    fn on_vote<E: From<RaftEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        from: u32,
        term: u64,
        granted: bool,
    ) {
        if term > self.term && !self.cfg.bugs.has(Bug::IgnoreHigherTermInReply) {
            self.adopt_term(ctx, term);
            self.sync(ctx);
            return;
        }
        if self.role == Role::Candidate && term == self.term && granted {
            self.votes.insert(from);
            if self.votes.len() >= self.majority() {
                self.become_leader(ctx);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append<E: From<RaftEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        from: u32,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
    ) {
        if term < self.term {
            let reply = Msg::AppendReply {
                term: self.term,
                success: false,
                matched: 0,
                conflict: None,
            };
            self.send(ctx, from, &reply);
            return;
        }
        let mut dirty = false;
        if term > self.term {
            self.adopt_term(ctx, term);
            dirty = true;
        }
        if self.role == Role::Leader {
            // Two leaders in one term cannot happen; a sender claiming it is not a peer we
            // can trust, so drop it rather than corrupt our log.
            return;
        }
        self.become_follower(ctx, false);
        self.leader = Some(from);
        self.reset_election_deadline(ctx);
        let (prev_index, prev_term, entries) = self.past_snapshot(prev_index, prev_term, entries);
        let old_last = self.last_index();

        // Consistency check (Figure 2); a refusal names the conflict (SPEC.md §6).
        let reply = if prev_index > self.last_index() {
            let conflict = Conflict {
                term: None,
                index: self.last_index() + 1,
            };
            Msg::AppendReply {
                term: self.term,
                success: false,
                matched: 0,
                conflict: Some(conflict),
            }
        } else if self.term_at(prev_index) != prev_term {
            let bad = self.term_at(prev_index);
            let mut first = prev_index;
            while first > self.log.base() + 1 && self.term_at(first - 1) == bad {
                first -= 1;
            }
            let conflict = Conflict {
                term: Some(bad),
                index: first,
            };
            Msg::AppendReply {
                term: self.term,
                success: false,
                matched: 0,
                conflict: Some(conflict),
            }
        } else {
            let matched = prev_index + entries.len() as u64;
            let mut first_changed = None;
            if self.cfg.bugs.has(Bug::TruncateAlways)
                && !entries.is_empty()
                && prev_index < self.last_index()
            {
                self.log.truncate_from(prev_index + 1);
                self.log_rewrites += 1;
            }
            for (k, entry) in entries.into_iter().enumerate() {
                let index = prev_index + 1 + k as u64;
                if index <= self.last_index() {
                    if self.term_at(index) == entry.term {
                        continue;
                    }
                    // A conflicting suffix: it was never committed (log matching), drop it.
                    assert!(
                        index > self.commit,
                        "a committed entry conflicts with the leader"
                    );
                    self.log.truncate_from(index);
                    self.log_rewrites += 1;
                    ctx.record(E::from(RaftEvent::Truncated { from: index }));
                }
                first_changed.get_or_insert(index);
                self.log.push(entry);
            }
            if let Some(from_index) = first_changed {
                persist::save_log_from(ctx.storage(), &self.log, from_index, old_last);
                dirty |= !self.cfg.bugs.has(Bug::LogNotSynced);
            }
            // Only entries known to match the leader's may be committed here.
            let new_commit = commit.min(matched);
            if new_commit > self.commit {
                self.commit = new_commit;
            }
            Msg::AppendReply {
                term: self.term,
                success: true,
                matched,
                conflict: None,
            }
        };
        if dirty {
            self.sync(ctx);
        }
        self.apply(ctx);
        self.send(ctx, from, &reply);
    }

    fn on_append_reply<E: From<RaftEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        from: u32,
        term: u64,
        success: bool,
        matched: u64,
        conflict: Option<Conflict>,
    ) {
        if term > self.term && !self.cfg.bugs.has(Bug::IgnoreHigherTermInReply) {
            self.adopt_term(ctx, term);
            self.sync(ctx);
            return;
        }
        if self.role != Role::Leader || term != self.term || from == self.me {
            return;
        }
        let last = self.last_index();
        if success {
            if matched > last {
                return; // not an answer to anything this leader sent
            }
            let p = &mut self.progress[from as usize];
            p.matched = p.matched.max(matched);
            p.next = p.next.max(p.matched + 1);
            let more = matched == p.sent_upto && p.next <= last;
            self.advance_commit(ctx);
            if more {
                self.send_append(ctx, from);
            }
        } else if let Some(c) = conflict {
            // Fast back-up (SPEC.md §6): past our last entry of the conflicting term.
            let next = match c.term {
                None => c.index,
                Some(t) => match self.log.last_of_term(t) {
                    Some(index) => index + 1,
                    None => c.index,
                },
            };
            let p = &mut self.progress[from as usize];
            p.next = next.clamp(p.matched + 1, last + 1);
            self.send_append(ctx, from);
        }
    }

    fn broadcast_append<E>(&mut self, ctx: &mut Ctx<'_, E>) {
        for peer in 0..self.peers.len() as u32 {
            if peer != self.me {
                self.send_append(ctx, peer);
            }
        }
    }

    fn send_append<E>(&mut self, ctx: &mut Ctx<'_, E>, peer: u32) {
        if self.progress[peer as usize].next <= self.log.base() {
            // What the follower needs next was compacted away (SPEC.md §13).
            self.send_snapshot_chunk(ctx, peer);
            return;
        }
        let last = self.last_index();
        let p = &mut self.progress[peer as usize];
        let prev_index = p.next - 1;
        let upto = last.min(prev_index + self.cfg.max_batch as u64);
        p.sent_upto = upto;
        let entries = self.log.slice(prev_index + 1, upto).to_vec();
        let msg = Msg::AppendEntries {
            term: self.term,
            prev_index,
            prev_term: self.term_at(prev_index),
            entries,
            commit: self.commit,
        };
        self.stats.append_sent += 1;
        self.send(ctx, peer, &msg);
    }

    /// Commit the highest index of the current term that a majority holds (paper §5.4.2,
    /// SPEC.md §5: never count replicas for an older term's entry).
    fn advance_commit<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>) {
        let mut n = self.last_index();
        let count_old = self.cfg.bugs.has(Bug::CommitOldTerm);
        while n > self.commit && (self.term_at(n) == self.term || count_old) {
            let holders = self
                .progress
                .iter()
                .enumerate()
                .filter(|(i, p)| *i as u32 == self.me || p.matched >= n)
                .count();
            if holders >= self.majority() {
                self.commit = n;
                ctx.record(E::from(RaftEvent::Committed {
                    term: self.term,
                    upto: n,
                }));
                break;
            }
            n -= 1;
        }
        self.apply(ctx);
    }

    /// Hand every newly committed entry to the owner, in order, exactly once.
    fn apply<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>) {
        while self.applied < self.commit {
            self.applied += 1;
            let entry = self
                .log
                .entry(self.applied)
                .expect("committed entries past the snapshot are retained")
                .clone();
            ctx.record(E::from(RaftEvent::Applied {
                index: self.applied,
                term: entry.term,
                command: entry.command.clone(),
            }));
            self.committed.push((self.applied, entry));
        }
    }
}
