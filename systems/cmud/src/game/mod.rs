//! The CMUD game, written purely on the store's Get, Put and List (rules: `GAME.md` beside
//! this crate, cited as "GAME.md §N").
//!
//! Players walk a small map, mine coins, buy hardware that adds power, and spend power on
//! the problem of their education level until they are promoted, up to retirement. All
//! state lives in the store under the key schema of [`keys`]; the game keeps nothing
//! between commands but the session's [`Mode`].
//!
//! One implementation of the rules serves every caller:
//! - [`Turn`], the sans-IO form of one command, for nodes that cannot block (simulated bot
//!   players): each [`Step::Need`] names an [`Op`] to carry out, answered with
//!   [`Turn::resume`], until [`Step::Done`] gives the [`Outcome`];
//! - [`drive`] and [`run_line`] answer a turn from a blocking [`Store`];
//! - [`play`] / [`play_seeded`], the interactive game over a reader and a writer;
//! - [`Bot`], which picks each next command from a seeded RNG;
//! - [`audit`], which checks that a replica's map is game data the game can read.
//!
//! Driving a turn by hand, as a node that sends each operation to a server and resumes
//! when the reply arrives:
//!
//! ```
//! use cmud::game::{apply, MemStore, Mode, Player, Status, Step, Turn};
//!
//! let mut store = MemStore::default();
//! let bob = Player::new("bob").unwrap();
//! let (mut turn, mut step) = Turn::start(&bob, Mode::Main, "move bridge", 7);
//! let outcome = loop {
//!     match step {
//!         // A node would send `op` and return; the reply event calls `resume`.
//!         Step::Need(op) => step = turn.resume(apply(&mut store, &op)),
//!         Step::Done(outcome) => break outcome,
//!     }
//! };
//! assert_eq!(outcome.status, Status::Ok);
//! assert_eq!(outcome.text, "You walk to the bridge.");
//! assert_eq!(store.map["loc/bob"], "bridge");
//! ```

mod audit;
mod bot;
mod command;
mod economy;
mod engine;
pub mod keys;
mod rules;
mod session;
mod world;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use audit::audit;
pub use bot::{Bot, BOT_MINE_ROUNDS_MAX};
pub use command::{help, Command, Mode};
pub use economy::{
    purchase, Hardware, Inventory, Level, Purchase, BASE_POWER, BREAK_ODDS, MINE_ROUNDS_MAX,
};
pub use engine::{Op, Outcome, Reply, Status, Step, Turn};
pub use keys::{problem_key, Player};
pub use session::{apply, drive, play, play_seeded, prompt, run_line};
pub use world::{render_map, Location, START};

/// What a store call gives: the value, or the reason it failed.
pub type StoreResult<T> = Result<T, String>;

/// The three operations the game needs of a store, answered before returning.
pub trait Store {
    /// The value of `key`, or none if it is absent.
    fn get(&mut self, key: &str) -> StoreResult<Option<String>>;
    /// Sets `key` to `value`.
    fn put(&mut self, key: &str, value: &str) -> StoreResult<()>;
    /// Every (key, value) whose key starts with `prefix`, in any order.
    fn list(&mut self, prefix: &str) -> StoreResult<Vec<(String, String)>>;
}

/// A store in memory, for tests and for playing alone; lists come sorted by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemStore {
    pub map: BTreeMap<String, String>,
}

impl Store for MemStore {
    fn get(&mut self, key: &str) -> StoreResult<Option<String>> {
        Ok(self.map.get(key).cloned())
    }

    fn put(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.map.insert(key.to_string(), value.to_string());
        Ok(())
    }

    fn list(&mut self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
        Ok(self
            .map
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
