//! The hosted form page and its thank-you page (sans-IO HTML), and the
//! stylesheet both use. Accessible without script: every input has a
//! `<label for>`, required fields are marked (`*` and `required`), problems
//! are listed in a summary that takes focus (`role="alert"`) and shown next
//! to their field (`aria-invalid`, `aria-describedby`); radio groups are
//! fieldsets with legends; the layout is one responsive column. No inline
//! script or style and nothing from other sites, so the page runs under the
//! strict `Content-Security-Policy` from `content_security_policy`.

use axum::http::header;
use axum::response::IntoResponse;

use super::check::FieldError;
use super::TOKEN_FIELD;
use crate::config::{FieldType, FormChannel, FormField};

/// The stylesheet's path (served by `stylesheet`).
pub const STYLESHEET: &str = "/forms/assets/form.css";

/// What the page shows besides the form's own settings.
#[derive(Debug, Default)]
pub struct PageState<'a> {
    /// Values to fill in again (what was posted, or hidden fields' values
    /// from the page's URL).
    pub values: &'a [(String, String)],
    pub errors: &'a [FieldError],
    /// A problem that is no one field's (too many submissions, an expired
    /// page, a file too large for the whole form).
    pub notice: Option<&'a str>,
    pub token: &'a str,
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The policy the pages are sent with: nothing but our own stylesheet, and
/// the form may post only to us (and be redirected to `redirect_url`).
/// Allowed origins may frame the page.
pub fn content_security_policy(form: &FormChannel) -> String {
    let mut form_action = "'self'".to_string();
    if let Some(origin) = form
        .redirect_url
        .as_deref()
        .and_then(|u| reqwest::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
    {
        form_action.push(' ');
        form_action.push_str(&origin);
    }
    let mut ancestors = "'self'".to_string();
    for origin in &form.allowed_origins {
        ancestors.push(' ');
        ancestors.push_str(origin);
    }
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {form_action}; \
         base-uri 'none'; frame-ancestors {ancestors}"
    )
}

fn head(title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<link rel=\"stylesheet\" href=\"{STYLESHEET}\">\n</head>\n",
        escape(title)
    )
}

fn value_of<'a>(state: &'a PageState, name: &str) -> Option<&'a str> {
    state
        .values
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn error_of<'a>(state: &'a PageState, name: &str) -> Option<&'a str> {
    state
        .errors
        .iter()
        .find(|e| e.field == name)
        .map(|e| e.message.as_str())
}

/// The hosted page of form `channel`.
pub fn render(channel: &str, form: &FormChannel, state: &PageState) -> String {
    let mut html = head(&if state.errors.is_empty() {
        form.title.clone()
    } else {
        format!("Error: {}", form.title)
    });
    html.push_str("<body>\n<main class=\"form-page\">\n");
    html.push_str(&format!("<h1>{}</h1>\n", escape(&form.title)));
    if let Some(description) = &form.description {
        for paragraph in description.split("\n\n") {
            html.push_str(&format!("<p class=\"intro\">{}</p>\n", escape(paragraph)));
        }
    }
    if !state.errors.is_empty() || state.notice.is_some() {
        html.push_str(
            "<div class=\"error-summary\" id=\"error-summary\" role=\"alert\" \
             aria-labelledby=\"error-summary-title\" tabindex=\"-1\" autofocus>\n",
        );
        html.push_str("<h2 id=\"error-summary-title\">There is a problem</h2>\n<ul>\n");
        if let Some(notice) = state.notice {
            html.push_str(&format!("<li>{}</li>\n", escape(notice)));
        }
        for error in state.errors {
            let label = form
                .field(&error.field)
                .map(|f| f.label.as_str())
                .unwrap_or(error.field.as_str());
            let separator = if label.ends_with(['?', ':', '!', '.']) {
                " "
            } else {
                ": "
            };
            html.push_str(&format!(
                "<li><a href=\"#field-{}\">{}{separator}{}</a></li>\n",
                escape(&error.field),
                escape(label),
                escape(&error.message)
            ));
        }
        html.push_str("</ul>\n</div>\n");
    }
    let has_files = form.fields.iter().any(|f| f.kind == FieldType::File);
    let enctype = if has_files {
        "multipart/form-data"
    } else {
        "application/x-www-form-urlencoded"
    };
    html.push_str(&format!(
        "<form method=\"post\" action=\"/forms/{}\" enctype=\"{enctype}\" novalidate>\n",
        escape(channel)
    ));
    if form.fields.iter().any(|f| f.required && !f.hidden) {
        html.push_str(
            "<p class=\"note\">Required fields are marked with \
             <span class=\"required\" aria-hidden=\"true\">*</span><span class=\"visually-hidden\">an asterisk</span>.</p>\n",
        );
    }
    for field in &form.fields {
        html.push_str(&render_field(field, form, state));
    }
    if let Some(honeypot) = &form.honeypot_field {
        html.push_str(&format!(
            "<div class=\"hp\" aria-hidden=\"true\"><label for=\"hp-{0}\">Leave this field empty</label>\
             <input type=\"text\" id=\"hp-{0}\" name=\"{0}\" tabindex=\"-1\" autocomplete=\"off\"></div>\n",
            escape(honeypot)
        ));
    }
    html.push_str(&format!(
        "<input type=\"hidden\" name=\"{TOKEN_FIELD}\" value=\"{}\">\n",
        escape(state.token)
    ));
    html.push_str(&format!(
        "<button type=\"submit\">{}</button>\n</form>\n</main>\n</body>\n</html>\n",
        escape(&form.submit_label)
    ));
    html
}

