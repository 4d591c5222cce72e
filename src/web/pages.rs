//! The single-page app and its files, compiled into the binary with
//! `include_str!` (plain ES modules, no build step), served with a
//! Content-Security-Policy that allows scripts from this origin only.
//! `/` without a session redirects to the login page.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::App;

/// Scripts only from this origin (no `unsafe-inline`, no `eval`). Inline
/// styles are allowed because email HTML, shown in a sandboxed `srcdoc`
/// frame that inherits this policy, is styled inline; images from
/// anywhere are allowed here and blocked by the frame's own stricter
/// policy until the agent asks to show them.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob: https: http:; media-src 'self' https:; connect-src 'self'; \
frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The app's files: path under `/assets/`, content type, content.
pub const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css", include_str!("assets/app.css")),
    ("icon.svg", "image/svg+xml", include_str!("assets/icon.svg")),
    (
        "js/app.js",
        "text/javascript",
        include_str!("assets/js/app.js"),
    ),
    (
        "js/api.js",
        "text/javascript",
        include_str!("assets/js/api.js"),
    ),
    (
        "js/dom.js",
        "text/javascript",
        include_str!("assets/js/dom.js"),
    ),
    (
        "js/live.js",
        "text/javascript",
        include_str!("assets/js/live.js"),
    ),
    (
        "js/state.js",
        "text/javascript",
        include_str!("assets/js/state.js"),
    ),
    (
        "js/header.js",
        "text/javascript",
        include_str!("assets/js/header.js"),
    ),
    (
        "js/list.js",
        "text/javascript",
        include_str!("assets/js/list.js"),
    ),
    (
        "js/conversation.js",
        "text/javascript",
        include_str!("assets/js/conversation.js"),
    ),
    (
        "js/timeline.js",
        "text/javascript",
        include_str!("assets/js/timeline.js"),
    ),
    (
        "js/composer.js",
        "text/javascript",
        include_str!("assets/js/composer.js"),
    ),
    (
        "js/contact.js",
        "text/javascript",
        include_str!("assets/js/contact.js"),
    ),
    (
        "js/tickets.js",
        "text/javascript",
        include_str!("assets/js/tickets.js"),
    ),
];

/// The page every view of the app starts from.
pub const INDEX_HTML: &str = include_str!("assets/index.html");

/// Escapes text for HTML element content and quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The security headers of every page and asset.
pub fn secure_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

pub async fn index(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if super::session_of(&app, &headers).is_none() {
        let mut response = StatusCode::SEE_OTHER.into_response();
        response
            .headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/login"));
        return response;
    }
    let mut response = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
        .into_response();
    secure_headers(response.headers_mut());
    response
}

pub async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        return crate::http::ApiError::NotFound { what: "asset" }.into_response();
    };
    let mut response = (
        [(
            header::CONTENT_TYPE,
            format!("{content_type}; charset=utf-8"),
        )],
        *body,
    )
        .into_response();
    secure_headers(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape_html("<b a=\"1\">'x' & y</b>"),
            "&lt;b a=&quot;1&quot;&gt;&#39;x&#39; &amp; y&lt;/b&gt;"
        );
    }

    #[test]
    fn the_policy_allows_no_inline_scripts() {
        let scripts = CSP
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert!(!scripts.contains("unsafe"), "{scripts}");
    }
}
