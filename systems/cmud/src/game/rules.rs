//! What each command reads, decides and writes (GAME.md §6), in direct style over a [`Cx`]:
//! every `?` after a store call is where a turn may stop to wait for the store.

use rand::Rng;

use super::command::{help, Command, Mode};
use super::economy::{purchase, Hardware, Inventory, Level, BASE_POWER, BREAK_ODDS};
use super::engine::{Cx, Stop};
use super::keys::{problem_key, Player, LOC_PREFIX};
use super::world::{render_map, Location, START};

/// Plays `command` (already allowed in `mode`): the text to show and the next mode.
pub(crate) fn play(
    cx: &mut Cx<'_>,
    p: &Player,
    mode: Mode,
    command: &Command,
) -> Result<(String, Mode), Stop> {
    let text = match command {
        Command::Enter => return enter(cx, p),
        Command::Help => help(mode),
        Command::Stats => stats(cx, p)?,
        Command::Map => map(cx, p)?,
        Command::Move(to) => {
            cx.put(p.loc_key(), to.to_string())?;
            format!("You walk to {}.", to.describe())
        }
        Command::Mine(rounds) => mine(cx, p, *rounds)?,
        Command::Shop => shop(cx, p)?,
        Command::Buy(hw, count) => buy(cx, p, *hw, *count)?,
        Command::Inv => describe_inventory(&read_inventory(cx, p)?),
        Command::Solve => return solve(cx, p),
        Command::Resign => return Ok(("You put the problem aside.".to_string(), Mode::Main)),
        Command::Quit => return Ok((format!("Goodbye, {p}."), Mode::Gone)),
    };
    Ok((text, mode))
}

/// Puts a new player on the map at the start. Nothing else is written: a missing level,
/// balance or hardware count already reads as the starting value, and writing it here would
/// let a replica that has not yet heard of a returning player overwrite their progress with
/// a later-stamped default (GAME.md §6, §10).
fn enter(cx: &mut Cx<'_>, p: &Player) -> Result<(String, Mode), Stop> {
    let new = cx.get(p.loc_key())?.is_none();
    let hello = if new {
        cx.put(p.loc_key(), START.to_string())?;
        format!("Welcome to CMUD, {p}. You start as an Undergraduate at field 5, with no coins.")
    } else {
        format!("Welcome back, {p}.")
    };
    Ok((format!("{hello} Type help for the commands."), Mode::Main))
}

fn stats(cx: &mut Cx<'_>, p: &Player) -> Result<String, Stop> {
    let level = read_level(cx, p)?;
    let at = match cx.get(p.loc_key())? {
        None => START.describe(),
        Some(raw) => Location::parse(raw)
            .map(Location::describe)
            .unwrap_or_else(|| format!("{raw:?} (no such place)")),
    };
    let balance = read_number(cx, p.balance_key(), "balance")?;
    let inv = read_inventory(cx, p)?;
    let problem = match level {
        Level::Retired => "none, you are retired".to_string(),
        _ => {
            let health = read_health(cx, level)?;
            format!("{level}, {health} of {} left", level.problem_health())
        }
    };
    Ok(format!(
        "{p}: {level} at {at}\ncoins: {balance}\npower: {}\nproblem: {problem}",
        describe_power(&inv)
    ))
}

fn map(cx: &mut Cx<'_>, p: &Player) -> Result<String, Stop> {
    let entries: Vec<(String, String)> = cx
        .list(LOC_PREFIX.to_string())?
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mine = entries
        .iter()
        .find(|(k, _)| *k == p.loc_key())
        .map_or(Some(START), |(_, v)| Location::parse(v));
    Ok(render_map(&entries, p, mine))
}

fn mine(cx: &mut Cx<'_>, p: &Player, rounds: u32) -> Result<String, Stop> {
    let power = read_inventory(cx, p)?.power();
    let balance = read_number(cx, p.balance_key(), "balance")?;
    let earned = (0..rounds).fold(0u64, |sum, _| {
        sum.saturating_add(cx.rng.gen_range(0..=power))
    });
    let balance = balance.saturating_add(earned);
    cx.put(p.balance_key(), balance.to_string())?;
    Ok(format!(
        "You mine {rounds} round{} at power {power} and earn {earned} coins; you have {balance}.",
        plural(u64::from(rounds))
    ))
}

fn shop(cx: &mut Cx<'_>, p: &Player) -> Result<String, Stop> {
    let balance = read_number(cx, p.balance_key(), "balance")?;
    let mut out = format!(
        "{:<12} {:>5} {:>6}  you can buy",
        "hardware", "price", "power"
    );
    for hw in Hardware::ALL {
        out.push_str(&format!(
            "\n{:<12} {:>5} {:>6}  {}",
            hw.name(),
            hw.price(),
            hw.power(),
            balance / hw.price()
        ));
    }
    out.push_str(&format!("\nYou have {balance} coins. buy <hw> [n]"));
    Ok(out)
}

