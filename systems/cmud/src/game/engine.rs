//! The sans-IO engine: one command as a [`Turn`] that asks for store operations one at a
//! time and ends with an [`Outcome`] (GAME.md §7).
//!
//! The rules ([`super::rules`]) are written in direct style against a [`Cx`], as if the
//! store answered at once. A turn runs them against the replies it has so far; the first
//! operation without a reply stops the run and becomes [`Step::Need`]. `resume` records the
//! reply and runs the rules again from the top, replaying the recorded replies. The rules
//! are a pure function of (player, mode, command, seed, replies): the RNG is re-seeded at
//! each run, so the replay takes the same path and draws the same numbers. A command makes
//! at most a handful of operations, so replaying costs nothing worth measuring, and the
//! blocking driver ([`super::session`]) and simulated bots share one implementation.

use std::fmt;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::command::{Command, Mode};
use super::keys::Player;
use super::rules;

/// A store operation a turn needs answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Get { key: String },
    Put { key: String, value: String },
    List { prefix: String },
}

impl fmt::Display for Op {
    /// The operation as the store client reads it: `Get k`, `Put k v`, `List prefix` (or
    /// `List` for every key).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Get { key } => write!(f, "Get {key}"),
            Op::Put { key, value } => write!(f, "Put {key} {value}"),
            Op::List { prefix } if prefix.is_empty() => f.write_str("List"),
            Op::List { prefix } => write!(f, "List {prefix}"),
        }
    }
}

/// The store's answer to an [`Op`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Answers a `Get`: the value, or none if the key is absent.
    Value(Option<String>),
    /// Answers a `Put`.
    Stored,
    /// Answers a `List`: every (key, value) whose key starts with the prefix.
    Entries(Vec<(String, String)>),
    /// Any operation failed; the text says why. The turn ends with a store error.
    Failed(String),
}

/// How a turn ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The command did what it says.
    Ok,
    /// The rules refused it (insufficient funds, say); nothing was written.
    Refused,
    /// The line was no command, or not one for this mode; nothing was read or written.
    BadCommand,
    /// The store failed or holds a value the game cannot read. Writes made before the
    /// failure stay: the store has no transactions.
    StoreFailed,
}

/// The end of a turn: what to show the player and the session's mode from now on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The text to show, one or more lines without a final newline.
    pub text: String,
    pub mode: Mode,
    pub status: Status,
}

/// What a turn needs next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Answer this with [`Turn::resume`].
    Need(Op),
    /// The turn is over.
    Done(Outcome),
}

/// Why a run of the rules stopped before its outcome.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The next operation has no reply yet.
    Need(Op),
    /// The store failed, or holds what the game cannot read.
    Store(String),
    /// The rules refuse the command.
    Refused(String),
}

/// What the rules see of the store and the dice during one run.
pub(crate) struct Cx<'a> {
    replies: &'a [Reply],
    next: usize,
    pub rng: ChaCha8Rng,
}