fn render_field(field: &FormField, form: &FormChannel, state: &PageState) -> String {
    let name = escape(&field.name);
    let given = value_of(state, &field.name);
    if field.hidden {
        let value = given.or(field.value.as_deref()).unwrap_or_default();
        return format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n",
            escape(value)
        );
    }
    let id = format!("field-{name}");
    let error = error_of(state, &field.name);
    let mut described = Vec::new();
    let help = field.help.as_ref().map(|help| {
        described.push(format!("{id}-help"));
        format!("<p class=\"help\" id=\"{id}-help\">{}</p>\n", escape(help))
    });
    let error_html = error.map(|message| {
        described.push(format!("{id}-error"));
        format!(
            "<p class=\"error\" id=\"{id}-error\"><span class=\"visually-hidden\">Error: </span>{}</p>\n",
            escape(message)
        )
    });
    let mut aria = String::new();
    if field.required {
        aria.push_str(" required aria-required=\"true\"");
    }
    if error.is_some() {
        aria.push_str(" aria-invalid=\"true\"");
    }
    if !described.is_empty() {
        aria.push_str(&format!(" aria-describedby=\"{}\"", described.join(" ")));
    }
    let marker = if field.required {
        " <span class=\"required\" aria-hidden=\"true\">*</span>"
    } else {
        " <span class=\"optional\">(optional)</span>"
    };
    let label = format!("{}{marker}", escape(&field.label));
    let class = if error.is_some() {
        "field has-error"
    } else {
        "field"
    };
    let notes = format!(
        "{}{}",
        help.unwrap_or_default(),
        error_html.unwrap_or_default()
    );
    let value = escape(given.or(field.value.as_deref()).unwrap_or_default());
    let placeholder = field
        .placeholder
        .as_deref()
        .map(|p| format!(" placeholder=\"{}\"", escape(p)))
        .unwrap_or_default();
    let autocomplete = if Some(&field.name) == Some(&form.email_field) {
        " autocomplete=\"email\""
    } else if form.name_field.as_deref() == Some(field.name.as_str()) {
        " autocomplete=\"name\""
    } else if field.kind == FieldType::Tel {
        " autocomplete=\"tel\""
    } else {
        ""
    };
    let max = field.max_length;
    match field.kind {
        FieldType::Textarea => format!(
            "<div class=\"{class}\">\n<label for=\"{id}\">{label}</label>\n{notes}\
             <textarea id=\"{id}\" name=\"{name}\" rows=\"6\" maxlength=\"{max}\"{placeholder}{aria}>{value}</textarea>\n</div>\n"
        ),
        FieldType::Select => {
            let mut options = String::from("<option value=\"\">Choose…</option>\n");
            for option in &field.options {
                let selected = if given == Some(option.as_str()) {
                    " selected"
                } else {
                    ""
                };
                options.push_str(&format!(
                    "<option value=\"{0}\"{selected}>{0}</option>\n",
                    escape(option)
                ));
            }
            format!(
                "<div class=\"{class}\">\n<label for=\"{id}\">{label}</label>\n{notes}\
                 <select id=\"{id}\" name=\"{name}\"{aria}>\n{options}</select>\n</div>\n"
            )
        }
        FieldType::Radio => {
            let mut choices = String::new();
            for (i, option) in field.options.iter().enumerate() {
                let checked = if given == Some(option.as_str()) {
                    " checked"
                } else {
                    ""
                };
                // The first radio carries the id the error summary links to.
                let choice_id = if i == 0 {
                    id.clone()
                } else {
                    format!("{id}-{i}")
                };
                let required = if field.required { " required" } else { "" };
                choices.push_str(&format!(
                    "<div class=\"choice\"><input type=\"radio\" id=\"{choice_id}\" name=\"{name}\" value=\"{0}\"{checked}{required}>\
                     <label for=\"{choice_id}\">{0}</label></div>\n",
                    escape(option)
                ));
            }
            let invalid = if error.is_some() {
                " aria-invalid=\"true\""
            } else {
                ""
            };
            let described = if described.is_empty() {
                String::new()
            } else {
                format!(" aria-describedby=\"{}\"", described.join(" "))
            };
            format!(
                "<fieldset class=\"{class}\"{described}{invalid}>\n<legend>{label}</legend>\n{notes}{choices}</fieldset>\n"
            )
        }
        FieldType::Checkbox => {
            let checked = if given.is_some_and(|v| !v.is_empty()) {
                " checked"
            } else {
                ""
            };
            format!(
                "<div class=\"{class} checkbox\">\n{notes}<input type=\"checkbox\" id=\"{id}\" name=\"{name}\" value=\"on\"{checked}{aria}>\
                 <label for=\"{id}\">{label}</label>\n</div>\n"
            )
        }
        FieldType::File => format!(
            "<div class=\"{class}\">\n<label for=\"{id}\">{label}</label>\n{notes}\
             <input type=\"file\" id=\"{id}\" name=\"{name}\"{aria}>\n</div>\n"
        ),
        kind => {
            let input_type = match kind {
                FieldType::Email => "email",
                FieldType::Tel => "tel",
                FieldType::Url => "url",
                FieldType::Number => "number",
                FieldType::Date => "date",
                _ => "text",
            };
            let maxlength = if kind == FieldType::Number || kind == FieldType::Date {
                String::new()
            } else {
                format!(" maxlength=\"{max}\"")
            };
            format!(
                "<div class=\"{class}\">\n<label for=\"{id}\">{label}</label>\n{notes}\
                 <input type=\"{input_type}\" id=\"{id}\" name=\"{name}\" value=\"{value}\"{maxlength}{placeholder}{autocomplete}{aria}>\n</div>\n"
            )
        }
    }
}

