//! Fault injection for the fault tests (`tests/faults.rs`), compiled in only
//! with the test-only cargo feature `fault-injection`; a default build has
//! none of it. While the file `FAIL_FLUSH` exists in the storage folder,
//! every group-commit flush fails instead of reaching sled, so every writer
//! waiting for durability gets an error (SMTP `451`, webhooks `503`).
//! Removing the file clears the fault.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The switch file of the store this process opened first (the daemon opens
/// one).
static SWITCH: OnceLock<PathBuf> = OnceLock::new();

/// Arms the switch for the store at `storage`.
pub(super) fn arm(storage: &Path) {
    let switch = storage.join("FAIL_FLUSH");
    tracing::warn!(switch = %switch.display(), "fault injection compiled in");
    let _ = SWITCH.set(switch);
}

/// The injected error, while the switch file exists (checked per flush).
pub(super) fn injected_flush_error() -> Option<String> {
    let switch = SWITCH.get()?;
    if !switch.exists() {
        return None;
    }
    tracing::warn!(switch = %switch.display(), "injected fault: failing this store flush");
    Some(format!("injected fault: {} exists", switch.display()))
}
