//! End-to-end: every routing rule with the real daemon and conversations
//! arriving over SMTP. Named users and teams (a member of two named teams
//! counted once), availability, seats, capacity, the contact's owner
//! (present, away with an email notification through a loopback relay, or
//! missing), the unassigned view and backfill when someone becomes
//! available (by the API switch or by opening an event socket), the fairness
//! of 200 conversations arriving at once, a rule change applied by SIGHUP,
//! and `check-config` on routing rules.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::json;

use common::relay::Relay;
use common::routing::{
    assignee, email_channel, history, record, relay_section, routing, routing_config, tally,
    tickets, Tokens,
};
use common::smtp::SmtpClient;
use common::ws::EventSocket;
use common::{eventually, mails, signal, Daemon, BIN};

const WAIT: Duration = Duration::from_secs(30);
/// How long the away owner's notification may take to reach the relay.
const NOTIFY_WAIT: Duration = Duration::from_secs(10);

/// A daemon whose support channel (support@example.com) routes with `rule`
/// (the keys of `[channels.routing]` besides `auto_assign = true`).
fn daemon_routing(dir: &std::path::Path, rule: &str, extra: &str) -> Daemon {
    let channels = email_channel(
        "support-email",
        "support",
        "support@example.com",
        &routing(rule),
    );
    Daemon::start_with_config(dir, &routing_config(&channels, extra))
}

