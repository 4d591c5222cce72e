//! Secrets the daemon makes for itself: the keys that sign website-chat
//! visitor tokens and web-form render tokens. 32 random bytes, created on
//! first use, kept in `meta` and flushed before they are handed out (a token
//! signed with a key must outlive a crash). Blocking.

use super::{Store, StoreError};

/// The length of every generated secret.
pub const SECRET_BYTES: usize = 32;

impl Store {
    /// The secret kept under `meta_key`, made on first use.
    pub fn generated_secret(&self, meta_key: &[u8]) -> Result<[u8; SECRET_BYTES], StoreError> {
        if let Some(found) = self.trees.meta.get(meta_key)? {
            return secret_bytes(meta_key, &found);
        }
        let fresh: [u8; SECRET_BYTES] = rand::random();
        // Two first uses at once: one secret wins, both read it back.
        let _ =
            self.trees
                .meta
                .compare_and_swap(meta_key, None as Option<&[u8]>, Some(&fresh[..]))?;
        self.db.flush()?;
        let stored = self
            .trees
            .meta
            .get(meta_key)?
            .ok_or(StoreError::NotFound { what: "secret" })?;
        secret_bytes(meta_key, &stored)
    }
}

fn secret_bytes(meta_key: &[u8], bytes: &[u8]) -> Result<[u8; SECRET_BYTES], StoreError> {
    bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!(
            "the secret {} is not {SECRET_BYTES} bytes",
            String::from_utf8_lossy(meta_key)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Surviving a restart is proven end to end: tests/forms_abuse.rs (a
    // page rendered before a restart still submits) and
    // tests/chat_protocol.rs (a visitor token still works after kill -9).
    #[tokio::test]
    async fn a_secret_is_made_once_per_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first = store.generated_secret(b"test_secret").unwrap();
        assert_eq!(store.generated_secret(b"test_secret").unwrap(), first);
        assert_ne!(store.generated_secret(b"other_secret").unwrap(), first);
    }
}
