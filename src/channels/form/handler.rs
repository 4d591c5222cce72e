//! The form routes: `GET /forms/{id}` (the hosted page with a fresh render
//! token), `POST /forms/{id}` (a submission), `OPTIONS /forms/{id}` (CORS
//! preflight) and `GET /forms/{id}/thanks`.
//!
//! A POST is checked in this order: the form must exist (`404`); its
//! `Origin` must be absent, ours, or allowed (`403`); the client's IP must
//! be within its rate limit (`429` with `Retry-After`); the body must be
//! readable and within the size limits (`415`, `400`, `413`). Then spam is
//! dropped *silently*, answered exactly like a success but stored nowhere
//! and counted in `switchboard_form_rejections_total`: a filled honeypot, a
//! token too fresh or not ours, or no token where the form requires one. An
//! expired token, invalid fields (`422`, a message per field), the email's
//! rate limit (`429`) and the per-contact limit (`429`) are told (a replay
//! of a stored submission is answered like the first time before either
//! counts it). The submission is then stored through ingest and answered
//! once durable: `303` to `redirect_url` (or the thank-you page) for a
//! browser's post, `201` with JSON for a JSON post or a script that asks
//! for JSON (`Accept: application/json` or `X-Requested-With`). A browser's
//! refused post gets the hosted page back, with its values and each problem
//! next to its field.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::body::{self, BodyError, Encoding};
use super::check::{self, FieldError};
use super::cors::{self, Origin};
use super::page::{self, PageState};
use super::refusal::{sentence, size, Refusal};
use super::submit::{self, Context, SubmitError};
use super::token::{self, TokenError};
use super::{token_secret, IDEMPOTENCY_FIELD, TOKEN_FIELD};
use crate::app::App;
use crate::client_addr::client_ip;
use crate::config::{ChannelKind, FormChannel, Workspace};
use crate::ids::Id;

/// How the poster wants its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A page: `303` on success, the form again on a problem.
    Browser,
    /// JSON: `201` on success, `{error, message, fields?}` on a problem.
    Json,
}

fn form_of(workspace: &Workspace, channel: &str) -> Option<FormChannel> {
    match &workspace.channel(channel)?.kind {
        ChannelKind::Form(form) => Some((**form).clone()),
        _ => None,
    }
}

/// The headers every page carries.
fn page_headers(form: Option<&FormChannel>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let policy = form
        .map(page::content_security_policy)
        .unwrap_or_else(|| "default-src 'none'; style-src 'self'; base-uri 'none'".into());
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers
}

fn not_found(answer: Answer) -> Response {
    let message = "no such form";
    match answer {
        Answer::Json => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "message": message})),
        )
            .into_response(),
        Answer::Browser => (
            StatusCode::NOT_FOUND,
            page_headers(None),
            page::plain("Form not found", "There is no form at this address."),
        )
            .into_response(),
    }
}

/// A fresh token for a page of `channel` rendered now.
async fn fresh_token(app: &App, channel: &str, form: &FormChannel) -> Option<String> {
    let secret = token_secret(app, form)
        .await
        .inspect_err(|error| tracing::error!(%error, "form token secret unavailable"))
        .ok()?;
    Some(token::mint(
        &secret,
        channel,
        app.clock.now(),
        &token::new_nonce(),
    ))
}

/// `GET /forms/{id}`: the hosted page. Hidden fields take their values from
/// the page's query string (`?utm_source=...`).
pub async fn show(
    State(app): State<Arc<App>>,
    Path(channel): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(form) = form_of(&app.workspace(), &channel) else {
        return not_found(Answer::Browser);
    };
    let Some(token) = fresh_token(&app, &channel, &form).await else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            page_headers(Some(&form)),
            page::plain(
                &form.title,
                "This form is unavailable just now; please try again.",
            ),
        )
            .into_response();
    };
    let values: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .filter(|(name, _)| form.field(name).is_some_and(|f| f.hidden))
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
    let html = page::render(
        &channel,
        &form,
        &PageState {
            values: &values,
            token: &token,
            ..PageState::default()
        },
    );
    (StatusCode::OK, page_headers(Some(&form)), html).into_response()
}

/// `GET /forms/{id}/thanks`.
pub async fn thanks(State(app): State<Arc<App>>, Path(channel): Path<String>) -> Response {
    match form_of(&app.workspace(), &channel) {
        Some(form) => (
            StatusCode::OK,
            page_headers(Some(&form)),
            page::thanks(&form),
        )
            .into_response(),
        None => not_found(Answer::Browser),
    }
}

/// `OPTIONS /forms/{id}`: the CORS preflight of a site's script.
pub async fn preflight(
    State(app): State<Arc<App>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(form) = form_of(&app.workspace(), &channel) else {
        return not_found(Answer::Json);
    };
    match cors::origin(&form, &headers) {
        origin @ Origin::Allowed(_) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            cors::allow_preflight(response.headers_mut(), &origin);
            response
        }
        Origin::Refused(origin) => {
            app.metrics.form_rejected(&channel, "origin");
            tracing::info!(%channel, %origin, "form preflight from an origin not allowed");
            (
                StatusCode::FORBIDDEN,
                Json(json!({"error": "origin_not_allowed",
                    "message": format!("this form does not take submissions from {origin}")})),
            )
                .into_response()
        }
        Origin::Absent | Origin::Same => StatusCode::NO_CONTENT.into_response(),
    }
}

