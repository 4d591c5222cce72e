//! The render token the hosted form page carries (sans-IO): when the page
//! was rendered, a one-time nonce, and an HMAC-SHA256 over the channel, the
//! time and the nonce, so that a submission can prove it came from a page
//! we rendered, not too fast (bots post at once) and not too long ago.
//!
//! Format (documented in README.md, "Web forms"):
//! `v1.<issued unix ms>.<nonce: 32 hex digits>.<signature>` where the
//! signature is the unpadded base64url HMAC-SHA256, keyed with the form's
//! token secret, of `"v1\n" + channel id + "\n" + issued ms + "\n" + nonce`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::Millis;

/// A token may claim a render time this far in the future (clock skew
/// between the daemon's own processes is nil; this is only slack).
const FUTURE_SLACK_MS: Millis = 60_000;

/// A token whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub issued_at: Millis,
    pub nonce: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token, or not one we signed for this form.
    #[error("the form token is not valid")]
    Forged,
    /// Submitted sooner after rendering than a person can.
    #[error("the form was submitted too quickly")]
    TooFresh,
    /// Rendered longer ago than tokens live.
    #[error("the form has expired")]
    Expired,
}

fn signature(secret: &[u8], channel: &str, issued_at: Millis, nonce: &str) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("v1\n{channel}\n{issued_at}\n{nonce}").as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A fresh random nonce.
pub fn new_nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The token for a page of `channel` rendered at `issued_at`.
pub fn mint(secret: &[u8], channel: &str, issued_at: Millis, nonce: &str) -> String {
    let signature = URL_SAFE_NO_PAD.encode(signature(secret, channel, issued_at, nonce));
    format!("v1.{issued_at}.{nonce}.{signature}")
}

/// Reads and verifies a token without judging its age.
pub fn verify(secret: &[u8], channel: &str, text: &str) -> Result<Token, TokenError> {
    let mut parts = text.trim().split('.');
    let (Some("v1"), Some(issued), Some(nonce), Some(given), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(TokenError::Forged);
    };
    let issued_at: Millis = issued.parse().map_err(|_| TokenError::Forged)?;
    let nonce_ok = nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit());
    if !nonce_ok {
        return Err(TokenError::Forged);
    }
    let given = URL_SAFE_NO_PAD
        .decode(given)
        .map_err(|_| TokenError::Forged)?;
    let expected = signature(secret, channel, issued_at, nonce);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_slice(),
        given.as_slice(),
    )) {
        return Err(TokenError::Forged);
    }
    Ok(Token {
        issued_at,
        nonce: nonce.to_ascii_lowercase(),
    })
}

/// Verifies a token and its age: at least `min_fill_ms` and at most
/// `max_age_ms` old at `now`.
pub fn check(
    secret: &[u8],
    channel: &str,
    text: &str,
    now: Millis,
    min_fill_ms: Millis,
    max_age_ms: Millis,
) -> Result<Token, TokenError> {
    let token = verify(secret, channel, text)?;
    let age = now - token.issued_at;
    if age < -FUTURE_SLACK_MS {
        return Err(TokenError::Forged);
    }
    if age < min_fill_ms {
        return Err(TokenError::TooFresh);
    }
    if age > max_age_ms {
        return Err(TokenError::Expired);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a form token secret for tests";
    const NONCE: &str = "00112233445566778899aabbccddeeff";

    #[test]
    fn a_minted_token_checks_out_within_its_age() {
        let token = mint(SECRET, "contact", 10_000, NONCE);
        assert!(token.starts_with("v1.10000.00112233445566778899aabbccddeeff."));
        let checked = check(SECRET, "contact", &token, 13_000, 2_000, 60_000).unwrap();
        assert_eq!(checked.issued_at, 10_000);
        assert_eq!(checked.nonce, NONCE);
        assert_eq!(
            check(SECRET, "contact", &token, 11_000, 2_000, 60_000),
            Err(TokenError::TooFresh)
        );
        assert_eq!(
            check(SECRET, "contact", &token, 80_000, 2_000, 60_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            check(SECRET, "contact", &token, -100_000, 2_000, 60_000),
            Err(TokenError::Forged),
            "from the future"
        );
    }

    #[test]
    fn another_form_secret_or_edit_is_refused() {
        let token = mint(SECRET, "contact", 10_000, NONCE);
        assert_eq!(
            verify(SECRET, "sales", &token),
            Err(TokenError::Forged),
            "another form"
        );
        assert_eq!(
            verify(b"another secret", "contact", &token),
            Err(TokenError::Forged)
        );
        let later = token.replacen("10000", "1000", 1);
        assert_eq!(verify(SECRET, "contact", &later), Err(TokenError::Forged));
        for junk in ["", "v1", "v1.1.2.3", "v2.10000.x.y", &format!("{token}.x")] {
            assert_eq!(verify(SECRET, "contact", junk), Err(TokenError::Forged));
        }
        assert_eq!(new_nonce().len(), 32);
        assert_ne!(new_nonce(), new_nonce());
    }
}
