//! Browser sessions: a random cookie value per sign-in, of which only the
//! SHA-256 hash is kept, with the agent, a CSRF token, when it was opened
//! and when it expires. Sessions live in memory and in `web_sessions` in
//! the storage folder (rewritten atomically on every sign-in and sign-out),
//! so they survive a restart and can be listed and revoked.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::Millis;

const FILE_NAME: &str = "web_sessions";
/// How long a session lasts after sign-in.
pub const LIFETIME_MS: Millis = 14 * 24 * 60 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// One signed-in browser.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    /// A public id for listing and revoking (not the cookie value).
    pub id: String,
    pub agent: String,
    /// Sent back by the page in `X-CSRF-Token` on every change.
    pub csrf: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    /// Where the sign-in came from, for the session list.
    pub ip: String,
    pub user_agent: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    /// Hex SHA-256 of the cookie value.
    hash: String,
    #[serde(flatten)]
    session: Session,
}

/// The sessions of this daemon, by the hash of their cookie value.
pub struct SessionStore {
    path: PathBuf,
    sessions: Mutex<HashMap<String, Session>>,
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

fn hash(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

impl SessionStore {
    /// Loads the sessions kept in `storage_dir` (an unreadable file counts
    /// as no sessions: everyone signs in again).
    pub fn open(storage_dir: &Path) -> Self {
        let path = storage_dir.join(FILE_NAME);
        let text = fs::read_to_string(&path).unwrap_or_default();
        let sessions = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Stored>(line).ok())
            .map(|stored| (stored.hash, stored.session))
            .collect();
        SessionStore {
            path,
            sessions: Mutex::new(sessions),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session for `agent`; returns the cookie value and the session.
    pub fn create(
        &self,
        agent: &str,
        now: Millis,
        ip: &str,
        user_agent: &str,
    ) -> Result<(String, Session), SessionError> {
        let cookie = random_hex(32);
        let session = Session {
            id: random_hex(8),
            agent: agent.to_string(),
            csrf: random_hex(32),
            created_at: now,
            expires_at: now + LIFETIME_MS,
            ip: ip.chars().take(64).collect(),
            user_agent: user_agent.chars().take(200).collect(),
        };
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.expires_at > now);
        sessions.insert(hash(&cookie), session.clone());
        self.save(&sessions)?;
        Ok((cookie, session))
    }

    /// The live session a cookie value belongs to.
    pub fn find(&self, cookie: &str, now: Millis) -> Option<Session> {
        self.lock()
            .get(&hash(cookie))
            .filter(|s| s.expires_at > now)
            .cloned()
    }

    /// Ends the session with this cookie value (sign-out).
    pub fn end(&self, cookie: &str) -> Result<bool, SessionError> {
        let mut sessions = self.lock();
        let removed = sessions.remove(&hash(cookie)).is_some();
        if removed {
            self.save(&sessions)?;
        }
        Ok(removed)
    }

    /// Revokes a session by its public id; `agent` limits it to theirs.
    pub fn revoke(&self, id: &str, agent: Option<&str>) -> Result<bool, SessionError> {
        let mut sessions = self.lock();
        let before = sessions.len();
        sessions.retain(|_, s| !(s.id == id && agent.is_none_or(|a| a == s.agent)));
        let removed = sessions.len() != before;
        if removed {
            self.save(&sessions)?;
        }
        Ok(removed)
    }

    /// Live sessions, newest first; only `agent`'s when given.
    pub fn list(&self, agent: Option<&str>, now: Millis) -> Vec<Session> {
        let mut list: Vec<Session> = self
            .lock()
            .values()
            .filter(|s| s.expires_at > now && agent.is_none_or(|a| a == s.agent))
            .cloned()
            .collect();
        list.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        list
    }

    fn save(&self, sessions: &HashMap<String, Session>) -> Result<(), SessionError> {
        let write_error = |source| SessionError::Write {
            path: self.path.display().to_string(),
            source,
        };
        let mut text = String::new();
        for (hash, session) in sessions {
            let stored = Stored {
                hash: hash.clone(),
                session: session.clone(),
            };
            text.push_str(&serde_json::to_string(&stored).unwrap_or_default());
            text.push('\n');
        }
        let temporary = self.path.with_extension("new");
        let mut options = OpenOptions::new();
        options.create(true).write(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary).map_err(write_error)?;
        file.write_all(text.as_bytes()).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        fs::rename(&temporary, &self.path).map_err(write_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_survive_reopening_and_can_be_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::open(dir.path());
        let (cookie, session) = store.create("alice", 1_000, "127.0.0.1", "test").unwrap();
        let (other, _) = store.create("bob", 2_000, "127.0.0.1", "test").unwrap();
        assert_eq!(store.find(&cookie, 1_500), Some(session.clone()));
        assert_eq!(store.find("nope", 1_500), None);
        let stored = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(!stored.contains(&cookie), "only the hash is stored");

        let reopened = SessionStore::open(dir.path());
        assert_eq!(reopened.find(&cookie, 1_500), Some(session.clone()));
        assert_eq!(reopened.find(&cookie, 1_000 + LIFETIME_MS), None, "expired");
        assert!(!reopened.revoke(&session.id, Some("bob")).unwrap());
        assert!(reopened.revoke(&session.id, Some("alice")).unwrap());
        assert_eq!(reopened.find(&cookie, 1_500), None);
        assert!(reopened.end(&other).unwrap());
        assert!(SessionStore::open(dir.path()).list(None, 2_500).is_empty());
    }
}
