//! The call item: one phone call shown as one message in the person's
//! conversation, updated in place as the provider's callbacks arrive
//! (PROTOCOLS.md 4.3). This file is sans-IO: `CallDetails::apply` folds
//! one `CallUpdate` into the item and says what changed, so replays and
//! callbacks that arrive out of order end in the same item.
//!
//! Statuses only move forward: `ringing` → `in_progress` → `completed` or
//! `missed`, and a terminal status stays (a late `ringing` or a parent
//! call's `completed` after a voicemail changes nothing). The one
//! exception: a call we marked `missed` only because it ended while still
//! ringing becomes `completed` if the dial outcome then says an agent did
//! answer (the two callbacks crossed).

use serde::{Deserialize, Serialize};

use crate::model::{AttachmentMeta, Millis};

/// Which way the call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    Inbound,
    Outbound,
}

/// Where the call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// The agents' numbers are ringing.
    Ringing,
    /// An agent picked up; the call is going on.
    InProgress,
    /// An agent answered and the call is over.
    Completed,
    /// Nobody answered (maybe a voicemail was left).
    Missed,
}

impl CallStatus {
    fn rank(self) -> u8 {
        match self {
            CallStatus::Ringing => 0,
            CallStatus::InProgress => 1,
            CallStatus::Completed | CallStatus::Missed => 2,
        }
    }

    pub fn is_terminal(self) -> bool {
        self.rank() == 2
    }
}

/// A recording of the call (a voicemail), fetched into the store as one of
/// the message's attachments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// The provider's `RecordingSid` (`RE…`): the key that keeps recording
    /// callbacks idempotent.
    pub sid: String,
    pub duration_secs: Option<u64>,
    /// Its position in the message's `attachments` (served by
    /// `GET /api/v1/messages/{id}/attachments/{index}`).
    pub attachment: u32,
}

/// What the call item carries besides the message's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallDetails {
    /// The provider's `CallSid` (`CA…`).
    pub call_sid: String,
    pub direction: CallDirection,
    pub status: CallStatus,
    /// The caller, in E.164.
    pub from: String,
    /// The number called.
    pub to: String,
    /// Talk time with an agent, in seconds (0 for a missed call).
    pub duration_secs: Option<u64>,
    /// The agent number or SIP address that picked up.
    pub answered_by: Option<String>,
    /// Why nobody answered: the provider's `no-answer`, `busy`, `canceled`,
    /// `failed`, or `hung-up` (the caller gave up while it rang).
    pub missed_reason: Option<String>,
    pub started_at: Millis,
    pub answered_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub recording: Option<Recording>,
    /// The voicemail's transcription, once the provider sends it.
    pub transcript: Option<String>,
    /// `completed` or `failed`, as the transcription callback reported.
    pub transcript_status: Option<String>,
}

/// Why a call was marked missed when it ended while still ringing.
const HUNG_UP: &str = "hung-up";

/// One thing a callback tells about a call.
#[derive(Debug, Clone, PartialEq)]
pub enum CallUpdate {
    /// The call's own `CallStatus` (the incoming-call webhook, or the
    /// number's call status callback), with `CallDuration` when it ended.
    Status {
        status: String,
        duration: Option<u64>,
    },
    /// The `<Dial action>` request: `DialCallStatus`, `DialCallDuration`.
    Dial {
        status: String,
        duration: Option<u64>,
    },
    /// A status callback of one agent's leg (`<Number statusCallback>`):
    /// its `CallStatus`, the agent's number, `CallDuration` when it ended.
    Agent {
        status: String,
        number: Option<String>,
        duration: Option<u64>,
    },
    /// A recording: `<Record action>` or `recordingStatusCallback`.
    Recording {
        sid: String,
        url: String,
        duration: Option<u64>,
        /// `completed`, `in-progress`, `absent` (nothing was recorded).
        status: String,
    },
    /// The `transcribeCallback`.
    Transcription {
        recording_sid: String,
        recording_url: Option<String>,
        text: Option<String>,
        /// `completed` or `failed`.
        status: String,
    },
}

