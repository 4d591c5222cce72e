//! The free-space reserve of the storage folder (`[storage] min_free_mib`),
//! as Postfix's `queue_minfree`: while the filesystem that holds the store
//! has less free space than the reserve, every door refuses new messages
//! with a temporary answer (SMTP `452 4.3.1`, HTTP `503` with
//! `Retry-After`, the widget a "try again" frame), so senders keep them, and
//! the store never meets a full disk in the middle of a write. Reads go on.
//! Accepting resumes by itself once space returns.
//!
//! Free space is read with `statvfs` (what an unprivileged process may
//! use; a system call of a microsecond or two): the doors (MAIL FROM,
//! DATA, an HTTP write) share a reading up to 100 ms old, and ingest reads
//! afresh right before each message is written, so a burst cannot run past
//! the reserve between two readings.
//! The emergency space file (`emergency`) keeps the store able to open on a
//! disk that something else filled.

pub mod emergency;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// How long one reading of the free space is trusted by the doors.
const READING_LIFETIME: Duration = Duration::from_millis(100);

/// How often the watcher reads the free space when nothing else does.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// What `Retry-After` says to HTTP senders refused for space.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// The free space of the storage folder against its reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SpaceStatus {
    /// Bytes an unprivileged process may still write there (`None` when
    /// the filesystem could not be asked).
    pub free_bytes: Option<u64>,
    pub min_free_bytes: u64,
    /// Below the reserve: new messages are refused.
    pub low: bool,
}

/// A message refused because the storage folder is below its reserve.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "insufficient storage: {free_bytes} bytes free, the reserve is {min_free_bytes} bytes; \
     try again later"
)]
pub struct LowDiskSpace {
    pub free_bytes: u64,
    pub min_free_bytes: u64,
}

/// The storage folder's free space, read at most once a second.
pub struct DiskSpace {
    path: PathBuf,
    min_free: u64,
    last: Mutex<Option<(Instant, Option<u64>)>>,
    /// Whether the last reading was below the reserve (for the log line
    /// at each change).
    was_low: AtomicBool,
}

impl DiskSpace {
    /// Watches the filesystem of `path`, refusing below `min_free` bytes
    /// (0: never).
    pub fn new(path: &Path, min_free: u64) -> DiskSpace {
        DiskSpace {
            path: path.to_path_buf(),
            min_free,
            last: Mutex::new(None),
            was_low: AtomicBool::new(false),
        }
    }

    /// The storage folder watched.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The reserve, in bytes.
    pub fn min_free_bytes(&self) -> u64 {
        self.min_free
    }

    /// The free space now (at most a second old) against the reserve.
    pub fn status(&self) -> SpaceStatus {
        let free = {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            match *last {
                Some((at, free)) if at.elapsed() < READING_LIFETIME => free,
                _ => {
                    let free = free_bytes(&self.path);
                    *last = Some((Instant::now(), free));
                    free
                }
            }
        };
        let status = self.judge(free);
        self.log_change(&status);
        status
    }

    /// Reads the free space again now, whatever the last reading's age.
    pub fn refresh(&self) -> SpaceStatus {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.status()
    }

    /// `Ok` while there is room for new messages (a reading up to 100 ms
    /// old).
    pub fn check(&self) -> Result<(), LowDiskSpace> {
        self.verdict(self.status())
    }

    /// `Ok` while there is room for new messages, read now: right before a
    /// write.
    pub fn check_now(&self) -> Result<(), LowDiskSpace> {
        self.verdict(self.refresh())
    }

    fn verdict(&self, status: SpaceStatus) -> Result<(), LowDiskSpace> {
        match (status.low, status.free_bytes) {
            (true, Some(free_bytes)) => Err(LowDiskSpace {
                free_bytes,
                min_free_bytes: self.min_free,
            }),
            _ => Ok(()),
        }
    }

    fn judge(&self, free: Option<u64>) -> SpaceStatus {
        SpaceStatus {
            free_bytes: free,
            min_free_bytes: self.min_free,
            // A filesystem that cannot be asked is not judged full: the
            // store's own errors still stop a write that fails.
            low: free.is_some_and(|free| free < self.min_free),
        }
    }

    fn log_change(&self, status: &SpaceStatus) {
        if self.was_low.swap(status.low, Ordering::Relaxed) == status.low {
            return;
        }
        let free_mib = status.free_bytes.unwrap_or(0) / (1024 * 1024);
        let reserve_mib = self.min_free / (1024 * 1024);
        if status.low {
            tracing::warn!(
                path = %self.path.display(),
                free_mib,
                reserve_mib,
                "storage folder below its free-space reserve: refusing new messages \
                 (SMTP 452, HTTP 503) until space is freed"
            );
        } else {
            tracing::info!(
                path = %self.path.display(),
                free_mib,
                reserve_mib,
                "storage folder back above its free-space reserve: accepting messages again"
            );
        }
    }
}

/// Bytes an unprivileged process may write on the filesystem of `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    #[cfg(feature = "fault-injection")]
    if let Some(free) = injected_free_bytes(path) {
        return Some(free);
    }
    match fs2::available_space(path) {
        Ok(free) => Some(free),
        Err(error) => {
            tracing::debug!(%error, path = %path.display(), "cannot read the free space");
            None
        }
    }
}

/// Fault tests only: a file `FREE_BYTES` in the storage folder says how
/// many bytes are free (for machines where a test cannot mount a small
/// filesystem).
#[cfg(feature = "fault-injection")]
fn injected_free_bytes(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path.join("FREE_BYTES"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Refreshes the reading every second so the log and the emergency space
/// follow the disk even when no message arrives, until `shutdown`.
pub async fn watch(
    space: std::sync::Arc<DiskSpace>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let watched = space.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let status = watched.refresh();
            emergency::restore_when_room(watched.path(), &status);
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_larger_than_any_disk_refuses_and_zero_never_does() {
        let dir = tempfile::tempdir().unwrap();
        let huge = DiskSpace::new(dir.path(), u64::MAX);
        let status = huge.status();
        assert!(status.low, "{status:?}");
        let refusal = huge.check().unwrap_err();
        assert_eq!(refusal.min_free_bytes, u64::MAX);
        assert!(refusal.to_string().starts_with("insufficient storage"));
        let off = DiskSpace::new(dir.path(), 0);
        assert!(!off.status().low);
        assert!(off.check().is_ok());
        assert!(off.status().free_bytes.unwrap() > 0);
    }

    #[test]
    fn a_folder_that_cannot_be_asked_is_not_judged_full() {
        let space = DiskSpace::new(Path::new("/nonexistent/switchboard"), u64::MAX);
        let status = space.status();
        assert_eq!(status.free_bytes, None);
        assert!(!status.low);
        assert!(space.check().is_ok());
    }
}
