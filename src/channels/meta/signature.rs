//! Meta's webhook authentication: `X-Hub-Signature-256: sha256=<hex>`, the
//! HMAC-SHA256 of the raw request body keyed with the app secret, checked
//! before anything is parsed; and the verify token of the GET handshake.
//! Both compare in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header Meta signs its POSTs with.
pub const HEADER: &str = "x-hub-signature-256";
const PREFIX: &str = "sha256=";

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused. The texts name no secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not `sha256=<64 hex digits>`")]
    Malformed,
    #[error("the X-Hub-Signature-256 signature does not match the body")]
    Mismatch,
    /// HMAC takes keys of any length, so this does not happen in practice.
    #[error("the app secret cannot key an HMAC")]
    Key,
}

fn mac(secret: &str) -> Result<HmacSha256, SignatureError> {
    <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Key)
}

/// The header value Meta sends for `body`: `sha256=` and the lowercase hex
/// HMAC-SHA256 keyed with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> Result<String, SignatureError> {
    let mut mac = mac(secret)?;
    mac.update(body);
    Ok(format!(
        "{PREFIX}{}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// Checks `header` (the value of `X-Hub-Signature-256`) against `body`.
pub fn verify(secret: &str, header: Option<&[u8]>, body: &[u8]) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let header = std::str::from_utf8(header).map_err(|_| SignatureError::Malformed)?;
    let digits = header
        .trim()
        .get(..PREFIX.len())
        .filter(|prefix| prefix.eq_ignore_ascii_case(PREFIX))
        .and_then(|_| header.trim().get(PREFIX.len()..))
        .ok_or(SignatureError::Malformed)?;
    let given = hex::decode(digits).map_err(|_| SignatureError::Malformed)?;
    if given.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    let mut mac = mac(secret)?;
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// Whether the verify token given in the handshake is the configured one.
pub fn token_matches(configured: &str, given: &str) -> bool {
    bool::from(configured.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The self-computed vector of PROTOCOLS.md, section 1.3.
    const VECTOR_BODY: &[u8] = br#"{"object":"page","entry":[]}"#;
    const VECTOR_HEADER: &str =
        "sha256=22d3988d1017c437ea81a89d41e2d3266c00a508cffdb23f8ad8746d232d77e9";

    #[test]
    fn the_documented_vector_signs_and_verifies() {
        assert_eq!(sign("app_secret", VECTOR_BODY).unwrap(), VECTOR_HEADER);
        assert_eq!(
            verify("app_secret", Some(VECTOR_HEADER.as_bytes()), VECTOR_BODY),
            Ok(())
        );
        let upper = VECTOR_HEADER.to_uppercase();
        assert_eq!(
            verify("app_secret", Some(upper.as_bytes()), VECTOR_BODY),
            Ok(()),
            "hex digits and prefix in any case"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        let header = Some(VECTOR_HEADER.as_bytes());
        assert_eq!(
            verify("other_secret", header, VECTOR_BODY),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("app_secret", header, br#"{"object":"page","entry":[] }"#),
            Err(SignatureError::Mismatch),
            "the raw bytes are signed, not the JSON they parse to"
        );
        assert_eq!(
            verify("app_secret", None, VECTOR_BODY),
            Err(SignatureError::Missing)
        );
        for bad in [
            "",
            "sha256=",
            "sha1=22d3988d1017c437ea81a89d41e2d3266c00a508",
            "22d3988d1017c437ea81a89d41e2d3266c00a508cffdb23f8ad8746d232d77e9",
            "sha256=zz",
            "sha256=22d3988d",
        ] {
            assert_eq!(
                verify("app_secret", Some(bad.as_bytes()), VECTOR_BODY),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(
            verify("app_secret", Some(&[0xff, 0xfe]), VECTOR_BODY),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn verify_tokens_compare_exactly() {
        assert!(token_matches("meatyhamhock", "meatyhamhock"));
        assert!(!token_matches("meatyhamhock", "meatyhamhocK"));
        assert!(!token_matches("meatyhamhock", "meatyhamhoc"));
        assert!(!token_matches("meatyhamhock", ""));
    }
}
