//! Agents' sign-in passwords. `switchboard agent set-password` stores an
//! Argon2id hash (a PHC string) per agent in `agent_passwords` in the
//! storage folder, next to `api_tokens`; the daemon re-reads the file when
//! it changes. Each line also keeps when the password was set, so sessions
//! opened before a password change stop working.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::model::Millis;

const FILE_NAME: &str = "agent_passwords";
/// The shortest password `set-password` accepts, in characters.
pub const MIN_LENGTH: usize = 10;
/// The longest password accepted (hashing cost is bounded).
pub const MAX_LENGTH: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must have at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("the password must have at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// One agent's stored hash.
#[derive(Debug, Clone)]
struct Entry {
    agent: String,
    hash: String,
    set_at: Millis,
}

struct Loaded {
    modified: Option<SystemTime>,
    entries: Vec<Entry>,
}

/// Password hashes by agent; reloads the file when it changes.
pub struct PasswordFile {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

/// A hash to verify against when the agent has none, so that a wrong
/// agent name costs the same time as a wrong password.
fn decoy_hash() -> String {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY
        .get_or_init(|| hash_password("decoy password that matches nothing").unwrap_or_default())
        .clone()
}

/// An Argon2id PHC string for `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Checks the length rules of a new password.
pub fn check_new(password: &str) -> Result<(), PasswordError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

impl PasswordFile {
    pub fn new(storage_dir: &Path) -> Self {
        PasswordFile {
            path: storage_dir.join(FILE_NAME),
            loaded: Mutex::new(Loaded {
                modified: None,
                entries: Vec::new(),
            }),
        }
    }

    /// Sets (or replaces) the agent's password.
    pub fn set(&self, agent: &str, password: &str) -> Result<(), PasswordError> {
        check_new(password)?;
        let hash = hash_password(password)?;
        let write_error = |source| PasswordError::Write {
            path: self.path.display().to_string(),
            source,
        };
        let existing = fs::read_to_string(&self.path).unwrap_or_default();
        let mut lines: Vec<String> = existing
            .lines()
            .filter(|line| parse_line(line).is_some_and(|e| e.agent != agent))
            .map(str::to_string)
            .collect();
        let now = jiff::Timestamp::now().as_millisecond();
        lines.push(format!("{agent} {now} {hash}"));
        if let Some(parent) = self.path.parent() {
            fs::create_dir_all(parent).map_err(write_error)?;
        }
        let temporary = self.path.with_extension("new");
        let mut options = OpenOptions::new();
        options.create(true).write(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary).map_err(write_error)?;
        file.write_all(format!("{}\n", lines.join("\n")).as_bytes())
            .map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        fs::rename(&temporary, &self.path).map_err(write_error)?;
        Ok(())
    }

    /// Whether `password` is the agent's; always does one hash verification.
    pub fn verify(&self, agent: &str, password: &str) -> bool {
        if password.len() > MAX_LENGTH * 4 {
            return false;
        }
        let entry = self.entry(agent);
        let stored = entry
            .as_ref()
            .map(|e| e.hash.clone())
            .unwrap_or_else(decoy_hash);
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && entry.is_some()
    }

    /// When the agent's password was last set (`None`: never).
    pub fn set_at(&self, agent: &str) -> Option<Millis> {
        self.entry(agent).map(|e| e.set_at)
    }

    fn entry(&self, agent: &str) -> Option<Entry> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        let modified = fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if modified.is_none() || modified != loaded.modified {
            let text = fs::read_to_string(&self.path).unwrap_or_default();
            loaded.entries = text.lines().filter_map(parse_line).collect();
            loaded.modified = modified;
        }
        loaded.entries.iter().find(|e| e.agent == agent).cloned()
    }
}

fn parse_line(line: &str) -> Option<Entry> {
    let mut parts = line.split_whitespace();
    let agent = parts.next()?.to_string();
    let set_at = parts.next()?.parse().ok()?;
    let hash = parts.next()?.to_string();
    Some(Entry {
        agent,
        hash,
        set_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_passwords_verify_and_replace() {
        let dir = tempfile::tempdir().unwrap();
        let file = PasswordFile::new(dir.path());
        assert!(!file.verify("alice", "correct horse battery"));
        file.set("alice", "correct horse battery").unwrap();
        file.set("bob", "another long secret").unwrap();
        assert!(file.verify("alice", "correct horse battery"));
        assert!(!file.verify("alice", "another long secret"));
        assert!(!file.verify("carol", "correct horse battery"));
        let stored = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(stored.contains("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        file.set("alice", "a brand new secret").unwrap();
        assert!(file.verify("alice", "a brand new secret"));
        assert!(!file.verify("alice", "correct horse battery"));
        assert!(file.verify("bob", "another long secret"));
        assert!(matches!(
            file.set("bob", "short"),
            Err(PasswordError::TooShort)
        ));
    }
}
