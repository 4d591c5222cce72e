//! What the routing and ticket tests share: a workspace with enough people
//! to route among (teams that overlap, a seatless agent, an agent outside
//! the inbox), channels written per test with their `[channels.routing]`
//! and `[channels.tickets]` rules, and helpers to deliver a new
//! conversation, set an agent's availability and count assignments.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{create_token, mails, smtp, Daemon};

/// The people of the routing workspace. Inbox `support` is worked by teams
/// `support` and `billing`; inbox `sales` by team `sales` only.
///
/// | agent | role  | teams            | seat |
/// |-------|-------|------------------|------|
/// | alice | admin | support          | yes  |
/// | bob   | agent | support          | yes  |
/// | carol | agent | support, billing | yes  |
/// | dan   | agent | billing          | yes  |
/// | erin  | agent | support          | no   |
/// | frank | agent | sales            | yes  |
pub const PEOPLE: &str = r#"
[[teams]]
id = "support"
name = "Support"

[[teams]]
id = "billing"
name = "Billing"

[[teams]]
id = "sales"
name = "Sales"

[[agents]]
id = "alice"
name = "Alice Admin"
email = "alice@example.com"
role = "admin"
teams = ["support"]

[[agents]]
id = "bob"
name = "Bob Builder"
email = "bob@example.com"
role = "agent"
teams = ["support"]

[[agents]]
id = "carol"
name = "Carol Both"
email = "carol@example.com"
role = "agent"
teams = ["support", "billing"]

[[agents]]
id = "dan"
name = "Dan Billing"
email = "dan@example.com"
role = "agent"
teams = ["billing"]

[[agents]]
id = "erin"
name = "Erin Seatless"
email = "erin@example.com"
role = "agent"
seat = false
teams = ["support"]

[[agents]]
id = "frank"
name = "Frank Sales"
email = "frank@example.com"
role = "agent"
teams = ["sales"]

[[inboxes]]
id = "support"
name = "Support"
teams = ["support", "billing"]

[[inboxes]]
id = "sales"
name = "Sales"
teams = ["sales"]

[[pipelines]]
id = "support"
name = "Support pipeline"
stages = ["new", "waiting_on_contact", "waiting_on_us", "closed"]

[[pipelines]]
id = "sales"
name = "Sales pipeline"
stages = ["lead", "qualified", "won", "lost"]
"#;

/// A full config: storage, listeners, `PEOPLE`, then `channels` (written
/// with `email_channel`), then `extra` (top-level tables such as
/// `[limits]`, `[routing]`, `[outbound_smtp]`; they must come last because
/// a channel's sub-tables belong to the `[[channels]]` entry above them).
pub fn routing_config(channels: &str, extra: &str) -> String {
    format!(
        r#"
[storage]
path = "data"

[smtp]
listen = "127.0.0.1:0"
hostname = "mx.switchboard.test"
max_message_bytes = 1048576
max_recipients = 5
max_sessions = 200

[http]
listen = "127.0.0.1:0"
{PEOPLE}
{channels}
{extra}
"#
    )
}

/// One `[[channels]]` entry of kind email; `rules` is appended as is, e.g.
/// `"[channels.routing]\nauto_assign = true\nusers = [\"bob\"]\n"`.
pub fn email_channel(id: &str, inbox: &str, address: &str, rules: &str) -> String {
    format!(
        "\n[[channels]]\nid = \"{id}\"\ninbox = \"{inbox}\"\nkind = \"email\"\n\
         address = \"{address}\"\n{rules}\n"
    )
}

/// `[channels.routing]` with `auto_assign = true` and `body` (the other keys).
pub fn routing(body: &str) -> String {
    format!("[channels.routing]\nauto_assign = true\n{body}\n")
}

/// `[channels.tickets]` with `enabled = true` and `body`.
pub fn tickets(body: &str) -> String {
    format!("[channels.tickets]\nenabled = true\n{body}\n")
}

/// The relay and a fast outbox, for configs that send notifications.
pub fn relay_section(port: u16) -> String {
    format!(
        "\n[outbound_smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\n\
         [outbox]\nmax_attempts = 4\ninitial_backoff_ms = 100\nmax_backoff_ms = 400\n"
    )
}

/// API tokens of agents, made once each.
pub struct Tokens {
    dir: std::path::PathBuf,
    made: BTreeMap<String, String>,
}

