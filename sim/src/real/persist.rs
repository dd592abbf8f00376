//! The durable part of a node's [`Storage`](crate::Storage), kept in an append-only file.
//!
//! The file is `storage.log` in the configured directory. Each sync appends one batch: the
//! changes synced since the last one, as checksummed records, the last of them marked as the
//! batch's end, and then fsyncs. So a sync costs what it changed, not what the node holds.
//! When the file has grown to several times what it held after the last compaction, it is
//! compacted: the live state is written as one batch to `storage.log.tmp`, fsynced and
//! renamed over the log, so a process killed at any moment leaves the old log or the new
//! one, never a mix. Compactions are geometrically spaced, so their cost per synced byte is
//! constant, and no sync ever walks the whole state otherwise.
//!
//! Loading replays the batches in order and checks every record:
//! - An incomplete batch at the end of the file (the last records cut short, or a batch with
//!   no end mark) is the trace of a sync that never returned: the node cannot have acted on
//!   it, so it is dropped, and the load says so. That is the one repair made.
//! - Anything else wrong (a checksum that does not match, a record that is cut short before
//!   the end, an unknown header) is damage: the load fails with the file, the byte offset
//!   and what is wrong, and the node must not start on it.
//!
//! Record layout: `len: u32 LE` (of what follows the checksum), `check: 8 bytes` (the first
//! bytes of SHA-256 over the rest), then `seq: u64 LE` (records are numbered from 0 in each
//! file, so a record cut out whole is seen), `flags: u8` (bit 0: end of batch; bit 1:
//! delete), `key_len: u32 LE`, the key, and the value.

use crate::storage::Change;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The first bytes of every storage file, naming its format.
const HEADER: &[u8; 16] = b"faultline-log/1\n";
const CHECK_LEN: usize = 8;
const END_OF_BATCH: u8 = 1;
const DELETE: u8 = 2;
/// Compact once the file holds this many times its size after the last compaction (and at
/// least `MIN_COMPACT`).
const COMPACT_FACTOR: u64 = 4;
// Small in unit tests, so compaction is reached in a few syncs.
const MIN_COMPACT: u64 = if cfg!(test) { 64 << 10 } else { 1 << 20 };

/// What loading a storage file found besides the state: a dropped unfinished batch.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Recovery {
    /// Bytes of an incomplete last batch that were dropped (0 if none).
    pub dropped_tail_bytes: u64,
}

/// Where one node's durable storage lives, open for appending.
pub(crate) struct StorageFile {
    dir: PathBuf,
    path: PathBuf,
    tmp: PathBuf,
    /// Bytes in the file now.
    file_bytes: u64,
    /// Bytes in the file just after it was last compacted (or opened).
    compacted_bytes: u64,
    /// The number of the next record.
    next_seq: u64,
}

