//! The providers' messaging windows, as pure functions of the person's last
//! inbound message and the time now (PROTOCOLS.md 1.6 and 2.5):
//!
//! - Messenger: within 24 hours anything goes (`RESPONSE`); from 24 hours to
//!   7 days only a human agent's reply, sent as `MESSAGE_TAG` with
//!   `HUMAN_AGENT`, and only when the channel has `human_agent_tag = true`;
//!   after that nothing.
//! - WhatsApp: free-form within 24 hours; outside it only a template.
//! - Automated messages are never sent outside the 24-hour window.
//!
//! Windows count from the provider's timestamp of the message (`sent_at`),
//! falling back to when it was stored, never from when the webhook arrived.
//! The API checks them before a reply is queued; the sender checks again,
//! since a queued message may age out.

use serde::Serialize;

use crate::clock::rfc3339;
use crate::config::{Channel, ChannelKind};
use crate::model::{Direction, Message, Millis};

const HOUR: Millis = 60 * 60 * 1000;
/// The standard window of both providers.
pub const STANDARD_WINDOW: Millis = 24 * HOUR;
/// Messenger's human-agent window.
pub const HUMAN_AGENT_WINDOW: Millis = 7 * 24 * HOUR;

/// Which provider's rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Messenger { human_agent_tag: bool },
    Whatsapp,
}

impl Provider {
    /// The rules of a channel; `None` for channels without windows (email).
    pub fn of(channel: &Channel) -> Option<Provider> {
        match &channel.kind {
            ChannelKind::Messenger(page) => Some(Provider::Messenger {
                human_agent_tag: page.human_agent_tag,
            }),
            ChannelKind::Whatsapp(_) => Some(Provider::Whatsapp),
            ChannelKind::Email(_)
            | ChannelKind::Custom(_)
            | ChannelKind::Sms(_)
            | ChannelKind::Calls(_)
            | ChannelKind::Form(_)
            | ChannelKind::Chat(_) => None,
        }
    }
}

/// What may be sent now, as the conversation view shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// Within 24 hours: any message.
    Standard,
    /// Messenger, 24 hours to 7 days: a human agent's reply, tagged.
    HumanAgent,
    /// WhatsApp after 24 hours: approved templates only.
    TemplateOnly,
    /// Nothing can be sent until the person writes again.
    Closed,
}

/// The window a conversation is in, and when it ends (or ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyWindow {
    pub kind: WindowKind,
    /// The end of the current window; for `template_only` and `closed`, the
    /// end of the last window that applied. `None` when the person never
    /// wrote.
    pub ends_at: Option<Millis>,
}

/// How an allowed message goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMode {
    /// Messenger `messaging_type: RESPONSE`.
    Response,
    /// Messenger `messaging_type: MESSAGE_TAG`, `tag: HUMAN_AGENT`.
    HumanAgentTag,
    /// WhatsApp free-form text.
    FreeForm,
    /// WhatsApp template.
    Template,
}

/// Who wrote the message and what it is, for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing {
    /// Written by an automation, not a person.
    pub automated: bool,
    /// A WhatsApp template rather than free text.
    pub template: bool,
}

/// Why a message may not be sent now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    pub reason: String,
    /// The end of the window that was missed, if the person ever wrote.
    pub ends_at: Option<Millis>,
}

impl Refusal {
    fn new(reason: impl Into<String>, ends_at: Option<Millis>) -> Self {
        Refusal {
            reason: reason.into(),
            ends_at,
        }
    }
}

/// When the person last wrote: the latest provider timestamp (or store
/// time) of the inbound messages. Providers do not guarantee order, so the
/// latest by time, not the last in the list.
pub fn last_inbound_at(messages: &[Message]) -> Option<Millis> {
    messages
        .iter()
        .filter(|m| m.direction == Direction::Inbound && !m.private)
        .map(|m| m.sent_at.unwrap_or(m.created_at))
        .max()
}

/// The window of a conversation on `channel`; `None` for email.
pub fn reply_window(channel: &Channel, messages: &[Message], now: Millis) -> Option<ReplyWindow> {
    Provider::of(channel).map(|provider| window_at(provider, last_inbound_at(messages), now))
}

/// The window given when the person last wrote.
pub fn window_at(provider: Provider, last_inbound: Option<Millis>, now: Millis) -> ReplyWindow {
    let Some(last) = last_inbound else {
        return ReplyWindow {
            kind: WindowKind::Closed,
            ends_at: None,
        };
    };
    let standard_end = last + STANDARD_WINDOW;
    let human_end = last + HUMAN_AGENT_WINDOW;
    let (kind, ends_at) = if now < standard_end {
        (WindowKind::Standard, standard_end)
    } else {
        match provider {
            Provider::Whatsapp => (WindowKind::TemplateOnly, standard_end),
            Provider::Messenger {
                human_agent_tag: true,
            } if now < human_end => (WindowKind::HumanAgent, human_end),
            Provider::Messenger {
                human_agent_tag: true,
            } => (WindowKind::Closed, human_end),
            Provider::Messenger {
                human_agent_tag: false,
            } => (WindowKind::Closed, standard_end),
        }
    };
    ReplyWindow {
        kind,
        ends_at: Some(ends_at),
    }
}

