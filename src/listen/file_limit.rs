//! The process's open-file limit against the listeners' connection caps:
//! every open connection is a file descriptor, and so are the store's
//! files, outgoing connections and the log. At start the daemon raises its
//! soft limit (up to the hard one) to what the caps need; when even the
//! hard limit is lower, it says so once, naming the settings, instead of
//! failing accepts later with "Too many open files". The systemd unit's
//! `LimitNOFILE=65536` is chosen to fit the default caps.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Descriptors beyond the connection caps: the store's files, outgoing
/// connections (relay, webhooks, media), the refusals in flight, the log.
pub const HEADROOM: u64 = 1024;

/// What came of [`ensure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileLimit {
    /// The soft limit already fitted (or had no limit).
    Enough { limit: u64 },
    /// The soft limit was raised to `limit`.
    Raised { from: u64, limit: u64 },
    /// Even the hard limit is below what the caps need.
    TooLow { limit: u64, needed: u64 },
}

/// Raises the soft open-file limit to `connections + HEADROOM` where the
/// hard limit allows it, and logs what it found.
pub fn ensure(connections: u64) -> FileLimit {
    let needed = connections + HEADROOM;
    let found = getrlimit(Resource::Nofile);
    let outcome = match (found.current, found.maximum) {
        (None, _) => FileLimit::Enough { limit: u64::MAX },
        (Some(soft), _) if soft >= needed => FileLimit::Enough { limit: soft },
        (Some(soft), hard) => {
            let target = hard.map_or(needed, |hard| hard.min(needed));
            let raised = target > soft
                && setrlimit(
                    Resource::Nofile,
                    Rlimit {
                        current: Some(target),
                        maximum: found.maximum,
                    },
                )
                .is_ok();
            let limit = if raised { target } else { soft };
            if limit >= needed {
                FileLimit::Raised { from: soft, limit }
            } else {
                FileLimit::TooLow { limit, needed }
            }
        }
    };
    match outcome {
        FileLimit::Enough { .. } => {}
        FileLimit::Raised { from, limit } => {
            tracing::info!(
                from,
                limit,
                "raised the open-file limit to fit the connection caps"
            );
        }
        FileLimit::TooLow { limit, needed } => tracing::warn!(
            limit,
            needed,
            "the open-file limit is below what the connection caps need \
             (http.max_connections + smtp.max_sessions + {HEADROOM}): raise LimitNOFILE \
             or lower the caps, or accepts will fail with \"Too many open files\" under load"
        ),
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_units_limit_fits_the_default_caps() {
        let unit = include_str!("../../systemd/switchboard.service");
        let limit: u64 = unit
            .lines()
            .find_map(|line| line.strip_prefix("LimitNOFILE="))
            .expect("the unit sets LimitNOFILE")
            .parse()
            .unwrap();
        let caps = crate::config::DEFAULT_HTTP_MAX_CONNECTIONS + 500;
        assert!(limit >= caps as u64 + HEADROOM, "LimitNOFILE={limit}");
    }

    #[test]
    fn a_need_within_the_current_limit_changes_nothing() {
        let before = getrlimit(Resource::Nofile);
        assert!(matches!(ensure(0), FileLimit::Enough { .. }));
        assert_eq!(getrlimit(Resource::Nofile).current, before.current);
    }

    #[test]
    fn a_need_beyond_the_hard_limit_is_reported() {
        let hard = getrlimit(Resource::Nofile).maximum;
        if let Some(hard) = hard {
            assert_eq!(
                ensure(hard),
                FileLimit::TooLow {
                    limit: getrlimit(Resource::Nofile).current.unwrap_or(hard),
                    needed: hard + HEADROOM
                }
            );
        }
    }
}
