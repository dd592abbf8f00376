//! `faultline bench checker`: the linearizability checker on made-up key-value histories
//! of 50 clients, the shapes that used to stall it.
//!
//! - a hard key first (many concurrent appends of distinct values: linearizable, but the
//!   search has a huge space to explore), then a key that plainly fails (a stale read):
//!   2,000 operations, to be judged not linearizable at once;
//! - 1,700 linearizable operations over 10 keys;
//! - the hard key alone, under the default limits: the process's peak memory.
//!
//! Every history is built from a real sequential order (each operation takes effect at a
//! point inside its interval), so the linearizable ones are linearizable by construction.

use faultline::linearizability::{check_with_limits, KvInput, KvModel, KvOutput, Limits};
use faultline::linearizability::{Operation, Report};
use rand::{Rng, SeedableRng};
use std::time::Instant;

type Op = Operation<KvInput, KvOutput>;

/// Clients in every history.
pub const CLIENTS: u64 = 50;

/// `ops` operations on `key`, taking effect 100 ns apart, each stretched over an
/// interval about `overlap` operations wide. `appends_only`: appends of distinct values
/// and one read in 20; otherwise a mix of gets, puts and appends.
fn key_history(seed: u64, key: &str, ops: u64, overlap: u64, appends_only: bool) -> Vec<Op> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut value = String::new();
    let width = overlap * 100;
    (0..ops)
        .map(|i| {
            let point = width + 100 * (i + 1);
            let invoke = point - rng.gen_range(0..width);
            let ret = point + rng.gen_range(0..width);
            let client = rng.gen_range(0..CLIENTS);
            let roll = rng.gen_range(0..20);
            let (input, output) = if roll == 0 || (!appends_only && roll < 8) {
                let got = KvOutput::Value(value.clone());
                (KvInput::Get { key: key.into() }, got)
            } else if appends_only || roll < 14 {
                let part = format!("{i},");
                value.push_str(&part);
                let input = KvInput::Append {
                    key: key.into(),
                    value: part,
                };
                (input, KvOutput::Done)
            } else {
                value = format!("p{i}");
                let input = KvInput::Put {
                    key: key.into(),
                    value: value.clone(),
                };
                (input, KvOutput::Done)
            };
            Operation {
                client,
                input,
                invoke,
                ret: Some((ret, output)),
            }
        })
        .collect()
}

/// The hard key: 1,960 appends (and some reads) about 50 at a time.
fn hard_key() -> Vec<Op> {
    key_history(1, "a", 1_960, CLIENTS, true)
}

/// 40 sequential operations on "b" whose last read is stale.
fn failing_key(after: u64) -> Vec<Op> {
    let mut ops = key_history(2, "b", 39, 1, false);
    for op in &mut ops {
        op.invoke += after;
        op.ret.as_mut().expect("returned").0 += after;
    }
    let end = ops.iter().map(|o| o.ret.as_ref().map_or(0, |r| r.0)).max();
    let end = end.unwrap_or(after) + 100;
    ops.push(Operation {
        client: 0,
        input: KvInput::Put {
            key: "b".into(),
            value: "new".into(),
        },
        invoke: end,
        ret: Some((end + 10, KvOutput::Done)),
    });
    ops.push(Operation {
        client: 1,
        input: KvInput::Get { key: "b".into() },
        invoke: end + 20,
        ret: Some((end + 30, KvOutput::Value("stale".into()))),
    });
    ops
}

/// One history checked.
#[derive(Debug, serde::Serialize)]
pub struct Case {
    pub name: &'static str,
    pub ops: usize,
    pub keys: usize,
    pub verdict: String,
    /// Parts left undecided, as (first operation, operations, why).
    pub undecided: Vec<String>,
    pub steps: u64,
    pub seconds: f64,
    /// What the goal allows, in seconds (`None`: a memory figure, not a time).
    pub target_seconds: Option<f64>,
    /// Time over the target (at most 1 meets it).
    pub ratio_to_target: Option<f64>,
}

/// What the benchmark measured.
#[derive(Debug, serde::Serialize)]
pub struct CheckerBench {
    pub cases: Vec<Case>,
    /// Peak resident memory of the process after the hard key alone, and the goal.
    pub peak_rss_kib: Option<u64>,
    pub memory_target_kib: u64,
}

fn case(name: &'static str, ops: &[Op], target_seconds: Option<f64>) -> Case {
    let start = Instant::now();
    let report: Report = check_with_limits(&KvModel, ops, &Limits::default());
    let seconds = start.elapsed().as_secs_f64();
    let keys = ops
        .iter()
        .map(|o| o.input.key())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    Case {
        name,
        ops: ops.len(),
        keys,
        verdict: format!("{:?}", report.verdict)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        undecided: report
            .undecided
            .iter()
            .map(|u| format!("{} ops ({:?}, {} steps)", u.part.len(), u.because, u.steps))
            .collect(),
        steps: report.steps,
        seconds,
        target_seconds,
        ratio_to_target: target_seconds.map(|t| seconds / t),
    }
}

/// Run the three cases.
pub fn run() -> CheckerBench {
    let hard = hard_key();
    let hard_end = hard.iter().map(|o| o.ret.as_ref().map_or(0, |r| r.0)).max();
    let mut mixed = hard.clone();
    mixed.extend(failing_key(hard_end.unwrap_or(0) + 1_000));
    let ten_keys: Vec<Op> = (0..10)
        .flat_map(|k| key_history(10 + k, &format!("k{k}"), 170, 5, false))
        .collect();
    let cases = vec![
        case("hard key, then a failing key", &mixed, Some(0.1)),
        case("10 keys, linearizable", &ten_keys, Some(0.4)),
        case("the hard key alone", &hard, None),
    ];
    CheckerBench {
        cases,
        peak_rss_kib: crate::exercise::bench::peak_rss_kib(),
        memory_target_kib: 1 << 20,
    }
}
