//! A linearizability checker for histories of client operations, generic over a model.
//!
//! A history is a list of [`Operation`]s, each with the time it was invoked and, if the
//! client saw one, the time and value of its return. An operation whose outcome is unknown
//! (the client crashed, gave up, or the run ended first) has no return: it may have taken
//! effect at any point after its invocation, or never. The history is linearizable if there
//! is one total order of (some of) its operations that respects real time (an operation that
//! returned before another was invoked comes first), contains every operation that returned,
//! and that the sequential [`Model`] accepts step by step.
//!
//! The search is the one Porcupine uses: Wing & Gong's backtracking over the invoke/return
//! entries in time order, with Lowe's memoisation of every (set of linearized operations,
//! model state) pair already explored, so each such pair is expanded once. The history is
//! first split into independent parts by the model's [`Model::partition`] (for a key-value
//! store, one part per key), which keeps each search small. An unknown outcome is handled
//! by giving the operation a return at the end of time and letting the model accept any
//! output for it: it can then be linearized anywhere after its invocation, including after
//! everything else, which is the same as never having happened.

use std::collections::BTreeMap;
// The memo is a membership-only set with a fixed hasher: it is never iterated, so no order
// can leak out of it, and a B-tree would cost the search a log factor per lookup.
#[allow(clippy::disallowed_types)]
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::rc::Rc;

/// A sequential specification of an object, as the checker needs it.
pub trait Model {
    /// The state of the object. Hashed and compared for the memoisation.
    type State: Clone + Eq + Hash;
    /// What an operation asks.
    type Input: fmt::Debug;
    /// What an operation returned.
    type Output: fmt::Debug;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Apply `input` to `state`. `output` is what the client saw, or `None` if the outcome is
    /// unknown (then any output is acceptable). Returns the next state if the model allows
    /// this operation to return `output` from `state`, else `None`.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// Split a history into parts that can be checked independently (indices into `ops`).
    /// The default is one part holding everything.
    fn partition(&self, ops: &[Operation<Self::Input, Self::Output>]) -> Vec<Vec<usize>> {
        vec![(0..ops.len()).collect()]
    }

    /// Bytes a state holds beyond its own size (on the heap), for the memory cap. The
    /// default counts none.
    fn state_bytes(&self, _state: &Self::State) -> usize {
        0
    }
}

/// One client operation in a history. Times are in any consistent unit (nanoseconds of
/// true simulated time in faultline).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// Which client issued it (for reports only).
    pub client: u64,
    pub input: I,
    pub invoke: u64,
    /// `Some((time, output))` if it returned; `None` if its outcome is unknown.
    pub ret: Option<(u64, O)>,
}

/// The checker's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A valid linearization exists.
    Linearizable,
    /// None exists. `part` holds the operations (indices into the history) of the first part
    /// found to fail.
    NotLinearizable { part: Vec<usize> },
    /// Some part was left undecided (out of steps, memory or time) and none failed; which
    /// parts, and why, is in [`Report::undecided`].
    Unknown,
}

impl Verdict {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

/// Default budget of search steps per part before the checker answers [`Verdict::Unknown`].
pub const DEFAULT_STEP_BUDGET: u64 = 50_000_000;

/// Default cap on the memory of all searches together (their memo tables, estimated; the
/// process peaks at about twice the estimate, with the allocator's slack): a
/// part whose search would take more is left undecided, so however hard a history is,
/// checking it stays near twice this.
pub const DEFAULT_MEMORY_BYTES: usize = 256 << 20;

/// Steps each undecided part gets in the first round; every round doubles it.
const FIRST_QUANTUM: u64 = 4_096;

/// How far the checker may go.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Search steps per part.
    pub steps_per_part: u64,
    /// Estimated bytes of all searches' memo tables together.
    pub memory_bytes: usize,
    /// A wall-clock deadline: what is not decided by then is left undecided. Runs that
    /// must give the same verdict every time leave it `None`.
    pub deadline: Option<std::time::Instant>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            steps_per_part: DEFAULT_STEP_BUDGET,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            deadline: None,
        }
    }
}

