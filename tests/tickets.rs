//! End-to-end: tickets opened with new conversations arriving over SMTP, in
//! the channel's pipeline and stage, owned by the conversation's assignee
//! (and following it), by a fixed agent, or by nobody; the per-contact
//! limit; and the tickets API (list filters, read, stage/owner/priority
//! edits, refusals).

mod common;

use serde_json::{json, Value};

use common::routing::{assignee, email_channel, routing, routing_config, tickets, Tokens};
use common::Daemon;

/// The keys of a ticket, as the API shows it.
const TICKET_KEYS: [&str; 10] = [
    "id",
    "conversation",
    "contact",
    "inbox",
    "pipeline",
    "stage",
    "owner",
    "priority",
    "created_at",
    "updated_at",
];

/// The ticket of a conversation, checked to point back at it.
fn ticket_of(daemon: &Daemon, conversation: &Value) -> Value {
    let id = conversation["ticket"]
        .as_str()
        .unwrap_or_else(|| panic!("no ticket on {conversation}"));
    let ticket = daemon.ticket(id);
    let mut keys: Vec<&str> = ticket
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    let mut expected = TICKET_KEYS.to_vec();
    expected.sort();
    assert_eq!(keys, expected, "{ticket}");
    assert_eq!(ticket["id"], id);
    assert_eq!(
        ticket["conversation"], conversation["id"],
        "linked both ways"
    );
    assert_eq!(ticket["contact"], conversation["contact"]["id"]);
    assert_eq!(ticket["inbox"], conversation["inbox"]);
    ticket
}

/// An RFC 3339 timestamp from the API.
fn time(value: &Value) -> jiff::Timestamp {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"))
        .parse()
        .unwrap_or_else(|e| panic!("{value}: {e}"))
}

fn patch_conversation(daemon: &Daemon, conversation: &Value, body: Value) -> Value {
    let id = conversation["id"].as_str().unwrap();
    let (status, updated) = daemon.patch(&format!("/api/v1/conversations/{id}"), &body);
    assert_eq!(status, 200, "{body}: {updated}");
    updated
}

fn patch_ticket(daemon: &Daemon, ticket: &str, body: Value) -> (u16, Value) {
    daemon.patch(&format!("/api/v1/tickets/{ticket}"), &body)
}

