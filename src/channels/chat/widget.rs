//! The widget's files and config endpoint. `widget.js` is embedded in the
//! binary; `GET /widget.js` serves it with a short `max-age` and a strong
//! `ETag` (its SHA-256), answering `304` to a matching `If-None-Match`;
//! `GET /widget/{hash}.js` serves the same bytes under their content hash,
//! cached for a year as immutable. `GET /chat/{channel}/config` gives the
//! launcher its colours and the availability, to allowed origins only.

use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::availability;
use super::socket::{chat_channel, origin_allowed};
use crate::app::App;

/// The widget, as served.
pub const WIDGET_JS: &str = include_str!("widget.js");

/// The first 16 hex digits of the widget's SHA-256.
pub fn widget_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hex::encode(&Sha256::digest(WIDGET_JS.as_bytes())[..8]))
}

fn javascript(cache: &'static str) -> Response {
    let etag = format!("\"{}\"", widget_hash());
    (
        [
            (
                header::CONTENT_TYPE,
                "text/javascript; charset=utf-8".to_string(),
            ),
            (header::CACHE_CONTROL, cache.to_string()),
            (header::ETAG, etag),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".to_string()),
        ],
        WIDGET_JS,
    )
        .into_response()
}

/// `GET /widget.js`.
pub async fn script(headers: HeaderMap) -> Response {
    let etag = format!("\"{}\"", widget_hash());
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim().trim_start_matches("W/") == etag)
        });
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag),
                (header::CACHE_CONTROL, "public, max-age=300".into()),
            ],
        )
            .into_response();
    }
    javascript("public, max-age=300")
}

/// `GET /widget/{hash}.js`: only the current hash exists.
pub async fn hashed(Path(file): Path<String>) -> Response {
    if file.strip_suffix(".js") == Some(widget_hash()) {
        javascript("public, max-age=31536000, immutable")
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

/// `GET /chat/{channel}/config`.
pub async fn config(
    State(app): State<Arc<App>>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(chat) = chat_channel(&app, &channel_id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "message": "no such chat channel"})),
        )
            .into_response();
    };
    if !origin_allowed(&chat, &headers) {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "origin_not_allowed", "message": "this site may not embed the chat"})),
        )
            .into_response();
    }
    let workspace = app.workspace();
    let away = workspace
        .channel(&channel_id)
        .and_then(|channel| availability::away(&app, &workspace, channel, &chat));
    let mut response = Json(json!({
        "branding": availability::branding(&chat),
        "availability": availability::view(away, &chat),
        "widget": format!("/widget/{}.js", widget_hash()),
    }))
    .into_response();
    if let Some(origin) = headers.get(header::ORIGIN).cloned() {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
