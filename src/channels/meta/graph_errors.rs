//! Errors of the Graph API (Messenger Send API, WhatsApp Cloud API), and
//! what the sender does about each: retry later (throttling, the provider's
//! own trouble), fail the message (window and person errors, anything else
//! the provider refuses), or fail it and mark the channel unhealthy (an
//! invalid access token: nothing on the channel can be sent until an admin
//! fixes it). PROTOCOLS.md 1.5, 2.5 and 9.5.

use std::time::Duration;

use serde::Deserialize;

/// `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`;
/// WhatsApp adds `error_data.details`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, thiserror::Error)]
#[error("{}", self.describe())]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
    #[serde(default)]
    pub error_data: Option<ErrorData>,
}

/// WhatsApp's extra detail on an error.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ErrorData {
    #[serde(default)]
    pub details: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphError,
}

impl GraphError {
    /// The error in a response body, if the body is a Graph error.
    pub fn parse(body: &[u8]) -> Option<GraphError> {
        serde_json::from_slice::<Envelope>(body)
            .ok()
            .map(|envelope| envelope.error)
    }

    /// The provider's message with its code, for a delivery status and the
    /// logs: `"(#131047) Re-engagement message (Graph error 131047)"`.
    pub fn describe(&self) -> String {
        let mut text = if self.message.trim().is_empty() {
            "the provider gave no message".to_string()
        } else {
            self.message.trim().to_string()
        };
        if let Some(details) = self
            .error_data
            .as_ref()
            .and_then(|d| d.details.as_deref())
            .filter(|d| !d.trim().is_empty())
        {
            text.push_str(": ");
            text.push_str(details.trim());
        }
        match (self.code, self.error_subcode) {
            (Some(code), Some(sub)) => text.push_str(&format!(" (Graph error {code}/{sub})")),
            (Some(code), None) => text.push_str(&format!(" (Graph error {code})")),
            _ => {}
        }
        text
    }
}

/// What to do after the provider refused a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Temporary: try again, after `after` when the provider said.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Permanent for this message.
    Failed { reason: String },
    /// The access token is invalid: the message fails and the channel is
    /// unhealthy until a send succeeds again.
    InvalidToken { reason: String },
}

/// Graph's invalid or expired access token.
pub const INVALID_TOKEN: i64 = 190;

/// Throttling: `4` application, `17` user, `32` page request limits, `613`
/// calls within the rate limit; WhatsApp's `80007` account, `130429`
/// throughput and `131056` pair rate limits.
const THROTTLED: &[i64] = &[4, 17, 32, 613, 80007, 130429, 131056];

/// The provider's temporary trouble: `1` unknown (possibly temporary), `2`
/// service temporarily unavailable.
const TEMPORARY: &[i64] = &[1, 2];

/// Sends the provider refuses for this message or this person: `10` and
/// `200` permission (`10`/`2018278`: outside the window), `551` person
/// unavailable, `131047` re-engagement (WhatsApp, outside the window) and
/// its on-premises predecessor `470`. They fail at once, whatever the HTTP
/// status says.
const REFUSED: &[i64] = &[10, 200, 470, 551, 131047];

