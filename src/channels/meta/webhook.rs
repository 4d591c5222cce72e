//! `/webhooks/{channel_id}` for Messenger and WhatsApp channels: the GET
//! verification handshake and signed POSTs of events.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::App;

/// The GET verification handshake.
pub async fn verify(
    State(_app): State<Arc<App>>,
    Path(_channel): Path<String>,
    Query(_params): Query<HashMap<String, String>>,
) -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// A signed POST of events.
pub async fn receive(
    State(_app): State<Arc<App>>,
    Path(_channel): Path<String>,
    _headers: HeaderMap,
    _body: Bytes,
) -> Response {
    StatusCode::NOT_FOUND.into_response()
}