impl<'a> Cx<'a> {
    /// The recorded reply to the next operation, or a stop asking for it.
    fn answer(&mut self, op: &Op) -> Result<&'a Reply, Stop> {
        let Some(reply) = self.replies.get(self.next) else {
            return Err(Stop::Need(op.clone()));
        };
        self.next += 1;
        match reply {
            Reply::Failed(why) => Err(Stop::Store(why.clone())),
            r => Ok(r),
        }
    }

    pub fn get(&mut self, key: String) -> Result<Option<&'a str>, Stop> {
        let op = Op::Get { key };
        match self.answer(&op)? {
            Reply::Value(v) => Ok(v.as_deref()),
            r => Err(mismatch(&op, r)),
        }
    }

    pub fn put(&mut self, key: String, value: String) -> Result<(), Stop> {
        let op = Op::Put { key, value };
        match self.answer(&op)? {
            Reply::Stored => Ok(()),
            r => Err(mismatch(&op, r)),
        }
    }

    /// The entries under `prefix`; entries a store sent that do not start with it are
    /// dropped here, so the rules can trust the prefix.
    pub fn list(
        &mut self,
        prefix: String,
    ) -> Result<impl Iterator<Item = (&'a str, &'a str)>, Stop> {
        let op = Op::List {
            prefix: prefix.clone(),
        };
        let entries = match self.answer(&op)? {
            Reply::Entries(e) => e,
            r => return Err(mismatch(&op, r)),
        };
        Ok(entries
            .iter()
            .filter(move |(k, _)| k.starts_with(prefix.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

/// A reply of the wrong kind: a bug in whoever drives the turn, reported as a store error
/// rather than a panic.
fn mismatch(op: &Op, reply: &Reply) -> Stop {
    Stop::Store(format!("the reply {reply:?} does not answer {op:?}"))
}

/// One command in progress. Start it with [`Turn::start`], [`Turn::command`] or
/// [`Turn::enter`]; while the step is [`Step::Need`], carry out the operation and pass the
/// store's reply to [`Turn::resume`], until [`Step::Done`].
#[derive(Clone, Debug)]
pub struct Turn {
    player: Player,
    mode: Mode,
    command: Result<Command, String>,
    seed: u64,
    replies: Vec<Reply>,
    done: Option<Outcome>,
}

impl Turn {
    /// Parses `line` and starts it in `mode`. `seed` drives the command's dice (mining
    /// yields, hardware breaking); the same seed and replies give the same outcome.
    pub fn start(player: &Player, mode: Mode, line: &str, seed: u64) -> (Turn, Step) {
        Turn::begin(player, mode, Command::parse(line), seed)
    }

    /// Starts an already parsed command in `mode`.
    pub fn command(player: &Player, mode: Mode, command: Command, seed: u64) -> (Turn, Step) {
        Turn::begin(player, mode, Ok(command), seed)
    }

    /// Starts the registration every session begins with ([`Command::Enter`]).
    pub fn enter(player: &Player, seed: u64) -> (Turn, Step) {
        Turn::command(player, Mode::Main, Command::Enter, seed)
    }

    fn begin(
        player: &Player,
        mode: Mode,
        command: Result<Command, String>,
        seed: u64,
    ) -> (Turn, Step) {
        let mut turn = Turn {
            player: player.clone(),
            mode,
            command,
            seed,
            replies: Vec::new(),
            done: None,
        };
        let step = turn.run();
        (turn, step)
    }

    /// Gives the reply to the operation the last step needed, and returns the next step.
    /// After the turn is done, replies are ignored and the outcome is returned again.
    pub fn resume(&mut self, reply: Reply) -> Step {
        if let Some(done) = &self.done {
            return Step::Done(done.clone());
        }
        self.replies.push(reply);
        self.run()
    }

    /// The command being played, or the parse error of its line.
    pub fn parsed(&self) -> Result<&Command, &str> {
        self.command.as_ref().map_err(|e| e.as_str())
    }

    /// How many operations have been answered so far.
    pub fn ops_answered(&self) -> usize {
        self.replies.len()
    }

    fn run(&mut self) -> Step {
        let end = |text: String, status: Status| Outcome {
            text,
            mode: self.mode,
            status,
        };
        let command = match &self.command {
            Ok(c) => c,
            Err(e) => return self.finish(end(format!("error: {e}"), Status::BadCommand)),
        };
        if let Err(e) = command.allowed_in(self.mode) {
            return self.finish(end(format!("error: {e}"), Status::BadCommand));
        }
        let mut cx = Cx {
            replies: &self.replies,
            next: 0,
            rng: ChaCha8Rng::seed_from_u64(self.seed),
        };
        let outcome = match rules::play(&mut cx, &self.player, self.mode, command) {
            Ok((text, mode)) => Outcome {
                text,
                mode,
                status: Status::Ok,
            },
            Err(Stop::Need(op)) => return Step::Need(op),
            Err(Stop::Store(e)) => end(format!("store error: {e}"), Status::StoreFailed),
            Err(Stop::Refused(e)) => end(e, Status::Refused),
        };
        self.finish(outcome)
    }

    fn finish(&mut self, outcome: Outcome) -> Step {
        self.done = Some(outcome.clone());
        Step::Done(outcome)
    }
}
