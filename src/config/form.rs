//! Web form channels (`kind = "form"`): a contact form on the team's site,
//! hosted by Switchboard (`GET /forms/{id}`) or the site's own HTML posting
//! to `POST /forms/{id}`. Their settings as written (`RawFormChannel`, with
//! one `[[channels.fields]]` table per field) and validated (`FormChannel`):
//! which fields give the contact's email, name, the subject and message,
//! the email channel answers go out through (`reply_via`), and the spam
//! protection (honeypot, render token, rate limits, per-contact limit).

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::raw::{RawRouting, RawTickets};
use super::secret::{self, Secret};
use super::workspace::{Channel, ChannelKind, EmailChannel};

/// Defaults, documented in README.md ("Web forms").
pub const DEFAULT_MIN_FILL_SECS: u64 = 2;
pub const DEFAULT_TOKEN_MAX_AGE_SECS: u64 = 6 * 3600;
pub const DEFAULT_PER_IP: u32 = 10;
pub const DEFAULT_PER_EMAIL: u32 = 5;
pub const DEFAULT_RATE_WINDOW_SECS: u64 = 600;
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
pub const DEFAULT_MAX_BODY_BYTES: u64 = 25 * 1024 * 1024;
/// The window of `max_submissions_per_contact`: a rolling 24 hours.
pub const CONTACT_WINDOW: Duration = Duration::from_secs(24 * 3600);
const MAX_FIELDS: usize = 64;
const MAX_OPTIONS: usize = 200;

/// One `[[channels]]` entry with `kind = "form"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFormChannel {
    pub id: String,
    pub inbox: String,
    /// The hosted page's heading, and the subject when no `subject_field`
    /// is given or it is left empty.
    pub title: Option<String>,
    /// A paragraph under the heading.
    pub description: Option<String>,
    pub submit_label: Option<String>,
    /// What the thank-you page says.
    pub success_message: Option<String>,
    #[serde(default)]
    pub fields: Vec<RawFormField>,
    pub email_field: String,
    pub name_field: Option<String>,
    pub subject_field: Option<String>,
    pub message_field: Option<String>,
    /// The email channel agents' answers go out through.
    pub reply_via: String,
    /// Sites whose pages may post to the form (`https://www.example.com`).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Where browsers go after a submission (default: a thank-you page).
    pub redirect_url: Option<String>,
    /// Submissions one contact may make in a rolling 24 hours.
    pub max_submissions_per_contact: Option<u32>,
    pub honeypot_field: Option<String>,
    #[serde(default)]
    pub require_form_token: bool,
    pub min_fill_secs: Option<u64>,
    pub token_max_age_secs: Option<u64>,
    pub token_secret_file: Option<String>,
    pub token_secret_env: Option<String>,
    pub rate_limits: Option<RawFormRateLimits>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub max_file_bytes: Option<u64>,
    pub max_body_bytes: Option<u64>,
    pub routing: Option<RawRouting>,
    pub tickets: Option<RawTickets>,
}

/// `[channels.rate_limits]`: submissions per `window_secs`; 0 turns a
/// limit off.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawFormRateLimits {
    pub per_ip: Option<u32>,
    pub per_email: Option<u32>,
    pub window_secs: Option<u64>,
}

/// One `[[channels.fields]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFormField {
    pub name: String,
    pub label: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub options: Vec<String>,
    pub placeholder: Option<String>,
    /// A hint shown under the field.
    pub help: Option<String>,
    /// The initial value (for hidden fields: the value unless the page URL
    /// or the posting site gives one).
    pub value: Option<String>,
    pub max_length: Option<usize>,
}

/// What kind of input a field is.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    #[default]
    Text,
    Email,
    Tel,
    Url,
    Number,
    Date,
    Textarea,
    Select,
    Radio,
    Checkbox,
    File,
    Hidden,
}

impl FieldType {
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Email => "email",
            FieldType::Tel => "tel",
            FieldType::Url => "url",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::Textarea => "textarea",
            FieldType::Select => "select",
            FieldType::Radio => "radio",
            FieldType::Checkbox => "checkbox",
            FieldType::File => "file",
            FieldType::Hidden => "hidden",
        }
    }

    fn default_max_length(self) -> usize {
        match self {
            FieldType::Textarea => 10_000,
            FieldType::Email => 254,
            FieldType::Url => 2_000,
            _ => 500,
        }
    }
}

