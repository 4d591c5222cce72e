//! A call item as the agent API shows it (`call` on a message): the stored
//! `CallDetails` with times in RFC 3339, like every other time the API
//! gives, and the recording's download URL.

use serde::Serialize;

use super::item::{CallDetails, CallDirection, CallStatus};
use crate::clock::rfc3339;
use crate::ids::Id;

#[derive(Debug, Serialize)]
pub struct CallView {
    pub call_sid: String,
    pub direction: CallDirection,
    pub status: CallStatus,
    pub from: String,
    pub to: String,
    pub duration_secs: Option<u64>,
    pub answered_by: Option<String>,
    pub missed_reason: Option<String>,
    pub started_at: String,
    pub answered_at: Option<String>,
    pub ended_at: Option<String>,
    pub recording: Option<RecordingView>,
    pub transcript: Option<String>,
    pub transcript_status: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RecordingView {
    pub sid: String,
    pub duration_secs: Option<u64>,
    /// The index among the message's attachments.
    pub attachment: u32,
    /// Where agents download it (once its `size` is not 0).
    pub url: String,
}

impl CallView {
    /// The view of `call`, an item of message `message`.
    pub fn new(message: Id, call: CallDetails) -> CallView {
        CallView {
            call_sid: call.call_sid,
            direction: call.direction,
            status: call.status,
            from: call.from,
            to: call.to,
            duration_secs: call.duration_secs,
            answered_by: call.answered_by,
            missed_reason: call.missed_reason,
            started_at: rfc3339(call.started_at),
            answered_at: call.answered_at.map(rfc3339),
            ended_at: call.ended_at.map(rfc3339),
            recording: call.recording.map(|r| RecordingView {
                url: format!("/api/v1/messages/{message}/attachments/{}", r.attachment),
                sid: r.sid,
                duration_secs: r.duration_secs,
                attachment: r.attachment,
            }),
            transcript: call.transcript,
            transcript_status: call.transcript_status,
        }
    }
}