/// Sorts a non-2xx answer of the Graph API.
pub fn classify(status: u16, error: Option<&GraphError>, retry_after: Option<Duration>) -> Verdict {
    let code = error.and_then(|e| e.code);
    let reason = match error {
        Some(error) => error.describe(),
        None => format!("the Graph API answered HTTP {status}"),
    };
    match code {
        Some(INVALID_TOKEN) => {
            return Verdict::InvalidToken {
                reason: format!("the access token is invalid: {reason}"),
            }
        }
        Some(code) if THROTTLED.contains(&code) => {
            return Verdict::Retry {
                reason: format!("rate limited: {reason}"),
                after: retry_after,
            }
        }
        Some(code) if TEMPORARY.contains(&code) => {
            return Verdict::Retry {
                reason,
                after: retry_after,
            }
        }
        Some(code) if REFUSED.contains(&code) => return Verdict::Failed { reason },
        _ => {}
    }
    match status {
        429 => Verdict::Retry {
            reason: format!("rate limited: {reason}"),
            after: retry_after,
        },
        408 | 500..=599 => Verdict::Retry {
            reason,
            after: retry_after,
        },
        300..=399 => Verdict::Failed {
            reason: format!("the Graph API answered a redirect (HTTP {status}), not followed"),
        },
        _ => Verdict::Failed { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: i64, subcode: Option<i64>, message: &str) -> GraphError {
        let body = serde_json::json!({"error": {
            "message": message, "type": "OAuthException", "code": code,
            "error_subcode": subcode, "fbtrace_id": "AbCdEf"
        }});
        GraphError::parse(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn parses_the_documented_shape() {
        let body = br#"{"error":{"message":"(#613) Calls to this api have exceeded the rate limit.","type":"OAuthException","code":613,"error_subcode":1893016,"fbtrace_id":"A1b2"}}"#;
        let parsed = GraphError::parse(body).unwrap();
        assert_eq!(parsed.code, Some(613));
        assert_eq!(parsed.error_subcode, Some(1893016));
        assert_eq!(parsed.kind.as_deref(), Some("OAuthException"));
        assert_eq!(parsed.fbtrace_id.as_deref(), Some("A1b2"));
        assert_eq!(
            parsed.describe(),
            "(#613) Calls to this api have exceeded the rate limit. (Graph error 613/1893016)"
        );
        assert!(GraphError::parse(b"<html>bad gateway</html>").is_none());
        assert!(GraphError::parse(br#"{"error":"nope"}"#).is_none());
    }

    #[test]
    fn whatsapp_details_are_kept() {
        let body = br#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"X"}}"#;
        let parsed = GraphError::parse(body).unwrap();
        let reason = parsed.describe();
        assert!(reason.starts_with("(#131047) Re-engagement message: Message failed"));
        assert!(reason.ends_with("(Graph error 131047)"), "{reason}");
    }

    #[test]
    fn throttling_is_retried() {
        for code in [4, 17, 32, 613, 130429] {
            let verdict = classify(400, Some(&error(code, None, "slow down")), None);
            assert!(
                matches!(verdict, Verdict::Retry { after: None, .. }),
                "{code}: {verdict:?}"
            );
        }
        let after = Some(Duration::from_secs(7));
        assert_eq!(
            classify(429, None, after),
            Verdict::Retry {
                reason: "rate limited: the Graph API answered HTTP 429".into(),
                after
            }
        );
        for status in [500, 502, 503, 504] {
            assert!(matches!(
                classify(status, None, None),
                Verdict::Retry { .. }
            ));
        }
        assert!(matches!(
            classify(
                500,
                Some(&error(2, None, "Service temporarily unavailable")),
                None
            ),
            Verdict::Retry { .. }
        ));
    }

    #[test]
    fn an_invalid_token_fails_and_says_so() {
        let verdict = classify(
            400,
            Some(&error(190, Some(460), "Error validating access token")),
            None,
        );
        let Verdict::InvalidToken { reason } = verdict else {
            panic!("{verdict:?}");
        };
        assert!(reason.contains("Error validating access token"), "{reason}");
        assert!(reason.contains("190/460"), "{reason}");
        // Even when it comes with a 5xx.
        assert!(matches!(
            classify(500, Some(&error(190, None, "x")), None),
            Verdict::InvalidToken { .. }
        ));
    }

    #[test]
    fn window_and_person_errors_fail_with_the_provider_message() {
        for (code, subcode) in [
            (10, Some(2018278)),
            (131047, None),
            (470, None),
            (551, None),
        ] {
            let verdict = classify(400, Some(&error(code, subcode, "outside window")), None);
            let Verdict::Failed { reason } = verdict else {
                panic!("{code}: {verdict:?}");
            };
            assert!(reason.starts_with("outside window"), "{reason}");
        }
        // Whatever the status.
        assert!(matches!(
            classify(503, Some(&error(131047, None, "x")), None),
            Verdict::Failed { .. }
        ));
    }

    #[test]
    fn other_refusals_fail() {
        assert!(matches!(
            classify(400, Some(&error(100, None, "Invalid parameter")), None),
            Verdict::Failed { .. }
        ));
        assert!(matches!(classify(404, None, None), Verdict::Failed { .. }));
        let Verdict::Failed { reason } = classify(302, None, None) else {
            panic!()
        };
        assert!(reason.contains("redirect"));
    }
}