/// A validated field.
#[derive(Debug, Clone, PartialEq)]
pub struct FormField {
    pub name: String,
    /// What people see (the name for hidden fields without a label).
    pub label: String,
    pub kind: FieldType,
    pub required: bool,
    /// Stored with the submission, never shown on the page or in the text.
    pub hidden: bool,
    pub options: Vec<String>,
    pub placeholder: Option<String>,
    pub help: Option<String>,
    pub value: Option<String>,
    /// In characters.
    pub max_length: usize,
}

/// Per-IP and per-email submission limits over `window`; 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormRateLimits {
    pub per_ip: u32,
    pub per_email: u32,
    pub window: Duration,
}

#[derive(Debug, Clone)]
pub struct FormChannel {
    pub title: String,
    pub description: Option<String>,
    pub submit_label: String,
    pub success_message: String,
    pub fields: Vec<FormField>,
    pub email_field: String,
    pub name_field: Option<String>,
    pub subject_field: Option<String>,
    pub message_field: Option<String>,
    pub reply_via: String,
    /// The `reply_via` channel's settings (filled in once every channel is
    /// read; `None` only while validating).
    pub reply_email: Option<EmailChannel>,
    /// Origins as `scheme://host[:port]`, lower case.
    pub allowed_origins: Vec<String>,
    pub redirect_url: Option<String>,
    pub max_submissions_per_contact: Option<u32>,
    pub honeypot_field: Option<String>,
    pub require_form_token: bool,
    pub min_fill: Duration,
    pub token_max_age: Duration,
    /// `None`: a secret generated once and kept in the store.
    pub token_secret: Option<Secret>,
    pub rate_limits: FormRateLimits,
    pub trusted_proxies: Vec<IpAddr>,
    pub max_file_bytes: usize,
    pub max_body_bytes: usize,
    /// Where this channel is in the config (`channels[3]`), for errors
    /// found after every channel is read.
    pub config_path: String,
}

