//! Blocking use of the engine: answering a turn's operations from a [`Store`] that answers
//! at once, and the interactive session over a reader and a writer (GAME.md §8).

use std::io::{self, BufRead, Write};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::command::Mode;
use super::engine::{Op, Outcome, Reply, Step, Turn};
use super::keys::Player;
use super::Store;

/// Carries out one operation on `store`; a store error becomes [`Reply::Failed`].
pub fn apply(store: &mut dyn Store, op: &Op) -> Reply {
    let reply = match op {
        Op::Get { key } => store.get(key).map(Reply::Value),
        Op::Put { key, value } => store.put(key, value).map(|()| Reply::Stored),
        Op::List { prefix } => store.list(prefix).map(Reply::Entries),
    };
    reply.unwrap_or_else(Reply::Failed)
}

/// Answers every operation `turn` asks for from `store`, starting at `step`, and returns
/// the outcome.
pub fn drive(store: &mut dyn Store, turn: &mut Turn, mut step: Step) -> Outcome {
    loop {
        match step {
            Step::Need(op) => step = turn.resume(apply(store, &op)),
            Step::Done(outcome) => return outcome,
        }
    }
}

/// Plays one command line for `player` in `mode` against `store`.
pub fn run_line(
    store: &mut dyn Store,
    player: &Player,
    mode: Mode,
    line: &str,
    seed: u64,
) -> Outcome {
    let (mut turn, step) = Turn::start(player, mode, line, seed);
    drive(store, &mut turn, step)
}

/// The prompt shown in `mode`.
pub fn prompt(mode: Mode) -> &'static str {
    match mode {
        Mode::Solving => "solve> ",
        Mode::Main | Mode::Gone => "> ",
    }
}

/// The interactive game for `name`, with dice seeded from the name: [`play_seeded`].
pub fn play(
    store: &mut dyn Store,
    name: &str,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> io::Result<()> {
    let seed = name
        .bytes()
        .fold(0xcb1d_u64, |h, b| h.rotate_left(5) ^ u64::from(b));
    play_seeded(store, name, seed, input, output)
}

/// The interactive game: registers the player, then reads one command per line from
/// `input`, showing a prompt before each and the command's text after it, until `quit` or
/// the end of input. Blank lines are skipped; a line that is not valid UTF-8 is read with
/// replacement characters (and is then an unknown command). Unknown commands, bad
/// arguments and store errors are shown as a line and the session goes on. `seed` drives
/// every turn's dice. An invalid `name` is an [`io::ErrorKind::InvalidInput`] error
/// before anything is written; errors of `input` or `output` end the session with them.
pub fn play_seeded(
    store: &mut dyn Store,
    name: &str,
    seed: u64,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> io::Result<()> {
    let player = Player::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut dice = ChaCha8Rng::seed_from_u64(seed);
    let (mut turn, step) = Turn::enter(&player, dice.next_u64());
    let mut mode = say(output, drive(store, &mut turn, step))?;
    let mut line = Vec::new();
    while mode != Mode::Gone {
        write!(output, "{}", prompt(mode))?;
        output.flush()?;
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            writeln!(output)?;
            say(
                output,
                run_line(store, &player, mode, "quit", dice.next_u64()),
            )?;
            break;
        }
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        mode = say(
            output,
            run_line(store, &player, mode, &text, dice.next_u64()),
        )?;
    }
    output.flush()
}

fn say(output: &mut dyn Write, outcome: Outcome) -> io::Result<Mode> {
    writeln!(output, "{}", outcome.text)?;
    Ok(outcome.mode)
}
