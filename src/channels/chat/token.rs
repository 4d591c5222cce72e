//! Visitor tokens and identity verification. A visitor token is
//! `v1.<visitor id>.<hex HMAC-SHA256(key, channel NUL visitor id)>`, signed
//! with a key kept in the store: it names one visitor on one channel and
//! cannot be forged or moved to another channel. A site that knows who its
//! user is passes `data-user-email` with `data-user-hash` = hex
//! HMAC-SHA256(channel secret, email); a valid pair links the visitor to
//! that email's contact.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "v1";
/// Visitor ids: 32 lower-case hex digits.
const ID_LEN: usize = 32;

/// A fresh random visitor id.
pub fn new_visitor_id() -> String {
    let mut bytes = [0u8; ID_LEN / 2];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes a key of any length.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            mac.update(&[0]);
        }
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The token of `visitor` on `channel`.
pub fn issue(key: &[u8; 32], channel: &str, visitor: &str) -> String {
    let signature = mac(key, &[channel.as_bytes(), visitor.as_bytes()]);
    format!("{PREFIX}.{visitor}.{}", hex::encode(signature))
}

/// The visitor id a token names, if it is well formed and signed for
/// `channel` with `key`.
pub fn verify(key: &[u8; 32], channel: &str, token: &str) -> Option<String> {
    let mut parts = token.trim().split('.');
    let (Some(PREFIX), Some(visitor), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if visitor.len() != ID_LEN || !visitor.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let given = hex::decode(signature).ok()?;
    let expected = mac(key, &[channel.as_bytes(), visitor.as_bytes()]);
    bool::from(given.ct_eq(&expected)).then(|| visitor.to_ascii_lowercase())
}

/// Whether `hash` is the hex HMAC-SHA256 of `email` with the channel's
/// identity secret (compared in constant time).
pub fn verify_identity(secret: &str, email: &str, hash: &str) -> bool {
    let Ok(given) = hex::decode(hash.trim()) else {
        return false;
    };
    let expected = mac(secret.as_bytes(), &[email.trim().as_bytes()]);
    bool::from(given.ct_eq(&expected))
}

/// The hash a site computes for `email` (for tests and docs).
pub fn identity_hash(secret: &str, email: &str) -> String {
    hex::encode(mac(secret.as_bytes(), &[email.trim().as_bytes()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_visitor_on_its_channel_only() {
        let key = [7u8; 32];
        let visitor = new_visitor_id();
        let token = issue(&key, "web", &visitor);
        assert_eq!(verify(&key, "web", &token), Some(visitor.clone()));
        assert_eq!(verify(&key, "other", &token), None, "another channel");
        assert_eq!(verify(&[8u8; 32], "web", &token), None, "another key");
        let forged = format!(
            "v1.{}.{}",
            new_visitor_id(),
            token.rsplit('.').next().unwrap()
        );
        assert_eq!(verify(&key, "web", &forged), None, "another visitor");
        for bad in ["", "v1", "v1.abc.def", "v2.x.y", &format!("{token}.x")] {
            assert_eq!(verify(&key, "web", bad), None, "{bad}");
        }
    }

    #[test]
    fn identity_hashes_are_hmac_sha256_of_the_email() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            identity_hash("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let hash = identity_hash("s3cret", "ann@example.org");
        assert!(verify_identity("s3cret", "ann@example.org", &hash));
        assert!(!verify_identity("s3cret", "bob@example.org", &hash));
        assert!(!verify_identity("other", "ann@example.org", &hash));
        assert!(!verify_identity("s3cret", "ann@example.org", "zz"));
    }
}