impl FormChannel {
    pub fn field(&self, name: &str) -> Option<&FormField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

type Found = Vec<(String, String)>;

/// Validates one form channel; every problem goes to `found` with its path.
pub(super) fn form(
    raw: RawFormChannel,
    path: &str,
    base: &Path,
    found: &mut Found,
) -> Option<FormChannel> {
    let problems_before = found.len();
    let mut add = |key: String, message: String| found.push((key, message));
    if raw.fields.len() > MAX_FIELDS {
        add(
            format!("{path}.fields"),
            format!("at most {MAX_FIELDS} fields"),
        );
    }
    let mut fields: Vec<FormField> = Vec::new();
    for (i, f) in raw.fields.into_iter().enumerate() {
        let at = format!("{path}.fields[{i}]");
        if !valid_name(&f.name) {
            add(
                format!("{at}.name"),
                format!(
                    "\"{}\" is not a field name (letters, digits, '-', '_', '.'; not starting with '_')",
                    f.name
                ),
            );
        }
        if fields.iter().any(|other| other.name == f.name) {
            add(
                format!("{at}.name"),
                format!("duplicate field \"{}\"", f.name),
            );
        }
        let hidden = f.hidden || f.kind == FieldType::Hidden;
        let label = match f.label.map(|l| l.trim().to_string()) {
            Some(label) if !label.is_empty() => label,
            _ if hidden => f.name.clone(),
            _ => {
                add(
                    format!("{at}.label"),
                    "missing: every visible field needs a label".into(),
                );
                f.name.clone()
            }
        };
        let with_options = matches!(f.kind, FieldType::Select | FieldType::Radio);
        if with_options && f.options.is_empty() {
            add(
                format!("{at}.options"),
                format!("a {} field needs options", f.kind.name()),
            );
        }
        if !with_options && !f.options.is_empty() {
            add(
                format!("{at}.options"),
                "only select and radio fields take options".into(),
            );
        }
        if f.options.len() > MAX_OPTIONS {
            add(
                format!("{at}.options"),
                format!("at most {MAX_OPTIONS} options"),
            );
        }
        if f.options.iter().any(|o| o.trim().is_empty()) {
            add(format!("{at}.options"), "options must not be empty".into());
        }
        if hidden && f.kind == FieldType::File {
            add(
                format!("{at}.hidden"),
                "a file field cannot be hidden".into(),
            );
        }
        if hidden && f.required && f.value.is_none() {
            add(
                format!("{at}.required"),
                "a required hidden field needs a `value`".into(),
            );
        }
        let max_length = f.max_length.unwrap_or(f.kind.default_max_length());
        if max_length == 0 {
            add(format!("{at}.max_length"), "must be greater than 0".into());
        }
        fields.push(FormField {
            name: f.name,
            label,
            kind: f.kind,
            required: f.required,
            hidden,
            options: f
                .options
                .into_iter()
                .map(|o| o.trim().to_string())
                .collect(),
            placeholder: f.placeholder,
            help: f.help,
            value: f.value,
            max_length,
        });
    }

    let named = |key: &str, name: &str, allowed: &[FieldType], found: &mut Found| -> bool {
        match fields.iter().find(|f| f.name == name) {
            None => {
                found.push((
                    format!("{path}.{key}"),
                    format!("no field \"{name}\" in [[channels.fields]]"),
                ));
                false
            }
            Some(field) if field.hidden || !allowed.contains(&field.kind) => {
                let kinds: Vec<&str> = allowed.iter().map(|k| k.name()).collect();
                found.push((
                    format!("{path}.{key}"),
                    format!(
                        "field \"{name}\" must be a visible field of type {}",
                        kinds.join(" or ")
                    ),
                ));
                false
            }
            Some(_) => true,
        }
    };
    named("email_field", &raw.email_field, &[FieldType::Email], found);
    let text_like = [FieldType::Text, FieldType::Select, FieldType::Radio];
    if let Some(name) = &raw.name_field {
        named("name_field", name, &[FieldType::Text], found);
    }
    if let Some(name) = &raw.subject_field {
        named("subject_field", name, &text_like, found);
    }
    if let Some(name) = &raw.message_field {
        named(
            "message_field",
            name,
            &[FieldType::Textarea, FieldType::Text],
            found,
        );
    }
    // The email is the contact's key and the reply route: always required.
    if let Some(field) = fields.iter_mut().find(|f| f.name == raw.email_field) {
        field.required = true;
    }
    if let Some(name) = &raw.honeypot_field {
        if !valid_name(name) {
            found.push((
                format!("{path}.honeypot_field"),
                format!("\"{name}\" is not a field name"),
            ));
        }
        if fields.iter().any(|f| &f.name == name) {
            found.push((
                format!("{path}.honeypot_field"),
                format!("\"{name}\" is a real field; the honeypot must be a name of its own"),
            ));
        }
    }
    if raw.reply_via.trim().is_empty() {
        found.push((
            format!("{path}.reply_via"),
            "must name an email channel".into(),
        ));
    }
    let allowed_origins = raw
        .allowed_origins
        .iter()
        .enumerate()
        .filter_map(|(i, text)| match origin(text) {
            Ok(origin) => Some(origin),
            Err(message) => {
                found.push((format!("{path}.allowed_origins[{i}]"), message));
                None
            }
        })
        .collect();
    let redirect_url =
        raw.redirect_url
            .as_deref()
            .and_then(|text| match reqwest::Url::parse(text.trim()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                    Some(url.to_string())
                }
                _ => {
                    found.push((
                        format!("{path}.redirect_url"),
                        format!("\"{text}\" is not an http:// or https:// URL"),
                    ));
                    None
                }
            });
    if raw.max_submissions_per_contact == Some(0) {
        found.push((
            format!("{path}.max_submissions_per_contact"),
            "must be greater than 0 (leave it out for no limit)".into(),
        ));
    }
    let token_secret = if raw.token_secret_file.is_some() || raw.token_secret_env.is_some() {
        let secret = secret::load(
            raw.token_secret_file.as_deref(),
            raw.token_secret_env.as_deref(),
            base,
            path,
            "token_secret",
            found,
        );
        if let Some(secret) = &secret {
            if secret.expose().len() < 16 {
                found.push((
                    format!("{path}.token_secret_file"),
                    "the secret must be at least 16 characters".into(),
                ));
            }
        }
        secret
    } else {
        None
    };
    let min_fill_secs = raw.min_fill_secs.unwrap_or(DEFAULT_MIN_FILL_SECS);
    let max_age_secs = raw.token_max_age_secs.unwrap_or(DEFAULT_TOKEN_MAX_AGE_SECS);
    if max_age_secs <= min_fill_secs {
        found.push((
            format!("{path}.token_max_age_secs"),
            "must be longer than min_fill_secs".into(),
        ));
    }
    let limits = raw.rate_limits.unwrap_or_default();
    let window_secs = limits.window_secs.unwrap_or(DEFAULT_RATE_WINDOW_SECS);
    if window_secs == 0 {
        found.push((
            format!("{path}.rate_limits.window_secs"),
            "must be greater than 0".into(),
        ));
    }
    let trusted_proxies = raw
        .trusted_proxies
        .iter()
        .enumerate()
        .filter_map(|(i, text)| match text.trim().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                found.push((
                    format!("{path}.trusted_proxies[{i}]"),
                    format!("\"{text}\" is not an IP address"),
                ));
                None
            }
        })
        .collect();
    let max_file_bytes = raw.max_file_bytes.unwrap_or(DEFAULT_MAX_FILE_BYTES);
    let max_body_bytes = raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
    if max_file_bytes == 0 || max_body_bytes == 0 {
        found.push((
            format!("{path}.max_body_bytes"),
            "max_file_bytes and max_body_bytes must be greater than 0".into(),
        ));
    }
    if found.len() > problems_before {
        return None;
    }
    Some(FormChannel {
        title: non_empty(raw.title).unwrap_or_else(|| "Contact us".into()),
        description: non_empty(raw.description),
        submit_label: non_empty(raw.submit_label).unwrap_or_else(|| "Send".into()),
        success_message: non_empty(raw.success_message).unwrap_or_else(|| {
            "Thank you. We received your message and will answer you by email.".into()
        }),
        fields,
        email_field: raw.email_field,
        name_field: raw.name_field,
        subject_field: raw.subject_field,
        message_field: raw.message_field,
        reply_via: raw.reply_via.trim().to_string(),
        reply_email: None,
        allowed_origins,
        redirect_url,
        max_submissions_per_contact: raw.max_submissions_per_contact,
        honeypot_field: raw.honeypot_field,
        require_form_token: raw.require_form_token,
        min_fill: Duration::from_secs(min_fill_secs),
        token_max_age: Duration::from_secs(max_age_secs),
        token_secret,
        rate_limits: FormRateLimits {
            per_ip: limits.per_ip.unwrap_or(DEFAULT_PER_IP),
            per_email: limits.per_email.unwrap_or(DEFAULT_PER_EMAIL),
            window: Duration::from_secs(window_secs),
        },
        trusted_proxies,
        max_file_bytes: usize::try_from(max_file_bytes).unwrap_or(usize::MAX),
        max_body_bytes: usize::try_from(max_body_bytes).unwrap_or(usize::MAX),
        config_path: path.to_string(),
    })
}