fn buy(cx: &mut Cx<'_>, p: &Player, hw: Hardware, count: Option<u64>) -> Result<String, Stop> {
    let balance = read_number(cx, p.balance_key(), "balance")?;
    let bought = purchase(balance, hw, count).map_err(Stop::Refused)?;
    let owned = read_number(cx, p.comp_key(hw), "hardware count")?;
    let left = balance - bought.cost;
    let owned = owned.saturating_add(bought.count);
    // Coins first: if the second write fails, the player loses coins rather than the
    // store gaining hardware nobody paid for.
    cx.put(p.balance_key(), left.to_string())?;
    cx.put(p.comp_key(hw), owned.to_string())?;
    Ok(format!(
        "You buy {} {hw} for {} coins; you have {left} coins left and {owned} {hw}.",
        bought.count, bought.cost
    ))
}

/// One hit on the problem of the player's level, shared by everyone at that level: its
/// health drops by the player's power. Reaching zero promotes the player and resets the
/// problem for the next one. Each hit may break one unit of hardware.
fn solve(cx: &mut Cx<'_>, p: &Player) -> Result<(String, Mode), Stop> {
    let level = read_level(cx, p)?;
    let Some(next) = level.next() else {
        let text = "You are retired: there is nothing left to solve.".to_string();
        return Ok((text, Mode::Main));
    };
    let mut inv = read_inventory(cx, p)?;
    let power = inv.power();
    let health = read_health(cx, level)?;
    let left = health.saturating_sub(power);
    let broken = break_one(cx, &inv);
    let (mut text, mode) = if left == 0 {
        cx.put(problem_key(level), level.problem_health().to_string())?;
        cx.put(p.level_key(), next.to_string())?;
        let text = format!(
            "You work on the {level} problem with power {power} and solve it! \
             You are promoted to {next}; the {level} problem starts over for the next player."
        );
        (text, Mode::Main)
    } else {
        cx.put(problem_key(level), left.to_string())?;
        let text = format!(
            "You work on the {level} problem with power {power}: {left} of {} left.",
            level.problem_health()
        );
        (text, Mode::Solving)
    };
    if let Some(hw) = broken {
        let now = inv.count(hw) - 1;
        inv.set(hw, now);
        cx.put(p.comp_key(hw), now.to_string())?;
        text.push_str(&format!("\nYour {hw} breaks under the strain; {now} left."));
    }
    Ok((text, mode))
}

/// With probability 1 in [`BREAK_ODDS`], one kind of hardware the player owns, each kind
/// alike, loses a unit.
fn break_one(cx: &mut Cx<'_>, inv: &Inventory) -> Option<Hardware> {
    let owned: Vec<Hardware> = inv.owned().map(|(h, _)| h).collect();
    if owned.is_empty() || cx.rng.gen_range(0..BREAK_ODDS) != 0 {
        return None;
    }
    Some(owned[cx.rng.gen_range(0..owned.len())])
}

fn describe_inventory(inv: &Inventory) -> String {
    let mut out: Vec<String> = inv
        .owned()
        .map(|(hw, n)| format!("{hw}: {n} (power {})", n.saturating_mul(hw.power())))
        .collect();
    if out.is_empty() {
        out.push("You own no hardware.".to_string());
    }
    out.push(format!("power: {}", describe_power(inv)));
    out.join("\n")
}

fn describe_power(inv: &Inventory) -> String {
    format!(
        "{} (base {BASE_POWER} + hardware {})",
        inv.power(),
        inv.hardware_power()
    )
}

fn read_level(cx: &mut Cx<'_>, p: &Player) -> Result<Level, Stop> {
    match cx.get(p.level_key())? {
        None => Ok(Level::Undergraduate),
        Some(raw) => Level::parse(raw)
            .ok_or_else(|| Stop::Store(format!("{p}'s level holds {raw:?}, not a level"))),
    }
}

/// A problem's remaining health; a missing key is a fresh problem.
fn read_health(cx: &mut Cx<'_>, level: Level) -> Result<u64, Stop> {
    let raw = cx.get(problem_key(level))?;
    match raw {
        None => Ok(level.problem_health()),
        Some(raw) => parse_number(raw, &format!("the {level} problem")),
    }
}

/// A count stored under `key`; a missing key is zero.
fn read_number(cx: &mut Cx<'_>, key: String, what: &str) -> Result<u64, Stop> {
    match cx.get(key)? {
        None => Ok(0),
        Some(raw) => parse_number(raw, &format!("the {what}")),
    }
}

fn parse_number(raw: &str, what: &str) -> Result<u64, Stop> {
    raw.parse()
        .map_err(|_| Stop::Store(format!("{what} holds {raw:?}, not a number")))
}

/// The player's hardware. Keys under the prefix that name no hardware are skipped: they
/// are nobody's power.
fn read_inventory(cx: &mut Cx<'_>, p: &Player) -> Result<Inventory, Stop> {
    let prefix = p.comp_prefix();
    let counts = cx
        .list(prefix.clone())?
        .filter_map(|(k, v)| Some((Hardware::parse(&k[prefix.len()..])?, v)));
    Inventory::from_counts(counts).map_err(Stop::Store)
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