fn available(daemon: &Daemon, tokens: &mut Tokens, agents: &[&str]) {
    for agent in agents {
        daemon.set_available(&tokens.of(agent), true);
    }
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn named_users_take_turns_and_nobody_else_is_assigned() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon_routing(dir.path(), r#"users = ["bob", "carol"]"#, "");
    let mut tokens = Tokens::new(&daemon);
    available(&daemon, &mut tokens, &["alice", "bob", "carol", "dan"]);

    let conversations: Vec<_> = (0..6)
        .map(|n| daemon.new_conversation(&format!("u{n}@customer.example"), &format!("Users {n}")))
        .collect();
    let order: Vec<&str> = conversations
        .iter()
        .map(|c| assignee(c).unwrap_or_else(|| panic!("unassigned: {c}")))
        .collect();
    // Balanced round robin: the one with fewer open conversations, ties to
    // whoever was assigned least recently, so one after the other.
    assert_ne!(order[0], order[1], "{order:?}");
    for n in 2..order.len() {
        assert_eq!(order[n], order[n - 2], "turns: {order:?}");
    }
    assert_eq!(tally(&conversations), counts(&[("bob", 3), ("carol", 3)]));
    for c in &conversations {
        let agent = assignee(c).unwrap();
        assert_eq!(history(c), [record(agent, "users_and_teams")], "{c}");
        assert!(c["ticket"].is_null(), "no ticket rule, no ticket: {c}");
        assert!(c.get("ticket_note").is_none(), "{c}");
    }
    assert_eq!(daemon.assigned_to("bob").len(), 3);
    assert_eq!(daemon.assigned_to("carol").len(), 3);
    assert!(daemon.assigned_to("alice").is_empty(), "not named");
    assert!(daemon.assigned_to("dan").is_empty(), "not named");
    assert!(daemon.assigned_to("none").is_empty());

    // A hand-over by an agent is recorded after the rule's assignment.
    let first = &conversations[0];
    let id = first["id"].as_str().unwrap();
    let (status, handed) = daemon.patch(
        &format!("/api/v1/conversations/{id}"),
        &json!({"assignee": "dan"}),
    );
    assert_eq!(status, 200, "{handed}");
    assert_eq!(
        history(&handed),
        [
            record(order[0], "users_and_teams"),
            record("dan", "agent:alice")
        ]
    );
    assert_eq!(history(&daemon.conversation(id)), history(&handed));
}

#[test]
fn members_of_named_teams_are_the_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon_routing(dir.path(), r#"teams = ["billing"]"#, "");
    let mut tokens = Tokens::new(&daemon);
    available(&daemon, &mut tokens, &["alice", "bob", "carol", "dan"]);
    let conversations: Vec<_> = (0..4)
        .map(|n| daemon.new_conversation(&format!("t{n}@customer.example"), &format!("Teams {n}")))
        .collect();
    assert_eq!(
        tally(&conversations),
        counts(&[("carol", 2), ("dan", 2)]),
        "billing is carol and dan"
    );
    for c in &conversations {
        assert_eq!(history(c)[0].1, "users_and_teams", "{c}");
    }
}

#[test]
fn an_agent_in_two_named_teams_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    // support = alice, bob, carol, erin (no seat); billing = carol, dan.
    // Alice never says she is available: the candidates are bob, carol
    // (in both teams) and dan.
    let daemon = daemon_routing(dir.path(), r#"teams = ["support", "billing"]"#, "");
    let mut tokens = Tokens::new(&daemon);
    available(&daemon, &mut tokens, &["bob", "carol", "dan", "erin"]);
    let conversations: Vec<_> = (0..30)
        .map(|n| daemon.new_conversation(&format!("d{n}@customer.example"), &format!("Dedupe {n}")))
        .collect();
    assert_eq!(
        tally(&conversations),
        counts(&[("bob", 10), ("carol", 10), ("dan", 10)]),
        "carol is one candidate, not two"
    );
    for agent in ["bob", "carol", "dan"] {
        assert_eq!(daemon.assigned_to(agent).len(), 10, "{agent}");
    }
    assert!(daemon.assigned_to("erin").is_empty(), "no seat");
    assert!(daemon.assigned_to("alice").is_empty(), "not available");
}

#[test]
fn only_available_agents_are_assigned_unless_the_rule_says_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let channels = email_channel(
        "support-email",
        "support",
        "support@example.com",
        &routing(r#"users = ["alice", "bob"]"#),
    ) + &email_channel(
        "sales-email",
        "sales",
        "sales@example.com",
        &routing("users = [\"frank\"]\nonly_available = false"),
    );
    let daemon = Daemon::start_with_config(dir.path(), &routing_config(&channels, ""));
    let mut tokens = Tokens::new(&daemon);
    daemon.set_available(&tokens.of("alice"), true);
    daemon.set_available(&tokens.of("bob"), false);
    assert!(daemon.shown_available("alice"));
    assert!(!daemon.shown_available("bob"));
    assert!(!daemon.shown_available("frank"), "never said so");

    let conversations: Vec<_> = (0..4)
        .map(|n| daemon.new_conversation(&format!("a{n}@customer.example"), &format!("Avail {n}")))
        .collect();
    assert_eq!(
        tally(&conversations),
        counts(&[("alice", 4)]),
        "bob is unavailable"
    );

    // only_available = false: Frank gets them although he is away.
    let sales = daemon.new_conversation_to(
        "sales@example.com",
        "lead@customer.example",
        "Sales while away",
    );
    assert_eq!(assignee(&sales), Some("frank"), "{sales}");
    assert_eq!(history(&sales), [record("frank", "users_and_teams")]);
}

#[test]
fn agents_without_a_seat_are_never_assigned() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon_routing(dir.path(), "users = [\"erin\"]\nteams = [\"support\"]", "");
    assert!(
        daemon.log().contains("holds no seat"),
        "the daemon warns about a named user without a seat: {}",
        daemon.log()
    );
    let mut tokens = Tokens::new(&daemon);
    available(&daemon, &mut tokens, &["alice", "bob", "carol", "erin"]);
    assert!(daemon.shown_available("erin"));
    let conversations: Vec<_> = (0..6)
        .map(|n| daemon.new_conversation(&format!("s{n}@customer.example"), &format!("Seat {n}")))
        .collect();
    assert_eq!(
        tally(&conversations),
        counts(&[("alice", 2), ("bob", 2), ("carol", 2)])
    );
    assert!(daemon.assigned_to("erin").is_empty());

    // Nor by hand.
    let id = conversations[0]["id"].as_str().unwrap();
    let (status, body) = daemon.patch(
        &format!("/api/v1/conversations/{id}"),
        &json!({"assignee": "erin"}),
    );
    assert_eq!(status, 409, "{body}");
}