/// Once every channel is read: each form's `reply_via` must name an email
/// channel, whose settings the form keeps for its answers. A form whose
/// reply channel is in another inbox works, but a customer's answer to an
/// agent's email then lands in that inbox: worth a warning.
pub(super) fn link_reply_channels(
    channels: &mut [Channel],
    found: &mut Found,
    warnings: &mut Vec<String>,
) {
    let emails: Vec<(String, String, EmailChannel)> = channels
        .iter()
        .filter_map(|c| match &c.kind {
            ChannelKind::Email(email) => Some((c.id.clone(), c.inbox.clone(), email.clone())),
            _ => None,
        })
        .collect();
    for channel in channels.iter_mut() {
        let ChannelKind::Form(form) = &mut channel.kind else {
            continue;
        };
        match emails.iter().find(|(id, _, _)| *id == form.reply_via) {
            Some((id, inbox, email)) => {
                if *inbox != channel.inbox {
                    warnings.push(format!(
                        "form channel \"{}\" replies via \"{id}\" of inbox \"{inbox}\": \
                         customers' answers to those emails land in \"{inbox}\"",
                        channel.id
                    ));
                }
                form.reply_email = Some(email.clone());
            }
            None => found.push((
                format!("{}.reply_via", form.config_path),
                format!("no email channel \"{}\"", form.reply_via),
            )),
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// `scheme://host[:port]` in lower case, as browsers send it in `Origin`.
fn origin(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text.trim())
        .map_err(|_| format!("\"{text}\" is not an origin such as https://www.example.com"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("\"{text}\" must be an http:// or https:// origin"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "\"{text}\" must be an origin only (scheme, host and port), without a path"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
#[path = "form_tests.rs"]
mod tests;
