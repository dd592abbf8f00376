//! Commands as typed by a player: parsing a line, printing a command back as a line, and the
//! help text of each mode (GAME.md §6).

use std::fmt;

use super::economy::{Hardware, MINE_ROUNDS_MAX};
use super::world::Location;

/// Where a session stands between commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Walking about: every top-level command.
    Main,
    /// Working on the level's problem: only `solve`, `inv`, `resign`, `help` and `quit`.
    Solving,
    /// The player quit; the session is over.
    Gone,
}

/// One command of the game.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Registers the player: puts them at the start of the map if they have no place yet.
    /// Sent once at the start of a session, never typed.
    Enter,
    Help,
    Stats,
    Map,
    Move(Location),
    /// Mine this many rounds.
    Mine(u32),
    Shop,
    /// Buy hardware: the count given, or as much as the balance allows.
    Buy(Hardware, Option<u64>),
    Inv,
    Solve,
    Resign,
    Quit,
}

impl Command {
    /// Parses one line: a command word (any case) and its arguments, separated by
    /// whitespace. The error says what was wrong and how to get help.
    pub fn parse(line: &str) -> Result<Command, String> {
        let mut words = line.split_whitespace();
        let Some(word) = words.next() else {
            return Err("empty command; type help for the list".to_string());
        };
        let word = word.to_ascii_lowercase();
        let args: Vec<&str> = words.collect();
        let no_args = |c: Command| {
            if args.is_empty() {
                Ok(c)
            } else {
                Err(format!("{word} takes no arguments"))
            }
        };
        match word.as_str() {
            "help" => no_args(Command::Help),
            "stats" => no_args(Command::Stats),
            "map" => no_args(Command::Map),
            "shop" => no_args(Command::Shop),
            "inv" => no_args(Command::Inv),
            "solve" => no_args(Command::Solve),
            "resign" => no_args(Command::Resign),
            "quit" => no_args(Command::Quit),
            "move" => match args.as_slice() {
                [place] => Location::parse(&place.to_ascii_lowercase())
                    .map(Command::Move)
                    .ok_or_else(|| format!("no place called {place:?}: fence, bridge or 1 to 9")),
                _ => Err("usage: move <fence|bridge|1-9>".to_string()),
            },
            "mine" => match args.as_slice() {
                [n] => match n.parse::<u32>() {
                    Ok(n) if (1..=MINE_ROUNDS_MAX).contains(&n) => Ok(Command::Mine(n)),
                    _ => Err(format!(
                        "mine takes a number of rounds from 1 to {MINE_ROUNDS_MAX}, not {n:?}"
                    )),
                },
                _ => Err("usage: mine <rounds>".to_string()),
            },
            "buy" => {
                let (hw, count) = match args.as_slice() {
                    [hw] => (*hw, None),
                    [hw, count] => (*hw, Some(*count)),
                    _ => return Err("usage: buy <hardware> [count]".to_string()),
                };
                let hardware = Hardware::parse(&hw.to_ascii_lowercase()).ok_or_else(|| {
                    let names: Vec<_> = Hardware::ALL.iter().map(|h| h.name()).collect();
                    format!("the shop sells no {hw:?}: {}", names.join(", "))
                })?;
                let count = match count {
                    None => None,
                    Some(c) => match c.parse::<u64>() {
                        Ok(n) if n > 0 => Some(n),
                        _ => return Err(format!("buy takes a count of 1 or more, not {c:?}")),
                    },
                };
                Ok(Command::Buy(hardware, count))
            }
            _ => Err(format!("unknown command {word:?}; type help for the list")),
        }
    }

    /// Whether the command may be given in `mode`, and if not, why.
    pub fn allowed_in(&self, mode: Mode) -> Result<(), String> {
        let ok = match mode {
            Mode::Main => !matches!(self, Command::Resign),
            Mode::Solving => matches!(
                self,
                Command::Solve | Command::Inv | Command::Resign | Command::Help | Command::Quit
            ),
            Mode::Gone => matches!(self, Command::Enter),
        };
        match (ok, mode) {
            (true, _) => Ok(()),
            (false, Mode::Main) => Err("you are not solving anything to resign from".to_string()),
            (false, Mode::Solving) => {
                Err("you are working on a problem: solve, inv or resign".to_string())
            }
            (false, Mode::Gone) => Err("the session is over".to_string()),
        }
    }
}