/// Whether `outgoing` may be sent now, and how.
pub fn check(
    provider: Provider,
    last_inbound: Option<Millis>,
    now: Millis,
    outgoing: Outgoing,
) -> Result<SendMode, Refusal> {
    let window = window_at(provider, last_inbound, now);
    let at = |millis: Option<Millis>| millis.map(rfc3339).unwrap_or_default();
    let ends = window.ends_at;
    if window.ends_at.is_none() {
        return Err(Refusal::new(
            "the person has not written on this channel yet; the provider only allows \
             answering people who wrote first",
            None,
        ));
    }
    if outgoing.template && provider != Provider::Whatsapp {
        return Err(Refusal::new(
            "templates can only be sent on WhatsApp channels",
            ends,
        ));
    }
    match (provider, window.kind) {
        (Provider::Messenger { .. }, WindowKind::Standard) => Ok(SendMode::Response),
        (Provider::Whatsapp, WindowKind::Standard) if outgoing.template => Ok(SendMode::Template),
        (Provider::Whatsapp, WindowKind::Standard) => Ok(SendMode::FreeForm),
        (_, _) if outgoing.automated => Err(Refusal::new(
            format!(
                "automated messages are never sent outside the 24-hour window, which ended at {}",
                at(last_inbound.map(|l| l + STANDARD_WINDOW))
            ),
            last_inbound.map(|l| l + STANDARD_WINDOW),
        )),
        (Provider::Messenger { .. }, WindowKind::HumanAgent) => Ok(SendMode::HumanAgentTag),
        (
            Provider::Messenger {
                human_agent_tag: false,
            },
            _,
        ) => Err(Refusal::new(
            format!(
                "the 24-hour messaging window ended at {} and this channel does not send \
                 HUMAN_AGENT-tagged replies (human_agent_tag = false); the person must write again",
                at(ends)
            ),
            ends,
        )),
        (Provider::Messenger { .. }, _) => Err(Refusal::new(
            format!(
                "the 7-day human-agent window ended at {}; the person must write again",
                at(ends)
            ),
            ends,
        )),
        (Provider::Whatsapp, _) if outgoing.template => Ok(SendMode::Template),
        (Provider::Whatsapp, _) => Err(Refusal::new(
            format!(
                "WhatsApp's 24-hour customer-service window ended at {}; outside it only an \
                 approved template can be sent",
                at(ends)
            ),
            ends,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Millis = 60 * 1000;
    const DAY: Millis = 24 * HOUR;
    const NOW: Millis = 1_750_000_000_000;
    const TAG: Provider = Provider::Messenger {
        human_agent_tag: true,
    };
    const NO_TAG: Provider = Provider::Messenger {
        human_agent_tag: false,
    };
    const AGENT: Outgoing = Outgoing {
        automated: false,
        template: false,
    };
    const AUTOMATION: Outgoing = Outgoing {
        automated: true,
        template: false,
    };
    const TEMPLATE: Outgoing = Outgoing {
        automated: false,
        template: true,
    };

    /// The person wrote `ago` before now.
    fn check_ago(provider: Provider, ago: Millis, outgoing: Outgoing) -> Result<SendMode, Refusal> {
        check(provider, Some(NOW - ago), NOW, outgoing)
    }

    fn kind_ago(provider: Provider, ago: Millis) -> WindowKind {
        window_at(provider, Some(NOW - ago), NOW).kind
    }

    #[test]
    fn messenger_within_a_day_is_a_response() {
        let ago = 23 * HOUR + 59 * MINUTE;
        assert_eq!(check_ago(NO_TAG, ago, AGENT), Ok(SendMode::Response));
        assert_eq!(check_ago(TAG, ago, AGENT), Ok(SendMode::Response));
        assert_eq!(check_ago(TAG, ago, AUTOMATION), Ok(SendMode::Response));
        assert_eq!(kind_ago(TAG, ago), WindowKind::Standard);
        let window = window_at(TAG, Some(NOW - ago), NOW);
        assert_eq!(window.ends_at, Some(NOW + MINUTE));
    }

    #[test]
    fn messenger_after_a_day_needs_the_human_agent_tag() {
        let ago = DAY + MINUTE;
        assert_eq!(check_ago(TAG, ago, AGENT), Ok(SendMode::HumanAgentTag));
        assert_eq!(kind_ago(TAG, ago), WindowKind::HumanAgent);
        let refused = check_ago(NO_TAG, ago, AGENT).unwrap_err();
        assert!(refused.reason.contains("human_agent_tag"), "{refused}");
        assert_eq!(refused.ends_at, Some(NOW - MINUTE));
        assert_eq!(kind_ago(NO_TAG, ago), WindowKind::Closed);
    }

    #[test]
    fn automated_messages_stay_inside_the_day() {
        let refused = check_ago(TAG, DAY + MINUTE, AUTOMATION).unwrap_err();
        assert!(refused.reason.contains("automated"), "{refused}");
        assert_eq!(refused.ends_at, Some(NOW - MINUTE));
        assert!(check_ago(Provider::Whatsapp, DAY + MINUTE, AUTOMATION).is_err());
        let template_by_automation = Outgoing {
            automated: true,
            template: true,
        };
        assert!(check_ago(Provider::Whatsapp, DAY + MINUTE, template_by_automation).is_err());
        assert_eq!(
            check_ago(Provider::Whatsapp, DAY - MINUTE, AUTOMATION),
            Ok(SendMode::FreeForm)
        );
    }

    #[test]
    fn messenger_human_agent_window_ends_after_seven_days() {
        let inside = 6 * DAY + 23 * HOUR;
        assert_eq!(check_ago(TAG, inside, AGENT), Ok(SendMode::HumanAgentTag));
        assert_eq!(
            window_at(TAG, Some(NOW - inside), NOW).ends_at,
            Some(NOW + HOUR)
        );
        let outside = 7 * DAY + MINUTE;
        let refused = check_ago(TAG, outside, AGENT).unwrap_err();
        assert!(refused.reason.contains("7-day"), "{refused}");
        assert_eq!(refused.ends_at, Some(NOW - MINUTE));
        assert_eq!(kind_ago(TAG, outside), WindowKind::Closed);
        assert!(check_ago(NO_TAG, outside, AGENT).is_err());
    }

    #[test]
    fn whatsapp_needs_a_template_after_a_day() {
        let inside = 23 * HOUR + 59 * MINUTE;
        assert_eq!(
            check_ago(Provider::Whatsapp, inside, AGENT),
            Ok(SendMode::FreeForm)
        );
        assert_eq!(
            check_ago(Provider::Whatsapp, inside, TEMPLATE),
            Ok(SendMode::Template)
        );
        let outside = DAY + MINUTE;
        let refused = check_ago(Provider::Whatsapp, outside, AGENT).unwrap_err();
        assert!(refused.reason.contains("template"), "{refused}");
        assert_eq!(
            check_ago(Provider::Whatsapp, outside, TEMPLATE),
            Ok(SendMode::Template)
        );
        assert_eq!(
            check_ago(Provider::Whatsapp, 30 * DAY, TEMPLATE),
            Ok(SendMode::Template)
        );
        assert_eq!(
            kind_ago(Provider::Whatsapp, outside),
            WindowKind::TemplateOnly
        );
    }

    #[test]
    fn the_day_ends_exactly_at_24_hours() {
        assert_eq!(kind_ago(NO_TAG, DAY - 1), WindowKind::Standard);
        assert_eq!(kind_ago(NO_TAG, DAY), WindowKind::Closed);
        assert_eq!(kind_ago(TAG, 7 * DAY - 1), WindowKind::HumanAgent);
        assert_eq!(kind_ago(TAG, 7 * DAY), WindowKind::Closed);
        // A provider clock slightly ahead of ours is still inside.
        assert_eq!(kind_ago(TAG, -MINUTE), WindowKind::Standard);
    }

    #[test]
    fn templates_are_whatsapp_only() {
        let refused = check_ago(TAG, HOUR, TEMPLATE).unwrap_err();
        assert!(refused.reason.contains("WhatsApp"), "{refused}");
    }

    #[test]
    fn nobody_wrote_nothing_can_be_sent() {
        assert!(check(TAG, None, NOW, AGENT).is_err());
        assert!(check(Provider::Whatsapp, None, NOW, TEMPLATE).is_err());
        let window = window_at(Provider::Whatsapp, None, NOW);
        assert_eq!(window.kind, WindowKind::Closed);
        assert_eq!(window.ends_at, None);
    }

    #[test]
    fn the_latest_inbound_message_counts_by_provider_time() {
        let message = |direction, sent_at: Option<Millis>, created_at| Message {
            id: crate::ids::Id::new_at(created_at),
            conversation: crate::ids::Id::new_at(0),
            direction,
            channel: "fb".into(),
            from: Default::default(),
            forwarded_by: None,
            to: Vec::new(),
            subject: None,
            text: Some("hi".into()),
            html: None,
            attachments: Vec::new(),
            flags: Vec::new(),
            thread_reason: crate::model::ThreadReason::Continued,
            joined_as: None,
            external_id_shared_with: None,
            recipients: Vec::new(),
            external_id: None,
            sent_at,
            created_at,
            author: None,
            private: false,
            status: None,
            template: None,
            thread: None,
            call: None,
        };
        let messages = vec![
            // Arrived last but was written first (a provider retry).
            message(Direction::Inbound, Some(NOW - 3 * DAY), NOW),
            message(Direction::Inbound, Some(NOW - 2 * HOUR), NOW - HOUR),
            message(Direction::Inbound, None, NOW - 5 * HOUR),
            message(Direction::Outbound, None, NOW - MINUTE),
        ];
        assert_eq!(last_inbound_at(&messages), Some(NOW - 2 * HOUR));
        assert_eq!(last_inbound_at(&messages[3..]), None);
    }
}
