//! Log compaction and InstallSnapshot (Raft paper §7, Figure 13; SPEC.md §13).
//!
//! - The owner of the core calls [`Raft::compact`] with its state machine's bytes once
//!   [`Raft::wants_snapshot`] says the applied log has passed the threshold; the snapshot
//!   and the deletion of the entries it covers are synced together.
//! - A leader whose follower needs an entry at or below its snapshot sends the snapshot
//!   instead, one chunk per datagram, stop-and-wait: each reply says how many bytes the
//!   follower holds, and the next chunk follows it. A lost chunk or reply is resent by the
//!   heartbeat. Replies that do not move the follower forward send nothing, so duplicated
//!   datagrams cannot multiply the traffic.
//! - A follower assembles the chunks in order ([`Incoming`]). With the last one it keeps
//!   the log entries after the snapshot if its log agrees at the snapshot's last entry,
//!   and drops its whole log otherwise; it persists the snapshot, syncs, and hands it to
//!   its owner to restore the state machine from ([`Raft::take_restore`]).

use super::{Raft, RaftEvent};
use crate::msg::{Entry, Msg};
use crate::persist;
use crate::snapshot::{Incoming, Snapshot, SnapshotHow};
use faultline::Ctx;

/// Where an InstallSnapshot chunk belongs.
#[derive(Clone, Copy, Debug)]
pub(super) struct Chunk {
    pub last_index: u64,
    pub last_term: u64,
    pub offset: u64,
    pub done: bool,
}

impl Raft {
    /// Whether the entries applied since the last snapshot reached the threshold.
    pub fn wants_snapshot(&self) -> bool {
        self.damaged.is_none() && self.applied - self.log.base() >= self.cfg.snapshot_every
    }

