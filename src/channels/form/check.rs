//! Checking a submission against the form's fields (sans-IO): required
//! fields present, values of the right shape (email, tel, url, number, date,
//! one of the options), lengths capped, no links or HTML in the name; then
//! the pieces of the message: the contact's email and name, the subject, the
//! text (the message field, then every other visible field as a
//! `Label: value` line) and the hidden fields, which are kept with the
//! submission but never put in the text. Every problem is reported against
//! its field, so the page can show each next to its input.

use serde::Serialize;

use super::body::{Submitted, UploadedFile};
use crate::config::{FieldType, FormChannel, FormField};

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// One field's value as submitted (after checking).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub hidden: bool,
    pub value: String,
}

/// A submission that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Normalised (lower case).
    pub email: String,
    pub name: Option<String>,
    pub subject: String,
    pub text: String,
    /// Every field that has a value, visible and hidden, in form order.
    pub entries: Vec<Entry>,
    pub files: Vec<UploadedFile>,
}

/// What people are told for each kind of problem.
fn problem(field: &FormField, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.name.clone(),
        message: message.into(),
    }
}

fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "on" | "true" | "yes" | "1" | "checked"
    )
}

/// Checks `submitted` against `form`.
pub fn check(form: &FormChannel, submitted: &Submitted) -> Result<Checked, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    let mut files = Vec::new();
    for field in &form.fields {
        match field.kind {
            FieldType::File => {
                let file = submitted.files.iter().find(|f| f.field == field.name);
                match file {
                    Some(file) => {
                        let name = file.name.clone().unwrap_or_else(|| "attachment".into());
                        entries.push(entry(field, format!("{name} (attached)")));
                        files.push(file.clone());
                    }
                    None if field.required => errors.push(problem(field, "Please choose a file.")),
                    None => {}
                }
                continue;
            }
            FieldType::Checkbox if !field.hidden => {
                let checked = submitted.value(&field.name).is_some_and(truthy);
                if field.required && !checked {
                    errors.push(problem(field, "Please tick this box to continue."));
                }
                entries.push(entry(field, if checked { "Yes" } else { "No" }.into()));
                continue;
            }
            _ => {}
        }
        let given = submitted.value(&field.name).map(str::trim);
        let value = match (given, &field.value) {
            (Some(value), _) => value.to_string(),
            (None, Some(default)) if field.hidden => default.clone(),
            (None, _) => {
                if field.required {
                    errors.push(problem(field, "Please fill in this field."));
                }
                continue;
            }
        };
        if field.hidden {
            // Set by the page, not typed: capped, never refused.
            let value: String = value.chars().take(field.max_length).collect();
            entries.push(entry(field, value));
            continue;
        }
        let length = value.chars().count();
        if length > field.max_length {
            errors.push(problem(
                field,
                format!(
                    "Please shorten this to {} characters or fewer (it has {length}).",
                    field.max_length
                ),
            ));
            continue;
        }
        match shape(field, &value, form) {
            Ok(value) => entries.push(entry(field, value)),
            Err(message) => errors.push(problem(field, message)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let value_of = |name: &Option<String>| {
        name.as_ref().and_then(|name| {
            entries
                .iter()
                .find(|e| &e.name == name)
                .map(|e| e.value.clone())
        })
    };
    let email = value_of(&Some(form.email_field.clone())).unwrap_or_default();
    let name = value_of(&form.name_field);
    let subject = value_of(&form.subject_field).unwrap_or_else(|| form.title.clone());
    let message = value_of(&form.message_field);
    let own = [
        Some(&form.email_field),
        form.name_field.as_ref(),
        form.subject_field.as_ref(),
        form.message_field.as_ref(),
    ];
    let lines: Vec<String> = entries
        .iter()
        .filter(|e| !e.hidden && !own.contains(&Some(&e.name)))
        .map(|e| format!("{}: {}", e.label, e.value))
        .collect();
    let text = match (message, lines.is_empty()) {
        (Some(message), true) => message,
        (Some(message), false) => format!("{message}\n\n{}", lines.join("\n")),
        (None, false) => lines.join("\n"),
        (None, true) => "(The form was sent without a message.)".to_string(),
    };
    Ok(Checked {
        email,
        name,
        subject,
        text,
        entries,
        files,
    })
}

fn entry(field: &FormField, value: String) -> Entry {
    Entry {
        name: field.name.clone(),
        label: field.label.clone(),
        kind: field.kind.name(),
        hidden: field.hidden,
        value,
    }
}

/// The value in its checked shape, or what to tell the person.
fn shape(field: &FormField, value: &str, form: &FormChannel) -> Result<String, String> {
    let multiline = field.kind == FieldType::Textarea;
    if value
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err("Please remove the special characters from this field.".into());
    }
    match field.kind {
        FieldType::Email => email(value)
            .ok_or_else(|| "Please enter an email address such as name@example.com.".into()),
        FieldType::Tel => {
            let allowed = value.chars().enumerate().all(|(i, c)| {
                c.is_ascii_digit()
                    || matches!(c, ' ' | '-' | '(' | ')' | '.' | '/')
                    || (c == '+' && i == 0)
            });
            let digits = value.chars().filter(char::is_ascii_digit).count();
            if allowed && (5..=20).contains(&digits) {
                Ok(value.to_string())
            } else {
                Err("Please enter a phone number such as +1 415 555 0100.".into())
            }
        }
        FieldType::Url => match reqwest::Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Ok(value.to_string())
            }
            _ => Err("Please enter a web address such as https://example.com.".into()),
        },
        FieldType::Number => match value.parse::<f64>() {
            Ok(number) if number.is_finite() => Ok(value.to_string()),
            _ => Err("Please enter a number.".into()),
        },
        FieldType::Date => value
            .parse::<jiff::civil::Date>()
            .map(|date| date.to_string())
            .map_err(|_| "Please enter a date as YYYY-MM-DD.".into()),
        FieldType::Select | FieldType::Radio => field
            .options
            .iter()
            .find(|option| option.as_str() == value)
            .cloned()
            .ok_or_else(|| "Please choose one of the options.".into()),
        FieldType::Text if form.name_field.as_deref() == Some(field.name.as_str()) => {
            let lower = value.to_ascii_lowercase();
            if ["://", "www.", "<", ">", "href="]
                .iter()
                .any(|bad| lower.contains(bad))
            {
                Err("A name cannot contain links or HTML.".into())
            } else {
                Ok(value.to_string())
            }
        }
        _ => Ok(value.to_string()),
    }
}

/// A plausible email address, normalised: one `@`, no spaces, a dot in the
/// domain.
fn email(value: &str) -> Option<String> {
    if value.contains(char::is_whitespace) || value.matches('@').count() != 1 {
        return None;
    }
    let normalized = crate::email_address::normalize(value)?;
    let (_, domain) = normalized.split_once('@')?;
    let labels_ok = domain
        .split('.')
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    (domain.contains('.') && labels_ok).then_some(normalized)
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