#[test]
fn capacity_is_respected_and_the_overflow_waits_unassigned() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon_routing(
        dir.path(),
        "users = [\"bob\", \"carol\"]\nmax_open_per_agent = 2",
        "",
    );
    let mut tokens = Tokens::new(&daemon);
    available(&daemon, &mut tokens, &["bob", "carol"]);
    let conversations: Vec<_> = (0..5)
        .map(|n| daemon.new_conversation(&format!("k{n}@customer.example"), &format!("Cap {n}")))
        .collect();
    assert_eq!(
        tally(&conversations[..4]),
        counts(&[("bob", 2), ("carol", 2)])
    );
    let overflow = &conversations[4];
    assert_eq!(assignee(overflow), None, "everyone is full: {overflow}");
    assert!(history(overflow).is_empty(), "{overflow}");
    assert_eq!(
        daemon.assigned_to("none"),
        [overflow["id"].as_str().unwrap()]
    );

    // Closing one of Bob's frees a place: the next new conversation is his.
    let bobs = conversations[..4]
        .iter()
        .find(|c| assignee(c) == Some("bob"))
        .unwrap();
    let (status, body) = daemon.patch(
        &format!("/api/v1/conversations/{}", bobs["id"].as_str().unwrap()),
        &json!({"status": "closed"}),
    );
    assert_eq!(status, 200, "{body}");
    let next = daemon.new_conversation("k5@customer.example", "Cap 5");
    assert_eq!(assignee(&next), Some("bob"), "{next}");
    let again = daemon.new_conversation("k6@customer.example", "Cap 6");
    assert_eq!(assignee(&again), None, "full again: {again}");
    assert_eq!(daemon.assigned_to("none").len(), 2);
}