/// Why a part was left undecided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeftBecause {
    /// It used its steps ([`Limits::steps_per_part`]).
    Steps,
    /// Its search was the largest when all searches together passed [`Limits::memory_bytes`].
    Memory,
    /// The deadline passed.
    Deadline,
    /// Another part was found to fail first, and checking stopped.
    Stopped,
}

/// A part the checker did not decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undecided {
    /// Its operations (indices into the history).
    pub part: Vec<usize>,
    pub because: LeftBecause,
    /// Search steps spent on it.
    pub steps: u64,
}

/// The verdict and what was left undecided on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub verdict: Verdict,
    /// Parts left undecided, in partition order. Empty when the verdict is `Linearizable`.
    pub undecided: Vec<Undecided>,
    /// Search steps spent, over all parts.
    pub steps: u64,
}

/// Check `ops` against `model` with the default limits.
pub fn check<M: Model>(model: &M, ops: &[Operation<M::Input, M::Output>]) -> Verdict {
    check_with_limits(model, ops, &Limits::default()).verdict
}

/// Check `ops` against `model`, giving up on a part after `budget` search steps.
pub fn check_with_budget<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    budget: u64,
) -> Verdict {
    let limits = Limits {
        steps_per_part: budget,
        ..Limits::default()
    };
    check_with_limits(model, ops, &limits).verdict
}

/// Check `ops` against `model` within `limits`.
///
/// The parts are searched interleaved, in rounds: each undecided part gets a quantum of
/// steps per round, and the quantum doubles every round. A part that plainly fails is
/// found in the first rounds whatever hard parts come before it, and the total work is at
/// most about twice that of the hardest part decided. When the searches together pass the
/// memory cap, the largest is dropped (left undecided) and the others go on. Without a
/// deadline the verdict depends only on the history and the limits.
pub fn check_with_limits<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    limits: &Limits,
) -> Report {
    let parts = model.partition(ops);
    let mut searches: Vec<Option<Search<'_, M>>> = parts
        .iter()
        .map(|part| Some(Search::new(model, ops, part)))
        .collect();
    let mut left: Vec<Option<(LeftBecause, u64)>> = vec![None; parts.len()];
    let mut steps = 0;
    let mut failed = None;
    let mut quantum = FIRST_QUANTUM;
    'rounds: while searches.iter().any(Option::is_some) {
        for i in 0..searches.len() {
            let Some(search) = searches[i].as_mut() else {
                continue;
            };
            let allowed =
                quantum.min(limits.steps_per_part - search.steps.min(limits.steps_per_part));
            let before = search.steps;
            let progress = search.run(allowed, limits.deadline);
            steps += search.steps - before;
            let spent = search.steps;
            match progress {
                Progress::Done(true) => searches[i] = None,
                Progress::Done(false) => {
                    searches[i] = None;
                    failed = Some(i);
                    break 'rounds;
                }
                Progress::Paused if spent >= limits.steps_per_part => {
                    searches[i] = None;
                    left[i] = Some((LeftBecause::Steps, spent));
                }
                Progress::Paused => {}
                Progress::Deadline => {
                    for (j, s) in searches.iter_mut().enumerate() {
                        if let Some(s) = s.take() {
                            left[j] = Some((LeftBecause::Deadline, s.steps));
                        }
                    }
                    break 'rounds;
                }
            }
            // Over the memory cap: drop the largest searches until under it.
            while searches.iter().flatten().map(Search::memory).sum::<usize>() > limits.memory_bytes
            {
                let largest = (0..searches.len())
                    .filter(|&j| searches[j].is_some())
                    .max_by_key(|&j| searches[j].as_ref().map_or(0, Search::memory))
                    .expect("some search holds memory");
                let s = searches[largest].take().expect("it is live");
                left[largest] = Some((LeftBecause::Memory, s.steps));
            }
        }
        quantum = quantum.saturating_mul(2);
    }
    for (j, s) in searches.iter_mut().enumerate() {
        if let Some(s) = s.take() {
            left[j] = Some((LeftBecause::Stopped, s.steps));
        }
    }
    let undecided: Vec<Undecided> = left
        .into_iter()
        .zip(&parts)
        .filter_map(|(l, part)| {
            l.map(|(because, steps)| Undecided {
                part: part.clone(),
                because,
                steps,
            })
        })
        .collect();
    let verdict = match failed {
        Some(i) => Verdict::NotLinearizable {
            part: parts[i].clone(),
        },
        None if undecided.is_empty() => Verdict::Linearizable,
        None => Verdict::Unknown,
    };
    Report {
        verdict,
        undecided,
        steps,
    }
}

