//! Storing a checked submission: the per-contact limit (submissions by one
//! email address on one form in a rolling 24 hours), then one `Inbound`
//! through ingest: a new conversation per submission (as helpdesks file
//! form submissions), the contact found or created by email (its name and,
//! when it has none, its phone from the first `tel` field), the subject
//! and text built by `check`, files as attachments, and the whole
//! submission (every field, hidden ones included) kept as the message's raw
//! record, which `GET /api/v1/messages/{id}/submission` shows. Returns only
//! once all of it is durable.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::check::Checked;
use super::IDENTITY_KIND;
use crate::app::App;
use crate::config::{FormChannel, CONTACT_WINDOW};
use crate::inbound::{Identity, Inbound, InboundAttachment, Sender, ThreadHints};
use crate::ingest::ingest;
use crate::model::Millis;
use crate::store::Accepted;

/// Where the submission came from, kept with it.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub origin: Option<String>,
    /// The page the form was on (`Referer`).
    pub page: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(
        "{count} submissions from this email address in the last 24 hours; the limit is {max}"
    )]
    ContactLimit {
        count: u32,
        max: u32,
        wait: Duration,
    },
    #[error("the submission could not be stored; try again later")]
    Unavailable,
}

/// The id that makes a submission idempotent: the render token's nonce
/// (each page render submits once), else the poster's idempotency key,
/// else a digest of the content and the day (the same submission twice in
/// a day is stored once). Shaped like a Message-ID so that email replies
/// can name it in `In-Reply-To`.
pub fn external_id(
    channel: &str,
    nonce: Option<&str>,
    idempotency_key: Option<&str>,
    checked: &Checked,
    now: Millis,
) -> String {
    if let Some(nonce) = nonce {
        return format!("t.{nonce}@form.invalid");
    }
    if let Some(key) = idempotency_key {
        let digest = Sha256::digest(format!("{channel}\n{key}").as_bytes());
        return format!("k.{}@form.invalid", &hex::encode(digest)[..32]);
    }
    let mut hasher = Sha256::new();
    hasher.update(format!("{channel}\n{}\n", now / 86_400_000).as_bytes());
    for entry in &checked.entries {
        hasher.update(format!("{}={}\n", entry.name, entry.value).as_bytes());
    }
    for file in &checked.files {
        hasher.update(Sha256::digest(&file.bytes));
    }
    format!("h.{}@form.invalid", &hex::encode(hasher.finalize())[..32])
}

/// The message ingest stores for a submission.
pub fn inbound(
    channel: &str,
    checked: Checked,
    external_id: String,
    context: &Context,
    now: Millis,
) -> Inbound {
    let files: Vec<_> = checked
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            json!({"field": f.field, "name": f.name, "content_type": f.content_type,
                   "size": f.bytes.len(), "attachment": i})
        })
        .collect();
    let record = json!({
        "form": channel,
        "submitted_at": crate::clock::rfc3339(now),
        "fields": checked.entries,
        "files": files,
        "origin": context.origin,
        "page": context.page,
        "user_agent": context.user_agent,
    });
    // The first visible phone field fills the contact's phone, when the
    // contact has none yet.
    let phone = checked
        .entries
        .iter()
        .find(|e| e.kind == "tel" && !e.hidden)
        .map(|e| e.value.clone());
    Inbound {
        channel: channel.to_string(),
        external_id: Some(external_id),
        sender: Sender {
            identity: Identity {
                kind: IDENTITY_KIND.into(),
                handle: checked.email.clone(),
            },
            name: checked.name,
            email: Some(checked.email),
            phone,
        },
        forwarded_by: None,
        to: Vec::new(),
        recipients: Vec::new(),
        from_agent: None,
        id_names_message: true,
        thread_hints: ThreadHints::default(),
        subject: Some(checked.subject),
        text: Some(checked.text),
        html: None,
        attachments: checked
            .files
            .into_iter()
            .map(|f| InboundAttachment {
                name: f.name,
                content_type: f.content_type,
                bytes: f.bytes,
            })
            .collect(),
        flags: Vec::new(),
        sent_at: None,
        raw: Some(serde_json::to_vec(&record).unwrap_or_default()),
        postback: None,
    }
}

/// Stores the submission unless its sender is over the per-contact limit.
pub async fn store(
    app: &Arc<App>,
    channel: &str,
    form: &FormChannel,
    inbound: Inbound,
    now: Millis,
) -> Result<Accepted, SubmitError> {
    let email = inbound.sender.identity.handle.clone();
    let Some(max) = form.max_submissions_per_contact else {
        return ingest_durably(app, inbound).await;
    };
    let _serialised = app.forms.contact_lock(&email).lock().await;
    let window = CONTACT_WINDOW.as_millis() as Millis;
    let (count, oldest) = app
        .store
        .form_submissions_since(channel, &email, now - window)
        .map_err(|error| unavailable(&error))?;
    if count >= max {
        let until = oldest.unwrap_or(now) + window;
        return Err(SubmitError::ContactLimit {
            count,
            max,
            wait: Duration::from_millis((until - now).max(1000) as u64),
        });
    }
    let accepted = ingest_durably(app, inbound).await?;
    if !accepted.duplicate {
        let store = app.store.clone();
        let (channel, at) = (channel.to_string(), now);
        tokio::task::spawn_blocking(move || {
            store.record_form_submission(&channel, &email, at, at - window)
        })
        .await
        .map_err(|_| SubmitError::Unavailable)?
        .map_err(|error| unavailable(&error))?;
        app.store
            .durable()
            .await
            .map_err(|error| unavailable(&error))?;
    }
    Ok(accepted)
}

async fn ingest_durably(app: &Arc<App>, inbound: Inbound) -> Result<Accepted, SubmitError> {
    let channel = inbound.channel.clone();
    ingest(app, inbound).await.map_err(|error| {
        tracing::error!(%channel, %error, "form submission not stored; answering 503");
        SubmitError::Unavailable
    })
}

fn unavailable(error: &dyn std::fmt::Display) -> SubmitError {
    tracing::error!(%error, "form submission log failed; answering 503");
    SubmitError::Unavailable
}
