//! Reading a voice webhook (sans-IO): which call it is about, what it
//! tells, and what TwiML it expects back. The `event` query parameter our
//! TwiML puts on every callback URL says what a request is; without one
//! (the number's own voice and status URLs, or an operator who left it
//! off) the callback's own parameters do (PROTOCOLS.md 4.1, 4.2).

use super::item::CallUpdate;
use super::twiml::Event;

/// Why a callback could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("unknown event \"{0}\"")]
    UnknownEvent(String),
}

/// What the provider expects back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Ring the agents (an incoming call still ringing).
    Dial,
    /// The voicemail if nobody answered, else hang up.
    AfterDial { answered: bool },
    /// Hang up (the caller finished the voicemail).
    Hangup,
    /// Nothing (status callbacks).
    Empty,
}

/// One callback, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Callback {
    /// The call the item is keyed on (`ParentCallSid` for an agent leg).
    pub call_sid: String,
    /// The caller in E.164; `None` when the callback does not name them
    /// or the number is withheld (`anonymous`).
    pub caller: Option<String>,
    /// `CallerName` (CNAM), when the provider looked it up.
    pub caller_name: Option<String>,
    pub update: CallUpdate,
    pub answer: Answer,
    /// An outbound call's callback: not a call to the business number, so
    /// nothing is stored.
    pub outbound: bool,
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn required<'a>(
    params: &'a [(String, String)],
    name: &'static str,
) -> Result<&'a str, CallbackError> {
    param(params, name).ok_or(CallbackError::Missing(name))
}

fn seconds(params: &[(String, String)], name: &str) -> Option<u64> {
    param(params, name).and_then(|v| v.parse().ok())
}

/// The `event` of a query string, if it names one.
pub fn event_of(query: Option<&str>) -> Result<Option<Event>, CallbackError> {
    let Some(query) = query else {
        return Ok(None);
    };
    match form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "event") {
        Some((_, value)) => Event::parse(&value)
            .map(Some)
            .ok_or_else(|| CallbackError::UnknownEvent(value.chars().take(40).collect())),
        None => Ok(None),
    }
}

/// What a request without an `event` is, by its parameters.
fn infer(params: &[(String, String)]) -> Option<Event> {
    let has = |name| param(params, name).is_some();
    if has("TranscriptionSid") || has("TranscriptionStatus") {
        Some(Event::Transcription)
    } else if has("RecordingStatus") {
        Some(Event::Recording)
    } else if has("ParentCallSid") {
        Some(Event::Agent)
    } else if has("CallbackSource") || has("SequenceNumber") {
        // Only status callbacks carry these (a recorded call's also
        // carries its RecordingSid, so this goes first).
        Some(Event::Status)
    } else if has("RecordingSid") {
        Some(Event::Voicemail)
    } else if has("DialCallStatus") {
        Some(Event::Dial)
    } else {
        None
    }
}

