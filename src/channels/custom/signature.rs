//! Standard Webhooks signing (PROTOCOLS.md 9.3) for the webhook replies go
//! out on: `webhook-signature: v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>`,
//! where the key is the base64-decoded part of the `whsec_` secret. Any
//! Standard Webhooks (or Svix) library verifies what this signs.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header names, lower case as the spec writes them.
pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// The `webhook-signature` value for one attempt; `None` only if the key
/// could not key an HMAC (HMAC takes keys of any length, so never).
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WebhookSecret;

    /// The vector published with the Standard Webhooks reference libraries
    /// (and Svix's): our signature must match it exactly, or a consumer's
    /// library would refuse what we send.
    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign(
            secret.key(),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn every_signed_part_matters() {
        let key = [7u8; 32];
        let base = sign(&key, "msg_1", 1700000000, b"{}");
        assert_ne!(base, sign(&key, "msg_2", 1700000000, b"{}"));
        assert_ne!(base, sign(&key, "msg_1", 1700000001, b"{}"));
        assert_ne!(base, sign(&key, "msg_1", 1700000000, b"{ }"));
        assert_ne!(base, sign(&[8u8; 32], "msg_1", 1700000000, b"{}"));
    }
}