impl fmt::Display for Command {
    /// The line that parses back to this command (`enter` for [`Command::Enter`], which is
    /// never typed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Enter => f.write_str("enter"),
            Command::Help => f.write_str("help"),
            Command::Stats => f.write_str("stats"),
            Command::Map => f.write_str("map"),
            Command::Move(l) => write!(f, "move {l}"),
            Command::Mine(n) => write!(f, "mine {n}"),
            Command::Shop => f.write_str("shop"),
            Command::Buy(h, None) => write!(f, "buy {h}"),
            Command::Buy(h, Some(n)) => write!(f, "buy {h} {n}"),
            Command::Inv => f.write_str("inv"),
            Command::Solve => f.write_str("solve"),
            Command::Resign => f.write_str("resign"),
            Command::Quit => f.write_str("quit"),
        }
    }
}

/// The help text of a mode.
pub fn help(mode: Mode) -> String {
    let lines: &[&str] = match mode {
        Mode::Solving => &[
            "You are working on your level's problem:",
            "  solve            hit the problem with all your power",
            "  inv              your hardware and power",
            "  resign           stop and walk away",
            "  help, quit",
        ],
        Mode::Main | Mode::Gone => &[
            "Commands:",
            "  help             this list",
            "  stats            your level, place, coins, power and problem",
            "  map              who stands where",
            "  move <place>     walk to fence, bridge or 1-9",
            "  mine <rounds>    each round earns 0 to your power in coins",
            "  shop             prices and powers",
            "  buy <hw> [n]     buy n units, or as many as your coins allow",
            "  inv              your hardware and power",
            "  solve            work on your level's problem",
            "  quit             leave the game",
        ],
    };
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_parses_back_from_its_line() {
        let all = [
            Command::Help,
            Command::Stats,
            Command::Map,
            Command::Move(Location::Bridge),
            Command::Move(Location::Field(7)),
            Command::Mine(12),
            Command::Shop,
            Command::Buy(Hardware::DarkMatter, None),
            Command::Buy(Hardware::Gpu, Some(3)),
            Command::Inv,
            Command::Solve,
            Command::Resign,
            Command::Quit,
        ];
        for c in all {
            assert_eq!(Command::parse(&c.to_string()), Ok(c.clone()), "{c}");
        }
    }

    #[test]
    fn words_are_case_blind_and_spacing_is_free() {
        assert_eq!(
            Command::parse("  MOVE   Fence \r"),
            Ok(Command::Move(Location::Fence))
        );
        assert_eq!(
            Command::parse("Buy CPU 2"),
            Ok(Command::Buy(Hardware::Cpu, Some(2)))
        );
    }

    #[test]
    fn bad_lines_get_a_clear_error() {
        let cases = [
            ("", "empty command; type help for the list"),
            ("dance", "unknown command \"dance\"; type help for the list"),
            ("enter", "unknown command \"enter\"; type help for the list"),
            ("help me", "help takes no arguments"),
            ("move", "usage: move <fence|bridge|1-9>"),
            ("move 0", "no place called \"0\": fence, bridge or 1 to 9"),
            ("mine", "usage: mine <rounds>"),
            (
                "mine 0",
                "mine takes a number of rounds from 1 to 1000, not \"0\"",
            ),
            (
                "mine 1001",
                "mine takes a number of rounds from 1 to 1000, not \"1001\"",
            ),
            (
                "mine -3",
                "mine takes a number of rounds from 1 to 1000, not \"-3\"",
            ),
            ("buy", "usage: buy <hardware> [count]"),
            ("buy gpu 1 2", "usage: buy <hardware> [count]"),
            ("buy gpu 0", "buy takes a count of 1 or more, not \"0\""),
            (
                "buy tpu",
                "the shop sells no \"tpu\": cpu, gpu, asic, quantum, dark_matter",
            ),
        ];
        for (line, err) in cases {
            assert_eq!(Command::parse(line), Err(err.to_string()), "{line:?}");
        }
    }

    #[test]
    fn solving_allows_only_its_sub_commands() {
        for c in [
            Command::Solve,
            Command::Inv,
            Command::Resign,
            Command::Help,
            Command::Quit,
        ] {
            assert!(c.allowed_in(Mode::Solving).is_ok(), "{c}");
        }
        for c in [
            Command::Stats,
            Command::Map,
            Command::Mine(1),
            Command::Shop,
        ] {
            assert!(c.allowed_in(Mode::Solving).is_err(), "{c}");
        }
        assert!(Command::Resign.allowed_in(Mode::Main).is_err());
        assert!(Command::Solve.allowed_in(Mode::Main).is_ok());
        assert!(Command::Stats.allowed_in(Mode::Gone).is_err());
    }
}
