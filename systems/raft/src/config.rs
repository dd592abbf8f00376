//! Timing and batching knobs of a Raft node.
//!
//! The defaults meet the limits of SPEC.md §3: 10 heartbeats per second from a leader, an
//! election timeout several times the heartbeat and randomised per peer (400–800 ms, not
//! the paper's 150–300 ms), so a new leader appears well within 5 s of the old one failing.
//! Other timings are accepted as long as they can work at all (a follower must be able to
//! hear a heartbeat before it gives up on the leader): the paper's own experiments use
//! heartbeats of 6 ms and election timeouts from 12 ms, and a simulated LAN can go lower.

use std::time::Duration;

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
}

impl Default for Config {
    fn default() -> Config {
        Config {
            heartbeat: Duration::from_millis(100),
            election_min: Duration::from_millis(400),
            election_max: Duration::from_millis(800),
            max_batch: 64,
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
            ..d
        };
        assert!(reversed.validate().is_err());
    }
}