/// What applying an update did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    /// The item changed (so it is written and an event goes out).
    pub changed: bool,
    /// The call just became missed, or a voicemail just arrived: the
    /// conversation is routed like a new message so someone calls back.
    pub follow_up: bool,
    /// The recording to fetch into the attachment at this index (queued
    /// again while its bytes are not stored, so a crash loses nothing).
    pub fetch: Option<(u32, String)>,
}

impl CallDetails {
    /// A new inbound call item.
    pub fn inbound(call_sid: &str, from: &str, to: &str, now: Millis) -> CallDetails {
        CallDetails {
            call_sid: call_sid.to_string(),
            direction: CallDirection::Inbound,
            status: CallStatus::Ringing,
            from: from.to_string(),
            to: to.to_string(),
            duration_secs: None,
            answered_by: None,
            missed_reason: None,
            started_at: now,
            answered_at: None,
            ended_at: None,
            recording: None,
            transcript: None,
            transcript_status: None,
        }
    }

    /// Folds `update` into the item; `attachments` are the message's (a
    /// new recording adds its pending entry there).
    pub fn apply(
        &mut self,
        update: &CallUpdate,
        attachments: &mut Vec<AttachmentMeta>,
        now: Millis,
    ) -> Applied {
        let before = self.clone();
        let was_missed = self.status == CallStatus::Missed;
        let had_voicemail = self.recording.is_some();
        let mut fetch_url = None;
        match update {
            CallUpdate::Status { status, duration } => match status.as_str() {
                "completed" => {
                    self.ended_at.get_or_insert(now);
                    match self.status {
                        CallStatus::Ringing => self.miss(HUNG_UP),
                        CallStatus::InProgress => {
                            self.status = CallStatus::Completed;
                            if self.duration_secs.is_none() {
                                self.duration_secs = self
                                    .answered_at
                                    .map(|at| ((now - at).max(0) / 1000) as u64)
                                    .or(*duration);
                            }
                        }
                        CallStatus::Completed | CallStatus::Missed => {}
                    }
                }
                "busy" | "no-answer" | "failed" | "canceled" => {
                    self.ended_at.get_or_insert(now);
                    self.miss(status);
                }
                // `queued`, `ringing`, `in-progress` of the caller's own
                // leg: the provider answers it to play the dial tone or the
                // voicemail greeting, so it says nothing about agents.
                _ => {}
            },
            CallUpdate::Dial { status, duration } => match status.as_str() {
                "completed" | "answered" => {
                    let crossed = self.missed_reason.as_deref() == Some(HUNG_UP);
                    if !self.status.is_terminal() || crossed {
                        self.status = CallStatus::Completed;
                        self.missed_reason = None;
                        self.answered_at.get_or_insert(now);
                    }
                    if self.status == CallStatus::Completed {
                        if let Some(duration) = duration {
                            self.duration_secs = Some(*duration);
                        }
                    }
                }
                "no-answer" | "busy" | "failed" | "canceled" => self.miss(status),
                _ => {}
            },
            CallUpdate::Agent {
                status,
                number,
                duration,
            } => match status.as_str() {
                "in-progress" | "answered" => {
                    if self.status.rank() < CallStatus::InProgress.rank() {
                        self.status = CallStatus::InProgress;
                        self.answered_at = Some(now);
                    }
                    if self.answered_by.is_none() {
                        self.answered_by = number.clone();
                    }
                }
                "completed" if self.status == CallStatus::InProgress => {
                    self.status = CallStatus::Completed;
                    if let Some(duration) = duration {
                        self.duration_secs = Some(*duration);
                    }
                }
                // One agent's phone not answering is not a missed call:
                // the dial outcome decides.
                _ => {}
            },
            CallUpdate::Recording {
                sid,
                url,
                duration,
                status,
            } => {
                if status != "absent" && status != "failed" {
                    self.miss("no-answer");
                    fetch_url = self.record(sid, url, *duration, attachments);
                }
            }
            CallUpdate::Transcription {
                recording_sid,
                recording_url,
                text,
                status,
            } => {
                self.miss("no-answer");
                if let Some(url) = recording_url {
                    fetch_url = self.record(recording_sid, url, None, attachments);
                }
                let text = text.as_deref().map(str::trim).filter(|t| !t.is_empty());
                match (status.as_str(), text) {
                    ("completed", Some(text)) => {
                        self.transcript = Some(text.to_string());
                        self.transcript_status = Some("completed".into());
                    }
                    _ if self.transcript.is_none() => {
                        self.transcript_status = Some(status.clone());
                    }
                    _ => {}
                }
            }
        }
        let newly_missed = !was_missed && self.status == CallStatus::Missed;
        let new_voicemail = !had_voicemail && self.recording.is_some();
        Applied {
            changed: *self != before,
            follow_up: newly_missed || new_voicemail,
            fetch: fetch_url,
        }
    }

