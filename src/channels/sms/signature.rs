//! Twilio's webhook authentication, `X-Twilio-Signature` (PROTOCOLS.md
//! 3.2): the base64 HMAC-SHA1, keyed with the account's auth token, of the
//! full URL the provider requested followed by every POST parameter sorted
//! by name (values sorted too for a repeated name), each as `name + value`
//! with no delimiters. A signature made over the URL with or without the
//! scheme's default port (`:443`, `:80`) is accepted, as the official SDKs
//! do. JSON-body webhooks sign the URL only; its `bodySHA256` query
//! parameter must then be the hex SHA-256 of the raw body.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header the provider signs its requests with.
pub const HEADER: &str = "x-twilio-signature";

type HmacSha1 = Hmac<Sha1>;

/// Why a request was refused. The texts name no secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Twilio-Signature header is missing")]
    Missing,
    #[error("the X-Twilio-Signature signature does not match the request")]
    Mismatch,
    #[error("the bodySHA256 query parameter does not match the body")]
    BodyHash,
}

/// The signature of `url` and `params` (decoded names and values) as the
/// provider computes it.
pub fn sign(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac =
        <HmacSha1 as Mac>::new_from_slice(token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks the header against `url` (with its port variants) and `params`.
/// Identical repeated pairs are tried both kept and collapsed (the SDKs
/// differ on that).
pub fn verify(
    token: &str,
    url: &str,
    params: &[(String, String)],
    header: Option<&[u8]>,
) -> Result<(), SignatureError> {
    let given = header.ok_or(SignatureError::Missing)?;
    let given = trim(given);
    let mut collapsed = params.to_vec();
    collapsed.sort();
    collapsed.dedup();
    let param_sets: Vec<&[(String, String)]> = if collapsed.len() == params.len() {
        vec![params]
    } else {
        vec![params, &collapsed]
    };
    let mut matched = false;
    for candidate in url_variants(url) {
        for set in &param_sets {
            let expected = sign(token, &candidate, set);
            matched |= bool::from(expected.as_bytes().ct_eq(given));
        }
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Checks a JSON-body webhook: the signature over the URL alone, and the
/// URL's `bodySHA256` against the raw body.
pub fn verify_json(
    token: &str,
    url: &str,
    body: &[u8],
    header: Option<&[u8]>,
) -> Result<(), SignatureError> {
    verify(token, url, &[], header)?;
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let given = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "bodySHA256")
        .map(|(_, value)| value.to_ascii_lowercase())
        .ok_or(SignatureError::BodyHash)?;
    let actual = hex::encode(Sha256::digest(body));
    if bool::from(actual.as_bytes().ct_eq(given.as_bytes())) {
        Ok(())
    } else {
        Err(SignatureError::BodyHash)
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace());
    match (start, end) {
        (Some(start), Some(end)) => &bytes[start..=end],
        _ => &[],
    }
}

/// The URL as given, and with the scheme's default port removed or added.
pub fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return variants;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return variants,
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    // The port follows the last ':' after any IPv6 literal's ']'.
    let host_end = authority.rfind(']').map_or(0, |i| i + 1);
    match authority[host_end..].rfind(':') {
        Some(colon) => {
            let colon = host_end + colon;
            if &authority[colon + 1..] == default_port {
                variants.push(format!("{scheme}://{}{tail}", &authority[..colon]));
            }
        }
        None => variants.push(format!("{scheme}://{authority}:{default_port}{tail}")),
    }
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    /// T1 of PROTOCOLS.md 3.2, Twilio's documented worked example.
    const T1_URL: &str = "https://example.com/myapp.php?foo=1&bar=2";
    const T1_SIGNATURE: &str = "L/OH5YylLD5NRKLltdqwSvS0BnU=";

    fn t1_params() -> Vec<(String, String)> {
        // Deliberately not in order: sorting is ours to do.
        pairs(&[
            ("To", "+18005551212"),
            ("Digits", "1234"),
            ("CallSid", "CA1234567890ABCDE"),
            ("From", "+14158675310"),
            ("Caller", "+14158675310"),
        ])
    }

    #[test]
    fn the_documented_vector_signs_and_verifies() {
        assert_eq!(sign("12345", T1_URL, &t1_params()), T1_SIGNATURE);
        assert_eq!(
            verify("12345", T1_URL, &t1_params(), Some(T1_SIGNATURE.as_bytes())),
            Ok(())
        );
    }

    #[test]
    fn anything_else_is_refused() {
        let good = Some(T1_SIGNATURE.as_bytes());
        assert_eq!(
            verify("54321", T1_URL, &t1_params(), good),
            Err(SignatureError::Mismatch)
        );
        let mut changed = t1_params();
        changed[1].1 = "1235".into();
        assert_eq!(
            verify("12345", T1_URL, &changed, good),
            Err(SignatureError::Mismatch)
        );
        let mut extra = t1_params();
        extra.push(("NewParam".into(), "x".into()));
        assert_eq!(
            verify("12345", T1_URL, &extra, good),
            Err(SignatureError::Mismatch),
            "every parameter is signed, including ones we do not know"
        );
        assert_eq!(
            verify(
                "12345",
                "https://example.com/myapp.php?foo=1&bar=3",
                &t1_params(),
                good
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("12345", T1_URL, &t1_params(), None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify("12345", T1_URL, &t1_params(), Some(b"")),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn repeated_names_are_signed_in_sorted_order() {
        let url = "https://help.example.com/webhooks/sms";
        let params = pairs(&[("MediaUrl", "b"), ("Body", "hi"), ("MediaUrl", "a")]);
        // Built by hand: names sorted, then values for the repeated name.
        let mut mac = <HmacSha1 as Mac>::new_from_slice(b"tok").unwrap();
        mac.update(b"https://help.example.com/webhooks/smsBodyhiMediaUrlaMediaUrlb");
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(sign("tok", url, &params), expected);
        assert_eq!(
            verify("tok", url, &params, Some(expected.as_bytes())),
            Ok(())
        );
        // Dropping one of the duplicates breaks it.
        let fewer = pairs(&[("Body", "hi"), ("MediaUrl", "a")]);
        assert!(verify("tok", url, &fewer, Some(expected.as_bytes())).is_err());
        // Identical duplicates: signed either kept or collapsed.
        let twice = pairs(&[("Tag", "x"), ("Tag", "x")]);
        let kept = sign("tok", url, &twice);
        let collapsed = sign("tok", url, &pairs(&[("Tag", "x")]));
        assert_ne!(kept, collapsed);
        assert_eq!(verify("tok", url, &twice, Some(kept.as_bytes())), Ok(()));
        assert_eq!(
            verify("tok", url, &twice, Some(collapsed.as_bytes())),
            Ok(())
        );
    }

    #[test]
    fn default_ports_are_accepted_either_way() {
        let params = t1_params();
        let with_port = "https://example.com:443/myapp.php?foo=1&bar=2";
        let signed_with_port = sign("12345", with_port, &params);
        // Configured without the port, signed with it, and the reverse.
        assert_eq!(
            verify("12345", T1_URL, &params, Some(signed_with_port.as_bytes())),
            Ok(())
        );
        assert_eq!(
            verify("12345", with_port, &params, Some(T1_SIGNATURE.as_bytes())),
            Ok(())
        );
        // http and :80.
        let signed = sign("12345", "http://example.com:80/hook", &params);
        assert_eq!(
            verify(
                "12345",
                "http://example.com/hook",
                &params,
                Some(signed.as_bytes())
            ),
            Ok(())
        );
        // A non-default port is not interchangeable.
        let signed = sign("12345", "https://example.com:8443/hook", &params);
        assert!(verify(
            "12345",
            "https://example.com/hook",
            &params,
            Some(signed.as_bytes())
        )
        .is_err());
        assert_eq!(
            url_variants("https://[::1]:443/x"),
            vec![
                "https://[::1]:443/x".to_string(),
                "https://[::1]/x".to_string()
            ]
        );
        assert_eq!(
            url_variants("https://h.example?x=1"),
            vec![
                "https://h.example?x=1".to_string(),
                "https://h.example:443?x=1".to_string()
            ]
        );
    }

    #[test]
    fn json_bodies_sign_the_url_and_hash_the_body() {
        let body = br#"{"MessageSid":"SM1","Body":"hi"}"#;
        let hash = hex::encode(Sha256::digest(body));
        let url = format!("https://help.example.com/webhooks/sms?bodySHA256={hash}");
        let signature = sign("tok", &url, &[]);
        assert_eq!(
            verify_json("tok", &url, body, Some(signature.as_bytes())),
            Ok(())
        );
        assert_eq!(
            verify_json(
                "tok",
                &url,
                br#"{"MessageSid":"SM2"}"#,
                Some(signature.as_bytes())
            ),
            Err(SignatureError::BodyHash),
            "a signed URL does not cover a different body"
        );
        assert_eq!(
            verify_json("other", &url, body, Some(signature.as_bytes())),
            Err(SignatureError::Mismatch)
        );
        let bare = "https://help.example.com/webhooks/sms";
        let signature = sign("tok", bare, &[]);
        assert_eq!(
            verify_json("tok", bare, body, Some(signature.as_bytes())),
            Err(SignatureError::BodyHash)
        );
    }
}