/// Three channels: support (routed to bob and carol; tickets in `new`,
/// owned by the assignee, high), sales (not routed; tickets in `qualified`
/// of the sales pipeline, owned by frank, low) and billing on the support
/// inbox (not routed; tickets with every default but `owner = "none"`).
fn three_channels(extra: &str) -> String {
    let channels = email_channel(
        "support-email",
        "support",
        "support@example.com",
        &(routing(r#"users = ["bob", "carol"]"#)
            + &tickets(
                "pipeline = \"support\"\nstage = \"new\"\nowner = \"conversation_owner\"\npriority = \"high\"",
            )),
    ) + &email_channel(
        "sales-email",
        "sales",
        "sales@example.com",
        &tickets("pipeline = \"sales\"\nstage = \"qualified\"\nowner = \"frank\"\npriority = \"low\""),
    ) + &email_channel(
        "billing-email",
        "support",
        "billing@example.com",
        &tickets("pipeline = \"support\"\nowner = \"none\""),
    );
    routing_config(&channels, extra)
}

#[test]
fn tickets_open_in_the_channels_pipeline_and_stage_with_the_right_owner() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &three_channels(""));
    let mut tokens = Tokens::new(&daemon);
    daemon.set_available(&tokens.of("bob"), true);

    // conversation_owner: the assignee, and it follows the assignee.
    let support = daemon.new_conversation("t1@customer.example", "Ticket support");
    assert_eq!(assignee(&support), Some("bob"));
    let ticket = ticket_of(&daemon, &support);
    assert_eq!(ticket["pipeline"], "support");
    assert_eq!(ticket["stage"], "new");
    assert_eq!(ticket["owner"], "bob");
    assert_eq!(ticket["priority"], "high");
    assert_eq!(ticket["created_at"], ticket["updated_at"]);
    let ticket_id = ticket["id"].as_str().unwrap().to_string();

    patch_conversation(&daemon, &support, json!({"assignee": "carol"}));
    assert_eq!(
        daemon.ticket(&ticket_id)["owner"],
        "carol",
        "follows a hand-over"
    );
    patch_conversation(&daemon, &support, json!({"assignee": null}));
    assert!(
        daemon.ticket(&ticket_id)["owner"].is_null(),
        "follows an unassign"
    );
    patch_conversation(&daemon, &support, json!({"assignee": "bob"}));
    assert_eq!(daemon.ticket(&ticket_id)["owner"], "bob");

    // A fixed agent, whoever is assigned; another pipeline.
    let sales =
        daemon.new_conversation_to("sales@example.com", "t2@customer.example", "Ticket sales");
    assert_eq!(assignee(&sales), None, "sales does not route");
    let sales_ticket = ticket_of(&daemon, &sales);
    assert_eq!(sales_ticket["pipeline"], "sales");
    assert_eq!(sales_ticket["stage"], "qualified");
    assert_eq!(sales_ticket["owner"], "frank");
    assert_eq!(sales_ticket["priority"], "low");
    assert_eq!(sales_ticket["inbox"], "sales");
    patch_conversation(&daemon, &sales, json!({"assignee": "alice"}));
    assert_eq!(
        daemon.ticket(sales_ticket["id"].as_str().unwrap())["owner"],
        "frank",
        "a fixed owner does not follow"
    );

    // Nobody; the defaults: the pipeline's first stage, medium.
    let billing = daemon.new_conversation_to(
        "billing@example.com",
        "t3@customer.example",
        "Ticket billing",
    );
    let billing_ticket = ticket_of(&daemon, &billing);
    assert_eq!(billing_ticket["pipeline"], "support");
    assert_eq!(billing_ticket["stage"], "new");
    assert!(billing_ticket["owner"].is_null(), "{billing_ticket}");
    assert_eq!(billing_ticket["priority"], "medium");
    patch_conversation(&daemon, &billing, json!({"assignee": "carol"}));
    assert!(daemon.ticket(billing_ticket["id"].as_str().unwrap())["owner"].is_null());

    // The list and its filters (newest first).
    let sales_id = sales_ticket["id"].as_str().unwrap().to_string();
    let billing_id = billing_ticket["id"].as_str().unwrap().to_string();
    assert_eq!(
        daemon.ticket_ids(""),
        [billing_id.as_str(), sales_id.as_str(), ticket_id.as_str()]
    );
    assert_eq!(
        daemon.ticket_ids("pipeline=support"),
        [billing_id.as_str(), ticket_id.as_str()]
    );
    assert_eq!(daemon.ticket_ids("pipeline=sales"), [sales_id.as_str()]);
    assert_eq!(daemon.ticket_ids("stage=qualified"), [sales_id.as_str()]);
    assert_eq!(
        daemon.ticket_ids("pipeline=support&stage=new&owner=bob"),
        [ticket_id.as_str()]
    );
    assert_eq!(daemon.ticket_ids("owner=frank"), [sales_id.as_str()]);
    assert_eq!(daemon.ticket_ids("owner=none"), [billing_id.as_str()]);
    let bob = tokens.of("bob");
    let (status, mine) = daemon.get_with("/api/v1/tickets?owner=me", Some(&bob));
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["tickets"][0]["id"], ticket_id.as_str());
    assert_eq!(mine["tickets"].as_array().unwrap().len(), 1);
    let (status, body) = daemon.get("/api/v1/tickets?pipeline=marketing");
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("pipeline")),
        "{body}"
    );
    let (status, body) = daemon.get("/api/v1/tickets?owner=zoe");
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("owner")),
        "{body}"
    );

    // Agents see the tickets of their inboxes only.
    let frank = tokens.of("frank");
    let (status, seen) = daemon.get_with("/api/v1/tickets", Some(&frank));
    assert_eq!(status, 200, "{seen}");
    let seen: Vec<&str> = seen["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(seen, [sales_id.as_str()]);
    let (status, _) = daemon.get_with(&format!("/api/v1/tickets/{ticket_id}"), Some(&frank));
    assert_eq!(status, 404, "another inbox's ticket is not shown");
    assert_eq!(daemon.get_with("/api/v1/tickets", None).0, 401);
    assert_eq!(
        daemon.get("/api/v1/tickets/01JAAAAAAAAAAAAAAAAAAAAAAA").0,
        404
    );
}

#[test]
fn an_unassigned_conversations_ticket_gets_the_owner_when_it_is_assigned() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &three_channels(""));
    let mut tokens = Tokens::new(&daemon);
    let waiting = daemon.new_conversation("t4@customer.example", "Ticket waiting");
    assert_eq!(assignee(&waiting), None, "nobody available");
    let ticket = ticket_of(&daemon, &waiting);
    assert!(ticket["owner"].is_null(), "{ticket}");
    let id = ticket["id"].as_str().unwrap();
    assert!(daemon.ticket_ids("owner=none").iter().any(|t| t == id));

    daemon.set_available(&tokens.of("carol"), true);
    let now = daemon.conversation(waiting["id"].as_str().unwrap());
    assert_eq!(assignee(&now), Some("carol"), "{now}");
    assert_eq!(daemon.ticket(id)["owner"], "carol", "follows the backfill");
}

