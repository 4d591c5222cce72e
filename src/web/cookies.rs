//! The session cookie: `sb_session`, `HttpOnly`, `SameSite=Lax`, `Path=/`,
//! and `Secure` when the request came over HTTPS (the reverse proxy says so
//! with `X-Forwarded-Proto: https` or `Forwarded: proto=https`).

use axum::http::HeaderMap;

pub const NAME: &str = "sb_session";

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == NAME)
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// Whether the browser reached us over HTTPS (through a reverse proxy).
pub fn is_https(headers: &HeaderMap) -> bool {
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("https")
        })
        .unwrap_or(false);
    let forwarded = headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
    proto || forwarded
}

fn attributes(headers: &HeaderMap) -> &'static str {
    if is_https(headers) {
        "; Path=/; HttpOnly; SameSite=Lax; Secure"
    } else {
        "; Path=/; HttpOnly; SameSite=Lax"
    }
}

/// `Set-Cookie` for a new session lasting `max_age_secs`.
pub fn set(headers: &HeaderMap, value: &str, max_age_secs: i64) -> String {
    format!(
        "{NAME}={value}{}; Max-Age={max_age_secs}",
        attributes(headers)
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear(headers: &HeaderMap) -> String {
    format!("{NAME}={}; Max-Age=0", attributes(headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cookie_and_marks_https() {
        let mut headers = HeaderMap::new();
        headers.insert("cookie", "a=1; sb_session=abc; b=2".parse().unwrap());
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
        assert!(!set(&headers, "x", 10).contains("Secure"));
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        let cookie = set(&headers, "x", 10);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
        assert!(cookie.contains("Secure"));
    }
}
