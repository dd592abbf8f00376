//! The durable part of a node's [`Storage`](crate::Storage), kept in a file.
//!
//! The file is `storage.json` in the configured directory: a JSON object whose `entries`
//! map each key to its value in hex. It is rewritten whole, atomically, each time the node
//! syncs: the new content goes to `storage.json.tmp`, is flushed to disk, and is renamed
//! over the old file, so a process killed at any moment leaves either the old or the new
//! state, never a mix. A restarted process loads it and so recovers exactly what was
//! synced, as a restarted node does in the simulator.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const FORMAT: &str = "faultline-storage/1";

#[derive(Serialize, Deserialize)]
struct OnDisk {
    format: String,
    entries: BTreeMap<String, String>,
}

/// Where one node's durable storage lives.
pub(crate) struct StorageFile {
    dir: PathBuf,
    path: PathBuf,
    tmp: PathBuf,
}

impl StorageFile {
    /// The storage file in `dir` (created if missing) and what it holds now.
    pub(crate) fn open(dir: &Path) -> io::Result<(StorageFile, BTreeMap<String, Vec<u8>>)> {
        fs::create_dir_all(dir)?;
        let file = StorageFile {
            dir: dir.to_path_buf(),
            path: dir.join("storage.json"),
            tmp: dir.join("storage.json.tmp"),
        };
        let durable = match fs::read(&file.path) {
            Ok(bytes) => decode(&bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok((file, durable))
    }

    /// Replace the file's content with `durable`, atomically.
    pub(crate) fn save(&self, durable: &BTreeMap<String, Vec<u8>>) -> io::Result<()> {
        let on_disk = OnDisk {
            format: FORMAT.to_string(),
            entries: durable
                .iter()
                .map(|(k, v)| (k.clone(), hex::encode(v)))
                .collect(),
        };
        let bytes = serde_json::to_vec(&on_disk).map_err(io::Error::other)?;
        let mut tmp = File::create(&self.tmp)?;
        tmp.write_all(&bytes)?;
        tmp.sync_all()?;
        drop(tmp);
        fs::rename(&self.tmp, &self.path)?;
        // Make the rename itself durable. Not every platform can sync a directory; the
        // rename is still atomic there.
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

fn decode(bytes: &[u8]) -> io::Result<BTreeMap<String, Vec<u8>>> {
    let bad =
        |why: String| io::Error::new(io::ErrorKind::InvalidData, format!("storage file: {why}"));
    let on_disk: OnDisk = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if on_disk.format != FORMAT {
        return Err(bad(format!("unknown format {:?}", on_disk.format)));
    }
    on_disk
        .entries
        .into_iter()
        .map(|(k, v)| {
            hex::decode(&v)
                .map(|v| (k, v))
                .map_err(|e| bad(e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_open_round_trips_and_bad_files_are_errors() {
        let dir = std::env::temp_dir().join(format!("faultline-persist-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (file, empty) = StorageFile::open(&dir).unwrap();
        assert!(empty.is_empty());
        let mut map = BTreeMap::new();
        map.insert("term".to_string(), vec![0, 1, 255]);
        map.insert("vote".to_string(), b"n2".to_vec());
        file.save(&map).unwrap();
        let (_, loaded) = StorageFile::open(&dir).unwrap();
        assert_eq!(loaded, map);
        fs::write(dir.join("storage.json"), b"{not json").unwrap();
        assert_eq!(
            StorageFile::open(&dir).err().map(|e| e.kind()),
            Some(io::ErrorKind::InvalidData)
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