    /// Replace the log up to the last applied entry by `data`, the owner's state machine
    /// after applying it. Persisted and synced before returning.
    pub fn compact<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>, data: Vec<u8>) {
        let index = self.applied;
        let old_base = self.log.base();
        if index <= old_base {
            return;
        }
        let snapshot = Snapshot {
            index,
            term: self.term_at(index),
            data,
        };
        self.log.compact_to(index, snapshot.term);
        persist::save_snapshot(ctx.storage(), &snapshot, &self.log, old_base + 1, index);
        // Followers being sent the previous snapshot start over with this one.
        for p in &mut self.progress {
            p.snapshot_offset = 0;
        }
        self.sync(ctx);
        self.stats.snapshots_taken += 1;
        self.record_snapshot(ctx, SnapshotHow::Taken, &snapshot);
        self.snapshot = Some(snapshot);
    }

    /// Stop taking part: the owner found the state machine in a snapshot unusable, which
    /// is damage as surely as a bad checksum (SPEC.md §7).
    pub fn refuse<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>, problem: &'static str) {
        let damage = persist::Damage {
            key: persist::SNAPSHOT.to_string(),
            problem,
        };
        ctx.record(E::from(RaftEvent::StorageDamaged {
            detail: damage.to_string(),
        }));
        self.damaged = Some(damage);
        if let Some(t) = self.heartbeat_timer.take() {
            ctx.cancel_timer(t);
        }
        self.role = super::Role::Follower;
    }

    /// The snapshot the owner must restore its state machine from before it applies the
    /// entries of [`Raft::take_committed`], if one was loaded or installed since the last
    /// call.
    pub fn take_restore(&mut self) -> Option<Snapshot> {
        self.restore.take()
    }

    pub(super) fn record_snapshot<E: From<RaftEvent>>(
        &self,
        ctx: &mut Ctx<'_, E>,
        how: SnapshotHow,
        s: &Snapshot,
    ) {
        ctx.record(E::from(RaftEvent::Snapshot {
            how,
            index: s.index,
            term: s.term,
            digest: s.digest(),
        }));
    }

    /// An AppendEntries whose previous entry is inside our snapshot: the entries up to the
    /// snapshot's end are committed, so the leader holds them as we do (log matching); keep
    /// only what follows and check consistency at the snapshot's last entry.
    pub(super) fn past_snapshot(
        &self,
        prev_index: u64,
        prev_term: u64,
        mut entries: Vec<Entry>,
    ) -> (u64, u64, Vec<Entry>) {
        let base = self.log.base();
        if prev_index >= base {
            return (prev_index, prev_term, entries);
        }
        let covered = (base - prev_index).min(entries.len() as u64) as usize;
        entries.drain(..covered);
        (base, self.log.base_term(), entries)
    }

    /// Send `peer` the chunk of our snapshot at the offset it has reached.
    pub(super) fn send_snapshot_chunk<E>(&mut self, ctx: &mut Ctx<'_, E>, peer: u32) {
        let Some(snapshot) = &self.snapshot else {
            return;
        };
        let p = &mut self.progress[peer as usize];
        let len = snapshot.data.len() as u64;
        let offset = p.snapshot_offset.min(len);
        let end = (offset + self.cfg.snapshot_chunk as u64).min(len);
        let msg = Msg::InstallSnapshot {
            term: self.term,
            last_index: snapshot.index,
            last_term: snapshot.term,
            offset,
            data: snapshot.data[offset as usize..end as usize].to_vec(),
            done: end == len,
        };
        self.stats.snapshot_chunks_sent += 1;
        self.send(ctx, peer, &msg);
    }

    /// A chunk of the leader's snapshot (Figure 13).
    pub(super) fn on_install_snapshot<E: From<RaftEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        from: u32,
        term: u64,
        chunk: Chunk,
        data: &[u8],
    ) {
        let reply = |raft: &Raft, received, done| Msg::SnapshotReply {
            term: raft.term,
            last_index: chunk.last_index,
            received,
            done,
        };
        if term < self.term {
            let msg = reply(self, 0, false);
            self.send(ctx, from, &msg);
            return;
        }
        let mut dirty = false;
        if term > self.term {
            self.adopt_term(ctx, term);
            dirty = true;
        }
        if self.role == super::Role::Leader {
            return; // two leaders in one term: not a peer to trust (as in AppendEntries)
        }
        self.become_follower(ctx, false);
        self.leader = Some(from);
        self.reset_election_deadline(ctx);
        let msg = if chunk.last_index <= self.commit {
            // We hold all of it already, committed: the leader may move on past it.
            reply(self, 0, true)
        } else {
            let (held, complete) = Incoming::accept(
                &mut self.incoming,
                chunk.last_index,
                chunk.last_term,
                chunk.offset,
                data,
                chunk.done,
            );
            if complete {
                let inc = self.incoming.take().expect("a complete snapshot");
                self.install(ctx, inc);
                dirty = false; // install synced
            }
            reply(self, held, complete)
        };
        if dirty {
            self.sync(ctx);
        }
        self.send(ctx, from, &msg);
    }

    /// Make a complete snapshot from the leader ours: trim or drop the log, persist, sync,
    /// and have the owner restore from it.
    fn install<E: From<RaftEvent>>(&mut self, ctx: &mut Ctx<'_, E>, inc: Incoming) {
        let snapshot = Snapshot {
            index: inc.index,
            term: inc.term,
            data: inc.data,
        };
        let (old_base, old_last) = (self.log.base(), self.last_index());
        self.log.compact_to(snapshot.index, snapshot.term);
        // A conflicting log is dropped whole: checkers must look at it again.
        self.log_rewrites += 1;
        persist::save_snapshot(
            ctx.storage(),
            &snapshot,
            &self.log,
            old_base + 1,
            old_last.max(snapshot.index),
        );
        self.sync(ctx);
        self.commit = self.commit.max(snapshot.index);
        self.applied = snapshot.index;
        // Entries committed but not yet taken are inside the snapshot.
        self.committed.clear();
        self.stats.snapshots_installed += 1;
        self.record_snapshot(ctx, SnapshotHow::Installed, &snapshot);
        self.restore = Some(snapshot.clone());
        self.snapshot = Some(snapshot);
    }

    /// A follower's answer to a chunk.
    pub(super) fn on_snapshot_reply<E: From<RaftEvent>>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
        from: u32,
        term: u64,
        last_index: u64,
        received: u64,
        done: bool,
    ) {
        if term > self.term {
            self.adopt_term(ctx, term);
            self.sync(ctx);
            return;
        }
        if self.role != super::Role::Leader || term != self.term || from == self.me {
            return;
        }
        let last = self.last_index();
        let current = self.snapshot.as_ref().map(|s| s.index);
        let p = &mut self.progress[from as usize];
        if done {
            if last_index > last {
                return; // not an answer to anything this leader sent
            }
            p.matched = p.matched.max(last_index);
            p.next = p.next.max(p.matched + 1);
            p.snapshot_offset = 0;
            let more = p.next <= last || p.next <= self.log.base();
            self.advance_commit(ctx);
            if more {
                self.send_append(ctx, from);
            }
        } else if current == Some(last_index) {
            if received > p.snapshot_offset {
                p.snapshot_offset = received;
                self.send_snapshot_chunk(ctx, from);
            } else {
                // The follower holds less than we thought (it restarted, or took a chunk
                // of another snapshot): resume from there at the next heartbeat.
                p.snapshot_offset = received;
            }
        }
    }
}
