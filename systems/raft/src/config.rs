//! Timing and batching knobs of a Raft node.
//!
//! The defaults meet the limits of SPEC.md §3: 10 heartbeats per second from a leader, an
//! election timeout several times the heartbeat and randomised per peer (400–800 ms, not
//! the paper's 150–300 ms), so a new leader appears well within 5 s of the old one failing.
//! Other timings are accepted as long as they can work at all (a follower must be able to
//! hear a heartbeat before it gives up on the leader): the paper's own experiments use
//! heartbeats of 6 ms and election timeouts from 12 ms, and a simulated LAN can go lower.

use faultline::bugs::BugSet;
use std::time::Duration;

faultline::planted_bugs! {
    /// Known-wrong behaviours that can be planted (see `faultline bugs`); none by default.
    pub enum Bug {
        /// A leader commits an older term's entry by counting replicas (Figure 8).
        CommitOldTerm = 0,
        /// A granted vote is not synced before the reply.
        VoteNotSynced = 1,
        /// A reply carrying a higher term is ignored.
        IgnoreHigherTermInReply = 2,
        /// Appended entries are not synced before the success reply.
        LogNotSynced = 3,
        /// A follower grants a vote to anyone who asks, even after voting in the term.
        VoteTwice = 4,
        /// Votes are granted without the up-to-date check (paper §5.4.1).
        NoElectionRestriction = 5,
        /// A leader answers a Get from its own state at once, without committing it.
        LocalReads = 6,
        /// A follower truncates its log after `prev_index` on every AppendEntries.
        TruncateAlways = 7,
        /// The duplicate table is not consulted: a retried command applies twice.
        ApplyTwice = 8,
        /// Stored records are loaded without checking their checksums: rot is used.
        NoChecksumCheck = 9,
    }
}

/// Configuration of one Raft node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// How often a leader sends AppendEntries to each follower when idle.
    pub heartbeat: Duration,
    /// A follower that hears no leader for a time drawn uniformly from
    /// `election_min..=election_max` starts an election.
    pub election_min: Duration,
    pub election_max: Duration,
    /// Most log entries carried by one AppendEntries (keeps a datagram small).
    pub max_batch: usize,
    /// Take a snapshot and compact the log once this many entries were applied since the
    /// last one (SPEC.md §13). The default is far above what any catalog scenario without
    /// "snapshot" in its name commits, so those never compact.
    pub snapshot_every: u64,
    /// Bytes of snapshot per InstallSnapshot datagram.
    pub snapshot_chunk: usize,
    /// Planted bugs (none unless a bug hunt asks).
    pub bugs: BugSet<Bug>,
}

/// The default [`Config::snapshot_every`].
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 10_000;

impl Default for Config {
    fn default() -> Config {
        Config {
            heartbeat: Duration::from_millis(100),
            election_min: Duration::from_millis(400),
            election_max: Duration::from_millis(800),
            max_batch: 64,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            snapshot_chunk: 16 * 1024,
            bugs: BugSet::NONE,
        }
    }
}

impl Config {
    /// An error if the timing cannot work: a heartbeat of at least a microsecond, an
    /// election timeout longer than the heartbeat (or every follower would give up on a
    /// healthy leader), and a range that does not end before it starts. The course's limit
    /// of 10 heartbeats per second is the default, not a rule.
    pub fn validate(&self) -> Result<(), String> {
        if self.heartbeat < Duration::from_micros(1) {
            return Err(format!(
                "heartbeat {:?} is under a microsecond",
                self.heartbeat
            ));
        }
        if self.election_min <= self.heartbeat {
            return Err(format!(
                "election timeout {:?} must be longer than the heartbeat {:?}",
                self.election_min, self.heartbeat
            ));
        }
        if self.election_max < self.election_min {
            return Err(format!(
                "election timeout range {:?}..={:?} ends before it starts",
                self.election_min, self.election_max
            ));
        }
        if self.max_batch == 0 {
            return Err("max_batch must be at least 1".into());
        }
        if self.snapshot_every == 0 {
            return Err("snapshot_every must be at least 1 entry".into());
        }
        // Room for the message around the chunk within one datagram.
        let chunk_max = crate::msg::MAX_DATAGRAM as usize - 1024;
        if self.snapshot_chunk == 0 || self.snapshot_chunk > chunk_max {
            return Err(format!(
                "snapshot_chunk {} must be 1..={chunk_max} bytes (one datagram)",
                self.snapshot_chunk
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_meet_the_course_limits_and_bad_timing_is_refused() {
        let d = Config::default();
        assert_eq!(d.validate(), Ok(()));
        assert_eq!(d.heartbeat, Duration::from_millis(100), "10 heartbeats/s");
        assert!(
            d.election_min >= 4 * d.heartbeat,
            "several heartbeats per election timeout"
        );
        let paper = Config {
            heartbeat: Duration::from_millis(6),
            election_min: Duration::from_millis(12),
            election_max: Duration::from_millis(24),
            ..d.clone()
        };
        assert_eq!(paper.validate(), Ok(()), "the paper's fastest timing");
        let sub_ms = Config {
            heartbeat: Duration::from_micros(250),
            election_min: Duration::from_micros(500),
            election_max: Duration::from_millis(1),
            ..d.clone()
        };
        assert_eq!(sub_ms.validate(), Ok(()));
        let tight = Config {
            election_min: Duration::from_millis(100),
            ..d.clone()
        };
        assert!(tight.validate().is_err(), "no heartbeat before the timeout");
        let zero = Config {
            heartbeat: Duration::ZERO,
            ..d.clone()
        };
        assert!(zero.validate().is_err());
        let reversed = Config {
            election_max: Duration::from_millis(300),
            ..d.clone()
        };
        assert!(reversed.validate().is_err());
        let never = Config {
            snapshot_every: 0,
            ..d.clone()
        };
        assert!(never.validate().is_err());
        let huge_chunk = Config {
            snapshot_chunk: 60 * 1024,
            ..d
        };
        assert!(
            huge_chunk.validate().is_err(),
            "a chunk must fit a datagram"
        );
    }
}