impl StorageFile {
    /// The storage file in `dir` (created if missing) and the synced state it holds.
    pub(crate) fn open(
        dir: &Path,
    ) -> io::Result<(StorageFile, BTreeMap<String, Vec<u8>>, Recovery)> {
        fs::create_dir_all(dir).map_err(|e| named(dir, e))?;
        let path = dir.join("storage.log");
        let (state, valid_len, next_seq, recovery) = match fs::read(&path) {
            Ok(bytes) => replay(&bytes).map_err(|why| damaged(&path, why))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let state = legacy::take(dir)?;
                write_new(&path, &state)?;
                legacy::remove(dir)?;
                let (len, records) = (HEADER.len() as u64 + live_size(&state), state.len());
                (state, len, records as u64, Recovery::default())
            }
            Err(e) => return Err(named(&path, e)),
        };
        // Cut off a dropped tail, so the next batch follows the last complete one.
        OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(valid_len))
            .map_err(|e| named(&path, e))?;
        let storage = StorageFile {
            tmp: dir.join("storage.log.tmp"),
            dir: dir.to_path_buf(),
            path,
            file_bytes: valid_len,
            compacted_bytes: valid_len,
            next_seq,
        };
        Ok((storage, state, recovery))
    }

    /// The file this storage lives in, for messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Append `changes` as one batch and make it durable; compact to the live state
    /// (`durable`, which already includes `changes`) if the file has grown far enough.
    pub(crate) fn append(
        &mut self,
        changes: &[Change],
        durable: &BTreeMap<String, Vec<u8>>,
    ) -> io::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::new();
        for (i, (key, value)) in changes.iter().enumerate() {
            let end = i + 1 == changes.len();
            encode_record(&mut batch, self.next_seq, key, value.as_deref(), end);
            self.next_seq += 1;
        }
        // Opened for each batch (a syscall, next to the fsync's milliseconds), so a file that
        // was removed or replaced under us is an error, not writes into a lost inode.
        OpenOptions::new()
            .append(true)
            .open(&self.path)
            .and_then(|mut file| {
                file.write_all(&batch)?;
                file.sync_data()
            })
            .map_err(|e| named(&self.path, e))?;
        self.file_bytes += batch.len() as u64;
        if self.file_bytes > MIN_COMPACT.max(self.compacted_bytes * COMPACT_FACTOR) {
            self.compact(durable)?;
        }
        Ok(())
    }

    /// Replace the log by one batch holding `durable`, atomically.
    fn compact(&mut self, durable: &BTreeMap<String, Vec<u8>>) -> io::Result<()> {
        write_new(&self.tmp, durable)?;
        fs::rename(&self.tmp, &self.path).map_err(|e| named(&self.path, e))?;
        // Make the rename itself durable. Not every platform can sync a directory; the
        // rename is still atomic there.
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        self.file_bytes = HEADER.len() as u64 + live_size(durable);
        self.compacted_bytes = self.file_bytes;
        self.next_seq = durable.len() as u64;
        Ok(())
    }
}

/// Write a fresh file at `path` holding `state` as one batch, synced.
fn write_new(path: &Path, state: &BTreeMap<String, Vec<u8>>) -> io::Result<()> {
    let mut bytes = HEADER.to_vec();
    for (i, (key, value)) in state.iter().enumerate() {
        encode_record(&mut bytes, i as u64, key, Some(value), i + 1 == state.len());
    }
    let mut file = File::create(path).map_err(|e| named(path, e))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| named(path, e))
}

/// Bytes `state` takes as records.
fn live_size(state: &BTreeMap<String, Vec<u8>>) -> u64 {
    state
        .iter()
        .map(|(k, v)| (4 + CHECK_LEN + 13 + k.len() + v.len()) as u64)
        .sum()
}

fn encode_record(out: &mut Vec<u8>, seq: u64, key: &str, value: Option<&[u8]>, end: bool) {
    let mut body = Vec::with_capacity(13 + key.len() + value.map_or(0, <[u8]>::len));
    let flags = if end { END_OF_BATCH } else { 0 } | if value.is_none() { DELETE } else { 0 };
    body.extend_from_slice(&seq.to_le_bytes());
    body.push(flags);
    body.extend_from_slice(&(key.len() as u32).to_le_bytes());
    body.extend_from_slice(key.as_bytes());
    body.extend_from_slice(value.unwrap_or_default());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&body)[..CHECK_LEN]);
    out.extend_from_slice(&body);
}

/// A replayed file: its state, the length of its valid prefix, the next record number, and
/// what was dropped.
type Replayed = (BTreeMap<String, Vec<u8>>, u64, u64, Recovery);