    /// Marks the call missed unless it already ended otherwise.
    fn miss(&mut self, reason: &str) {
        if !self.status.is_terminal() {
            self.status = CallStatus::Missed;
            self.missed_reason = Some(reason.to_string());
            self.duration_secs = Some(0);
        }
    }

    /// Adds the recording (once per call; the same `RecordingSid` again
    /// only fills what was missing). Returns what to fetch while its bytes
    /// are not stored yet.
    fn record(
        &mut self,
        sid: &str,
        url: &str,
        duration: Option<u64>,
        attachments: &mut Vec<AttachmentMeta>,
    ) -> Option<(u32, String)> {
        match self.recording.as_mut().map(|r| (r.sid == sid, r)) {
            Some((true, recording)) => {
                if recording.duration_secs.is_none() {
                    recording.duration_secs = duration;
                }
            }
            // A second recording of one call is not expected from our
            // TwiML; the first one stays.
            Some((false, _)) => return None,
            None => {
                attachments.push(AttachmentMeta {
                    name: Some(format!("voicemail-{sid}.mp3")),
                    content_type: "audio/mpeg".into(),
                    size: 0,
                    fetch_failed: None,
                });
                self.recording = Some(Recording {
                    sid: sid.to_string(),
                    duration_secs: duration,
                    attachment: (attachments.len() - 1) as u32,
                });
            }
        }
        let recording = self.recording.as_ref()?;
        let pending = attachments
            .get(recording.attachment as usize)
            .is_some_and(|a| a.size == 0);
        pending.then(|| (recording.attachment, media_url(url)))
    }

    /// The timeline's text for clients that do not show call items: a
    /// one-line summary, then the transcript.
    pub fn summary(&self) -> String {
        let duration = |secs: u64| format!("{}:{:02}", secs / 60, secs % 60);
        let mut line = match self.status {
            CallStatus::Ringing => "Incoming call, ringing".to_string(),
            CallStatus::InProgress => "Call in progress".to_string(),
            CallStatus::Completed => match self.duration_secs {
                Some(secs) => format!("Call answered ({})", duration(secs)),
                None => "Call answered".to_string(),
            },
            CallStatus::Missed => "Missed call".to_string(),
        };
        if let Some(recording) = &self.recording {
            line.push_str(&match recording.duration_secs {
                Some(secs) => format!("; voicemail ({})", duration(secs)),
                None => "; voicemail".to_string(),
            });
        }
        match &self.transcript {
            Some(transcript) => format!("{line}\n\n{transcript}"),
            None => line,
        }
    }
}