/// The page a browser lands on after a submission (without `redirect_url`).
pub fn thanks(form: &FormChannel) -> String {
    let mut html = head(&form.title);
    html.push_str(&format!(
        "<body>\n<main class=\"form-page\">\n<h1>{}</h1>\n\
         <div class=\"success\" role=\"status\"><p>{}</p></div>\n</main>\n</body>\n</html>\n",
        escape(&form.title),
        escape(&form.success_message)
    ));
    html
}

/// A page for a refusal that has no form to show again (unknown form).
pub fn plain(title: &str, message: &str) -> String {
    let mut html = head(title);
    html.push_str(&format!(
        "<body>\n<main class=\"form-page\">\n<h1>{}</h1>\n<p role=\"alert\">{}</p>\n</main>\n</body>\n</html>\n",
        escape(title),
        escape(message)
    ));
    html
}

/// `GET /forms/assets/form.css`.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        CSS,
    )
}

/// One column that fits a phone, large touch targets, visible focus, and
/// colours with enough contrast in light and dark mode.
pub const CSS: &str = r#":root { color-scheme: light dark; --fg: #1b1f23; --bg: #f6f7f9; --card: #fff; --muted: #4a5260; --line: #8a93a3; --accent: #1f5fbf; --error: #b3261e; --focus: #ffbf47; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8eaed; --bg: #15171a; --card: #1e2125; --muted: #b7bdc6; --line: #6f7885; --accent: #8ab4f8; --error: #ff8a80; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.form-page { max-width: 40rem; margin: 2rem auto; padding: 1.5rem; background: var(--card); border-radius: 0.5rem; box-shadow: 0 1px 3px rgba(0,0,0,.15); }
@media (max-width: 40rem) { .form-page { margin: 0; border-radius: 0; box-shadow: none; padding: 1rem; } }
h1 { font-size: 1.75rem; margin: 0 0 0.5rem; }
.intro, .note { color: var(--muted); }
.field { margin: 1.25rem 0; border: 0; padding: 0; }
label, legend { display: block; font-weight: 600; margin-bottom: 0.25rem; }
.checkbox label, .choice label { display: inline; font-weight: 400; margin-left: 0.5rem; }
.choice { margin: 0.25rem 0; }
.required { color: var(--error); }
.optional { color: var(--muted); font-weight: 400; }
.help { color: var(--muted); margin: 0 0 0.25rem; font-size: 0.95rem; }
input[type=text], input[type=email], input[type=tel], input[type=url], input[type=number], input[type=date], select, textarea { width: 100%; min-height: 2.75rem; padding: 0.5rem 0.75rem; font: inherit; color: inherit; background: var(--card); border: 2px solid var(--line); border-radius: 0.25rem; }
input[type=checkbox], input[type=radio] { width: 1.25rem; height: 1.25rem; vertical-align: middle; }
input[type=file] { font: inherit; }
textarea { resize: vertical; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.has-error input, .has-error select, .has-error textarea { border-color: var(--error); }
.error { color: var(--error); font-weight: 600; margin: 0 0 0.25rem; }
.error-summary { border: 3px solid var(--error); padding: 0.75rem 1rem; margin: 1rem 0; border-radius: 0.25rem; }
.error-summary h2 { font-size: 1.2rem; margin: 0 0 0.5rem; }
.error-summary a { color: var(--error); }
.success { border-left: 5px solid var(--accent); padding: 0.5rem 1rem; }
button { min-height: 2.75rem; padding: 0.5rem 1.5rem; font: inherit; font-weight: 600; color: #fff; background: var(--accent); border: 0; border-radius: 0.25rem; cursor: pointer; }
@media (prefers-color-scheme: dark) { button { color: #15171a; } }
.visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.hp { display: none; }
"#;
