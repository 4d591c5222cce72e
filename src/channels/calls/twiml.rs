//! The TwiML a calls channel answers (PROTOCOLS.md 4.1, 4.2): ring the
//! agents' phones with `<Dial>`, and when nobody answers play the greeting
//! and `<Record>` a voicemail with transcription. Every callback URL is the
//! channel's one webhook URL with an `event` query parameter, so one
//! `public_url` signs them all and the handler knows what it is reading.

use crate::config::{AgentNumber, CallsChannel};

const PROLOG: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// What a callback URL's `event` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The call's own status callback (the number's "call status changes").
    Status,
    /// The `<Dial action>`: whether an agent answered.
    Dial,
    /// One agent's leg (`<Number statusCallback>`): answered, completed.
    Agent,
    /// The `<Record action>`: the caller finished the voicemail.
    Voicemail,
    /// `recordingStatusCallback`.
    Recording,
    /// `transcribeCallback`.
    Transcription,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::Status => "status",
            Event::Dial => "dial",
            Event::Agent => "agent",
            Event::Voicemail => "voicemail",
            Event::Recording => "recording",
            Event::Transcription => "transcription",
        }
    }

    pub fn parse(text: &str) -> Option<Event> {
        [
            Event::Status,
            Event::Dial,
            Event::Agent,
            Event::Voicemail,
            Event::Recording,
            Event::Transcription,
        ]
        .into_iter()
        .find(|e| e.name() == text)
    }
}

/// The channel's webhook URL for `event`, exactly as the provider will
/// request (and sign) it.
pub fn callback_url(settings: &CallsChannel, event: Event) -> String {
    let base = &settings.provider.public_url;
    let joiner = if base.contains('?') { '&' } else { '?' };
    format!("{base}{joiner}event={}", event.name())
}

/// An empty answer: nothing more to do.
pub fn empty() -> String {
    format!("{PROLOG}<Response/>")
}

/// Ends the call.
pub fn hangup() -> String {
    format!("{PROLOG}<Response><Hangup/></Response>")
}

/// The answer to an incoming call: ring every agent phone at once for the
/// dial timeout; the outcome comes back to the `dial` callback.
pub fn dial(settings: &CallsChannel) -> String {
    let agent = escape(&callback_url(settings, Event::Agent));
    let mut xml = format!(
        r#"{PROLOG}<Response><Dial timeout="{}" action="{}" method="POST">"#,
        settings.dial_timeout.as_secs(),
        escape(&callback_url(settings, Event::Dial)),
    );
    for number in &settings.agent_numbers {
        let (tag, address) = match number {
            AgentNumber::Phone(number) => ("Number", number),
            AgentNumber::Sip(address) => ("Sip", address),
        };
        xml.push_str(&format!(
            r#"<{tag} statusCallbackEvent="answered completed" statusCallback="{agent}" statusCallbackMethod="POST">{}</{tag}>"#,
            escape(address)
        ));
    }
    xml.push_str("</Dial></Response>");
    xml
}

/// The answer to the dial outcome: done if an agent answered; otherwise
/// the greeting and, with voicemail on, the recording.
pub fn after_dial(settings: &CallsChannel, answered: bool) -> String {
    if answered {
        return hangup();
    }
    let voicemail = &settings.voicemail;
    let mut say = String::from("<Say");
    if let Some(voice) = &voicemail.voice {
        say.push_str(&format!(r#" voice="{}""#, escape(voice)));
    }
    if let Some(language) = &voicemail.language {
        say.push_str(&format!(r#" language="{}""#, escape(language)));
    }
    say.push_str(&format!(">{}</Say>", escape(&voicemail.greeting)));
    if !voicemail.enabled {
        return format!("{PROLOG}<Response>{say}<Hangup/></Response>");
    }
    let mut record = format!(
        r#"<Record maxLength="{}" timeout="5" playBeep="true" trim="trim-silence" action="{}" method="POST" recordingStatusCallback="{}" recordingStatusCallbackMethod="POST""#,
        voicemail.max_length.as_secs(),
        escape(&callback_url(settings, Event::Voicemail)),
        escape(&callback_url(settings, Event::Recording)),
    );
    if voicemail.transcribe {
        record.push_str(&format!(
            r#" transcribe="true" transcribeCallback="{}""#,
            escape(&callback_url(settings, Event::Transcription))
        ));
    }
    record.push_str("/>");
    // An empty recording does not call `action`: the call goes on here.
    format!("{PROLOG}<Response>{say}{record}<Hangup/></Response>")
}

/// Text and attribute values, XML-escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{Secret, SmsChannel, SmsSender, Voicemail};

    fn settings(public_url: &str) -> CallsChannel {
        CallsChannel {
            provider: SmsChannel {
                account_sid: "AC1".into(),
                auth_token: Secret::new("tok"),
                sender: SmsSender::From("+15005550006".into()),
                public_url: public_url.into(),
                api_base_url: "https://api.twilio.com".into(),
                allow_private_targets: false,
            },
            number: "+15005550006".into(),
            agent_numbers: vec![
                AgentNumber::Phone("+14155550101".into()),
                AgentNumber::Sip("sip:bob@pbx.example.com".into()),
            ],
            dial_timeout: Duration::from_secs(25),
            voicemail: Voicemail {
                enabled: true,
                greeting: "Leave a message & we'll call back".into(),
                voice: Some("alice".into()),
                language: None,
                max_length: Duration::from_secs(90),
                transcribe: true,
            },
        }
    }

    #[test]
    fn callback_urls_keep_an_existing_query_and_are_escaped_in_attributes() {
        let s = settings("https://h.example/webhooks/phone?k=1");
        assert_eq!(
            callback_url(&s, Event::Dial),
            "https://h.example/webhooks/phone?k=1&event=dial"
        );
        assert!(
            dial(&s).contains(r#"action="https://h.example/webhooks/phone?k=1&amp;event=dial""#)
        );
        let s = settings("https://h.example/webhooks/phone");
        assert_eq!(
            callback_url(&s, Event::Transcription),
            "https://h.example/webhooks/phone?event=transcription"
        );
        assert_eq!(Event::parse("recording"), Some(Event::Recording));
        assert_eq!(Event::parse("nope"), None);
    }

    #[test]
    fn voicemail_off_says_the_greeting_and_hangs_up() {
        let mut s = settings("https://h.example/w");
        assert!(after_dial(&s, false).contains("Leave a message &amp; we&apos;ll call back"));
        assert!(after_dial(&s, false).contains("<Record "));
        s.voicemail.enabled = false;
        let xml = after_dial(&s, false);
        assert!(!xml.contains("<Record"), "{xml}");
        assert!(xml.ends_with("<Hangup/></Response>"), "{xml}");
        assert_eq!(after_dial(&s, true), hangup());
    }
}