/// The state in a file's bytes, or what is damaged.
fn replay(bytes: &[u8]) -> Result<Replayed, String> {
    if !bytes.starts_with(HEADER) {
        return Err("not a faultline storage log (unknown header)".into());
    }
    let mut state = BTreeMap::new();
    let mut batch: Vec<Change> = Vec::new();
    let mut at = HEADER.len();
    let mut committed = at;
    let (mut seq, mut committed_seq) = (0, 0);
    while at < bytes.len() {
        let Some((record_seq, flags, key, value, next)) = decode_record(bytes, at)? else {
            // Cut short at the very end: an append that never finished.
            break;
        };
        if record_seq != seq {
            return Err(format!(
                "record at byte {at} is number {record_seq}, expected {seq}: records are missing"
            ));
        }
        seq += 1;
        batch.push((key, value));
        at = next;
        if flags & END_OF_BATCH != 0 {
            for (key, value) in batch.drain(..) {
                match value {
                    Some(v) => state.insert(key, v),
                    None => state.remove(&key),
                };
            }
            committed = at;
            committed_seq = seq;
        }
    }
    let recovery = Recovery {
        dropped_tail_bytes: (bytes.len() - committed) as u64,
    };
    Ok((state, committed as u64, committed_seq, recovery))
}

/// One record: its number, flags, key, value (`None`: a delete), and where the next begins.
type Record = (u64, u8, String, Option<Vec<u8>>, usize);

/// The record at `at`: `Ok(None)` if the file ends inside it (a torn tail), an error if
/// it is damaged.
fn decode_record(bytes: &[u8], at: usize) -> Result<Option<Record>, String> {
    let Some(len) = bytes.get(at..at + 4) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
    let body_at = at + 4 + CHECK_LEN;
    let Some(body) = bytes.get(body_at..body_at.saturating_add(len)) else {
        return Ok(None);
    };
    if Sha256::digest(body)[..CHECK_LEN] != bytes[at + 4..body_at] {
        return Err(format!("record at byte {at}: checksum does not match"));
    }
    let bad = |why: &str| format!("record at byte {at}: {why}");
    let (seq, body) = body.split_at_checked(8).ok_or_else(|| bad("too short"))?;
    let seq = u64::from_le_bytes(seq.try_into().expect("8 bytes"));
    let (&flags, rest) = body.split_first().ok_or_else(|| bad("too short"))?;
    let key_len = rest
        .get(..4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
        .ok_or_else(|| bad("no key length"))?;
    let key = rest
        .get(4..4 + key_len)
        .ok_or_else(|| bad("key runs past the record"))?;
    let key = String::from_utf8(key.to_vec()).map_err(|_| bad("key is not UTF-8"))?;
    let value = (flags & DELETE == 0).then(|| rest[4 + key_len..].to_vec());
    Ok(Some((seq, flags, key, value, body_at + len)))
}

/// The whole-file JSON format of earlier versions (`storage.json`), read once and replaced
/// by the log, so upgrading keeps a node's state.
mod legacy {
    use super::{damaged, named};
    use std::collections::BTreeMap;
    use std::io;
    use std::path::Path;

    #[derive(serde::Deserialize)]
    struct OnDisk {
        format: String,
        entries: BTreeMap<String, String>,
    }

    /// The state in `dir/storage.json`, or nothing if there is none.
    pub(super) fn take(dir: &Path) -> io::Result<BTreeMap<String, Vec<u8>>> {
        let path = dir.join("storage.json");
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(named(&path, e)),
        };
        let on_disk: OnDisk =
            serde_json::from_slice(&bytes).map_err(|e| damaged(&path, e.to_string()))?;
        if on_disk.format != "faultline-storage/1" {
            return Err(damaged(
                &path,
                format!("unknown format {:?}", on_disk.format),
            ));
        }
        on_disk
            .entries
            .into_iter()
            .map(|(k, v)| hex::decode(&v).map(|v| (k, v)))
            .collect::<Result<_, _>>()
            .map_err(|e| damaged(&path, e.to_string()))
    }

    /// Remove the old file once the log holds its state.
    pub(super) fn remove(dir: &Path) -> io::Result<()> {
        match std::fs::remove_file(dir.join("storage.json")) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(named(dir, e)),
            _ => Ok(()),
        }
    }
}

fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("storage {}: {e}", path.display()))
}