#[test]
fn the_contact_owner_gets_it_and_is_emailed_when_away() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let channels = email_channel(
        "support-email",
        "support",
        "support@example.com",
        &routing("assign_to = \"contact_owner\"\nusers = [\"carol\"]"),
    ) + &email_channel(
        "sales-email",
        "sales",
        "sales@example.com",
        &routing("assign_to = \"contact_owner\""),
    );
    let daemon = Daemon::start_with_config(
        dir.path(),
        &routing_config(&channels, &relay_section(relay.port)),
    );
    let mut tokens = Tokens::new(&daemon);
    available(&daemon, &mut tokens, &["bob", "carol"]);
    let customer = "owned@customer.example";

    // Missing: no owner yet, so the channel's users.
    let first = daemon.new_conversation(customer, "Owner missing");
    assert_eq!(assignee(&first), Some("carol"), "{first}");
    assert_eq!(history(&first), [record("carol", "contact_owner_fallback")]);
    let contact = first["contact"]["id"].as_str().unwrap().to_string();

    // Present: the owner, available, gets it; no notification.
    let (status, body) = daemon.patch(
        &format!("/api/v1/contacts/{contact}"),
        &json!({"owner": "bob"}),
    );
    assert_eq!(status, 200, "{body}");
    let second = daemon.new_conversation(customer, "Owner present");
    assert_eq!(assignee(&second), Some("bob"), "{second}");
    assert_eq!(history(&second), [record("bob", "contact_owner")]);
    assert_eq!(second["contact"]["id"], contact.as_str());

    // Away: Dan never said he is available; he still gets it, by email too.
    let (status, body) = daemon.patch(
        &format!("/api/v1/contacts/{contact}"),
        &json!({"owner": "dan"}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(!daemon.shown_available("dan"));
    let third = daemon.new_conversation(customer, "Owner away");
    assert_eq!(assignee(&third), Some("dan"), "{third}");
    assert_eq!(history(&third), [record("dan", "contact_owner")]);
    // Promptly: well before the outbox worker's idle poll (30 s) would find
    // the job by itself.
    let notification = relay.wait_for_text("Owner away", NOTIFY_WAIT);
    assert_eq!(
        notification.rcpt_to,
        ["dan@example.com"],
        "{notification:?}"
    );
    let subject = notification.header("Subject").unwrap_or_default();
    assert!(
        subject.starts_with("New conversation assigned to you"),
        "{subject}"
    );
    assert!(subject.contains("Owner away"), "{subject}");
    assert!(
        notification.data.contains(third["id"].as_str().unwrap()),
        "names the conversation: {}",
        notification.data
    );
    // The present owner got no mail: the only one is Dan's.
    let all = relay.received();
    assert_eq!(
        all.len(),
        1,
        "only the away owner is notified: {:?}",
        all.iter().map(|r| r.header("Subject")).collect::<Vec<_>>()
    );

    // No owner and no users or teams to fall back on: unassigned.
    let sales =
        daemon.new_conversation_to("sales@example.com", "nobody@customer.example", "No owner");
    assert_eq!(assignee(&sales), None, "{sales}");
    assert_eq!(daemon.assigned_to("none"), [sales["id"].as_str().unwrap()]);
}

#[test]
fn nobody_eligible_waits_unassigned_until_someone_becomes_available() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon_routing(
        dir.path(),
        "users = [\"bob\", \"carol\"]\nmax_open_per_agent = 2",
        "",
    );
    let mut tokens = Tokens::new(&daemon);
    let waiting: Vec<String> = (0..3)
        .map(|n| {
            let c =
                daemon.new_conversation(&format!("w{n}@customer.example"), &format!("Wait {n}"));
            assert_eq!(assignee(&c), None, "{c}");
            c["id"].as_str().unwrap().to_string()
        })
        .collect();
    let mut unassigned = daemon.assigned_to("none");
    unassigned.sort();
    let mut expected = waiting.clone();
    expected.sort();
    assert_eq!(unassigned, expected);

    // Bob becomes available: the two oldest (his capacity) are his.
    daemon.set_available(&tokens.of("bob"), true);
    for id in &waiting[..2] {
        let c = daemon.conversation(id);
        assert_eq!(assignee(&c), Some("bob"), "{c}");
        assert_eq!(history(&c), [record("bob", "became_available")]);
    }
    assert_eq!(daemon.assigned_to("none"), [waiting[2].clone()]);
    let bob_sees: Vec<String> = {
        let token = tokens.of("bob");
        let (status, body) = daemon.get_with("/api/v1/conversations?assignee=me", Some(&token));
        assert_eq!(status, 200, "{body}");
        body["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(bob_sees.len(), 2, "assignee=me: {bob_sees:?}");

    // Carol becomes available: the last one is hers.
    daemon.set_available(&tokens.of("carol"), true);
    let last = daemon.conversation(&waiting[2]);
    assert_eq!(history(&last), [record("carol", "became_available")]);
    assert!(daemon.assigned_to("none").is_empty());
}

#[test]
fn an_agent_without_a_live_socket_is_away_and_gets_waiting_work_on_connecting() {
    let dir = tempfile::tempdir().unwrap();
    // away_after_minutes = 0: only a live event socket counts as present.
    let daemon = daemon_routing(
        dir.path(),
        r#"users = ["carol"]"#,
        "[routing]\naway_after_minutes = 0\n",
    );
    let mut tokens = Tokens::new(&daemon);
    let carol = tokens.of("carol");
    daemon.set_available(&carol, true);
    assert!(!daemon.shown_available("carol"), "no socket: away");
    let waiting = daemon.new_conversation("p0@customer.example", "Presence 0");
    assert_eq!(assignee(&waiting), None, "{waiting}");
    let id = waiting["id"].as_str().unwrap().to_string();

    let socket = EventSocket::connect(daemon.http, &carol, None);
    let assigned = daemon.wait_for_conversation(&id, "assignment on connecting", |c| {
        assignee(c) == Some("carol")
    });
    assert_eq!(history(&assigned), [record("carol", "became_available")]);
    assert!(daemon.shown_available("carol"), "socket open: present");
    let live = daemon.new_conversation("p1@customer.example", "Presence 1");
    assert_eq!(assignee(&live), Some("carol"), "{live}");

    drop(socket);
    eventually("carol to be away after her socket closed", WAIT, || {
        if daemon.shown_available("carol") {
            Err("still available".into())
        } else {
            Ok(())
        }
    });
    let after = daemon.new_conversation("p2@customer.example", "Presence 2");
    assert_eq!(assignee(&after), None, "{after}");
}

#[test]
fn two_hundred_conversations_at_once_are_spread_evenly_over_four_agents() {
    const SESSIONS: usize = 20;
    const PER_SESSION: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    // alice, bob, carol, dan (erin holds no seat).
    let daemon = daemon_routing(dir.path(), r#"teams = ["support", "billing"]"#, "");
    let mut tokens = Tokens::new(&daemon);
    available(
        &daemon,
        &mut tokens,
        &["alice", "bob", "carol", "dan", "erin"],
    );

    let barrier = Arc::new(Barrier::new(SESSIONS));
    let smtp = daemon.smtp;
    let senders: Vec<_> = (0..SESSIONS)
        .map(|s| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut client = SmtpClient::connect(smtp);
                client.ehlo();
                barrier.wait();
                for m in 0..PER_SESSION {
                    let from = format!("fair-{s}-{m}@customer.example");
                    let mail = mails::simple(
                        &format!("fair-{s}-{m}@customer.example"),
                        &from,
                        "support@example.com",
                        &format!("Fair {s}-{m}"),
                        "Where is my order?",
                    );
                    let reply = client.send_mail(&from, &["support@example.com"], &mail);
                    assert_eq!(reply.code, 250, "{s}-{m}: {reply:?}");
                }
                client.quit();
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }

    let all = daemon.all_conversations("");
    assert_eq!(all.len(), SESSIONS * PER_SESSION);
    let mut loads = BTreeMap::new();
    for agent in ["alice", "bob", "carol", "dan"] {
        loads.insert(agent, daemon.assigned_to(agent).len());
    }
    assert!(daemon.assigned_to("none").is_empty(), "all assigned");
    assert!(daemon.assigned_to("erin").is_empty());
    assert_eq!(
        loads.values().sum::<usize>(),
        SESSIONS * PER_SESSION,
        "{loads:?}"
    );
    let most = loads.values().max().unwrap();
    let least = loads.values().min().unwrap();
    assert!(most - least <= 1, "unbalanced: {loads:?}");
    // The listings agree with the conversations' own assignee fields.
    let by_field = tally(&all);
    for (agent, count) in &loads {
        assert_eq!(by_field.get(*agent), Some(count), "{by_field:?}");
    }
}

#[test]
fn a_rule_changed_by_sighup_applies_to_the_next_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon_routing(dir.path(), r#"users = ["alice"]"#, "");
    let mut tokens = Tokens::new(&daemon);
    available(&daemon, &mut tokens, &["alice", "bob"]);
    let before = daemon.new_conversation("h0@customer.example", "Hangup 0");
    assert_eq!(assignee(&before), Some("alice"));

    let path = dir.path().join("config.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let changed = config.replace(r#"users = ["alice"]"#, r#"users = ["bob"]"#);
    assert_ne!(config, changed);
    std::fs::write(&path, changed).unwrap();
    let reloads = |log: &str| log.matches("workspace reloaded").count();
    let seen = reloads(&daemon.log());
    signal(daemon.pid(), "HUP");
    eventually("the reload", WAIT, || {
        if reloads(&daemon.log()) > seen {
            Ok(())
        } else {
            Err(daemon.log())
        }
    });
    for n in 1..3 {
        let after =
            daemon.new_conversation(&format!("h{n}@customer.example"), &format!("Hangup {n}"));
        assert_eq!(assignee(&after), Some("bob"), "{after}");
        assert_eq!(history(&after), [record("bob", "users_and_teams")]);
    }
    assert_eq!(
        assignee(&daemon.conversation(before["id"].as_str().unwrap())),
        Some("alice"),
        "a reload does not move existing conversations"
    );
}

/// Runs `switchboard check-config` on `config`; returns (exit code, stdout,
/// stderr).
fn check_config(config: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    let output = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_config_rejects_unknown_names_in_rules_and_warns_about_seatless_users() {
    let bad = email_channel(
        "support-email",
        "support",
        "support@example.com",
        &(routing("users = [\"bob\", \"zoe\"]\nteams = [\"support\", \"nope\"]")
            + &tickets("pipeline = \"support\"\nstage = \"limbo\"")),
    ) + &email_channel(
        "sales-email",
        "sales",
        "sales@example.com",
        &tickets("pipeline = \"marketing\""),
    );
    let (code, _, stderr) = check_config(&routing_config(&bad, ""));
    assert_eq!(code, Some(78), "{stderr}");
    for expected in [
        "channels[0].routing.users[1]: no agent \"zoe\"",
        "channels[0].routing.teams[1]: no team \"nope\"",
        "channels[0].tickets.stage",
        "channels[1].tickets.pipeline",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    }
    assert!(!stderr.contains("\"bob\""), "bob is fine: {stderr}");

    let seatless = email_channel(
        "support-email",
        "support",
        "support@example.com",
        &routing(r#"users = ["bob", "erin"]"#),
    );
    let (code, stdout, stderr) = check_config(&routing_config(&seatless, ""));
    assert_eq!(code, Some(0), "a warning, not an error: {stdout}{stderr}");
    let warning = stdout
        .lines()
        .find(|l| l.starts_with("warning"))
        .unwrap_or_else(|| panic!("no warning in {stdout}"));
    assert!(
        warning.contains("channels[0].routing.users[1]") && warning.contains("erin"),
        "{warning}"
    );
    assert!(warning.contains("seat"), "{warning}");
}
