//! The world map: eleven places, a 3x3 square of numbered fields between the fence in the
//! north and the bridge in the south, and how `map` draws who stands where (GAME.md §5).

use std::collections::BTreeMap;
use std::fmt;

use super::keys::{Player, LOC_PREFIX};

/// A place a player can stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    Fence,
    /// A numbered field, 1 to 9, row by row from the north-west.
    Field(u8),
    Bridge,
}

/// Where a new player starts: the field in the middle.
pub const START: Location = Location::Field(5);

impl Location {
    /// Every place, north to south.
    pub const ALL: [Location; 11] = [
        Location::Fence,
        Location::Field(1),
        Location::Field(2),
        Location::Field(3),
        Location::Field(4),
        Location::Field(5),
        Location::Field(6),
        Location::Field(7),
        Location::Field(8),
        Location::Field(9),
        Location::Bridge,
    ];

    /// The place in a sentence: "the fence", "field 5".
    pub fn describe(self) -> String {
        match self {
            Location::Field(n) => format!("field {n}"),
            other => format!("the {other}"),
        }
    }

    /// The place a name stands for: `fence`, `bridge` or a digit 1 to 9.
    pub fn parse(s: &str) -> Option<Location> {
        Location::ALL.into_iter().find(|l| l.to_string() == s)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Fence => f.write_str("fence"),
            Location::Field(n) => write!(f, "{n}"),
            Location::Bridge => f.write_str("bridge"),
        }
    }
}

/// Draws the map from the entries of a `List("loc/")`: the places, the viewer's own in
/// brackets (if it is a place), then who stands at each occupied place. A stored location that names no place
/// is shown as it is, after the known places, so nothing a player wrote is hidden.
pub fn render_map(entries: &[(String, String)], me: &Player, mine: Option<Location>) -> String {
    let mut at: BTreeMap<Result<Location, &str>, Vec<String>> = BTreeMap::new();
    for (key, value) in entries {
        let Some(name) = key.strip_prefix(LOC_PREFIX) else {
            continue;
        };
        let place = Location::parse(value).ok_or(value.as_str());
        let label = if name == me.name() {
            format!("{name} (you)")
        } else {
            name.to_string()
        };
        at.entry(place).or_default().push(label);
    }
    let cell = |l: Location| {
        if Some(l) == mine {
            format!("[{l}]")
        } else {
            format!(" {l} ")
        }
    };
    let mut grid = vec![format!("        {}", cell(Location::Fence))];
    for row in 0..3u8 {
        let fields: Vec<String> = (1..=3)
            .map(|c| cell(Location::Field(row * 3 + c)))
            .collect();
        grid.push(format!("     {}", fields.join(" ")));
    }
    grid.push(format!("        {}", cell(Location::Bridge)));
    let lines: Vec<&str> = grid.iter().map(|l| l.trim_end()).collect();
    let mut out = lines.join("\n");
    for (place, names) in &at {
        let place = match place {
            Ok(l) => l.to_string(),
            Err(raw) => format!("{raw:?} (no such place)"),
        };
        out.push_str(&format!("\n{place}: {}", names.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_parse_and_print_alike() {
        for l in Location::ALL {
            assert_eq!(Location::parse(&l.to_string()), Some(l));
        }
        for bad in ["0", "10", "Fence", "", "5 "] {
            assert_eq!(Location::parse(bad), None, "{bad:?}");
        }
        assert_eq!(START.to_string(), "5");
    }

    #[test]
    fn the_map_marks_me_and_lists_everyone_by_place() {
        let me = Player::new("bob").unwrap();
        let entries = vec![
            ("loc/alice".to_string(), "fence".to_string()),
            ("loc/bob".to_string(), "5".to_string()),
            ("loc/carol".to_string(), "5".to_string()),
            ("loc/dave".to_string(), "moon".to_string()),
        ];
        let map = render_map(&entries, &me, Some(Location::Field(5)));
        let expect =
            "         fence\n      1   2   3\n      4  [5]  6\n      7   8   9\n         bridge\n\
                      fence: alice\n5: bob (you), carol\n\"moon\" (no such place): dave";
        assert_eq!(map, expect);
    }
}
