//! The key-value state machine replicated by Raft, with exactly-once client operations.
//!
//! A log command is a [`Command`]: a client's operation tagged with the client's id and
//! sequence number. Each client has at most one operation outstanding and numbers them 1, 2,
//! ..., so the state machine remembers, per client, the last sequence number it applied and
//! that operation's result: a retried operation that was already applied (committed twice
//! through a retry to another leader) is not applied again, and its answer is the one
//! remembered. The state is rebuilt after a restart from the latest snapshot (which holds
//! the duplicate table too, so exactly-once survives compaction) and the log after it, so
//! it needs no storage of its own. Gets go through the log too, which is what makes them
//! linearizable (SPEC.md §9, §13).

use bincode::Options;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A client operation on the store (SPEC.md §9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// The key's value ("" if unset).
    Get { key: String },
    /// Set the key to `value`.
    Put { key: String, value: String },
    /// Append `value` to the key's value.
    Append { key: String, value: String },
}

impl Op {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            Op::Get { key } | Op::Put { key, .. } | Op::Append { key, .. } => key,
        }
    }
}

/// What an operation returned: a Get's value, or "done" for a write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Value(String),
    Done,
}

/// A command in the Raft log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A client operation.
    Client { client: u64, seq: u64, op: Op },
    /// An opaque number, as the course's tests commit (SPEC.md §2); it does not touch the
    /// store.
    Raw(u64),
}

impl Command {
    pub fn encode(&self) -> Vec<u8> {
        bincode::DefaultOptions::new()
            .serialize(self)
            .expect("commands always encode")
    }

    /// The command in `bytes`; `None` for bytes that are not a command (they are skipped).
    pub fn decode(bytes: &[u8]) -> Option<Command> {
        bincode::DefaultOptions::new()
            .with_limit(1 << 20)
            .deserialize(bytes)
            .ok()
    }
}

/// The store and the per-client duplicate table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvState {
    data: BTreeMap<String, String>,
    /// Per client: the last applied sequence number and its result.
    last: BTreeMap<u64, (u64, Reply)>,
}

impl KvState {
    /// Apply a committed command; returns the client's (id, seq, result) for a client
    /// command, whether it was applied now or earlier.
    pub fn apply(&mut self, command: &Command) -> Option<(u64, u64, Reply)> {
        self.apply_checked(command, true)
    }

    /// [`KvState::apply`], with the duplicate table consulted only if `dedup` (a planted
    /// bug turns it off).
    pub fn apply_checked(&mut self, command: &Command, dedup: bool) -> Option<(u64, u64, Reply)> {
        let Command::Client { client, seq, op } = command else {
            return None;
        };
        if let Some((last_seq, result)) = self.last.get(client).filter(|_| dedup) {
            if *seq <= *last_seq {
                // Already applied. Only the latest result is kept; an older retry's answer
                // is no longer wanted (the client moved on), so it gets the latest slot's.
                return (*seq == *last_seq).then(|| (*client, *seq, result.clone()));
            }
        }
        let result = match op {
            Op::Get { key } => Reply::Value(self.data.get(key).cloned().unwrap_or_default()),
            Op::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                Reply::Done
            }
            Op::Append { key, value } => {
                self.data.entry(key.clone()).or_default().push_str(value);
                Reply::Done
            }
        };
        self.last.insert(*client, (*seq, result.clone()));
        Some((*client, *seq, result))
    }

    /// The result of `client`'s operation `seq` if it was applied and is the latest.
    pub fn cached(&self, client: u64, seq: u64) -> Option<&Reply> {
        self.last
            .get(&client)
            .filter(|(s, _)| *s == seq)
            .map(|(_, r)| r)
    }

    /// Whether `client`'s operation `seq` was applied already (it or a later one).
    pub fn seen(&self, client: u64, seq: u64) -> bool {
        self.last.get(&client).is_some_and(|(s, _)| *s >= seq)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }

    /// The whole state, store and duplicate table, as snapshot bytes (the same state always
    /// gives the same bytes: the maps are ordered).
    pub fn to_snapshot(&self) -> Vec<u8> {
        bincode::DefaultOptions::new()
            .serialize(self)
            .expect("the state always encodes")
    }

    /// The state in snapshot bytes; `None` if they are not one.
    pub fn from_snapshot(bytes: &[u8]) -> Option<KvState> {
        bincode::DefaultOptions::new().deserialize(bytes).ok()
    }

    /// Clients in the duplicate table.
    pub fn clients(&self) -> usize {
        self.last.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(client: u64, seq: u64, op: Op) -> Command {
        Command::Client { client, seq, op }
    }

    #[test]
    fn retried_operations_apply_once() {
        let mut kv = KvState::default();
        let app = Op::Append {
            key: "k".into(),
            value: "x".into(),
        };
        assert_eq!(kv.apply(&cmd(1, 1, app.clone())), Some((1, 1, Reply::Done)));
        assert_eq!(kv.apply(&cmd(1, 1, app.clone())), Some((1, 1, Reply::Done)));
        assert_eq!(kv.get("k"), Some("x"));
        let get = Op::Get { key: "k".into() };
        assert_eq!(
            kv.apply(&cmd(2, 1, get.clone())),
            Some((2, 1, Reply::Value("x".into())))
        );
        kv.apply(&cmd(1, 2, app.clone()));
        // The retried get answers what it saw when first applied.
        assert_eq!(
            kv.apply(&cmd(2, 1, get)),
            Some((2, 1, Reply::Value("x".into())))
        );
        // An old retry is ignored.
        assert_eq!(kv.apply(&cmd(1, 1, app)), None);
        assert_eq!(kv.get("k"), Some("xx"));
        assert_eq!(kv.apply(&Command::Raw(5)), None);
        assert_eq!(
            Command::decode(&Command::Raw(5).encode()),
            Some(Command::Raw(5))
        );
        assert_eq!(Command::decode(&[0xff; 3]), None);
    }

    #[test]
    fn a_snapshot_keeps_the_duplicate_table() {
        let mut kv = KvState::default();
        let app = Op::Append {
            key: "k".into(),
            value: "x".into(),
        };
        kv.apply(&cmd(1, 1, app.clone()));
        let mut restored = KvState::from_snapshot(&kv.to_snapshot()).expect("decodes");
        assert_eq!(restored, kv);
        // The retry that reaches the restored state is still applied only once.
        assert_eq!(restored.apply(&cmd(1, 1, app)), Some((1, 1, Reply::Done)));
        assert_eq!(restored.get("k"), Some("x"));
        assert_eq!(KvState::from_snapshot(b"\xff\xff garbage"), None);
    }
}
