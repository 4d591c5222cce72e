//! The emergency space file, `EMERGENCY_SPACE` in the storage folder: a
//! file of allocated bytes the daemon keeps while the disk has room (as
//! CockroachDB's emergency ballast). When the daemon starts on a disk
//! below its reserve (something else filled it, or a restart after the
//! reserve was reached), it deletes the file before the store opens: the
//! store writes at every open (a snapshot of its page table), and on a
//! disk with no byte left that write would fail and the daemon could not
//! start. With the space released the store opens, the reserve refuses new
//! messages, and the inbox stays readable. The file comes back by itself
//! once the disk has room for it above the reserve.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use fs2::FileExt;

use super::{free_bytes, SpaceStatus};

pub const FILE_NAME: &str = "EMERGENCY_SPACE";

/// The most the file takes.
const MAX_BYTES: u64 = 32 * 1024 * 1024;

/// Set once allocating the file failed, so a filesystem that cannot
/// allocate is not asked again every second.
static GAVE_UP: AtomicBool = AtomicBool::new(false);

/// The size of the file for a reserve of `min_free` bytes: a quarter of
/// it, at most 32 MiB (0 without a reserve).
pub fn size_for(min_free: u64) -> u64 {
    (min_free / 4).min(MAX_BYTES)
}

fn file(storage: &Path) -> PathBuf {
    storage.join(FILE_NAME)
}

/// Before the store opens: when the disk is below the reserve, deletes the
/// file so the store has room to open. Returns the bytes released.
pub fn release_if_low(storage: &Path, min_free: u64) -> Option<u64> {
    let free = free_bytes(storage)?;
    if free >= min_free {
        return None;
    }
    let path = file(storage);
    let size = fs::metadata(&path).ok()?.len();
    match fs::remove_file(&path) {
        Ok(()) => {
            tracing::warn!(
                path = %storage.display(),
                free_mib = free / (1024 * 1024),
                released_mib = size / (1024 * 1024),
                "starting below the free-space reserve: released the emergency space so the \
                 store can open; new messages are refused until space is freed"
            );
            Some(size)
        }
        Err(error) => {
            tracing::error!(%error, path = %path.display(), "cannot release the emergency space");
            None
        }
    }
}

/// Creates the file when it is missing and the disk has room for it above
/// the reserve.
pub fn restore_when_room(storage: &Path, status: &SpaceStatus) {
    let size = size_for(status.min_free_bytes);
    let Some(free) = status.free_bytes else {
        return;
    };
    let path = file(storage);
    if size == 0 || GAVE_UP.load(Ordering::Relaxed) || path.exists() {
        return;
    }
    if free < status.min_free_bytes.saturating_add(size) {
        return;
    }
    match allocate(&path, size) {
        Ok(()) => tracing::info!(
            path = %path.display(),
            size_mib = size / (1024 * 1024),
            "emergency space set aside"
        ),
        Err(error) => {
            GAVE_UP.store(true, Ordering::Relaxed);
            tracing::warn!(
                %error,
                path = %path.display(),
                "cannot set the emergency space aside; a start on a full disk may fail"
            );
        }
    }
}

/// Writes the file under a temporary name and renames it into place, so a
/// file with the final name always has its full size on disk.
fn allocate(path: &Path, size: u64) -> io::Result<()> {
    let partial = path.with_extension("partial");
    let result = (|| {
        let file: File = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)?;
        file.allocate(size)?;
        file.sync_all()?;
        fs::rename(&partial, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_made_with_room_and_released_below_the_reserve() {
        let dir = tempfile::tempdir().unwrap();
        let min_free = 4 * 1024 * 1024;
        let free = free_bytes(dir.path());
        let status = SpaceStatus {
            free_bytes: free,
            min_free_bytes: min_free,
            low: false,
        };
        restore_when_room(dir.path(), &status);
        let path = dir.path().join(FILE_NAME);
        assert_eq!(fs::metadata(&path).unwrap().len(), size_for(min_free));
        // Plenty of room: nothing released.
        assert_eq!(release_if_low(dir.path(), min_free), None);
        assert!(path.exists());
        // A reserve larger than the disk: released.
        assert_eq!(
            release_if_low(dir.path(), u64::MAX),
            Some(size_for(min_free))
        );
        assert!(!path.exists());
        assert_eq!(size_for(0), 0);
        assert_eq!(size_for(u64::MAX), MAX_BYTES);
    }
}
