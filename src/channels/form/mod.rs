//! Web forms (`kind = "form"`, issue 7): a contact form on the team's site
//! becomes a conversation, and agents answer it by email.
//!
//! - `GET /forms/{id}`: the hosted, accessible form page (`page.rs`), with a
//!   signed render token (`token.rs`) and a strict Content-Security-Policy;
//!   its stylesheet is `GET /forms/assets/form.css`.
//! - `POST /forms/{id}`: a submission, urlencoded, multipart or JSON
//!   (`body.rs`), with CORS for the form's allowed origins (`cors.rs`),
//!   checked against the fields (`check.rs`), kept out when spam (honeypot,
//!   too-fresh or missing token, rate limits (`crate::rate_limit`), the
//!   per-contact limit) and stored through ingest (`submit.rs`) before it is
//!   answered; a refusal is told as `refusal.rs` says (status, message, `Retry-After`).
//! - Answers: the agent's reply is an email through the form's `reply_via`
//!   channel and the relay (`reply.rs`).

pub mod body;
pub mod check;
pub mod cors;
pub mod handler;
pub mod page;
pub mod refusal;
pub mod reply;
pub mod submit;
pub mod token;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use tokio::sync::{Mutex, OnceCell};

use crate::app::App;
use crate::config::FormChannel;
use crate::rate_limit::Limiter;
use crate::store::StoreError;

/// The identity namespace of form senders: their email address, shared
/// with email channels, so one person is one contact.
pub const IDENTITY_KIND: &str = "email";

/// The hidden input carrying the render token.
pub const TOKEN_FIELD: &str = "_form_token";
/// A field (or the `Idempotency-Key` header) a site's script may send so
/// that a retried post is stored once.
pub const IDEMPOTENCY_FIELD: &str = "_idempotency_key";

/// Locks serialising the per-contact check with its log entry, one per
/// stripe of email addresses.
const CONTACT_STRIPES: usize = 64;

/// What forms keep in memory between requests.
pub struct FormState {
    pub per_ip: Limiter,
    pub per_email: Limiter,
    contact_locks: Vec<Mutex<()>>,
    store_secret: OnceCell<Vec<u8>>,
}

impl Default for FormState {
    fn default() -> Self {
        FormState {
            per_ip: Limiter::default(),
            per_email: Limiter::default(),
            contact_locks: (0..CONTACT_STRIPES).map(|_| Mutex::new(())).collect(),
            store_secret: OnceCell::new(),
        }
    }
}

impl FormState {
    /// The lock of `email`'s stripe.
    pub fn contact_lock(&self, email: &str) -> &Mutex<()> {
        let hash = email
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
        &self.contact_locks[hash % CONTACT_STRIPES]
    }
}

/// The key render tokens of `form` are signed with: the configured secret,
/// else the one kept in the store (created and flushed on first use).
pub async fn token_secret(app: &App, form: &FormChannel) -> Result<Vec<u8>, StoreError> {
    if let Some(secret) = &form.token_secret {
        return Ok(secret.expose().as_bytes().to_vec());
    }
    let secret = app
        .forms
        .store_secret
        .get_or_try_init(|| async {
            let store = app.store.clone();
            let secret = tokio::task::spawn_blocking(move || store.form_token_secret())
                .await
                .map_err(|e| StoreError::Transaction(e.to_string()))??;
            Ok::<_, StoreError>(secret)
        })
        .await?;
    Ok(secret.clone())
}

/// The form routes; merged after the API's 1 MiB body limit, since each
/// form sets its own (`max_body_bytes`, `max_file_bytes`).
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/forms/assets/form.css", get(page::stylesheet))
        .route(
            "/forms/{channel_id}",
            get(handler::show)
                .post(handler::submit)
                .options(handler::preflight),
        )
        .route("/forms/{channel_id}/thanks", get(handler::thanks))
        .layer(DefaultBodyLimit::disable())
}