/// One entry of the doubly linked list the search walks: an invocation or a return.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Index of the operation within the part.
    op: usize,
    is_call: bool,
    /// For a call, the list index of its return entry.
    partner: usize,
    prev: usize,
    next: usize,
}

/// A fixed-size bitset of linearized operations, with a Zobrist hash kept up to date on
/// every set and clear, so memoising it costs O(1) rather than O(operations).
#[derive(Clone)]
struct Bits {
    words: Vec<u64>,
    zobrist: u64,
}

/// A well-mixed 64-bit value per operation index (SplitMix64 finaliser).
fn mix(i: usize) -> u64 {
    let mut z = (i as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Bits {
    fn new(n: usize) -> Bits {
        Bits {
            words: vec![0; n.div_ceil(64)],
            zobrist: 0,
        }
    }
    fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
        self.zobrist ^= mix(i);
    }
    fn clear(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
        self.zobrist ^= mix(i);
    }
    /// What a copy holds on the heap (with the allocator's bookkeeping).
    fn heap_bytes(&self) -> usize {
        self.words.len() * 8 + 16
    }
}

impl PartialEq for Bits {
    fn eq(&self, other: &Bits) -> bool {
        self.zobrist == other.zobrist && self.words == other.words
    }
}

impl Eq for Bits {}

impl Hash for Bits {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.zobrist);
    }
}

/// A small fast hasher for the memo (keys arrive pre-hashed as u64s); deterministic.
#[derive(Default)]
struct MemoHasher(u64);

impl Hasher for MemoHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Membership-only memo set; never iterated, so its order cannot leak.
#[allow(clippy::disallowed_types)]
type Memo<S> = HashSet<(Bits, S), BuildHasherDefault<MemoHasher>>;

/// Where a search stands after a call to [`Search::run`].
enum Progress {
    /// Decided: linearizable or not.
    Done(bool),
    /// Its quantum of steps ran out.
    Paused,
    /// The deadline passed.
    Deadline,
}

/// One level of the search: its candidates, the next to try, and the one taken (with the
/// state before it).
struct Frame<S> {
    cands: Vec<usize>,
    next: usize,
    chosen: Option<(usize, S)>,
}

/// Wing & Gong search with Lowe's memoisation over one part, resumable: [`Search::run`]
/// goes on for a number of steps and pauses where it stands.
struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [Operation<M::Input, M::Output>],
    part: &'a [usize],
    list: Vec<Entry>,
    /// Per operation of the part, its return time (unknown outcomes: the end of time).
    ret_time: Vec<u64>,
    memo: Memo<M::State>,
    /// Bytes the memo's entries hold beyond the table itself.
    memo_heap: usize,
    state: M::State,
    linearized: Bits,
    frames: Vec<Frame<M::State>>,
    steps: u64,
}

/// List index 0 is the head sentinel; entries are 1..=2n.
const HEAD: usize = 0;