fn answer_of(encoding: Option<Encoding>, headers: &HeaderMap) -> Answer {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let wants_json = accept.contains("application/json") && !accept.contains("text/html");
    if encoding == Some(Encoding::Json) || wants_json || headers.contains_key("x-requested-with") {
        Answer::Json
    } else {
        Answer::Browser
    }
}

/// What a submission needs besides its body.
struct Posted {
    app: Arc<App>,
    channel: String,
    form: FormChannel,
    origin: Origin,
    answer: Answer,
}

impl Posted {
    /// The answer to a stored (or silently dropped) submission.
    fn success(&self, message: Id) -> Response {
        let mut response = match self.answer {
            Answer::Json => (
                StatusCode::CREATED,
                Json(json!({"status": "received", "id": message.to_string()})),
            )
                .into_response(),
            Answer::Browser => {
                let location = self
                    .form
                    .redirect_url
                    .clone()
                    .unwrap_or_else(|| format!("/forms/{}/thanks", self.channel));
                let mut response = StatusCode::SEE_OTHER.into_response();
                if let Ok(value) = HeaderValue::from_str(&location) {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                response
            }
        };
        cors::allow(response.headers_mut(), &self.origin);
        response
    }

    /// Spam: counted, logged, answered like a success, stored nowhere.
    fn dropped(&self, reason: &'static str) -> Response {
        self.app.metrics.form_rejected(&self.channel, reason);
        tracing::info!(channel = %self.channel, reason, "form submission dropped as spam");
        self.success(Id::new_at(self.app.clock.now()))
    }

    /// A refusal the poster is told about; a browser gets the page again.
    async fn refused(
        &self,
        refusal: Refusal,
        values: &[(String, String)],
        token: Option<&str>,
    ) -> Response {
        self.app
            .metrics
            .form_rejected(&self.channel, refusal.metric());
        match &refusal {
            Refusal::Unavailable => {}
            Refusal::Origin(_) | Refusal::RateLimited { .. } | Refusal::ContactLimit { .. } => {
                tracing::info!(channel = %self.channel, reason = refusal.metric(), "form submission refused")
            }
            _ => {
                tracing::debug!(channel = %self.channel, reason = refusal.metric(), "form submission refused")
            }
        }
        let status = refusal.status();
        let mut response = match (self.answer, &refusal) {
            // A refused origin gets no page to fill in from that site.
            (Answer::Json, _) | (Answer::Browser, Refusal::Origin(_)) => {
                let mut body = json!({"error": refusal.code(), "message": refusal.message()});
                match &refusal {
                    Refusal::Invalid(errors) => body["fields"] = json!(errors),
                    Refusal::Body(BodyError::FileTooLarge { field, .. }) => {
                        body["field"] = json!(field)
                    }
                    _ => {}
                }
                (status, Json(body)).into_response()
            }
            (Answer::Browser, _) => {
                let token = match token {
                    Some(token) => Some(token.to_string()),
                    None => fresh_token(&self.app, &self.channel, &self.form).await,
                };
                let (errors, notice) = match &refusal {
                    Refusal::Invalid(errors) => (errors.clone(), None),
                    Refusal::Body(BodyError::FileTooLarge { field, limit }) => (
                        vec![FieldError {
                            field: field.clone(),
                            message: format!(
                                "The file is too large; please choose one under {}.",
                                size(*limit)
                            ),
                        }],
                        None,
                    ),
                    other => (Vec::new(), Some(sentence(&other.message()))),
                };
                // Hidden fields and the form's own values, but never files.
                let html = page::render(
                    &self.channel,
                    &self.form,
                    &PageState {
                        values,
                        errors: &errors,
                        notice: notice.as_deref(),
                        token: token.as_deref().unwrap_or_default(),
                    },
                );
                (status, page_headers(Some(&self.form)), html).into_response()
            }
        };
        if let Some(seconds) = refusal.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        cors::allow(response.headers_mut(), &self.origin);
        response
    }
}

/// `POST /forms/{id}`.
pub async fn submit(
    State(app): State<Arc<App>>,
    Path(channel): Path<String>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let answer = answer_of(body::encoding(content_type), &headers);
    let Some(form) = form_of(&app.workspace(), &channel) else {
        return not_found(answer);
    };
    let origin = cors::origin(&form, &headers);
    let mut posted = Posted {
        app: app.clone(),
        channel: channel.clone(),
        form,
        origin,
        answer,
    };
    if let Origin::Refused(origin) = &posted.origin {
        return posted
            .refused(Refusal::Origin(origin.clone()), &[], None)
            .await;
    }
    // Below the storage reserve: "try again" before reading the body.
    if app.disk.check().is_err() {
        app.metrics.storage_refused("http");
        return posted.refused(Refusal::Unavailable, &[], None).await;
    }
    let now = app.clock.now();
    let form = posted.form.clone();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let ip = client_ip(peer, &headers, &form.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    let limits = form.rate_limits;
    if let Err(wait) = app.forms.per_ip.take(
        &format!("{channel}\0{ip}"),
        limits.per_ip,
        limits.window,
        now,
    ) {
        return posted
            .refused(
                Refusal::RateLimited {
                    wait,
                    by: "address",
                },
                &[],
                None,
            )
            .await;
    }
    let size_limits = body::Limits {
        body: form.max_body_bytes,
        file: form.max_file_bytes,
    };
    let (encoding, submitted) = match body::read(request, size_limits).await {
        Ok(read) => read,
        Err(error) => return posted.refused(Refusal::Body(error), &[], None).await,
    };
    posted.answer = answer_of(Some(encoding), &headers);
    let values = &submitted.values;
    if let Some(honeypot) = &form.honeypot_field {
        if submitted.value(honeypot).is_some() {
            return posted.dropped("honeypot");
        }
    }
    let secret = match token_secret(&app, &form).await {
        Ok(secret) => secret,
        Err(error) => {
            tracing::error!(%error, "form token secret unavailable");
            return posted.refused(Refusal::Unavailable, values, None).await;
        }
    };
    let token_text = submitted.value(TOKEN_FIELD);
    let min_fill = form.min_fill.as_millis() as i64;
    let max_age = form.token_max_age.as_millis() as i64;
    let token = match token_text {
        Some(text) => match token::check(&secret, &channel, text, now, min_fill, max_age) {
            Ok(token) => Some(token),
            Err(TokenError::TooFresh) => return posted.dropped("too_fast"),
            Err(TokenError::Forged) => return posted.dropped("forged_token"),
            Err(TokenError::Expired) => {
                return posted.refused(Refusal::Expired, values, None).await
            }
        },
        None if form.require_form_token => return posted.dropped("missing_token"),
        None => None,
    };
    let page_token = token.as_ref().and(token_text);
    let checked = match check::check(&form, &submitted) {
        Ok(checked) => checked,
        Err(errors) => {
            return posted
                .refused(Refusal::Invalid(errors), values, page_token)
                .await
        }
    };
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| submitted.value(IDEMPOTENCY_FIELD))
        .map(|key| key.trim().to_string())
        .filter(|key| !key.is_empty() && key.len() <= 200);
    let external_id = submit::external_id(
        &channel,
        token.as_ref().map(|t| t.nonce.as_str()),
        idempotency_key.as_deref(),
        &checked,
        now,
    );
    let header_text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(500).collect::<String>())
    };
    let context = Context {
        origin: header_text(header::ORIGIN),
        page: header_text(header::REFERER),
        user_agent: header_text(header::USER_AGENT),
    };
    let inbound = submit::inbound(&channel, checked.clone(), external_id, &context, now);
    // A replay (the same submission again) is answered like the first
    // time, before any limit counts it; a different submission under the
    // same id (a render token used twice) is stored as its own.
    match app.store.stored_before(&inbound) {
        Ok(Some(first)) => {
            tracing::info!(%channel, conversation = %first.conversation, "form submission replayed");
            return posted.success(first.id);
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(%error, "form replay lookup failed");
            return posted
                .refused(Refusal::Unavailable, values, page_token)
                .await;
        }
    }
    if let Err(wait) = app.forms.per_email.take(
        &format!("{channel}\0{}", checked.email),
        limits.per_email,
        limits.window,
        now,
    ) {
        return posted
            .refused(
                Refusal::RateLimited {
                    wait,
                    by: "email address",
                },
                values,
                page_token,
            )
            .await;
    }
    match submit::store(&app, &channel, &form, inbound, now).await {
        Ok(accepted) => {
            tracing::info!(
                %channel,
                conversation = %accepted.conversation,
                duplicate = accepted.duplicate,
                "form submission stored"
            );
            posted.success(accepted.message)
        }
        Err(SubmitError::ContactLimit { count, max, wait }) => {
            posted
                .refused(
                    Refusal::ContactLimit { wait, count, max },
                    values,
                    page_token,
                )
                .await
        }
        Err(SubmitError::Unavailable) => {
            posted
                .refused(Refusal::Unavailable, values, page_token)
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_answers_for_json_posts_and_scripts_that_ask() {
        let mut headers = HeaderMap::new();
        assert_eq!(answer_of(Some(Encoding::Json), &headers), Answer::Json);
        assert_eq!(
            answer_of(Some(Encoding::UrlEncoded), &headers),
            Answer::Browser
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert_eq!(answer_of(Some(Encoding::Multipart), &headers), Answer::Json);
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml,application/json;q=0.9"),
        );
        assert_eq!(
            answer_of(Some(Encoding::UrlEncoded), &headers),
            Answer::Browser
        );
    }
}
