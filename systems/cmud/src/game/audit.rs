//! Whether a store's contents are game data the game can read (GAME.md §10): a check for
//! workloads to run on a replica's whole map after a run.

use std::collections::BTreeSet;

use super::economy::{Hardware, Level};
use super::keys::{Player, LOC_PREFIX};
use super::world::Location;

/// Every entry of a full `List("")` that belongs to the game's schema but holds what the
/// game cannot read, one line each; empty when all is well. Keys outside the schema are
/// not the game's business and are skipped; a top-level key counts as a player's level
/// only if `loc/<key>` is there too (every registered player has a place), so other data
/// in the same store does not look like players.
///
/// Game writes only ever store readable values, and a last-writer-wins merge picks one of
/// the values written, so this holds on every replica whatever the faults: a finding here
/// means the store invented, mixed up or cut a value.
pub fn audit<'a, I>(entries: I) -> Vec<String>
where
    I: IntoIterator<Item = (&'a str, &'a str)> + Clone,
{
    let players: BTreeSet<&str> = entries
        .clone()
        .into_iter()
        .filter_map(|(k, _)| k.strip_prefix(LOC_PREFIX))
        .collect();
    let mut bad = Vec::new();
    for (key, value) in entries {
        if let Some(why) = check(&players, key, value) {
            bad.push(format!("{key} = {value:?}: {why}"));
        }
    }
    bad
}

fn check(players: &BTreeSet<&str>, key: &str, value: &str) -> Option<&'static str> {
    let number = || value.parse::<u64>().is_err().then_some("not a number");
    if let Some(name) = key.strip_prefix(LOC_PREFIX) {
        let ours = Player::new(name).is_ok();
        return (ours && Location::parse(value).is_none()).then_some("no such place");
    }
    if let Some(name) = key.strip_prefix("balance/") {
        return Player::new(name).ok().and_then(|_| number());
    }
    if let Some(rest) = key.strip_prefix("comp/") {
        let (name, hw) = rest.split_once('/')?;
        Player::new(name).ok()?;
        Hardware::parse(hw)?;
        return number();
    }
    if Level::parse(key).is_some() {
        return number();
    }
    if players.contains(key) && Player::new(key).is_ok() {
        return Level::parse(value).is_none().then_some("not a level");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_game_data_passes_and_each_bad_value_is_named() {
        let good = [
            ("bob", "PhD"),
            ("loc/bob", "bridge"),
            ("balance/bob", "12"),
            ("comp/bob/gpu", "3"),
            ("PhD", "9990"),
            ("comp/bob/abacus", "x"),
            ("cat/1", "meow"),
            ("ann", "not a player: no loc/ann"),
        ];
        assert!(audit(good).is_empty());
        let bad = [
            ("bob", "Wizard"),
            ("loc/bob", "moon"),
            ("balance/bob", "-1"),
            ("comp/bob/gpu", ""),
            ("PhD", "lots"),
        ];
        assert_eq!(
            audit(bad),
            [
                "bob = \"Wizard\": not a level",
                "loc/bob = \"moon\": no such place",
                "balance/bob = \"-1\": not a number",
                "comp/bob/gpu = \"\": not a number",
                "PhD = \"lots\": not a number",
            ]
        );
    }
}