impl<'a, M: Model> Search<'a, M> {
    fn new(model: &'a M, ops: &'a [Operation<M::Input, M::Output>], part: &'a [usize]) -> Self {
        let n = part.len();
        // Entries sorted by time; a call sorts before a return at the same instant, so two
        // operations that touch the same instant count as concurrent (the lenient reading).
        // Unknown outcomes return at u64::MAX, after everything.
        let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
        for (i, &oi) in part.iter().enumerate() {
            let op = &ops[oi];
            events.push((op.invoke, true, i));
            let ret = op.ret.as_ref().map_or(u64::MAX, |r| r.0.max(op.invoke));
            events.push((ret, false, i));
        }
        events.sort_by_key(|&(t, is_call, i)| (t, !is_call, i));
        let mut list = vec![Entry {
            op: 0,
            is_call: false,
            partner: 0,
            prev: 0,
            next: if n == 0 { usize::MAX } else { 1 },
        }];
        let mut ret_pos = vec![0usize; n];
        for (k, &(_, is_call, i)) in events.iter().enumerate() {
            let idx = k + 1;
            if !is_call {
                ret_pos[i] = idx;
            }
            let next = if k + 1 == events.len() {
                usize::MAX
            } else {
                idx + 1
            };
            list.push(Entry {
                op: i,
                is_call,
                partner: 0,
                prev: idx - 1,
                next,
            });
        }
        for e in list.iter_mut().skip(1) {
            if e.is_call {
                e.partner = ret_pos[e.op];
            }
        }
        let ret_time = (0..n)
            .map(|i| ops[part[i]].ret.as_ref().map_or(u64::MAX, |r| r.0))
            .collect();
        let mut search = Search {
            model,
            ops,
            part,
            list,
            ret_time,
            memo: Memo::default(),
            memo_heap: 0,
            state: model.init(),
            linearized: Bits::new(n),
            frames: Vec::new(),
            steps: 0,
        };
        let cands = search.candidates();
        search.frames.push(Frame {
            cands,
            next: 0,
            chosen: None,
        });
        search
    }

    /// The memory this search holds, estimated: the memo's table and what its entries
    /// point to.
    fn memory(&self) -> usize {
        self.memo.capacity() * (std::mem::size_of::<(Bits, M::State)>() + 1) + self.memo_heap
    }

    /// The operations that may go next are the calls before the first return in the list.
    /// Trying the one that must return soonest first (unknown outcomes last) finds a valid
    /// order with far less backtracking when some operations stay pending for long (a
    /// client stuck behind a partition); every candidate is still tried, so the search is
    /// as complete as Wing & Gong's.
    fn candidates(&self) -> Vec<usize> {
        let list = &self.list;
        let mut c = Vec::new();
        let mut idx = list[HEAD].next;
        while idx != usize::MAX && list[idx].is_call {
            c.push(idx);
            idx = list[idx].next;
        }
        c.sort_by_key(|&i| (self.ret_time[list[i].op], list[i].op));
        c
    }

    /// Search on for at most `quantum` steps (and not past `deadline`).
    // The deadline is the wall clock by request: a caller that sets one accepts that the
    // verdict may depend on the machine's speed.
    #[allow(clippy::disallowed_methods)]
    fn run(&mut self, quantum: u64, deadline: Option<std::time::Instant>) -> Progress {
        if self.list[HEAD].next == usize::MAX {
            return Progress::Done(true);
        }
        let stop = self.steps.saturating_add(quantum);
        loop {
            let Some(frame) = self.frames.last_mut() else {
                return Progress::Done(false);
            };
            if let Some((call, prev)) = frame.chosen.take() {
                self.state = prev;
                self.linearized.clear(self.list[call].op);
                unlift(&mut self.list, call);
            }
            let mut advanced = false;
            while frame.next < frame.cands.len() {
                if self.steps >= stop {
                    return Progress::Paused;
                }
                self.steps += 1;
                if self.steps.is_multiple_of(1024)
                    && deadline.is_some_and(|d| std::time::Instant::now() >= d)
                {
                    // Resume here next time, as if this step had not been taken.
                    self.steps -= 1;
                    return Progress::Deadline;
                }
                let call = frame.cands[frame.next];
                frame.next += 1;
                let i = self.list[call].op;
                let op = &self.ops[self.part[i]];
                let out = op.ret.as_ref().map(|r| &r.1);
                if let Some(next_state) = self.model.step(&self.state, &op.input, out) {
                    self.linearized.set(i);
                    let bytes = self.model.state_bytes(&next_state);
                    if self
                        .memo
                        .insert((self.linearized.clone(), next_state.clone()))
                    {
                        self.memo_heap += self.linearized.heap_bytes() + bytes;
                        frame.chosen = Some((call, std::mem::replace(&mut self.state, next_state)));
                        lift(&mut self.list, call);
                        advanced = true;
                        break;
                    }
                    self.linearized.clear(i);
                }
            }
            if !advanced {
                self.frames.pop();
            } else if self.list[HEAD].next == usize::MAX {
                return Progress::Done(true);
            } else {
                let cands = self.candidates();
                self.frames.push(Frame {
                    cands,
                    next: 0,
                    chosen: None,
                });
            }
        }
    }
}