impl Tokens {
    pub fn new(daemon: &Daemon) -> Tokens {
        let mut made = BTreeMap::new();
        made.insert("alice".to_string(), daemon.token.clone());
        Tokens {
            dir: daemon.dir.clone(),
            made,
        }
    }

    pub fn of(&mut self, agent: &str) -> String {
        let dir = self.dir.clone();
        self.made
            .entry(agent.to_string())
            .or_insert_with(|| create_token(&dir, agent))
            .clone()
    }
}

impl Daemon {
    /// `PUT /api/v1/agents/me/availability` as the agent holding `token`.
    pub fn set_available(&self, token: &str, available: bool) {
        let (status, body) = self.send_json_with(
            "PUT",
            "/api/v1/agents/me/availability",
            Some(token),
            &json!({ "available": available }),
        );
        assert_eq!(status, 200, "availability: {body}");
        assert_eq!(body["available"], available, "{body}");
    }

    /// Whether `GET /api/v1/agents` shows the agent as available.
    pub fn shown_available(&self, agent: &str) -> bool {
        let (status, list) = self.get("/api/v1/agents");
        assert_eq!(status, 200, "{list}");
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == agent)
            .unwrap_or_else(|| panic!("no agent {agent} in {list}"))["available"]
            .as_bool()
            .unwrap()
    }

    /// Delivers a mail that starts a new conversation (a fresh Message-ID,
    /// no In-Reply-To) to `to`, and returns that conversation, found by its
    /// subject (which must be unique in the test).
    pub fn new_conversation_to(&self, to: &str, from: &str, subject: &str) -> Value {
        let message_id = format!(
            "{}@customer.example",
            subject.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        );
        let mail = mails::simple(&message_id, from, to, subject, "Hello, please help.");
        let reply = smtp::deliver(self.smtp, from, &[to], &mail);
        assert_eq!(reply.code, 250, "{subject}: {reply:?}");
        self.conversation_by_subject(subject)
    }

    /// `new_conversation_to` the support channel (support@example.com).
    pub fn new_conversation(&self, from: &str, subject: &str) -> Value {
        self.new_conversation_to("support@example.com", from, subject)
    }

    /// The one conversation with this subject.
    pub fn conversation_by_subject(&self, subject: &str) -> Value {
        let found: Vec<Value> = self
            .all_conversations("")
            .into_iter()
            .filter(|c| c["subject"] == subject)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "conversations titled {subject:?}: {found:#?}"
        );
        found.into_iter().next().unwrap()
    }

    /// A conversation as the API shows it now.
    pub fn conversation(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/api/v1/conversations/{id}"));
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Ids of the conversations `GET /api/v1/conversations?assignee=...`
    /// lists (following cursors).
    pub fn assigned_to(&self, assignee: &str) -> Vec<String> {
        self.all_conversations(&format!("&assignee={assignee}"))
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// A ticket by id.
    pub fn ticket(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/api/v1/tickets/{id}"));
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Ids of the tickets `GET /api/v1/tickets?{query}` lists.
    pub fn ticket_ids(&self, query: &str) -> Vec<String> {
        let (status, body) = self.get(&format!("/api/v1/tickets?{query}"));
        assert_eq!(status, 200, "{query}: {body}");
        body["tickets"]
            .as_array()
            .unwrap_or_else(|| panic!("{query}: {body}"))
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect()
    }
}

/// The assignee of a conversation, or `None`.
pub fn assignee(conversation: &Value) -> Option<&str> {
    conversation["assignee"].as_str()
}

/// The `(agent, by)` pairs of a conversation's assignment history.
pub fn history(conversation: &Value) -> Vec<(Option<String>, String)> {
    conversation["assignment_history"]
        .as_array()
        .unwrap_or_else(|| panic!("no assignment_history in {conversation}"))
        .iter()
        .map(|record| {
            assert!(record["at"].is_string(), "{record}");
            (
                record["agent"].as_str().map(str::to_string),
                record["by"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `(Some(agent), by)`, for comparing with `history`.
pub fn record(agent: &str, by: &str) -> (Option<String>, String) {
    (Some(agent.to_string()), by.to_string())
}

/// How many of `conversations` each assignee holds (`"-"` for none).
pub fn tally<'a>(conversations: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for c in conversations {
        *counts
            .entry(assignee(c).unwrap_or("-").to_string())
            .or_insert(0) += 1;
    }
    counts
}
