//! The numbers of the game: education levels and their problems, hardware with its prices
//! and powers, what a purchase costs and how much power an inventory gives (GAME.md §3, §4).

use std::collections::BTreeMap;
use std::fmt;

/// Power every player has with no hardware at all: their own head. Without it a new player
/// (no coins, no hardware) could neither mine nor solve (GAME.md §3, our choice).
pub const BASE_POWER: u64 = 1;

/// A solve breaks one unit of hardware with probability 1 in this many, if the player owns
/// any (GAME.md §4).
pub const BREAK_ODDS: u32 = 10;

/// The most rounds one `mine` command may ask for; it keeps one command's work bounded.
pub const MINE_ROUNDS_MAX: u32 = 1000;

/// An education level, stored under the player's name; each has one problem shared by
/// every player at that level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Undergraduate,
    Masters,
    PhD,
    PostDoc,
    Professor,
    Retired,
}

impl Level {
    /// Every level, from the first to the last.
    pub const ALL: [Level; 6] = [
        Level::Undergraduate,
        Level::Masters,
        Level::PhD,
        Level::PostDoc,
        Level::Professor,
        Level::Retired,
    ];

    /// The level's name, as stored and as the key of its problem.
    pub fn name(self) -> &'static str {
        match self {
            Level::Undergraduate => "Undergraduate",
            Level::Masters => "Masters",
            Level::PhD => "PhD",
            Level::PostDoc => "PostDoc",
            Level::Professor => "Professor",
            Level::Retired => "Retired",
        }
    }

    /// The level a stored value names, exactly as [`Level::name`] writes it.
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.name() == s)
    }

    /// The level a solved problem promotes to; none after the last.
    pub fn next(self) -> Option<Level> {
        let i = Level::ALL.iter().position(|l| *l == self)?;
        Level::ALL.get(i + 1).copied()
    }

    /// The full health of this level's problem, which a missing problem key means and to
    /// which a solved problem is reset. Zero: there is nothing to solve.
    pub fn problem_health(self) -> u64 {
        match self {
            Level::Undergraduate => 100,
            Level::Masters => 1_000,
            Level::PhD => 10_000,
            Level::PostDoc => 500_000,
            Level::Professor => 10_000_000,
            Level::Retired => 0,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kind of hardware the shop sells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hardware {
    Cpu,
    Gpu,
    Asic,
    Quantum,
    DarkMatter,
}

impl Hardware {
    /// Every kind, cheapest first.
    pub const ALL: [Hardware; 5] = [
        Hardware::Cpu,
        Hardware::Gpu,
        Hardware::Asic,
        Hardware::Quantum,
        Hardware::DarkMatter,
    ];

    /// The name typed in `buy` and used in the inventory key.
    pub fn name(self) -> &'static str {
        match self {
            Hardware::Cpu => "cpu",
            Hardware::Gpu => "gpu",
            Hardware::Asic => "asic",
            Hardware::Quantum => "quantum",
            Hardware::DarkMatter => "dark_matter",
        }
    }

    /// The kind a name stands for, as [`Hardware::name`] writes it.
    pub fn parse(s: &str) -> Option<Hardware> {
        Hardware::ALL.into_iter().find(|h| h.name() == s)
    }

    /// Coins for one unit.
    pub fn price(self) -> u64 {
        match self {
            Hardware::Cpu => 1,
            Hardware::Gpu => 5,
            Hardware::Asic => 25,
            Hardware::Quantum => 125,
            Hardware::DarkMatter => 625,
        }
    }

    /// Power one unit adds.
    pub fn power(self) -> u64 {
        match self {
            Hardware::Cpu => 1,
            Hardware::Gpu => 10,
            Hardware::Asic => 100,
            Hardware::Quantum => 1_000,
            Hardware::DarkMatter => 10_000,
        }
    }
}

impl fmt::Display for Hardware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a player owns: a count per kind of hardware, zero counts left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    counts: BTreeMap<Hardware, u64>,
}

impl Inventory {
    /// Builds an inventory from `(kind, stored count)` pairs. A count that is not a number is
    /// an error naming the kind; unknown kinds never reach here (the caller skips them).
    pub fn from_counts<'a>(
        counts: impl IntoIterator<Item = (Hardware, &'a str)>,
    ) -> Result<Inventory, String> {
        let mut inv = Inventory::default();
        for (hw, raw) in counts {
            let n: u64 = raw
                .parse()
                .map_err(|_| format!("the {hw} count holds {raw:?}, not a number"))?;
            inv.set(hw, n);
        }
        Ok(inv)
    }

    /// How many units of `hw`.
    pub fn count(&self, hw: Hardware) -> u64 {
        self.counts.get(&hw).copied().unwrap_or(0)
    }

    /// Sets the count of `hw` (zero removes it).
    pub fn set(&mut self, hw: Hardware, n: u64) {
        if n == 0 {
            self.counts.remove(&hw);
        } else {
            self.counts.insert(hw, n);
        }
    }