/// Lift an operation (its call and return) out of the list.
fn lift(list: &mut [Entry], call: usize) {
    let ret = list[call].partner;
    for idx in [call, ret] {
        let (p, nx) = (list[idx].prev, list[idx].next);
        list[p].next = nx;
        if nx != usize::MAX {
            list[nx].prev = p;
        }
    }
}

/// Put a lifted operation back.
fn unlift(list: &mut [Entry], call: usize) {
    let ret = list[call].partner;
    for idx in [ret, call] {
        let (p, nx) = (list[idx].prev, list[idx].next);
        list[p].next = idx;
        if nx != usize::MAX {
            list[nx].prev = idx;
        }
    }
}

/// A key-value store with `get`, `put` and `append`; a missing key reads as "".
#[derive(Clone, Copy, Debug, Default)]
pub struct KvModel;

/// An operation on [`KvModel`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvInput {
    Get { key: String },
    Put { key: String, value: String },
    Append { key: String, value: String },
}

impl KvInput {
    pub fn key(&self) -> &str {
        match self {
            KvInput::Get { key } | KvInput::Put { key, .. } | KvInput::Append { key, .. } => key,
        }
    }
}

/// What a [`KvModel`] operation returns: the value for a get, nothing for a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOutput {
    Value(String),
    Done,
}

/// The value of one key as the search keeps it: shared text with its hash computed once,
/// so cloning a state and memoising it cost O(1) however long appends make the value.
#[derive(Clone, Debug)]
pub struct KvValue {
    text: Rc<str>,
    hash: u64,
}

