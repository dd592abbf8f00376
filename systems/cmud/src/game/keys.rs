//! Player names and the key schema: every key the game reads or writes is built here
//! (GAME.md §2).

use std::fmt;

use super::economy::{Hardware, Level};

/// The longest name a player may take.
pub const NAME_LEN_MAX: usize = 32;

/// A valid player name: 1 to [`NAME_LEN_MAX`] ASCII letters, digits, `_` or `-`. No `/`
/// (a name is a key segment), no whitespace (the store's line protocol splits on it), and
/// not a level name in any case: the level names are the problem keys, which share the top
/// level with the players' names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Player(String);

impl Player {
    /// Checks `name` and wraps it, or says what is wrong with it.
    pub fn new(name: &str) -> Result<Player, String> {
        if name.is_empty() || name.len() > NAME_LEN_MAX {
            return Err(format!(
                "a player name has 1 to {NAME_LEN_MAX} characters, not {}",
                name.len()
            ));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(format!(
                "a player name has only letters, digits, '_' and '-', not {c:?}"
            ));
        }
        if Level::ALL
            .iter()
            .any(|l| l.name().eq_ignore_ascii_case(name))
        {
            return Err(format!(
                "{name:?} is the name of a level's problem, not free for a player"
            ));
        }
        Ok(Player(name.to_string()))
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// `<name>`: the player's education level.
    pub fn level_key(&self) -> String {
        self.0.clone()
    }

    /// `loc/<name>`: where the player stands.
    pub fn loc_key(&self) -> String {
        format!("{LOC_PREFIX}{}", self.0)
    }

    /// `balance/<name>`: the player's coins.
    pub fn balance_key(&self) -> String {
        format!("balance/{}", self.0)
    }

    /// `comp/<name>/`: the prefix of the player's hardware counts. The trailing `/` keeps
    /// `bob` from listing `bobby`'s hardware.
    pub fn comp_prefix(&self) -> String {
        format!("comp/{}/", self.0)
    }

    /// `comp/<name>/<hw>`: how many units of `hw` the player owns.
    pub fn comp_key(&self, hw: Hardware) -> String {
        format!("comp/{}/{}", self.0, hw.name())
    }
}

impl fmt::Display for Player {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The prefix every player's location key starts with; `map` lists it.
pub const LOC_PREFIX: &str = "loc/";

/// `<Level>`: the remaining health of the problem every player at `level` works on.
pub fn problem_key(level: Level) -> String {
    level.name().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_schema() {
        let p = Player::new("bob").unwrap();
        assert_eq!(p.level_key(), "bob");
        assert_eq!(p.loc_key(), "loc/bob");
        assert_eq!(p.balance_key(), "balance/bob");
        assert_eq!(p.comp_prefix(), "comp/bob/");
        assert_eq!(p.comp_key(Hardware::DarkMatter), "comp/bob/dark_matter");
        assert_eq!(problem_key(Level::PhD), "PhD");
    }

    #[test]
    fn names_that_would_break_the_schema_are_refused() {
        for ok in ["bob", "Alice_2", "x-y", &"a".repeat(NAME_LEN_MAX)] {
            assert!(Player::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a/b",
            "two words",
            "tab\t",
            "é",
            "phd",
            "Retired",
            &"a".repeat(NAME_LEN_MAX + 1),
        ] {
            assert!(Player::new(bad).is_err(), "{bad:?}");
        }
    }
}
