use crate::config::{ChannelKind, FieldType};

const BASE: &str = r#"
    [[channels]]
    id = "mail"
    inbox = "support"
    kind = "email"
    address = "support@example.com"
    [[channels]]
    id = "sms"
    inbox = "support"
    kind = "sms"
    account_sid = "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    auth_token_file = "token"
    from = "+14155550100"
    public_url = "https://help.example.com/webhooks/sms"
"#;

const FORM: &str = r#"
    [[channels]]
    id = "contact"
    inbox = "support"
    kind = "form"
    email_field = "email"
    name_field = "name"
    message_field = "message"
    reply_via = "mail"
    allowed_origins = ["https://www.example.com/"]
    honeypot_field = "website"
    [[channels.fields]]
    name = "name"
    label = "Your name"
    [[channels.fields]]
    name = "email"
    label = "Email"
    type = "email"
    [[channels.fields]]
    name = "message"
    label = "Message"
    type = "textarea"
    required = true
    [[channels.fields]]
    name = "utm_source"
    type = "hidden"
"#;

fn parse(text: &str) -> Result<crate::config::Config, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "12345\n").unwrap();
    crate::config::parse(
        &format!("{}{BASE}{text}", crate::config::TEST_WORKSPACE),
        dir.path(),
    )
    .map_err(|e| e.problems().join("\n"))
}

#[test]
fn a_form_is_validated_into_its_settings() {
    let config = parse(FORM).unwrap();
    let channel = config.workspace.channel("contact").unwrap();
    let ChannelKind::Form(form) = &channel.kind else {
        panic!("{channel:?}")
    };
    assert_eq!(channel.kind.name(), "form");
    assert_eq!(form.fields.len(), 4);
    let email = form.field("email").unwrap();
    assert!(email.required, "the email field is always required");
    assert_eq!(email.kind, FieldType::Email);
    let hidden = form.field("utm_source").unwrap();
    assert!(hidden.hidden);
    assert_eq!(hidden.label, "utm_source");
    assert_eq!(form.allowed_origins, ["https://www.example.com"]);
    assert_eq!(
        form.reply_email.as_ref().unwrap().address,
        "support@example.com"
    );
    assert_eq!(form.rate_limits.per_ip, 10);
    assert_eq!(form.rate_limits.per_email, 5);
    assert_eq!(form.min_fill.as_secs(), 2);
    assert!(form.token_secret.is_none());
    assert_eq!(form.title, "Contact us");
}

#[test]
fn reply_via_must_name_an_email_channel() {
    for (reply_via, expected) in [
        ("sms", "channels[2].reply_via: no email channel \"sms\""),
        ("nope", "channels[2].reply_via: no email channel \"nope\""),
    ] {
        let text = FORM.replace(
            "reply_via = \"mail\"",
            &format!("reply_via = \"{reply_via}\""),
        );
        let errors = parse(&text).unwrap_err();
        assert!(errors.contains(expected), "{expected} in:\n{errors}");
    }
}

#[test]
fn every_problem_is_listed_with_its_path() {
    let text = FORM
        .replace("email_field = \"email\"", "email_field = \"message\"")
        .replace("name_field = \"name\"", "name_field = \"missing\"")
        .replace(
            "honeypot_field = \"website\"",
            "honeypot_field = \"email\"\nredirect_url = \"ftp://x\"\nmax_submissions_per_contact = 0",
        )
        .replace("https://www.example.com/", "https://www.example.com/contact")
        .replace("label = \"Your name\"\n", "")
        .replace("type = \"hidden\"", "type = \"select\"");
    let errors = parse(&text).unwrap_err();
    for expected in [
        "channels[2].email_field: field \"message\" must be a visible field of type email",
        "channels[2].name_field: no field \"missing\"",
        "channels[2].honeypot_field: \"email\" is a real field",
        "channels[2].redirect_url",
        "channels[2].max_submissions_per_contact",
        "channels[2].allowed_origins[0]",
        "channels[2].fields[0].label: missing",
        "channels[2].fields[3].options: a select field needs options",
    ] {
        assert!(errors.contains(expected), "{expected} in:\n{errors}");
    }
    let errors = parse(&FORM.replace("type = \"textarea\"", "type = \"colour\"")).unwrap_err();
    // Inside a tagged `[[channels]]` entry serde reports the entry's path.
    assert!(
        errors.contains("channels[2]") && errors.contains("unknown variant `colour`"),
        "{errors}"
    );
    let errors = parse(&format!("{FORM}    colour = \"red\"\n")).unwrap_err();
    assert!(errors.contains("colour"), "{errors}");
}