#[test]
fn past_the_per_contact_limit_no_ticket_is_opened_but_the_conversation_is_routed() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(
        dir.path(),
        &three_channels("[limits]\nmax_tickets_per_contact = 2\n"),
    );
    let mut tokens = Tokens::new(&daemon);
    daemon.set_available(&tokens.of("bob"), true);
    daemon.set_available(&tokens.of("carol"), true);
    let repeat = "repeat@customer.example";
    let conversations: Vec<Value> = (0..3)
        .map(|n| daemon.new_conversation(repeat, &format!("Limit {n}")))
        .collect();
    let contact = &conversations[0]["contact"]["id"];
    for c in &conversations {
        assert_eq!(&c["contact"]["id"], contact, "one contact");
        assert!(assignee(c).is_some(), "routed: {c}");
    }
    for c in &conversations[..2] {
        ticket_of(&daemon, c);
        assert!(c.get("ticket_note").is_none(), "{c}");
    }
    let third = &conversations[2];
    assert!(third["ticket"].is_null(), "{third}");
    let note = third["ticket_note"]
        .as_str()
        .unwrap_or_else(|| panic!("no ticket_note: {third}"));
    assert!(note.contains('2'), "the note names the limit: {note}");
    assert!(
        daemon.log().contains("ticket not opened"),
        "the reason is logged: {}",
        daemon.log()
    );
    assert_eq!(daemon.ticket_ids("").len(), 2);

    // Another contact is not held back.
    let other = daemon.new_conversation("other@customer.example", "Limit other");
    ticket_of(&daemon, &other);
}

#[test]
fn tickets_move_through_their_pipeline_and_bad_edits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &three_channels(""));
    let mut tokens = Tokens::new(&daemon);
    daemon.set_available(&tokens.of("bob"), true);
    let conversation = daemon.new_conversation("t5@customer.example", "Ticket edits");
    let ticket = ticket_of(&daemon, &conversation);
    let id = ticket["id"].as_str().unwrap();

    let (status, moved) = patch_ticket(&daemon, id, json!({"stage": "waiting_on_contact"}));
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["stage"], "waiting_on_contact");
    assert_eq!(moved["owner"], "bob", "untouched");
    assert_eq!(moved["priority"], "high", "untouched");
    assert!(
        time(&moved["updated_at"]) >= time(&ticket["updated_at"]),
        "{moved} after {ticket}"
    );
    assert_eq!(moved["created_at"], ticket["created_at"]);
    assert_eq!(daemon.ticket(id), moved, "stored");

    for (body, field) in [
        (json!({"stage": "limbo"}), "stage"),
        (json!({"stage": "qualified"}), "stage"), // a stage of another pipeline
        (json!({"priority": "whenever"}), "priority"),
        (json!({"owner": "zoe"}), "owner"),
    ] {
        let (status, error) = patch_ticket(&daemon, id, body.clone());
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    let (status, error) = patch_ticket(&daemon, id, json!({"colour": "red"}));
    assert_eq!(status, 400, "unknown field: {error}");
    assert_eq!(daemon.ticket(id), moved, "refused edits change nothing");

    let (status, edited) = patch_ticket(
        &daemon,
        id,
        json!({"stage": "closed", "owner": "dan", "priority": "urgent"}),
    );
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["stage"], "closed");
    assert_eq!(edited["owner"], "dan");
    assert_eq!(edited["priority"], "urgent");
    assert_eq!(daemon.ticket_ids("stage=closed&owner=dan"), [id]);
    // An owner set by hand stays when the conversation changes hands.
    patch_conversation(&daemon, &conversation, json!({"assignee": "carol"}));
    assert_eq!(daemon.ticket(id)["owner"], "dan");

    let (status, cleared) = patch_ticket(&daemon, id, json!({"owner": null}));
    assert_eq!(status, 200, "{cleared}");
    assert!(cleared["owner"].is_null(), "{cleared}");
    assert_eq!(cleared["stage"], "closed");

    let (status, _) = patch_ticket(
        &daemon,
        "01JAAAAAAAAAAAAAAAAAAAAAAA",
        json!({"stage": "new"}),
    );
    assert_eq!(status, 404);
    let (status, _) = daemon.send_json_with(
        "PATCH",
        &format!("/api/v1/tickets/{id}"),
        None,
        &json!({"stage": "new"}),
    );
    assert_eq!(status, 401);
    let frank = tokens.of("frank");
    let (status, _) = daemon.send_json_with(
        "PATCH",
        &format!("/api/v1/tickets/{id}"),
        Some(&frank),
        &json!({"stage": "new"}),
    );
    assert_eq!(status, 404, "not in frank's inboxes");
}