fn damaged(path: &Path, why: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "storage {} is damaged: {why}; refusing to start on it",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir()
                .join(format!("faultline-persist-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            TempDir(dir)
        }
        fn log(&self) -> PathBuf {
            self.0.join("storage.log")
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn put(k: &str, v: &[u8]) -> Change {
        (k.to_string(), Some(v.to_vec()))
    }

    /// Two synced batches: {a: 1, b: 2}, then {a: 3} with b deleted.
    fn two_batches(dir: &TempDir) -> BTreeMap<String, Vec<u8>> {
        let (mut file, state, _) = StorageFile::open(&dir.0).unwrap();
        assert!(state.is_empty());
        let mut live = BTreeMap::new();
        let first = [put("a", b"1"), put("b", b"2")];
        live.insert("a".to_string(), b"1".to_vec());
        live.insert("b".to_string(), b"2".to_vec());
        file.append(&first, &live).unwrap();
        live.insert("a".to_string(), b"3".to_vec());
        live.remove("b");
        file.append(&[put("a", b"3"), ("b".to_string(), None)], &live)
            .unwrap();
        live
    }

    #[test]
    fn batches_replay_in_order() {
        let dir = TempDir::new("replay");
        let live = two_batches(&dir);
        let (_, loaded, recovery) = StorageFile::open(&dir.0).unwrap();
        assert_eq!(loaded, live);
        assert_eq!(recovery, Recovery::default());
    }

    #[test]
    fn an_unfinished_last_batch_is_dropped_and_said() {
        let dir = TempDir::new("torn");
        two_batches(&dir);
        let bytes = fs::read(dir.log()).unwrap();
        // Cut the file inside the second batch's last record.
        fs::write(dir.log(), &bytes[..bytes.len() - 3]).unwrap();
        let (mut file, loaded, recovery) = StorageFile::open(&dir.0).unwrap();
        assert_eq!(loaded.get("a"), Some(&b"1".to_vec()), "first batch kept");
        assert_eq!(
            loaded.get("b"),
            Some(&b"2".to_vec()),
            "second batch dropped whole"
        );
        assert!(recovery.dropped_tail_bytes > 0);
        // The next batch follows the last complete one.
        let mut live = loaded.clone();
        live.insert("c".to_string(), b"4".to_vec());
        file.append(&[put("c", b"4")], &live).unwrap();
        assert_eq!(StorageFile::open(&dir.0).unwrap().1, live);
    }

    #[test]
    fn a_flipped_bit_is_damage_named_with_file_and_offset() {
        let dir = TempDir::new("flip");
        two_batches(&dir);
        let mut bytes = fs::read(dir.log()).unwrap();
        bytes[HEADER.len() + 14] ^= 0x04;
        fs::write(dir.log(), &bytes).unwrap();
        let err = StorageFile::open(&dir.0).err().expect("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let msg = err.to_string();
        assert!(
            msg.contains("storage.log") && msg.contains("checksum"),
            "{msg}"
        );
        assert!(msg.contains(&format!("byte {}", HEADER.len())), "{msg}");
    }

    #[test]
    fn a_deleted_record_in_the_middle_is_damage() {
        let dir = TempDir::new("gap");
        two_batches(&dir);
        let bytes = fs::read(dir.log()).unwrap();
        // Remove the first record: the next one no longer starts where a record should.
        let first_len = 4
            + CHECK_LEN
            + u32::from_le_bytes(bytes[HEADER.len()..HEADER.len() + 4].try_into().unwrap())
                as usize;
        let mut cut = bytes[..HEADER.len()].to_vec();
        cut.extend_from_slice(&bytes[HEADER.len() + first_len..]);
        fs::write(dir.log(), &cut).unwrap();
        let msg = StorageFile::open(&dir.0)
            .err()
            .expect("refused")
            .to_string();
        assert!(msg.contains("records are missing"), "{msg}");
    }

    #[test]
    fn garbage_and_foreign_files_are_refused() {
        let dir = TempDir::new("garbage");
        two_batches(&dir);
        let mut bytes = fs::read(dir.log()).unwrap();
        bytes.extend_from_slice(&[0xff; 64]);
        fs::write(dir.log(), &bytes).unwrap();
        // 0xffffffff as a length runs past the end: an unfinished append, dropped.
        assert!(StorageFile::open(&dir.0).unwrap().2.dropped_tail_bytes == 64);
        fs::write(dir.log(), b"{\"format\":\"faultline-storage/1\"}").unwrap();
        let msg = StorageFile::open(&dir.0).err().unwrap().to_string();
        assert!(msg.contains("unknown header"), "{msg}");
    }

    #[test]
    fn a_storage_json_of_an_earlier_version_is_taken_over() {
        let dir = TempDir::new("legacy");
        fs::create_dir_all(&dir.0).unwrap();
        let old = r#"{"format":"faultline-storage/1","entries":{"term":"07","vote":"6e32"}}"#;
        fs::write(dir.0.join("storage.json"), old).unwrap();
        let (_, state, _) = StorageFile::open(&dir.0).unwrap();
        assert_eq!(state.get("term"), Some(&vec![7]));
        assert_eq!(state.get("vote"), Some(&b"n2".to_vec()));
        assert!(!dir.0.join("storage.json").exists());
        assert_eq!(
            StorageFile::open(&dir.0).unwrap().1,
            state,
            "now in the log"
        );
    }

    /// A large record, as a Raft snapshot is: damage anywhere inside it is refused, and a
    /// file cut inside it (a sync that never returned) drops that batch only.
    #[test]
    fn a_large_record_is_checked_whole() {
        let dir = TempDir::new("large");
        let (mut file, _, _) = StorageFile::open(&dir.0).unwrap();
        let mut live = BTreeMap::new();
        live.insert("small".to_string(), b"1".to_vec());
        file.append(&[put("small", b"1")], &live).unwrap();
        let before = fs::metadata(dir.log()).unwrap().len() as usize;
        // Below the tests' compaction threshold, so the file keeps both batches as written.
        let big: Vec<u8> = (0..40_000u32).map(|i| (i * 7) as u8).collect();
        live.insert("raft/snapshot".to_string(), big.clone());
        file.append(&[put("raft/snapshot", &big)], &live).unwrap();
        assert_eq!(StorageFile::open(&dir.0).unwrap().1, live);
        let bytes = fs::read(dir.log()).unwrap();
        let mut flipped = bytes.clone();
        flipped[before + 20_000] ^= 0x20;
        fs::write(dir.log(), &flipped).unwrap();
        let msg = StorageFile::open(&dir.0)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            msg.contains(&format!("byte {before}")) && msg.contains("checksum"),
            "{msg}"
        );
        fs::write(dir.log(), &bytes[..before + 30_000]).unwrap();
        let (_, state, recovery) = StorageFile::open(&dir.0).unwrap();
        assert_eq!(
            state.get("raft/snapshot"),
            None,
            "the unfinished batch is dropped"
        );
        assert_eq!(state.get("small"), Some(&b"1".to_vec()));
        assert_eq!(recovery.dropped_tail_bytes, 30_000);
    }

    #[test]
    fn compaction_keeps_the_state_and_bounds_the_file() {
        let dir = TempDir::new("compact");
        let (mut file, _, _) = StorageFile::open(&dir.0).unwrap();
        let mut live = BTreeMap::new();
        let value = vec![7u8; 4096];
        for i in 0..100u32 {
            // The same ten keys over and over: the live state stays small.
            let key = format!("k{}", i % 10);
            live.insert(key.clone(), value.clone());
            file.append(&[(key, Some(value.clone()))], &live).unwrap();
        }
        let size = fs::metadata(dir.log()).unwrap().len();
        let bound = MIN_COMPACT.max(COMPACT_FACTOR * (HEADER.len() as u64 + live_size(&live)));
        assert!(size <= bound + 4200, "file is {size} bytes, bound {bound}");
        assert!(size < 100 * 4096, "compacted: less than was written");
        assert_eq!(StorageFile::open(&dir.0).unwrap().1, live);
    }
}
