use super::*;
use crate::channels::form::body::{Submitted, UploadedFile};
use crate::config::{FieldType, FormChannel};

fn form() -> FormChannel {
    let text = r#"
        [storage]
        path = "data"
        [http]
        listen = "127.0.0.1:8080"
        [[inboxes]]
        id = "support"
        name = "Support"
        [[channels]]
        id = "mail"
        inbox = "support"
        kind = "email"
        address = "support@example.com"
        [[channels]]
        id = "contact"
        inbox = "support"
        kind = "form"
        email_field = "email"
        name_field = "name"
        subject_field = "topic"
        message_field = "message"
        reply_via = "mail"
        [[channels.fields]]
        name = "name"
        label = "Name"
        required = true
        [[channels.fields]]
        name = "email"
        label = "Email"
        type = "email"
        [[channels.fields]]
        name = "topic"
        label = "Topic"
        type = "select"
        options = ["Billing", "Bug"]
        [[channels.fields]]
        name = "phone"
        label = "Phone"
        type = "tel"
        [[channels.fields]]
        name = "message"
        label = "Message"
        type = "textarea"
        max_length = 20
        [[channels.fields]]
        name = "terms"
        label = "I agree"
        type = "checkbox"
        required = true
        [[channels.fields]]
        name = "cv"
        label = "CV"
        type = "file"
        [[channels.fields]]
        name = "campaign"
        type = "hidden"
        value = "none"
    "#;
    let config = crate::config::parse(text, std::path::Path::new(".")).unwrap();
    match &config.workspace.channel("contact").unwrap().kind {
        crate::config::ChannelKind::Form(form) => (**form).clone(),
        _ => unreachable!(),
    }
}

fn submitted(pairs: &[(&str, &str)]) -> Submitted {
    Submitted {
        values: pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        files: Vec::new(),
    }
}

#[test]
fn a_good_submission_becomes_subject_text_and_hidden_entries() {
    let mut posted = submitted(&[
        ("name", " Ann Lee "),
        ("email", "Ann@Example.COM"),
        ("topic", "Billing"),
        ("phone", "+1 (415) 555-0100"),
        ("message", "Invoice is wrong"),
        ("terms", "on"),
        ("campaign", "spring"),
        ("unknown", "ignored"),
    ]);
    posted.files.push(UploadedFile {
        field: "cv".into(),
        name: Some("cv.pdf".into()),
        content_type: "application/pdf".into(),
        bytes: b"%PDF".to_vec(),
    });
    let checked = check(&form(), &posted).unwrap();
    assert_eq!(checked.email, "ann@example.com");
    assert_eq!(checked.name.as_deref(), Some("Ann Lee"));
    assert_eq!(checked.subject, "Billing");
    assert_eq!(
        checked.text,
        "Invoice is wrong\n\nPhone: +1 (415) 555-0100\nI agree: Yes\nCV: cv.pdf (attached)"
    );
    let hidden = checked
        .entries
        .iter()
        .find(|e| e.name == "campaign")
        .unwrap();
    assert!(hidden.hidden);
    assert_eq!(hidden.value, "spring");
    assert!(!checked.text.contains("spring"));
    assert_eq!(checked.files.len(), 1);
    assert!(checked.entries.iter().all(|e| e.name != "unknown"));
}

#[test]
fn each_problem_is_reported_against_its_field() {
    let posted = submitted(&[
        ("name", "Visit https://spam.example"),
        ("email", "not an address"),
        ("topic", "Something else"),
        ("phone", "call me"),
        ("message", "This message is far too long"),
    ]);
    let errors = check(&form(), &posted).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["name", "email", "topic", "phone", "message", "terms"]
    );
    assert!(errors[0].message.contains("links"));
    assert!(errors[1].message.contains("email address"));
    assert!(errors[4].message.contains("20 characters"));
    let errors = check(&form(), &submitted(&[])).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["name", "email", "terms"]);
}

#[test]
fn hidden_fields_fall_back_to_their_value_and_text_without_message() {
    let posted = submitted(&[
        ("name", "Ann"),
        ("email", "ann@example.com"),
        ("terms", "true"),
    ]);
    let checked = check(&form(), &posted).unwrap();
    assert_eq!(checked.subject, "Contact us");
    assert_eq!(checked.text, "I agree: Yes");
    let hidden = checked
        .entries
        .iter()
        .find(|e| e.name == "campaign")
        .unwrap();
    assert_eq!(hidden.value, "none");
    assert_eq!(form().field("cv").unwrap().kind, FieldType::File);
}