/// The recording's audio as MP3: the provider serves `RecordingUrl` as WAV
/// without an extension and as MP3 with `.mp3` (PROTOCOLS.md 4.2).
fn media_url(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    if lower.ends_with(".mp3") || lower.ends_with(".wav") {
        url.to_string()
    } else {
        format!("{url}.mp3")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: &str) -> CallUpdate {
        CallUpdate::Status {
            status: s.into(),
            duration: None,
        }
    }

    fn dial(s: &str, duration: Option<u64>) -> CallUpdate {
        CallUpdate::Dial {
            status: s.into(),
            duration,
        }
    }

    fn recording() -> CallUpdate {
        CallUpdate::Recording {
            sid: "RE1".into(),
            url: "https://api.example/Recordings/RE1".into(),
            duration: Some(42),
            status: "completed".into(),
        }
    }

    fn transcription() -> CallUpdate {
        CallUpdate::Transcription {
            recording_sid: "RE1".into(),
            recording_url: Some("https://api.example/Recordings/RE1".into()),
            text: Some(" Please call me back ".into()),
            status: "completed".into(),
        }
    }

    fn run(updates: &[CallUpdate]) -> (CallDetails, Vec<AttachmentMeta>, Vec<Applied>) {
        let mut call = CallDetails::inbound("CA1", "+14155550100", "+15005550006", 1_000);
        let mut attachments = Vec::new();
        let applied = updates
            .iter()
            .enumerate()
            .map(|(i, u)| call.apply(u, &mut attachments, 2_000 + i as i64 * 1_000))
            .collect();
        (call, attachments, applied)
    }

    #[test]
    fn an_answered_call_moves_forward_only() {
        let agent = |s: &str, duration| CallUpdate::Agent {
            status: s.into(),
            number: Some("+15550001".into()),
            duration,
        };
        let (call, _, applied) = run(&[
            status("ringing"),
            agent("in-progress", None),
            agent("completed", Some(65)),
            dial("completed", Some(65)),
            status("completed"),
            status("ringing"),
        ]);
        assert_eq!(call.status, CallStatus::Completed);
        assert_eq!(call.duration_secs, Some(65));
        assert_eq!(call.answered_by.as_deref(), Some("+15550001"));
        assert_eq!(call.summary(), "Call answered (1:05)");
        assert!(applied.iter().all(|a| !a.follow_up));
        assert!(!applied[5].changed, "a late ringing changes nothing");
    }

    #[test]
    fn a_voicemail_in_any_order_is_one_missed_call_with_its_recording() {
        // Which updates ask for a call back: becoming missed, and the
        // voicemail's arrival (once each).
        let orders = [
            (
                vec![dial("no-answer", None), recording(), transcription()],
                [true, true, false],
            ),
            (
                vec![transcription(), status("completed"), recording()],
                [true, false, false],
            ),
            (
                vec![recording(), transcription(), dial("no-answer", None)],
                [true, false, false],
            ),
        ];
        for (order, follow_ups) in orders {
            let (call, attachments, applied) = run(&order);
            assert_eq!(call.status, CallStatus::Missed, "{order:?}");
            assert_eq!(call.duration_secs, Some(0));
            assert_eq!(call.recording.as_ref().unwrap().sid, "RE1");
            assert_eq!(call.transcript.as_deref(), Some("Please call me back"));
            assert_eq!(attachments.len(), 1, "one recording: {attachments:?}");
            let asked: Vec<bool> = applied.iter().map(|a| a.follow_up).collect();
            assert_eq!(asked, follow_ups, "{applied:?}");
            assert!(call.summary().ends_with("\n\nPlease call me back"));
        }
    }

    #[test]
    fn replays_change_nothing_but_keep_asking_for_missing_bytes() {
        let (mut call, mut attachments, _) = run(&[dial("busy", None), recording()]);
        let again = call.apply(&recording(), &mut attachments, 9_000);
        assert!(!again.changed);
        assert_eq!(
            again.fetch,
            Some((0, "https://api.example/Recordings/RE1.mp3".into()))
        );
        attachments[0].size = 10;
        assert_eq!(
            call.apply(&recording(), &mut attachments, 9_000).fetch,
            None
        );
        assert_eq!(call.missed_reason.as_deref(), Some("busy"));
    }

    #[test]
    fn a_caller_who_hangs_up_while_ringing_missed_unless_the_dial_says_answered() {
        let (call, _, _) = run(&[status("completed")]);
        assert_eq!(call.status, CallStatus::Missed);
        let (call, _, _) = run(&[status("completed"), dial("answered", Some(30))]);
        assert_eq!(call.status, CallStatus::Completed);
        assert_eq!(call.duration_secs, Some(30));
        let (call, _, _) = run(&[dial("no-answer", None), dial("completed", Some(3))]);
        assert_eq!(call.status, CallStatus::Missed);
        let (call, _, _) = run(&[CallUpdate::Recording {
            sid: "RE2".into(),
            url: "u".into(),
            duration: None,
            status: "absent".into(),
        }]);
        assert_eq!(call.status, CallStatus::Ringing);
        assert!(call.recording.is_none());
    }
}
