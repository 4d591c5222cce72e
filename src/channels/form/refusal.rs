//! Why a form submission was refused, as the poster is told: the status,
//! the error code and message of the JSON answer (or the notice on the
//! page), `Retry-After`, and the reason counted in
//! `switchboard_form_rejections_total`.

use std::time::Duration;

use axum::http::StatusCode;

use super::body::BodyError;
use super::check::FieldError;
use crate::rate_limit::retry_after_secs;

/// Why a submission was not taken (told to the poster).
#[derive(Debug)]
pub enum Refusal {
    Origin(String),
    RateLimited {
        wait: Duration,
        by: &'static str,
    },
    ContactLimit {
        wait: Duration,
        count: u32,
        max: u32,
    },
    Body(BodyError),
    Invalid(Vec<FieldError>),
    Expired,
    Unavailable,
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Origin(_) => StatusCode::FORBIDDEN,
            Refusal::RateLimited { .. } | Refusal::ContactLimit { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Refusal::Body(BodyError::UnsupportedType) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::Body(BodyError::Malformed(_)) => StatusCode::BAD_REQUEST,
            Refusal::Body(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Invalid(_) | Refusal::Expired => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Origin(_) => "origin_not_allowed",
            Refusal::RateLimited { .. } => "rate_limited",
            Refusal::ContactLimit { .. } => "submission_limit",
            Refusal::Body(BodyError::UnsupportedType) => "unsupported_media_type",
            Refusal::Body(BodyError::Malformed(_)) => "bad_request",
            Refusal::Body(_) => "too_large",
            Refusal::Invalid(_) => "invalid",
            Refusal::Expired => "form_expired",
            Refusal::Unavailable => "unavailable",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::Origin(origin) => format!("this form does not take submissions from {origin}"),
            Refusal::RateLimited { wait, by } => format!(
                "too many submissions from this {by}; please try again in {}",
                human(*wait)
            ),
            Refusal::ContactLimit { wait, count, max } => format!(
                "you have sent this form {count} times in the last 24 hours, the most it takes \
                 ({max}); please try again in {}, or answer one of our emails instead",
                human(*wait)
            ),
            Refusal::Body(error) => error.to_string(),
            Refusal::Invalid(errors) if errors.len() == 1 => {
                "one field needs your attention".to_string()
            }
            Refusal::Invalid(errors) => format!("{} fields need your attention", errors.len()),
            Refusal::Expired => {
                "this form has expired; please check your answers and send it again".to_string()
            }
            Refusal::Unavailable => {
                "your message could not be saved just now; please try again in a moment".to_string()
            }
        }
    }

    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Refusal::RateLimited { wait, .. } | Refusal::ContactLimit { wait, .. } => {
                Some(retry_after_secs(*wait))
            }
            Refusal::Unavailable => Some(5),
            _ => None,
        }
    }

    pub fn metric(&self) -> &'static str {
        match self {
            Refusal::Origin(_) => "origin",
            Refusal::RateLimited { by: "address", .. } => "rate_limited_ip",
            Refusal::RateLimited { .. } => "rate_limited_email",
            Refusal::ContactLimit { .. } => "contact_limit",
            Refusal::Body(BodyError::TooLarge { .. } | BodyError::FileTooLarge { .. }) => {
                "too_large"
            }
            Refusal::Body(_) => "malformed",
            Refusal::Invalid(_) => "invalid",
            Refusal::Expired => "expired_token",
            Refusal::Unavailable => "unavailable",
        }
    }
}

/// "3 minutes", "1 hour", "45 seconds".
fn human(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    let (n, unit) = if secs >= 2 * 3600 {
        (secs.div_ceil(3600), "hours")
    } else if secs >= 120 {
        (secs.div_ceil(60), "minutes")
    } else {
        (secs, "seconds")
    };
    if n == 1 {
        format!("1 {}", unit.trim_end_matches('s'))
    } else {
        format!("{n} {unit}")
    }
}

/// The message as a sentence for a page.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// A byte count as people read it.
pub fn size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MB", bytes / (1024 * 1024))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(1)), "1 second");
        assert_eq!(human(Duration::from_secs(45)), "45 seconds");
        assert_eq!(human(Duration::from_secs(600)), "10 minutes");
        assert_eq!(human(Duration::from_secs(86_000)), "24 hours");
    }
}
