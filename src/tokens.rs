//! API tokens. `switchboard token create` prints a new token once and appends
//! only its SHA-256 hash, with the agent id, to `api_tokens` in the storage
//! folder. The daemon reads that file and re-reads it when it changes, so
//! tokens created while it runs work at once.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use rand::RngCore;
use sha2::{Digest, Sha256};

const FILE_NAME: &str = "api_tokens";
const PREFIX: &str = "sb_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Token hashes and their agents, as on disk.
struct Loaded {
    modified: Option<SystemTime>,
    entries: Vec<([u8; 32], String)>,
}

/// Looks tokens up; reloads the file when its modification time changes.
pub struct TokenRegistry {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenRegistry {
    pub fn new(storage_dir: &Path) -> Self {
        TokenRegistry {
            path: storage_dir.join(FILE_NAME),
            loaded: Mutex::new(Loaded {
                modified: None,
                entries: Vec::new(),
            }),
        }
    }

    /// The storage folder the token file is in.
    pub fn storage_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Creates a token for `agent`, stores its hash and returns the token.
    pub fn create(&self, agent: &str) -> Result<String, TokenError> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = format!("{PREFIX}{}", hex::encode(bytes));
        let write_error = |source| TokenError::Write {
            path: self.path.display().to_string(),
            source,
        };
        if let Some(parent) = self.path.parent() {
            fs::create_dir_all(parent).map_err(write_error)?;
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path).map_err(write_error)?;
        let created = jiff::Timestamp::now();
        writeln!(file, "{} {} {}", hex::encode(hash(&token)), agent, created)
            .map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        Ok(token)
    }

    /// The agent id a token belongs to, compared in constant time.
    pub fn agent_for(&self, token: &str) -> Option<String> {
        let wanted = hash(token);
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        self.reload_if_changed(&mut loaded);
        let mut found = None;
        for (stored, agent) in &loaded.entries {
            if bool::from(subtle::ConstantTimeEq::ct_eq(&stored[..], &wanted[..])) {
                found = Some(agent.clone());
            }
        }
        found
    }

    fn reload_if_changed(&self, loaded: &mut Loaded) {
        let modified = fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if modified.is_some() && modified == loaded.modified {
            return;
        }
        let text = fs::read_to_string(&self.path).unwrap_or_default();
        loaded.entries = text.lines().filter_map(parse_line).collect();
        loaded.modified = modified;
    }
}

fn parse_line(line: &str) -> Option<([u8; 32], String)> {
    let mut parts = line.split_whitespace();
    let digest: [u8; 32] = hex::decode(parts.next()?).ok()?.try_into().ok()?;
    let agent = parts.next()?.to_string();
    Some((digest, agent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_tokens_resolve_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let registry = TokenRegistry::new(dir.path());
        let token = registry.create("alice").unwrap();
        assert!(token.starts_with(PREFIX));
        assert_eq!(registry.agent_for(&token).as_deref(), Some("alice"));
        assert_eq!(registry.agent_for("sb_wrong"), None);
        let stored = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(!stored.contains(&token), "only the hash is stored");
        let other = TokenRegistry::new(dir.path()).create("bob").unwrap();
        assert_eq!(registry.agent_for(&other).as_deref(), Some("bob"));
    }
}
