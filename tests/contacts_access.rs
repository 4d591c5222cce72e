//! End-to-end: contacts follow inbox access. In a workspace with inboxes
//! `support` and `sales`, Sue (an agent of the support team only) sees a
//! contact only when it has a conversation in `support` or she owns it;
//! Alice (an admin) sees every contact. A contact Sue may not see answers
//! exactly like one that does not exist, on every contact endpoint: read,
//! search, edit, merge (either way round) and the web inbox's contact panel.

mod common;
#[path = "inbox_support/mod.rs"]
mod support;

use serde_json::{json, Value};

use common::{create_token, mails, smtp, test_config, Daemon};
use support::{client, set_password, sign_in, PASSWORD};

/// An id that names no contact.
const NO_SUCH_CONTACT: &str = "01JAAAAAAAAAAAAAAAAAAAAAAA";

/// The daemon, Sue's token, and three contacts made by real mail: one who
/// wrote to support, one who wrote only to sales, and one who wrote only to
/// sales and is owned by Sue.
struct World {
    _dir: tempfile::TempDir,
    daemon: Daemon,
    sue: String,
    supported: String,
    sales_only: String,
    owned: String,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(1024 * 1024);
    config.push_str(
        r#"
[[agents]]
id = "sue"
name = "Sue Support"
email = "sue@example.com"
role = "agent"
teams = ["support"]
"#,
    );
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let out = set_password(dir.path(), "sue", PASSWORD);
    assert!(out.status.success(), "{out:?}");
    let daemon = Daemon::start_with_config(dir.path(), "");
    let sue = create_token(dir.path(), "sue");
    let supported = mail_in(&daemon, "support", "sam@shop.example");
    let sales_only = mail_in(&daemon, "sales", "sara@shop.example");
    let owned = mail_in(&daemon, "sales", "olga@shop.example");
    let (status, body) = daemon.patch(
        &format!("/api/v1/contacts/{owned}"),
        &json!({"owner": "sue"}),
    );
    assert_eq!(status, 200, "the admin sets Sue as owner: {body}");
    World {
        _dir: dir,
        daemon,
        sue,
        supported,
        sales_only,
        owned,
    }
}

