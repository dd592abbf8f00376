//! How a history that is not linearizable fails, for reports: the longest prefix of a
//! failing part that does linearize, and the operation that cannot be placed after it.
//!
//! The checker ([`crate::linearizability`]) answers yes or no; this is a separate, plain
//! depth-first search over one part (one key's operations), bounded by a step budget, run
//! only once a part is known to fail, so it never slows the check itself.

use crate::linearizability::{Model, Operation};

/// Where a failing part gets stuck.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The longest linearization of a prefix found: indices into `part`, in the order they
    /// take effect.
    pub order: Vec<usize>,
    /// After that prefix, the returned operation that must come next (it returned before
    /// every other one left was invoked) and cannot: an index into `part`.
    pub stuck: Option<usize>,
    /// Whether the search covered every order (otherwise it stopped at its budget and a
    /// longer prefix may exist).
    pub complete: bool,
}

/// Explain why `part` (indices into `ops`) of a history does not linearize, searching at
/// most `budget` steps.
pub fn explain<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    part: &[usize],
    budget: u64,
) -> Explanation {
    let ops: Vec<&Operation<M::Input, M::Output>> = part.iter().map(|&i| &ops[i]).collect();
    let mut search = Search {
        model,
        ops: &ops,
        done: vec![false; ops.len()],
        order: Vec::new(),
        best: Vec::new(),
        best_done: vec![false; ops.len()],
        steps: 0,
        budget,
    };
    let state = model.init();
    search.go(&state);
    let complete = search.steps <= search.budget;
    let stuck = (0..ops.len())
        .filter(|&j| !search.best_done[j])
        .filter_map(|j| ops[j].ret.as_ref().map(|(t, _)| (*t, j)))
        .min()
        .map(|(_, j)| j);
    Explanation {
        order: search.best,
        stuck,
        complete,
    }
}

struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [&'a Operation<M::Input, M::Output>],
    done: Vec<bool>,
    order: Vec<usize>,
    best: Vec<usize>,
    best_done: Vec<bool>,
    steps: u64,
    budget: u64,
}

impl<M: Model> Search<'_, M> {
    /// Extend the current order from `state`; true once every returned operation is placed.
    fn go(&mut self, state: &M::State) -> bool {
        if self.order.len() > self.best.len() {
            self.best = self.order.clone();
            self.best_done = self.done.clone();
        }
        let left_returned = (0..self.ops.len())
            .filter(|&j| !self.done[j])
            .filter_map(|j| self.ops[j].ret.as_ref().map(|(t, _)| *t));
        let Some(first_return) = left_returned.min() else {
            return true;
        };
        for j in 0..self.ops.len() {
            if self.done[j] || self.ops[j].invoke > first_return {
                continue;
            }
            self.steps += 1;
            if self.steps > self.budget {
                return false;
            }
            let op = self.ops[j];
            let Some(next) = self
                .model
                .step(state, &op.input, op.ret.as_ref().map(|(_, o)| o))
            else {
                continue;
            };
            self.done[j] = true;
            self.order.push(j);
            if self.go(&next) {
                return true;
            }
            self.order.pop();
            self.done[j] = false;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::{KvInput, KvModel, KvOutput};

    fn op(input: KvInput, invoke: u64, ret: u64, out: KvOutput) -> Operation<KvInput, KvOutput> {
        Operation {
            client: 0,
            input,
            invoke,
            ret: Some((ret, out)),
        }
    }

    #[test]
    fn a_stale_read_is_the_operation_that_cannot_be_placed() {
        let put = |v: &str| KvInput::Put {
            key: "k".into(),
            value: v.into(),
        };
        let get = KvInput::Get { key: "k".into() };
        let ops = vec![
            op(put("a"), 0, 10, KvOutput::Done),
            op(put("b"), 20, 30, KvOutput::Done),
            // Invoked after b's put returned, yet reads a.
            op(get, 40, 50, KvOutput::Value("a".into())),
        ];
        let e = explain(&KvModel, &ops, &[0, 1, 2], 1000);
        assert_eq!(e.order, vec![0, 1]);
        assert_eq!(e.stuck, Some(2));
        assert!(e.complete);
    }
}
