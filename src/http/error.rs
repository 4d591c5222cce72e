//! API errors: one enum, each variant a status and a JSON body
//! `{error, message, field?}`. Internal details go to the log, not the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::disk_space::{LowDiskSpace, RETRY_AFTER};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid API token")]
    Unauthorized,
    /// A valid credential that does not allow this (`403`).
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("invalid parameter `{field}`: {message}")]
    BadParameter { field: String, message: String },
    /// The change conflicts with the state of the resource (`409`).
    #[error("{0}")]
    Conflict(String),
    /// The message cannot be sent on its channel now (`422`).
    #[error("{0}")]
    Unprocessable(String),
    /// The request or one of its parts is larger than allowed (`413`).
    #[error("`{field}` is too large: {message}")]
    TooLarge { field: String, message: String },
    #[error("internal error")]
    Internal(#[from] StoreError),
    /// The storage folder is below its free-space reserve (`503` with
    /// `Retry-After`); reads still work.
    #[error("{0}")]
    InsufficientStorage(#[from] LowDiskSpace),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadParameter {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn too_large(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::TooLarge {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None),
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found", None),
            ApiError::BadParameter { field, .. } => {
                (StatusCode::BAD_REQUEST, "bad_request", Some(field.as_str()))
            }
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", None),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "cannot_send", None),
            ApiError::TooLarge { field, .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                Some(field.as_str()),
            ),
            ApiError::Internal(error) => {
                tracing::error!(%error, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", None)
            }
            ApiError::InsufficientStorage(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "insufficient_storage",
                None,
            ),
        };
        let mut response = (
            status,
            Json(Body {
                error: code,
                message: self.to_string(),
                field,
            }),
        )
            .into_response();
        if let ApiError::InsufficientStorage(_) = self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(RETRY_AFTER.as_secs()),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