impl KvValue {
    fn new(text: &str) -> KvValue {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        KvValue {
            text: text.into(),
            hash: h.finish(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for KvValue {
    fn eq(&self, other: &KvValue) -> bool {
        self.hash == other.hash && (Rc::ptr_eq(&self.text, &other.text) || self.text == other.text)
    }
}

impl Eq for KvValue {}

impl Hash for KvValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl Model for KvModel {
    /// The value of the one key of a part (the history is partitioned by key).
    type State = KvValue;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> KvValue {
        KvValue::new("")
    }

    fn step(&self, state: &KvValue, input: &KvInput, output: Option<&KvOutput>) -> Option<KvValue> {
        match (input, output) {
            (KvInput::Get { .. }, None) => Some(state.clone()),
            (KvInput::Get { .. }, Some(KvOutput::Value(v))) => {
                (**v == *state.text).then(|| state.clone())
            }
            (KvInput::Get { .. }, Some(KvOutput::Done)) => None,
            (KvInput::Put { value, .. }, None | Some(KvOutput::Done)) => Some(KvValue::new(value)),
            (KvInput::Append { value, .. }, None | Some(KvOutput::Done)) => {
                Some(KvValue::new(&format!("{}{value}", state.text)))
            }
            (KvInput::Put { .. } | KvInput::Append { .. }, Some(KvOutput::Value(_))) => None,
        }
    }

    /// The text with its reference counts and the allocator's bookkeeping (an upper
    /// bound: memoised states may share one text).
    fn state_bytes(&self, state: &KvValue) -> usize {
        state.text.len() + 32
    }

    fn partition(&self, ops: &[Operation<KvInput, KvOutput>]) -> Vec<Vec<usize>> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            // A get with an unknown outcome constrains nothing: leave it out.
            if matches!(op.input, KvInput::Get { .. }) && op.ret.is_none() {
                continue;
            }
            by_key.entry(op.input.key()).or_default().push(i);
        }
        by_key.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(client: u64, key: &str, value: &str, invoke: u64, ret: Option<u64>) -> Op {
        let input = KvInput::Put {
            key: key.into(),
            value: value.into(),
        };
        Operation {
            client,
            input,
            invoke,
            ret: ret.map(|t| (t, KvOutput::Done)),
        }
    }
    fn append(client: u64, key: &str, value: &str, invoke: u64, ret: Option<u64>) -> Op {
        let input = KvInput::Append {
            key: key.into(),
            value: value.into(),
        };
        Operation {
            client,
            input,
            invoke,
            ret: ret.map(|t| (t, KvOutput::Done)),
        }
    }
    fn get(client: u64, key: &str, seen: &str, invoke: u64, ret: u64) -> Op {
        let input = KvInput::Get { key: key.into() };
        Operation {
            client,
            input,
            invoke,
            ret: Some((ret, KvOutput::Value(seen.into()))),
        }
    }
    type Op = Operation<KvInput, KvOutput>;

    fn ok(ops: &[Op]) -> bool {
        check(&KvModel, ops).is_linearizable()
    }

    #[test]
    fn empty_and_sequential_histories() {
        assert!(ok(&[]));
        assert!(ok(&[
            put(0, "x", "1", 0, Some(10)),
            get(1, "x", "1", 20, 30)
        ]));
        assert!(ok(&[get(0, "x", "", 0, 1)]));
        assert!(!ok(&[get(0, "x", "1", 0, 1)]));
    }

    #[test]
    fn concurrent_overlap_may_go_either_way() {
        // The get overlaps the put, so it may see the old or the new value.
        let base = put(0, "x", "a", 0, Some(10));
        assert!(ok(&[
            base.clone(),
            put(0, "x", "b", 20, Some(40)),
            get(1, "x", "a", 25, 35)
        ]));
        assert!(ok(&[
            base.clone(),
            put(0, "x", "b", 20, Some(40)),
            get(1, "x", "b", 25, 35)
        ]));
        // But two overlapping reads cannot see new then old if the first returned before
        // the second began.
        assert!(!ok(&[
            base,
            put(0, "x", "b", 20, Some(100)),
            get(1, "x", "b", 25, 30),
            get(2, "x", "a", 40, 50),
        ]));
    }

    #[test]
    fn stale_read_after_completed_write_is_caught() {
        assert!(!ok(&[
            put(0, "x", "1", 0, Some(10)),
            put(0, "x", "2", 20, Some(30)),
            get(1, "x", "1", 40, 50),
        ]));
    }

    #[test]
    fn unknown_write_observed_later_is_fine() {
        assert!(ok(&[
            put(0, "x", "1", 0, Some(10)),
            put(0, "x", "2", 20, None),
            get(1, "x", "2", 100, 110),
            get(1, "x", "2", 120, 130),
        ]));
    }

    #[test]
    fn unknown_write_never_observed_is_fine() {
        assert!(ok(&[
            put(0, "x", "1", 0, Some(10)),
            put(0, "x", "2", 20, None),
            get(1, "x", "1", 100, 110),
        ]));
    }

    #[test]
    fn unknown_write_cannot_take_effect_before_its_invocation() {
        assert!(!ok(&[get(1, "x", "2", 0, 10), put(0, "x", "2", 20, None)]));
    }

    #[test]
    fn unknown_write_cannot_flicker() {
        // Once observed, an unknown write stays applied: seeing it and then not is wrong.
        assert!(!ok(&[
            put(0, "x", "1", 0, Some(10)),
            put(0, "x", "2", 20, None),
            get(1, "x", "2", 100, 110),
            get(1, "x", "1", 120, 130),
        ]));
    }

    #[test]
    fn appends_must_be_seen_in_one_order() {
        let a = append(0, "k", "a", 0, Some(50));
        let b = append(1, "k", "b", 0, Some(50));
        assert!(ok(&[a.clone(), b.clone(), get(2, "k", "ab", 60, 70)]));
        assert!(ok(&[a.clone(), b.clone(), get(2, "k", "ba", 60, 70)]));
        assert!(!ok(&[a.clone(), b.clone(), get(2, "k", "a", 60, 70)]));
        assert!(!ok(&[
            a,
            b,
            get(2, "k", "ab", 60, 70),
            get(3, "k", "ba", 80, 90)
        ]));
    }

    #[test]
    fn keys_are_independent() {
        let ops = [
            put(0, "x", "1", 0, Some(10)),
            put(1, "y", "2", 0, Some(10)),
            get(2, "x", "1", 20, 30),
            get(2, "y", "2", 40, 50),
        ];
        assert!(ok(&ops));
        let bad = [put(0, "x", "1", 0, Some(10)), get(2, "y", "1", 20, 30)];
        match check(&KvModel, &bad) {
            Verdict::NotLinearizable { part } => assert_eq!(part, vec![1]),
            v => panic!("expected a failure on key y, got {v:?}"),
        }
    }

    #[test]
    fn budget_exhaustion_reports_unknown() {
        // Many concurrent appends and a read no order can explain: the search must explore
        // before it can conclude, and a tiny budget stops it first.
        let mut ops: Vec<Op> = (0..8).map(|c| append(c, "k", "v", 0, Some(100))).collect();
        ops.push(get(9, "k", "x", 200, 300));
        assert_eq!(check_with_budget(&KvModel, &ops, 5), Verdict::Unknown);
        assert!(matches!(
            check(&KvModel, &ops),
            Verdict::NotLinearizable { .. }
        ));
    }

    /// `n` concurrent appends of distinct values to "k" and a read that saw them in
    /// reverse order: linearizable, but the search tries the other orders first.
    fn hard_key(n: u64) -> Vec<Op> {
        let mut ops: Vec<Op> = (0..n)
            .map(|c| append(c, "k", &format!("{c},"), 0, Some(100)))
            .collect();
        let seen: String = (0..n).rev().map(|c| format!("{c},")).collect();
        ops.push(get(n, "k", &seen, 200, 300));
        ops
    }

    #[test]
    fn a_plainly_failing_part_is_found_behind_a_hard_one() {
        let mut ops = hard_key(11);
        // "k" sorts before "x": the hard part comes first.
        ops.push(get(50, "x", "never written", 0, 10));
        let report = check_with_limits(&KvModel, &ops, &Limits::default());
        assert_eq!(report.verdict, Verdict::NotLinearizable { part: vec![12] });
        assert_eq!(report.undecided.len(), 1, "{report:?}");
        let left = &report.undecided[0];
        assert_eq!(left.part, (0..12).collect::<Vec<_>>());
        assert_eq!(left.because, LeftBecause::Stopped);
        assert!(left.steps > 0 && report.steps < 1_000_000, "{report:?}");
    }

    #[test]
    fn the_hard_part_is_decided_when_nothing_fails() {
        let report = check_with_limits(&KvModel, &hard_key(7), &Limits::default());
        assert_eq!(report.verdict, Verdict::Linearizable);
        assert!(report.undecided.is_empty());
    }

    #[test]
    fn out_of_steps_names_the_part_and_keeps_deciding_others() {
        let mut ops = hard_key(11);
        ops.push(put(60, "y", "1", 0, Some(10)));
        ops.push(get(61, "y", "1", 20, 30));
        let limits = Limits {
            steps_per_part: 10_000,
            ..Limits::default()
        };
        let report = check_with_limits(&KvModel, &ops, &limits);
        assert_eq!(report.verdict, Verdict::Unknown);
        assert_eq!(report.undecided.len(), 1, "only the hard part: {report:?}");
        assert_eq!(report.undecided[0].because, LeftBecause::Steps);
        assert_eq!(report.undecided[0].steps, 10_000);
        // The same history and limits give the same report.
        assert_eq!(check_with_limits(&KvModel, &ops, &limits), report);
    }

    #[test]
    fn over_the_memory_cap_the_largest_search_is_dropped() {
        let mut ops = hard_key(11);
        ops.push(get(50, "x", "never written", 0, 10));
        ops.push(put(60, "y", "1", 0, Some(10)));
        let limits = Limits {
            memory_bytes: 64 << 10,
            ..Limits::default()
        };
        let report = check_with_limits(&KvModel, &ops, &limits);
        // The failing part is still found: only the hard search outgrew the cap.
        assert_eq!(report.verdict, Verdict::NotLinearizable { part: vec![12] });
        let ok_only: Vec<Op> = ops
            .iter()
            .filter(|o| o.input.key() != "x")
            .cloned()
            .collect();
        let report = check_with_limits(&KvModel, &ok_only, &limits);
        assert_eq!(report.verdict, Verdict::Unknown);
        assert_eq!(report.undecided.len(), 1, "{report:?}");
        assert_eq!(report.undecided[0].because, LeftBecause::Memory);
        assert_eq!(report.undecided[0].part, (0..12).collect::<Vec<_>>());
    }

    #[test]
    // A deadline is wall-clock time by nature; one already past needs no waiting.
    #[allow(clippy::disallowed_methods)]
    fn a_passed_deadline_leaves_what_is_not_decided() {
        let mut ops = hard_key(11);
        // "a" sorts first: its part is decided before the clock is first read.
        ops.push(put(60, "a", "1", 0, Some(10)));
        let limits = Limits {
            deadline: Some(std::time::Instant::now()),
            ..Limits::default()
        };
        let report = check_with_limits(&KvModel, &ops, &limits);
        assert_eq!(report.verdict, Verdict::Unknown);
        assert_eq!(
            report.undecided.len(),
            1,
            "the small part decides: {report:?}"
        );
        assert_eq!(report.undecided[0].because, LeftBecause::Deadline);
        assert_eq!(report.undecided[0].part, (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn many_concurrent_ops_are_fast_with_memoisation() {
        // 12 concurrent appends of one value: without memoisation 12! orders; with it the
        // states collapse.
        let mut ops: Vec<Op> = (0..12).map(|c| append(c, "k", "v", 0, Some(100))).collect();
        ops.push(get(20, "k", &"v".repeat(12), 200, 300));
        assert_eq!(
            check_with_budget(&KvModel, &ops, 1_000_000),
            Verdict::Linearizable
        );
    }

    #[test]
    fn histories_built_from_a_real_order_are_linearizable() {
        use rand::{Rng, SeedableRng};
        // Run ops sequentially at distinct points, then widen each into a random interval
        // around its point (some become unknown): a valid order always exists.
        for seed in 0..200u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut value = String::new();
            let mut ops = Vec::new();
            for i in 0..14u64 {
                let point = 100 * (i + 1);
                let invoke = point - rng.gen_range(0..250).min(point);
                let ret = point + rng.gen_range(0..250);
                let op = match rng.gen_range(0..3) {
                    0 => get(i, "k", &value.clone(), invoke, ret),
                    1 => {
                        value = format!("p{i}");
                        put(
                            i,
                            "k",
                            &value,
                            invoke,
                            (rng.gen_range(0..5) > 0).then_some(ret),
                        )
                    }
                    _ => {
                        value.push_str(&format!("a{i}"));
                        append(i, "k", &format!("a{i}"), invoke, Some(ret))
                    }
                };
                ops.push(op);
            }
            assert!(ok(&ops), "seed {seed}: {ops:?}");
        }
    }
}
