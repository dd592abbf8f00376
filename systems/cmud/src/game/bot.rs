//! A simulated player for workloads: it registers, then picks each next command from an RNG
//! the caller passes in, so the same seed gives the same game (GAME.md §9).

use rand::Rng;

use super::command::{Command, Mode};
use super::economy::Hardware;
use super::engine::{Outcome, Step, Turn};
use super::keys::Player;
use super::world::Location;

/// Weights of the commands a bot picks while walking about: mostly mining and spending,
/// some solving, a little looking around.
const MAIN_WEIGHTS: [(Pick, u32); 9] = [
    (Pick::Mine, 35),
    (Pick::Buy, 15),
    (Pick::Solve, 15),
    (Pick::Move, 10),
    (Pick::Stats, 5),
    (Pick::Map, 5),
    (Pick::Inv, 5),
    (Pick::Shop, 5),
    (Pick::Help, 5),
];

/// Weights of the hardware a bot buys: cheap kinds more often.
const HARDWARE_WEIGHTS: [(Hardware, u32); 5] = [
    (Hardware::Cpu, 40),
    (Hardware::Gpu, 30),
    (Hardware::Asic, 15),
    (Hardware::Quantum, 10),
    (Hardware::DarkMatter, 5),
];

/// The most rounds a bot mines in one command.
pub const BOT_MINE_ROUNDS_MAX: u32 = 20;

#[derive(Clone, Copy)]
enum Pick {
    Mine,
    Buy,
    Solve,
    Move,
    Stats,
    Map,
    Inv,
    Shop,
    Help,
}

/// A bot playing one player. Call [`Bot::next_turn`], drive the turn, then give its outcome
/// to [`Bot::finish`] before the next one.
#[derive(Clone, Debug)]
pub struct Bot {
    player: Player,
    mode: Mode,
}

impl Bot {
    /// A bot for `player`; its first turn registers the player.
    pub fn new(player: Player) -> Bot {
        Bot {
            player,
            mode: Mode::Gone,
        }
    }

    pub fn player(&self) -> &Player {
        &self.player
    }

    /// The mode of the bot's session: [`Mode::Gone`] until its first turn is finished.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The command the bot plays next: [`Command::Enter`] when its session has not begun.
    /// While solving it mostly keeps solving. Never `quit`.
    pub fn choose<R: Rng + ?Sized>(&self, rng: &mut R) -> Command {
        match self.mode {
            Mode::Gone => Command::Enter,
            Mode::Solving => match rng.gen_range(0..10u32) {
                0 => Command::Inv,
                1 => Command::Resign,
                _ => Command::Solve,
            },
            Mode::Main => pick_command(weighted(rng, &MAIN_WEIGHTS), rng),
        }
    }

    /// Chooses the next command and starts its turn, with dice drawn from `rng`.
    pub fn next_turn<R: Rng + ?Sized>(&mut self, rng: &mut R) -> (Turn, Step) {
        let command = self.choose(rng);
        let seed = rng.next_u64();
        let mode = match self.mode {
            Mode::Gone => Mode::Main,
            m => m,
        };
        Turn::command(&self.player, mode, command, seed)
    }

    /// Takes the outcome of the turn [`Bot::next_turn`] started.
    pub fn finish(&mut self, outcome: &Outcome) {
        self.mode = outcome.mode;
    }
}

fn pick_command<R: Rng + ?Sized>(pick: Pick, rng: &mut R) -> Command {
    match pick {
        Pick::Mine => Command::Mine(rng.gen_range(1..=BOT_MINE_ROUNDS_MAX)),
        Pick::Buy => {
            let hw = weighted(rng, &HARDWARE_WEIGHTS);
            // Half the time as much as the coins allow, else one to three units.
            let count = match rng.gen_range(0..6u64) {
                0..=2 => None,
                n => Some(n - 2),
            };
            Command::Buy(hw, count)
        }
        Pick::Solve => Command::Solve,
        Pick::Move => Command::Move(Location::ALL[rng.gen_range(0..Location::ALL.len())]),
        Pick::Stats => Command::Stats,
        Pick::Map => Command::Map,
        Pick::Inv => Command::Inv,
        Pick::Shop => Command::Shop,
        Pick::Help => Command::Help,
    }
}

/// One of `choices`, each with a chance proportional to its (integer) weight.
fn weighted<T: Copy, R: Rng + ?Sized>(rng: &mut R, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen_range(0..total);
    for (choice, w) in choices {
        if roll < *w {
            return *choice;
        }
        roll -= w;
    }
    choices[choices.len() - 1].0
}
