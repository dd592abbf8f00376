//! Merging the JSON lines of a sweep's shards (run on a CI matrix or as Kubernetes indexed
//! jobs, each with `--shard K/N`) into the findings and summary of the whole sweep.

use super::Summary;
use crate::finding::Finding;
use std::collections::BTreeMap;

/// The findings and summary lines of a sweep's JSON output (`--json`), in the order read.
/// Blank lines are skipped; any other line that is not a finding or a summary is an error
/// naming the line.
pub fn read_lines(text: &str, source: &str) -> Result<(Vec<Finding>, Vec<Summary>), String> {
    let mut findings = Vec::new();
    let mut summaries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let where_ = || format!("{source} line {}", i + 1);
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("{}: not a JSON line: {e}", where_()))?;
        match value.get("record").and_then(|r| r.as_str()) {
            Some("finding") => findings.push(
                serde_json::from_value(value)
                    .map_err(|e| format!("{}: not a finding: {e}", where_()))?,
            ),
            Some("summary") => summaries.push(
                serde_json::from_value(value)
                    .map_err(|e| format!("{}: not a summary: {e}", where_()))?,
            ),
            // A shard's metric distributions cannot be joined from their figures.
            Some("metrics") => {}
            _ => {
                return Err(format!(
                    "{}: not a line of `faultline sweep --json` (no \"record\": \"finding\" or \"summary\")",
                    where_()
                ))
            }
        }
    }
    Ok((findings, summaries))
}

/// A merged sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    /// Every finding once, in plan order (seed, then the scenarios' order).
    pub findings: Vec<Finding>,
    /// The summary of the whole: a shard of `None` when every shard is there.
    pub summary: Summary,
    /// Shards of the sweep that no input had (`K/N`).
    pub missing_shards: Vec<String>,
}

/// Merge the findings and summaries of the shards of one sweep. An error if the summaries
/// are of different sweeps (scenarios, seeds, shard counts) or a shard appears twice.
pub fn merge(findings: Vec<Finding>, summaries: Vec<Summary>) -> Result<Merged, String> {
    let first = summaries
        .first()
        .ok_or("no summary line: each shard's output ends with one (did a shard not finish?)")?
        .clone();
    let mut shards = BTreeMap::new();
    let mut count = None;
    for s in &summaries {
        if (&s.scenarios, &s.seeds) != (&first.scenarios, &first.seeds) {
            return Err(format!(
                "summaries of different sweeps: {} over {} and {} over {}",
                first.scenarios.join(","),
                first.seeds,
                s.scenarios.join(","),
                s.seeds
            ));
        }
        let (k, n) = match &s.shard {
            Some(text) => super::parse_shard(text)?,
            None => (1, 1),
        };
        if *count.get_or_insert(n) != n {
            return Err(format!(
                "shards of different splits: {} and {k}/{n}",
                count.map_or(String::new(), |c| format!("of {c}"))
            ));
        }
        if shards.insert(k, s).is_some() {
            return Err(format!("shard {k}/{n} appears twice"));
        }
    }
    let n = count.unwrap_or(1);
    let missing_shards: Vec<String> = (1..=n)
        .filter(|k| !shards.contains_key(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    let mut digest = [0u8; 32];
    let mut kinds = BTreeMap::new();
    let (mut planned, mut total, mut failed) = (0, 0, 0);
    let mut stopped = Vec::new();
    for (k, s) in &shards {
        let bytes = hex::decode(&s.digest).map_err(|e| format!("shard {k}: bad digest: {e}"))?;
        for (d, x) in digest.iter_mut().zip(bytes) {
            *d ^= x;
        }
        planned += s.planned;
        total += s.total;
        failed += s.failed;
        for (kind, c) in &s.kinds {
            *kinds.entry(*kind).or_insert(0) += c;
        }
        if let Some(why) = &s.stopped {
            stopped.push(match &s.shard {
                Some(shard) => format!("shard {shard}: {why}"),
                None => why.clone(),
            });
        }
    }
    if !missing_shards.is_empty() {
        stopped.push(format!("missing shards {}", missing_shards.join(", ")));
    }
    let order: BTreeMap<&str, usize> = first
        .scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut by_run = BTreeMap::new();
    for f in findings {
        let key = (
            f.seed,
            order
                .get(f.scenario.as_str())
                .copied()
                .unwrap_or(usize::MAX),
            f.scenario.clone(),
        );
        by_run.entry(key).or_insert(f);
    }
    Ok(Merged {
        findings: by_run.into_values().collect(),
        summary: Summary {
            record: "summary".to_string(),
            scenarios: first.scenarios.clone(),
            seeds: first.seeds.clone(),
            shard: None,
            planned,
            total,
            failed,
            kinds,
            digest: hex::encode(digest),
            stopped: (!stopped.is_empty()).then(|| stopped.join("; ")),
            params: first.params.clone(),
        },
        missing_shards,
    })
}
