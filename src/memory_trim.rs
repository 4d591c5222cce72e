//! Gives memory the C library's allocator holds but no longer uses back to
//! the system. glibc's malloc keeps freed memory in its per-thread arenas;
//! under steady load that retention, not live data, made most of the
//! daemon's growth in resident memory (in one soak, `malloc_trim` returned
//! 52 of 156 MiB at once; see BENCHMARKS.md, "Soak"). So once a minute the
//! daemon asks glibc to release its free pages. Elsewhere this does nothing.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

const EVERY: Duration = Duration::from_secs(60);

pub async fn run(shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    tick.tick().await; // the first tick is immediate; nothing to give back yet
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let started = Instant::now();
        let released = tokio::task::spawn_blocking(release_free_memory).await;
        tracing::debug!(
            released = released.unwrap_or(false),
            micros = started.elapsed().as_micros() as u64,
            "returned free memory to the system"
        );
    }
}

/// Returns whether the allocator gave any memory back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_memory() -> bool {
    // SAFETY: malloc_trim has no preconditions; it only walks glibc's own
    // arenas under their locks and advises the kernel about free pages.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    fn rss_kib() -> u64 {
        crate::metrics::process::resident_memory_bytes().unwrap() as u64 / 1024
    }

    #[test]
    fn freed_arena_memory_goes_back_to_the_system() {
        // On a thread of its own, so the memory is in a thread arena, which
        // glibc never shrinks by itself past a live chunk at its top.
        let (before, freed, after) = std::thread::spawn(|| {
            let mut chunks: Vec<Vec<u8>> = (0..64 * 1024).map(|i| vec![i as u8; 1024]).collect();
            let pinned = chunks.pop();
            let before = rss_kib();
            drop(chunks);
            let freed = rss_kib();
            release_free_memory();
            let after = rss_kib();
            drop(pinned);
            (before, freed, after)
        })
        .join()
        .unwrap();
        assert!(
            freed + 1024 > before,
            "freeing alone kept the memory ({before} → {freed} KiB)"
        );
        assert!(
            after + 32 * 1024 < freed,
            "64 MiB freed, but RSS went only from {freed} to {after} KiB"
        );
    }
}
