//! Automations on messaging channels, sent through the outbox like any reply
//! and marked automated: the instant reply after a contact's first message,
//! and consent. With `consent = "implied"` the consent text goes with the
//! first automated message; with `"explicit"` the person is asked to agree
//! (a quick reply) and the conversation reaches agents only once they have.
//! (Messenger's greeting is set on the Page by `channels::meta::profile`.)

use crate::app::App;
use crate::config::{Channel, ChannelKind, Consent};
use crate::ingest::IngestError;
use crate::model::{Author, ConsentRecord};
use crate::routing;
use crate::store::{Accepted, OutboundError, OutboundRequest, StoreError, Target};

/// The payload of the "I agree" quick reply of a consent request.
pub const CONSENT_AGREE: &str = "SWITCHBOARD_CONSENT_AGREE";
/// The automation name of a consent request (the sender adds the button).
pub const CONSENT_REQUEST: &str = "consent_request";
pub const INSTANT_REPLY: &str = "instant_reply";

/// What a channel automates.
struct Rules<'a> {
    instant_reply: Option<&'a str>,
    consent: Consent,
    consent_text: Option<&'a str>,
}

fn rules(channel: &Channel) -> Option<Rules<'_>> {
    match &channel.kind {
        ChannelKind::Messenger(page) => Some(Rules {
            instant_reply: page.instant_reply.as_deref(),
            consent: page.consent,
            consent_text: page.consent_text.as_deref(),
        }),
        ChannelKind::Whatsapp(number) => Some(Rules {
            instant_reply: number.instant_reply.as_deref(),
            consent: Consent::None,
            consent_text: None,
        }),
        // The widget asks for consent itself, before the first message
        // (`channels::chat`), so no automation waits for it.
        ChannelKind::Chat(chat) => Some(Rules {
            instant_reply: chat.instant_reply.as_deref(),
            consent: Consent::None,
            consent_text: None,
        }),
        ChannelKind::Email(_)
        | ChannelKind::Custom(_)
        | ChannelKind::Sms(_)
        | ChannelKind::Calls(_)
        | ChannelKind::Form(_) => None,
    }
}

/// Whether the channel asks for explicit consent before routing.
pub fn requires_consent(channel: &Channel) -> bool {
    rules(channel).is_some_and(|r| r.consent == Consent::Explicit)
}

/// Whether routing must wait for the sender's consent on this channel.
pub fn routing_waits_for_consent(
    app: &App,
    channel: &Channel,
    kind: &str,
    handle: &str,
) -> Result<bool, StoreError> {
    let waits = rules(channel).is_some_and(|r| r.consent == Consent::Explicit);
    if !waits {
        return Ok(false);
    }
    Ok(app
        .store
        .contact_by_identity(kind, handle)?
        .is_none_or(|contact| contact.consent.is_none()))
}

/// Runs the channel's automations after a message was stored.
pub async fn after_ingest(
    app: &App,
    channel: &Channel,
    postback: Option<&str>,
    accepted: &Accepted,
) -> Result<(), IngestError> {
    let Some(rules) = rules(channel) else {
        return Ok(());
    };
    if accepted.duplicate {
        return Ok(());
    }
    let contact = app
        .store
        .contact(accepted.contact)?
        .ok_or(StoreError::NotFound { what: "contact" })?;
    let now = app.clock.now();
    let consent_text = rules.consent_text.unwrap_or_default().to_string();
    if rules.consent == Consent::Explicit && contact.consent.is_none() {
        if postback == Some(CONSENT_AGREE) {
            let record = ConsentRecord {
                mode: Consent::Explicit,
                text: consent_text,
                channel: channel.id.clone(),
                at: now,
            };
            app.store.record_consent(contact.id, record)?;
            let workspace = app.workspace();
            if let Some(plan) = routing::assignment_plan(app, &workspace, channel)? {
                let store = app.store.clone();
                let conversation = accepted.conversation;
                tokio::task::spawn_blocking(move || {
                    store.assign_conversation(conversation, &plan, now)
                })
                .await
                .map_err(|e| IngestError::Task(e.to_string()))??;
            }
            app.store.durable().await?;
            if let Some(text) = rules.instant_reply {
                send(app, accepted, INSTANT_REPLY, text.to_string()).await?;
            }
        } else {
            send(app, accepted, CONSENT_REQUEST, consent_text).await?;
        }
        return Ok(());
    }
    if accepted.new_contact {
        if let Some(text) = rules.instant_reply {
            let mut text = text.to_string();
            if rules.consent == Consent::Implied {
                text = format!("{text}\n\n{consent_text}");
                let record = ConsentRecord {
                    mode: Consent::Implied,
                    text: consent_text,
                    channel: channel.id.clone(),
                    at: now,
                };
                app.store.record_consent(contact.id, record)?;
            }
            send(app, accepted, INSTANT_REPLY, text).await?;
        }
    }
    Ok(())
}

/// Queues an automated message in the conversation.
async fn send(app: &App, accepted: &Accepted, name: &str, text: String) -> Result<(), IngestError> {
    let request = OutboundRequest {
        target: Target::Conversation(accepted.conversation),
        author: Author::Automation {
            name: name.to_string(),
        },
        author_name: None,
        text,
        html: None,
        private: false,
        message_id_domain: None,
        reply_token: false,
        template: None,
        now: app.clock.now(),
    };
    let store = app.store.clone();
    // A consent request goes once per conversation, checked and written in
    // one step (several messages of a batch arrive together).
    let once = name == CONSENT_REQUEST;
    let written = tokio::task::spawn_blocking(move || {
        if once {
            store
                .append_automation_once(request)
                .map(|sent| sent.is_some())
        } else {
            store.append_outbound(request).map(|_| true)
        }
    })
    .await
    .map_err(|e| IngestError::Task(e.to_string()))?;
    match written {
        Ok(false) => return Ok(()),
        Ok(true) => {}
        // The person's last message was an auto-reply: automations stay quiet.
        Err(OutboundError::AutoReplyLoop) => return Ok(()),
        Err(OutboundError::NotFound) => {
            return Err(StoreError::NotFound {
                what: "conversation",
            }
            .into())
        }
        Err(OutboundError::Store(error)) => return Err(error.into()),
    }
    app.store.durable().await?;
    app.outbox_wake.notify_one();
    Ok(())
}