/// Delivers a mail from `from` to the inbox's address over SMTP and returns
/// the id of the contact it was filed under.
fn mail_in(daemon: &Daemon, inbox: &str, from: &str) -> String {
    let to = format!("{inbox}@example.com");
    let message_id = format!("{}.{inbox}@test.example", from.replace('@', "."));
    let mail = mails::simple(&message_id, from, &to, "Hello", "hi");
    let reply = smtp::deliver(daemon.smtp, from, &[&to], &mail);
    assert_eq!(reply.code, 250, "{reply:?}");
    daemon
        .all_conversations(&format!("&inbox={inbox}"))
        .iter()
        .find(|c| c["contact"]["email"] == from)
        .unwrap_or_else(|| panic!("no {inbox} conversation from {from}"))["contact"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// What the API answers for a contact id that names nobody.
fn missing(daemon: &Daemon, token: &str) -> (u16, Value) {
    let answer = daemon.get_with(&format!("/api/v1/contacts/{NO_SUCH_CONTACT}"), Some(token));
    assert_eq!(answer.0, 404, "{}", answer.1);
    assert_eq!(answer.1["error"], "not_found", "{}", answer.1);
    answer
}

/// A contact as the admin sees it, with its identities (web details).
fn stored(daemon: &Daemon, id: &str) -> (Value, Value) {
    let (status, contact) = daemon.get(&format!("/api/v1/contacts/{id}"));
    assert_eq!(status, 200, "{contact}");
    let (status, details) = daemon.get(&format!("/api/v1/contacts/{id}/details"));
    assert_eq!(status, 200, "{details}");
    (contact, details["identities"].clone())
}

#[test]
fn a_contact_is_read_only_by_agents_of_its_inboxes_its_owner_and_admins() {
    let w = world();
    let read = |token: &str, id: &str| {
        w.daemon
            .get_with(&format!("/api/v1/contacts/{id}"), Some(token))
    };
    let refused = read(&w.sue, &w.sales_only);
    assert_eq!(
        refused,
        missing(&w.daemon, &w.sue),
        "a sales-only contact is answered like one that does not exist"
    );
    let (status, body) = read(&w.sue, &w.supported);
    assert_eq!((status, &body["email"]), (200, &json!("sam@shop.example")));
    let (status, body) = read(&w.sue, &w.owned);
    assert_eq!((status, &body["owner"]), (200, &json!("sue")), "{body}");
    for id in [&w.supported, &w.sales_only, &w.owned] {
        assert_eq!(read(&w.daemon.token, id).0, 200, "the admin sees {id}");
    }
    // The rule is the same the other way round: Bob (sales) cannot read the
    // support contact.
    let bob = create_token(&w.daemon.dir, "bob");
    assert_eq!(read(&bob, &w.sales_only).0, 200);
    assert_eq!(read(&bob, &w.supported), missing(&w.daemon, &bob));
}

#[test]
fn search_returns_only_visible_contacts_and_fills_the_page_with_them() {
    let w = world();
    // Fifty more sales-only matches, all newer than the support contact:
    // the page must not be filled (and emptied) by contacts Sue cannot see.
    let mut client = smtp::SmtpClient::connect(w.daemon.smtp);
    client.ehlo();
    for n in 0..50 {
        let from = format!("lead-{n}@shop.example");
        let mail = mails::simple(
            &format!("lead-{n}@shop.example"),
            &from,
            "sales@example.com",
            "Prices?",
            "hi",
        );
        let reply = client.send_mail(&from, &["sales@example.com"], &mail);
        assert_eq!(reply.code, 250, "{reply:?}");
    }
    client.quit();
    let search = |token: &str| -> Vec<String> {
        let (status, body) = w
            .daemon
            .get_with("/api/v1/contacts?q=shop.example", Some(token));
        assert_eq!(status, 200, "{body}");
        let mut ids: Vec<String> = body["contacts"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let mut expected = vec![w.supported.clone(), w.owned.clone()];
    expected.sort();
    assert_eq!(
        search(&w.sue),
        expected,
        "the support and the owned contact"
    );
    let everyone = search(&w.daemon.token);
    assert_eq!(everyone.len(), 50, "the admin gets a full page");
    let (status, body) = w
        .daemon
        .get_with("/api/v1/contacts?q=sara@shop.example", Some(&w.sue));
    assert_eq!((status, body), (200, json!({"contacts": []})));
    let (_, body) = w.daemon.get("/api/v1/contacts?q=sara@shop.example");
    assert_eq!(body["contacts"][0]["id"], w.sales_only.as_str(), "{body}");
}

#[test]
fn only_visible_contacts_can_be_edited() {
    let w = world();
    let patch = |token: &str, id: &str, name: &str| {
        w.daemon.send_json_with(
            "PATCH",
            &format!("/api/v1/contacts/{id}"),
            Some(token),
            &json!({"name": name}),
        )
    };
    let before = stored(&w.daemon, &w.sales_only);
    let refused = patch(&w.sue, &w.sales_only, "Renamed by Sue");
    assert_eq!(refused, missing(&w.daemon, &w.sue));
    assert_eq!(
        patch(&w.sue, NO_SUCH_CONTACT, "Renamed by Sue"),
        refused,
        "a refused edit reads like an unknown id"
    );
    assert_eq!(
        stored(&w.daemon, &w.sales_only),
        before,
        "the refused edit changed nothing"
    );
    let (status, body) = patch(&w.sue, &w.supported, "Sam Supported");
    assert_eq!((status, &body["name"]), (200, &json!("Sam Supported")));
    let (status, body) = patch(&w.sue, &w.owned, "Olga Owned");
    assert_eq!((status, &body["name"]), (200, &json!("Olga Owned")));
    let (status, body) = patch(&w.daemon.token, &w.sales_only, "Sara Sales");
    assert_eq!((status, &body["name"]), (200, &json!("Sara Sales")));
}

#[test]
fn a_merge_needs_both_contacts_visible_and_a_refused_one_changes_nothing() {
    let w = world();
    let merge = |token: &str, keep: &str, other: &str| {
        w.daemon.send_json_with(
            "POST",
            &format!("/api/v1/contacts/{keep}/merge"),
            Some(token),
            &json!({"other": other}),
        )
    };
    let supported = stored(&w.daemon, &w.supported);
    let sales_only = stored(&w.daemon, &w.sales_only);
    let not_found = missing(&w.daemon, &w.sue);
    assert_eq!(
        merge(&w.sue, &w.supported, &w.sales_only),
        not_found,
        "merging the sales contact in"
    );
    assert_eq!(
        merge(&w.sue, &w.sales_only, &w.supported),
        not_found,
        "merging into the sales contact"
    );
    assert_eq!(
        merge(&w.sue, &w.supported, NO_SUCH_CONTACT),
        not_found,
        "like merging an unknown id"
    );
    assert_eq!(stored(&w.daemon, &w.supported), supported, "intact");
    assert_eq!(stored(&w.daemon, &w.sales_only), sales_only, "intact");
    let sales = w.daemon.all_conversations("&inbox=sales");
    assert!(
        sales
            .iter()
            .any(|c| c["contact"]["id"] == w.sales_only.as_str()),
        "the sales conversation still belongs to the sales contact: {sales:?}"
    );

    // Sue may merge the contact she owns (though it wrote only to sales)
    // into the support contact: she sees both.
    let (status, body) = merge(&w.sue, &w.supported, &w.owned);
    assert_eq!((status, &body["id"]), (200, &json!(w.supported)), "{body}");
    assert_eq!(
        w.daemon.get(&format!("/api/v1/contacts/{}", w.owned)).0,
        404
    );
    // The admin sees all, so may merge the sales contact too.
    let (status, body) = merge(&w.daemon.token, &w.supported, &w.sales_only);
    assert_eq!((status, &body["id"]), (200, &json!(w.supported)), "{body}");
    let (_, identities) = stored(&w.daemon, &w.supported);
    let handles: Vec<&str> = identities
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["handle"].as_str().unwrap())
        .collect();
    assert!(
        handles.contains(&"sara@shop.example") && handles.contains(&"olga@shop.example"),
        "{identities}"
    );
}

#[test]
fn the_web_inbox_contact_panel_shows_only_visible_contacts() {
    let w = world();
    let session = sign_in(&w.daemon, "sue", PASSWORD);
    let details = |id: &str| -> (u16, Value) {
        let response = client()
            .get(w.daemon.url(&format!("/api/v1/contacts/{id}/details")))
            .header("Cookie", &session.cookie)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    };
    let refused = details(&w.sales_only);
    assert_eq!(refused, details(NO_SUCH_CONTACT));
    assert_eq!(refused.0, 404, "{}", refused.1);
    assert_eq!(refused.1["error"], "not_found");

    let (status, body) = details(&w.supported);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contact"]["id"], w.supported.as_str());
    assert_eq!(body["conversations"].as_array().map(Vec::len), Some(1));
    // Her own contact opens, without the sales conversation she cannot see.
    let (status, body) = details(&w.owned);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contact"]["owner"], "sue");
    assert_eq!(body["conversations"], json!([]), "{body}");

    let (status, body) = w
        .daemon
        .get(&format!("/api/v1/contacts/{}/details", w.sales_only));
    assert_eq!(status, 200, "the admin opens any contact: {body}");
    assert_eq!(body["conversations"].as_array().map(Vec::len), Some(1));
}
