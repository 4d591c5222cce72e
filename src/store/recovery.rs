//! Before the store opens: snapshots sled cannot read are moved aside, so
//! the store always reopens from its log. sled 0.34 writes each snapshot
//! as `snap.<lsn>.generating` and renames it when complete; a write cut
//! short (a full disk, a crash) leaves that file, often empty, and the
//! next open picks it as the newest snapshot and fails with "Read
//! corrupted data" (spacejam/sled#1527). A snapshot is only a cache of the
//! log, so without it sled rebuilds the page table from the log. Files are
//! moved (never deleted) into `recovered/<UTC time>/` in the storage
//! folder, which needs no free space, and each move is logged.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where a file that could not be read went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    pub file: String,
    pub reason: &'static str,
    pub moved_to: PathBuf,
}

/// The folder set-aside files go to.
pub const RECOVERED_DIR: &str = "recovered";

/// Moves every snapshot sled would fail on out of `storage`: any
/// unfinished `*.generating` snapshot, then, newest first, complete
/// snapshots whose length or checksum is wrong, until the newest one left
/// is sound (or none is left).
pub fn set_aside_unreadable_snapshots(storage: &Path) -> io::Result<Vec<SetAside>> {
    let mut moved = Vec::new();
    if !storage.is_dir() {
        return Ok(moved);
    }
    let mut snapshots: Vec<String> = fs::read_dir(storage)?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("snap.") && !name.ends_with(".in___motion"))
        .collect();
    snapshots.sort();
    let stamp = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H-%M-%SZ")
        .to_string();
    let mut set_aside = |name: &str, reason: &'static str| -> io::Result<()> {
        let folder = storage.join(RECOVERED_DIR).join(&stamp);
        fs::create_dir_all(&folder)?;
        let moved_to = folder.join(name);
        fs::rename(storage.join(name), &moved_to)?;
        tracing::warn!(
            file = name,
            reason,
            moved_to = %moved_to.display(),
            "store: moved an unreadable snapshot aside; the store opens from its log"
        );
        moved.push(SetAside {
            file: name.to_string(),
            reason,
            moved_to,
        });
        Ok(())
    };
    for name in snapshots.iter().filter(|n| n.ends_with(".generating")) {
        set_aside(name, "unfinished snapshot (.generating)")?;
    }
    snapshots.retain(|n| !n.ends_with(".generating"));
    while let Some(newest) = snapshots.pop() {
        let bytes = fs::read(storage.join(&newest))?;
        match snapshot_problem(&bytes) {
            None => break,
            Some(reason) => set_aside(&newest, reason)?,
        }
    }
    Ok(moved)
}

/// Why sled would refuse a snapshot file: its layout is the serialized
/// page table, its length (8 bytes) and a CRC-32 of the table (4 bytes).
fn snapshot_problem(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() <= 12 {
        return Some("empty or truncated snapshot");
    }
    let (table, trailer) = bytes.split_at(bytes.len() - 12);
    let expected = u32::from_le_bytes(trailer[8..12].try_into().expect("4 bytes"));
    (crc32fast::hash(table) != expected).then_some("snapshot checksum does not match")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sound_snapshot(table: &[u8]) -> Vec<u8> {
        let mut bytes = table.to_vec();
        bytes.extend_from_slice(&(table.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(table).to_le_bytes());
        bytes
    }

    #[test]
    fn unfinished_and_corrupt_snapshots_go_aside_and_a_sound_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path();
        fs::write(
            store.join("snap.0000000000000100"),
            sound_snapshot(b"old page table"),
        )
        .unwrap();
        let mut torn = sound_snapshot(b"newer page table");
        torn.truncate(torn.len() - 3);
        fs::write(store.join("snap.0000000000000200"), torn).unwrap();
        fs::write(store.join("snap.0000000000000300.generating"), b"").unwrap();
        fs::write(store.join("db"), b"log").unwrap();

        let moved = set_aside_unreadable_snapshots(store).unwrap();
        let files: Vec<&str> = moved.iter().map(|m| m.file.as_str()).collect();
        assert_eq!(
            files,
            ["snap.0000000000000300.generating", "snap.0000000000000200"]
        );
        assert!(store.join("snap.0000000000000100").exists());
        assert!(store.join("db").exists());
        for m in &moved {
            assert!(m.moved_to.exists(), "{m:?}");
            assert!(m.moved_to.starts_with(store.join(RECOVERED_DIR)));
        }
        // A second pass finds nothing more.
        assert!(set_aside_unreadable_snapshots(store).unwrap().is_empty());
    }

    #[test]
    fn the_checksum_is_what_sled_writes() {
        assert_eq!(snapshot_problem(&sound_snapshot(b"table")), None);
        let mut flipped = sound_snapshot(b"table");
        flipped[0] ^= 1;
        assert_eq!(
            snapshot_problem(&flipped),
            Some("snapshot checksum does not match")
        );
        assert_eq!(snapshot_problem(b""), Some("empty or truncated snapshot"));
    }
}
