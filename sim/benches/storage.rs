//! How fast the real runtime makes a sync durable, and whether that depends on how much the
//! node already holds.
//!
//! A node holding N log entries (N = 1,000 and 100,000, loaded in one sync) appends one entry
//! and its new length per sync, as a Raft leader does for every command. Beside it, the
//! same appends against the earlier design, which rewrote the whole state to a temporary
//! file, synced it and renamed it over the old one on every sync. It prints syncs per second
//! for each and the ratios, measured in this one run.
//!
//!     cargo bench -p faultline --bench storage

// A benchmark times itself on the wall clock.
#![allow(clippy::disallowed_methods)]

use faultline::real::{RealConfig, Runtime};
use faultline::{Ctx, Node};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

struct Idle;

impl Node for Idle {
    type Event = ();
    type Timer = ();
    fn on_start(&mut self, _: &mut Ctx<'_, ()>) {}
}

const ENTRY: &[u8] = &[7; 100];
const SYNCS: u32 = 200;

fn entry_key(index: u64) -> String {
    format!("raft/log/{index:016x}")
}

/// Syncs per second of the real runtime's append-only storage, holding `held` entries.
fn append_only(dir: &Path, held: u64) -> f64 {
    let config = RealConfig {
        storage_dir: Some(dir.to_path_buf()),
        ..RealConfig::default()
    };
    let mut rt = Runtime::<Idle>::new(config).expect("runtime starts");
    rt.start(Idle);
    rt.with_node(|_, ctx| {
        for i in 1..=held {
            ctx.storage().put(entry_key(i), ENTRY.to_vec());
        }
        ctx.storage().sync();
    });
    let start = Instant::now();
    for i in held + 1..=held + SYNCS as u64 {
        rt.with_node(|_, ctx| {
            ctx.storage().put(entry_key(i), ENTRY.to_vec());
            ctx.storage().put("raft/len", i.to_le_bytes().to_vec());
            ctx.storage().sync();
        });
    }
    SYNCS as f64 / start.elapsed().as_secs_f64()
}

/// Syncs per second of rewriting the whole state (as hex JSON) on every sync.
fn whole_rewrite(dir: &Path, held: u64) -> f64 {
    std::fs::create_dir_all(dir).expect("dir");
    let mut state: BTreeMap<String, String> = (1..=held)
        .map(|i| (entry_key(i), hex::encode(ENTRY)))
        .collect();
    let (path, tmp) = (dir.join("storage.json"), dir.join("storage.json.tmp"));
    let start = Instant::now();
    for i in held + 1..=held + SYNCS as u64 {
        state.insert(entry_key(i), hex::encode(ENTRY));
        state.insert("raft/len".into(), hex::encode(i.to_le_bytes()));
        let bytes = serde_json::to_vec(&state).expect("encodes");
        let mut file = std::fs::File::create(&tmp).expect("tmp");
        file.write_all(&bytes).expect("write");
        file.sync_all().expect("sync");
        std::fs::rename(&tmp, &path).expect("rename");
    }
    SYNCS as f64 / start.elapsed().as_secs_f64()
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn main() {
    // `cargo bench` passes --bench; a filter argument could follow, and there is one bench.
    let mut rows = Vec::new();
    for held in [1_000u64, 100_000] {
        let (a, b) = (fresh_dir("append"), fresh_dir("rewrite"));
        let appended = append_only(&a, held);
        let rewritten = whole_rewrite(&b, held);
        let _ = (std::fs::remove_dir_all(&a), std::fs::remove_dir_all(&b));
        println!(
            "{held:>7} entries held: append-only {appended:>8.0} syncs/s, whole rewrite {rewritten:>8.0} syncs/s ({:.1}x)",
            appended / rewritten
        );
        rows.push((appended, rewritten));
    }
    println!(
        "append-only at 100,000 entries runs at {:.2} of its speed at 1,000; the whole rewrite at {:.3}",
        rows[1].0 / rows[0].0,
        rows[1].1 / rows[0].1
    );
}
