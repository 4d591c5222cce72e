//! What web forms keep in the store besides their messages: the secret that
//! signs render tokens when the config gives none (created once, kept so
//! that pages rendered before a restart still submit), and a log of
//! submissions per form and email address, which `max_submissions_per_contact`
//! counts over a rolling window.

use super::keys::{self, SEP};
use super::write_set::{TreeId, WriteSet};
use super::{Store, StoreError};
use crate::model::Millis;

const SECRET_KEY: &[u8] = b"form_token_secret";

/// `form NUL channel NUL email NUL`: the prefix of one sender's log.
fn log_prefix(channel: &str, email: &str) -> Vec<u8> {
    let mut key = keys::join(&[b"form", channel.as_bytes(), email.as_bytes()]);
    key.push(SEP);
    key
}

impl Store {
    /// The secret form render tokens are signed with when the config
    /// gives none (made on first use). Blocking.
    pub fn form_token_secret(&self) -> Result<Vec<u8>, StoreError> {
        Ok(self.generated_secret(SECRET_KEY)?.to_vec())
    }

    /// How many submissions `email` made on form `channel` at or after
    /// `since`, and when the oldest of them was.
    pub fn form_submissions_since(
        &self,
        channel: &str,
        email: &str,
        since: Millis,
    ) -> Result<(u32, Option<Millis>), StoreError> {
        let prefix = log_prefix(channel, email);
        let mut start = prefix.clone();
        start.extend_from_slice(&since.max(0).to_be_bytes());
        let mut end = prefix.clone();
        end.extend_from_slice(&[0xff; 9]);
        let mut count = 0u32;
        let mut oldest = None;
        for entry in self.trees.counters.range(start..end) {
            let (key, _) = entry?;
            if oldest.is_none() {
                oldest = key
                    .get(prefix.len()..prefix.len() + 8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(i64::from_be_bytes);
            }
            count += 1;
        }
        Ok((count, oldest))
    }

    /// Logs one submission of `email` on form `channel` at `at`, and drops
    /// that sender's entries older than `forget_before`.
    pub fn record_form_submission(
        &self,
        channel: &str,
        email: &str,
        at: Millis,
        forget_before: Millis,
    ) -> Result<(), StoreError> {
        let _writer = self.lock_writer();
        let prefix = log_prefix(channel, email);
        let mut writes = WriteSet::default();
        let mut end = prefix.clone();
        end.extend_from_slice(&forget_before.max(0).to_be_bytes());
        for entry in self.trees.counters.range(prefix.clone()..end) {
            writes.remove(TreeId::Counters, entry?.0);
        }
        let mut key = prefix;
        key.extend_from_slice(&at.max(0).to_be_bytes());
        key.extend_from_slice(&self.ids.next(at).to_bytes());
        writes.put(TreeId::Counters, key, Vec::new());
        self.commit(&writes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_log_counts_a_window_and_forgets_older_entries() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for at in [1_000, 2_000, 3_000] {
            store
                .record_form_submission("web", "a@example.com", at, 0)
                .unwrap();
        }
        store
            .record_form_submission("web", "b@example.com", 2_500, 0)
            .unwrap();
        store
            .record_form_submission("other", "a@example.com", 2_500, 0)
            .unwrap();
        let count = |since| {
            store
                .form_submissions_since("web", "a@example.com", since)
                .unwrap()
        };
        assert_eq!(count(0), (3, Some(1_000)));
        assert_eq!(count(1_500), (2, Some(2_000)));
        assert_eq!(count(3_001), (0, None));
        store
            .record_form_submission("web", "a@example.com", 4_000, 2_500)
            .unwrap();
        assert_eq!(count(0), (2, Some(3_000)));
        assert_eq!(
            store
                .form_submissions_since("web", "b@example.com", 0)
                .unwrap(),
            (1, Some(2_500))
        );
    }

    #[tokio::test]
    async fn the_token_secret_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let secret = store.form_token_secret().unwrap();
        assert_eq!(secret.len(), 32);
        assert_eq!(store.form_token_secret().unwrap(), secret);
    }
}
