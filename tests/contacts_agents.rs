//! End-to-end: the agent list and availability, contact edits (an owner
//! must be a known agent) and contact search.

mod common;

use serde_json::{json, Value};

use common::{create_token, reply_config, Daemon};

fn agent<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("agents is a list: {list}"))
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("no agent {id} in {list}"))
}

#[test]
fn agents_are_listed_and_availability_toggles() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &reply_config(None, 4));
    let (status, list) = daemon.get("/api/v1/agents");
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alice", "bob", "dora"]);
    let alice = agent(&list, "alice");
    assert_eq!(alice["name"], "Alice Admin");
    assert_eq!(alice["email"], "alice@example.com");
    assert_eq!(alice["role"], "admin");
    assert_eq!(alice["teams"], json!(["support"]));
    assert_eq!(alice["seat"], true);
    assert!(alice["available"].is_boolean(), "{alice}");
    let dora = agent(&list, "dora");
    assert_eq!(dora["seat"], false);
    assert_eq!(dora["role"], "agent");
    assert_eq!(agent(&list, "bob")["teams"], json!(["sales"]));

    let (status, body) = daemon.put(
        "/api/v1/agents/me/availability",
        &json!({"available": true}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"id": "alice", "available": true}));
    assert_eq!(
        agent(&daemon.get("/api/v1/agents").1, "alice")["available"],
        true
    );

    // Bob sets his own; Alice's stays.
    let bob = create_token(dir.path(), "bob");
    let (status, body) = daemon.send_json_with(
        "PUT",
        "/api/v1/agents/me/availability",
        Some(&bob),
        &json!({"available": true}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "bob");
    let (status, body) = daemon.put(
        "/api/v1/agents/me/availability",
        &json!({"available": false}),
    );
    assert_eq!((status, &body["available"]), (200, &json!(false)), "{body}");
    let (status, list) = daemon.get_with("/api/v1/agents", Some(&bob));
    assert_eq!(status, 200, "agents can list agents: {list}");
    assert_eq!(agent(&list, "alice")["available"], false);
    assert_eq!(agent(&list, "bob")["available"], true);

    let (status, body) = daemon.put(
        "/api/v1/agents/me/availability",
        &json!({"available": "yes"}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "available", "{body}");
    assert_eq!(daemon.get_with("/api/v1/agents", None).0, 401);

    // Availability is runtime state: it survives a restart.
    let token = daemon.token.clone();
    assert_eq!(daemon.terminate(), Some(0));
    let daemon = Daemon::start(dir.path(), token);
    let (_, list) = daemon.get("/api/v1/agents");
    assert_eq!(agent(&list, "bob")["available"], true);
    assert_eq!(agent(&list, "alice")["available"], false);
}

#[test]
fn contacts_can_be_edited_and_owned_by_known_agents_only() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &reply_config(None, 4));
    let conversation = daemon.customer_mail(
        "contact-1@customer.example",
        "carol@customer.example",
        "Hi",
        "hi",
    );
    let contact = conversation["contact"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/contacts/{contact}");

    let (status, body) = daemon.patch(
        &path,
        &json!({"name": "Carol Castillo", "phone": "+1 555 0100", "owner": "alice"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], contact.as_str());
    assert_eq!(body["name"], "Carol Castillo");
    assert_eq!(body["phone"], "+1 555 0100");
    assert_eq!(body["owner"], "alice");
    assert_eq!(body["email"], "carol@customer.example", "untouched");
    let (_, stored) = daemon.get(&path);
    assert_eq!(stored, body);

    let (status, body) = daemon.patch(&path, &json!({"email": "carol@new.example"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "carol@new.example");
    assert_eq!(body["owner"], "alice", "untouched");

    let (status, body) = daemon.patch(&path, &json!({"owner": "zoe"}));
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("owner")),
        "{body}"
    );
    let (status, body) = daemon.patch(&path, &json!({"email": "not an address"}));
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("email")),
        "{body}"
    );
    let (_, stored) = daemon.get(&path);
    assert_eq!(stored["owner"], "alice", "refused edits change nothing");
    assert_eq!(stored["email"], "carol@new.example");

    let (status, body) = daemon.patch(&path, &json!({"owner": null}));
    assert_eq!(status, 200, "{body}");
    assert!(body["owner"].is_null(), "{body}");
    let (status, _) = daemon.patch(
        "/api/v1/contacts/01JAAAAAAAAAAAAAAAAAAAAAAA",
        &json!({"name": "x"}),
    );
    assert_eq!(status, 404);
    let (status, _) = daemon.send_json_with("PATCH", &path, None, &json!({"name": "Mallory"}));
    assert_eq!(status, 401);
}

#[test]
fn contacts_are_found_by_name_email_or_phone() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &reply_config(None, 4));
    let mut ids = Vec::new();
    for (n, (from, name)) in [
        ("carol@customer.example", "Carol Castillo"),
        ("dan@other.example", "Dan Dorsey"),
        ("erin@customer.example", "Erin Easton"),
    ]
    .iter()
    .enumerate()
    {
        let mail = format!(
            "From: \"{name}\" <{from}>\r\nTo: support@example.com\r\nSubject: s{n}\r\n\
             Message-ID: <search-{n}@x.example>\r\n\r\nhi\r\n"
        );
        let reply = common::smtp::deliver(daemon.smtp, from, &["support@example.com"], &mail);
        assert_eq!(reply.code, 250);
    }
    for c in daemon.all_conversations("") {
        ids.push((
            c["contact"]["email"].as_str().unwrap().to_string(),
            c["contact"]["id"].as_str().unwrap().to_string(),
        ));
    }
    let dan = &ids
        .iter()
        .find(|(e, _)| e == "dan@other.example")
        .unwrap()
        .1;
    let (status, _) = daemon.patch(
        &format!("/api/v1/contacts/{dan}"),
        &json!({"phone": "+44 20 7946 0958"}),
    );
    assert_eq!(status, 200);

    let search = |q: &str| -> Vec<String> {
        let (status, body) = daemon.get(&format!("/api/v1/contacts?q={q}"));
        assert_eq!(status, 200, "{q}: {body}");
        let mut emails: Vec<String> = body["contacts"]
            .as_array()
            .unwrap_or_else(|| panic!("{q}: {body}"))
            .iter()
            .map(|c| c["email"].as_str().unwrap().to_string())
            .collect();
        emails.sort();
        emails
    };
    assert_eq!(search("carol"), ["carol@customer.example"]);
    assert_eq!(
        search("CASTILLO"),
        ["carol@customer.example"],
        "case-insensitive name"
    );
    assert_eq!(
        search("customer.example"),
        ["carol@customer.example", "erin@customer.example"]
    );
    assert_eq!(search("7946"), ["dan@other.example"], "phone");
    assert_eq!(search("Dors"), ["dan@other.example"]);
    assert!(search("nobody-matches-this").is_empty());
    let (status, body) = daemon.get("/api/v1/contacts?q=carol");
    let contact = &body["contacts"][0];
    assert_eq!(status, 200);
    assert_eq!(contact["name"], "Carol Castillo");
    assert!(
        contact["id"].is_string() && contact["created_at"].is_string(),
        "{contact}"
    );
    assert_eq!(daemon.get_with("/api/v1/contacts?q=carol", None).0, 401);
}