/// Reads a callback; `event` from the query, `None` for the incoming call
/// (or the call's status callback) when nothing else fits.
pub fn read(event: Option<Event>, params: &[(String, String)]) -> Result<Callback, CallbackError> {
    let event = event.or_else(|| infer(params));
    let own_sid = required(params, "CallSid");
    let call_sid = match event {
        Some(Event::Agent) => required(params, "ParentCallSid")?,
        _ => own_sid?,
    }
    .to_string();
    let outbound = param(params, "Direction")
        .is_some_and(|d| d.starts_with("outbound") && event != Some(Event::Agent));
    let (update, answer) = match event {
        None | Some(Event::Status) => {
            let status = required(params, "CallStatus")?.to_ascii_lowercase();
            let ringing = matches!(status.as_str(), "queued" | "ringing" | "in-progress");
            let answer = if event.is_none() && ringing {
                Answer::Dial
            } else {
                Answer::Empty
            };
            let update = CallUpdate::Status {
                status,
                duration: seconds(params, "CallDuration"),
            };
            (update, answer)
        }
        Some(Event::Dial) => {
            let status = required(params, "DialCallStatus")?.to_ascii_lowercase();
            let answered = matches!(status.as_str(), "completed" | "answered");
            let update = CallUpdate::Dial {
                status,
                duration: seconds(params, "DialCallDuration"),
            };
            (update, Answer::AfterDial { answered })
        }
        Some(Event::Agent) => {
            let update = CallUpdate::Agent {
                status: required(params, "CallStatus")?.to_ascii_lowercase(),
                number: param(params, "To").map(str::to_string),
                duration: seconds(params, "CallDuration"),
            };
            (update, Answer::Empty)
        }
        Some(kind @ (Event::Voicemail | Event::Recording)) => {
            let update = CallUpdate::Recording {
                sid: required(params, "RecordingSid")?.to_string(),
                url: required(params, "RecordingUrl")?.to_string(),
                duration: seconds(params, "RecordingDuration"),
                status: param(params, "RecordingStatus")
                    .unwrap_or("completed")
                    .to_ascii_lowercase(),
            };
            let answer = if kind == Event::Voicemail {
                Answer::Hangup
            } else {
                Answer::Empty
            };
            (update, answer)
        }
        Some(Event::Transcription) => {
            let update = CallUpdate::Transcription {
                recording_sid: required(params, "RecordingSid")?.to_string(),
                recording_url: param(params, "RecordingUrl").map(str::to_string),
                text: param(params, "TranscriptionText").map(str::to_string),
                status: required(params, "TranscriptionStatus")?.to_ascii_lowercase(),
            };
            (update, Answer::Empty)
        }
    };
    // The caller: `From` of the call (an agent leg's `From` is the caller
    // too, shown as caller ID to the agent).
    let caller = param(params, "From").and_then(crate::channels::sms::webhook::provider_number);
    Ok(Callback {
        call_sid,
        caller,
        caller_name: param(params, "CallerName").map(str::to_string),
        update,
        answer,
        outbound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_incoming_call_asks_for_the_dial() {
        let params = pairs(&[
            ("CallSid", "CA1"),
            ("From", "+14155550100"),
            ("To", "+15005550006"),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
            ("CallerName", "ANN SMITH"),
        ]);
        let callback = read(None, &params).unwrap();
        assert_eq!(callback.answer, Answer::Dial);
        // The number's status callback without `?event=status`.
        let mut status = params.clone();
        status.push(("CallbackSource".into(), "call-progress-events".into()));
        assert_eq!(read(None, &status).unwrap().answer, Answer::Empty);
        assert_eq!(callback.caller.as_deref(), Some("+14155550100"));
        assert_eq!(callback.caller_name.as_deref(), Some("ANN SMITH"));
        assert!(!callback.outbound);
        // The same parameters as the status callback: nothing to answer.
        assert_eq!(
            read(Some(Event::Status), &params).unwrap().answer,
            Answer::Empty
        );
    }

    #[test]
    fn callbacks_are_known_by_event_or_by_their_parameters() {
        let dial = pairs(&[("CallSid", "CA1"), ("DialCallStatus", "no-answer")]);
        for event in [Some(Event::Dial), None] {
            assert_eq!(
                read(event, &dial).unwrap().answer,
                Answer::AfterDial { answered: false }
            );
        }
        let agent = pairs(&[
            ("CallSid", "CA2"),
            ("ParentCallSid", "CA1"),
            ("CallStatus", "in-progress"),
            ("To", "+14155550101"),
            ("Direction", "outbound-dial"),
        ]);
        let callback = read(None, &agent).unwrap();
        assert_eq!(callback.call_sid, "CA1");
        assert!(!callback.outbound);
        let transcription = pairs(&[
            ("CallSid", "CA1"),
            ("TranscriptionSid", "TR1"),
            ("TranscriptionStatus", "completed"),
            ("TranscriptionText", "hello"),
            ("RecordingSid", "RE1"),
        ]);
        assert!(matches!(
            read(None, &transcription).unwrap().update,
            CallUpdate::Transcription { .. }
        ));
        assert_eq!(
            read(Some(Event::Recording), &pairs(&[("CallSid", "CA1")])),
            Err(CallbackError::Missing("RecordingSid"))
        );
        assert_eq!(
            read(None, &pairs(&[("From", "+1")])),
            Err(CallbackError::Missing("CallSid"))
        );
        let withheld = pairs(&[
            ("CallSid", "CA1"),
            ("CallStatus", "ringing"),
            ("From", "anonymous"),
        ]);
        assert_eq!(read(None, &withheld).unwrap().caller, None);
        assert_eq!(event_of(Some("event=dial")), Ok(Some(Event::Dial)));
        assert_eq!(event_of(Some("bodySHA256=ab")), Ok(None));
        assert!(event_of(Some("event=bogus")).is_err());
    }
}
