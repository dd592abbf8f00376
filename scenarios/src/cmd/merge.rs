//! `faultline merge`: the JSON lines of a sweep's shards joined into one result.

use super::{exit_code, usage_error, EXIT_USAGE};
use clap::Args;
use faultline::sweep;
use scenarios::{say, tell};
use std::io::Read;
use std::path::PathBuf;

/// `faultline merge`.
#[derive(Args)]
pub struct MergeArgs {
    /// Files of `faultline sweep --json` output, one per shard (or several shards'
    /// outputs concatenated in one). None, or `-`: read standard input.
    pub files: Vec<PathBuf>,
    /// Print the merged findings and summary as JSON lines, like one `sweep --json`.
    #[arg(long)]
    pub json: bool,
}

/// Merge; the exit code: that of the findings (as a sweep's), or 2 if the input is bad or
/// a shard is missing.
pub fn main(args: MergeArgs) -> u8 {
    let mut findings = Vec::new();
    let mut summaries = Vec::new();
    let sources: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files
    };
    for path in &sources {
        let (text, name) = if path.as_os_str() == "-" {
            let mut text = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                return usage_error(&format!("cannot read standard input: {e}"));
            }
            (text, "standard input".to_string())
        } else {
            match std::fs::read_to_string(path) {
                Ok(t) => (t, path.display().to_string()),
                Err(e) => return usage_error(&format!("cannot read {}: {e}", path.display())),
            }
        };
        match sweep::read_lines(&text, &name) {
            Ok((f, s)) => {
                findings.extend(f);
                summaries.extend(s);
            }
            Err(e) => return usage_error(&e),
        }
    }
    let merged = match sweep::merge(findings, summaries) {
        Ok(m) => m,
        Err(e) => return usage_error(&e),
    };
    for f in &merged.findings {
        if args.json {
            say!("{}", serde_json::to_string(f).unwrap_or_default());
        } else {
            say!("{}", f.to_text());
        }
    }
    let s = &merged.summary;
    if args.json {
        say!("{}", serde_json::to_string(s).unwrap_or_default());
    } else {
        say!(
            "{} over {}: {} runs of {} planned, {} failed (digest {})",
            s.scenarios.join(","),
            s.seeds,
            s.total,
            s.planned,
            s.failed,
            &s.digest[..16]
        );
        if let Some(why) = &s.stopped {
            say!("incomplete: {why}");
        }
    }
    if !merged.missing_shards.is_empty() {
        tell!(
            "faultline: missing shards {}: the merge covers only part of the sweep",
            merged.missing_shards.join(", ")
        );
        return EXIT_USAGE;
    }
    exit_code(s.kinds.keys().copied())
}