    /// The kinds owned, cheapest first, with their counts.
    pub fn owned(&self) -> impl Iterator<Item = (Hardware, u64)> + '_ {
        self.counts.iter().map(|(h, n)| (*h, *n))
    }

    /// Power of the hardware alone, saturating (it never wraps).
    pub fn hardware_power(&self) -> u64 {
        self.owned().fold(0u64, |sum, (h, n)| {
            sum.saturating_add(n.saturating_mul(h.power()))
        })
    }

    /// Total power: the base power plus the hardware's.
    pub fn power(&self) -> u64 {
        BASE_POWER.saturating_add(self.hardware_power())
    }
}

/// A purchase the balance allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Purchase {
    pub hardware: Hardware,
    pub count: u64,
    pub cost: u64,
}

/// What `buy` does with `balance` coins: `count` units of `hw` if given, otherwise as many
/// as the balance allows (spending as much of it as possible). Refused, with the reason,
/// when the balance does not cover one unit or the count asked for.
pub fn purchase(balance: u64, hw: Hardware, count: Option<u64>) -> Result<Purchase, String> {
    let affordable = balance / hw.price();
    let count = count.unwrap_or(affordable);
    if count == 0 || count > affordable {
        let want = count.max(1);
        let cost = want.saturating_mul(hw.price());
        return Err(format!(
            "insufficient funds: {want} {hw} cost{s} {cost} coins and you have {balance}",
            s = if want == 1 { "s" } else { "" },
        ));
    }
    Ok(Purchase {
        hardware: hw,
        count,
        cost: count * hw.price(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_and_powers_are_the_spec_table() {
        let table: Vec<_> = Hardware::ALL
            .iter()
            .map(|h| (h.name(), h.price(), h.power()))
            .collect();
        assert_eq!(
            table,
            [
                ("cpu", 1, 1),
                ("gpu", 5, 10),
                ("asic", 25, 100),
                ("quantum", 125, 1000),
                ("dark_matter", 625, 10000)
            ]
        );
        for h in Hardware::ALL {
            assert_eq!(Hardware::parse(h.name()), Some(h));
        }
        assert_eq!(Hardware::parse("GPU"), None);
    }

    #[test]
    fn levels_climb_to_retired_with_their_problem_health() {
        let health: Vec<_> = Level::ALL.iter().map(|l| l.problem_health()).collect();
        assert_eq!(health, [100, 1000, 10000, 500000, 10000000, 0]);
        assert_eq!(Level::Undergraduate.next(), Some(Level::Masters));
        assert_eq!(Level::Professor.next(), Some(Level::Retired));
        assert_eq!(Level::Retired.next(), None);
        for l in Level::ALL {
            assert_eq!(Level::parse(l.name()), Some(l));
        }
        assert_eq!(Level::parse("phd"), None);
    }

    #[test]
    fn purchase_spends_as_much_as_possible_or_the_count_asked() {
        let p = purchase(17, Hardware::Gpu, None).unwrap();
        assert_eq!((p.count, p.cost), (3, 15));
        let p = purchase(17, Hardware::Gpu, Some(2)).unwrap();
        assert_eq!((p.count, p.cost), (2, 10));
        let p = purchase(u64::MAX, Hardware::Cpu, None).unwrap();
        assert_eq!((p.count, p.cost), (u64::MAX, u64::MAX));
    }

    #[test]
    fn purchase_refuses_what_the_balance_does_not_cover() {
        let e = purchase(4, Hardware::Gpu, None).unwrap_err();
        assert_eq!(e, "insufficient funds: 1 gpu costs 5 coins and you have 4");
        let e = purchase(9, Hardware::Gpu, Some(2)).unwrap_err();
        assert_eq!(e, "insufficient funds: 2 gpu cost 10 coins and you have 9");
        assert!(purchase(9, Hardware::Gpu, Some(0)).is_err());
        assert!(purchase(1, Hardware::Cpu, Some(u64::MAX)).is_err());
    }

    #[test]
    fn power_is_base_plus_hardware_and_saturates() {
        let inv = Inventory::from_counts([(Hardware::Gpu, "2"), (Hardware::Cpu, "3")]).unwrap();
        assert_eq!(inv.power(), 1 + 3 + 20);
        assert_eq!(Inventory::default().power(), BASE_POWER);
        let huge = Inventory::from_counts([(Hardware::DarkMatter, "18446744073709551615")]);
        assert_eq!(huge.unwrap().power(), u64::MAX);
        let zero = Inventory::from_counts([(Hardware::Asic, "0")]).unwrap();
        assert_eq!(zero.owned().count(), 0);
        let bad = Inventory::from_counts([(Hardware::Asic, "x")]).unwrap_err();
        assert_eq!(bad, "the asic count holds \"x\", not a number");
    }
}
