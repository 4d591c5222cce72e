//! Routing benchmark: the cost of routing and tickets per new conversation.
//!
//! The same load is sent twice per round, alternating, each time to a fresh
//! daemon (empty store): `MAILS` (5000) ~4.7 KB mails over `SESSIONS` (20)
//! concurrent reused SMTP sessions, every mail from a new sender with a
//! fresh Message-ID, so every mail makes a new contact and a new
//! conversation.
//!
//! - off: the channel has no routing and no tickets;
//! - on: the channel routes to a team of four available agents (balanced,
//!   `only_available`, a capacity that is never reached) and opens a ticket
//!   owned by the assignee with each conversation.
//!
//! After each run the store is checked through the API: every mail is a
//! conversation; with routing on, none is unassigned, every one has a
//! ticket, and the spread over the four agents is shown. Messages/s is
//! mails over the time from the first connection to the last `250` (each
//! `250` is given only after the message is on disk).
//!
//! Run by bench/routing.sh (release build, inside `unshare -n`).

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use support::{Daemon, RawSmtp};

const AGENTS: [&str; 4] = ["ana", "ben", "cai", "dev"];

/// The workspace: an admin, four agents in team `support`, one inbox and
/// its email channel; `rules` is appended to the channel.
fn config(rules: &str) -> String {
    let mut config = String::from(
        r#"
[storage]
path = "data"

[smtp]
listen = "127.0.0.1:0"
hostname = "bench.switchboard.test"
max_sessions = 1000

[http]
listen = "127.0.0.1:0"

[[pipelines]]
id = "support"
name = "Support pipeline"
stages = ["new", "waiting_on_contact", "waiting_on_us", "closed"]

[[teams]]
id = "support"
name = "Support"

[[agents]]
id = "admin"
name = "Ada Admin"
email = "admin@example.com"
role = "admin"
"#,
    );
    for agent in AGENTS {
        config.push_str(&format!(
            "\n[[agents]]\nid = \"{agent}\"\nname = \"Agent {agent}\"\nemail = \"{agent}@example.com\"\n\
             role = \"agent\"\nteams = [\"support\"]\n"
        ));
    }
    config.push_str(
        r#"
[[inboxes]]
id = "support"
name = "Support"
teams = ["support"]

[[channels]]
id = "support-email"
inbox = "support"
kind = "email"
address = "support@example.com"
"#,
    );
    config.push_str(rules);
    config
}

const ROUTING_ON: &str = r#"
[channels.routing]
auto_assign = true
assign_to = "users_and_teams"
teams = ["support"]
only_available = true
max_open_per_agent = 1000000

[channels.tickets]
enabled = true
pipeline = "support"
stage = "new"
owner = "conversation_owner"
priority = "medium"
"#;

/// The ~4.7 KB text mail of bench/smtp_ingest.sh, from sender `n`.
fn mail(n: usize) -> String {
    let mut mail = format!(
        "From: \"Customer {n}\" <c{n}@customer.example>\r\nTo: \"Support\" <support@example.com>\r\n\
         Subject: My order {n} has not arrived yet\r\nMessage-ID: <route-{n}@customer.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    );
    for line in 1..=60 {
        mail.push_str(&format!(
            "Line {line:02} of a customer message that explains what went wrong in detail.\r\n"
        ));
    }
    mail
}

/// What one run measured and found in the store afterwards.
struct Run {
    seconds: f64,
    conversations: usize,
    unassigned: usize,
    tickets: usize,
    loads: Vec<usize>,
    load_average: String,
}

fn token(bin: &Path, dir: &Path, agent: &str) -> String {
    let output = Command::new(bin)
        .args(["token", "create", "--agent", agent, "--config"])
        .arg(dir.join("config.toml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "token create {agent}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

async fn get(client: &reqwest::Client, daemon: &Daemon, path: &str) -> Value {
    let response = client
        .get(daemon.url(path))
        .bearer_auth(&daemon.token)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}: {response:?}");
    response.json().await.unwrap()
}

/// Conversations listed with `query`, following cursors; returns how many
/// and how many of them have a ticket.
async fn count(client: &reqwest::Client, daemon: &Daemon, query: &str) -> (usize, usize) {
    let (mut total, mut tickets) = (0, 0);
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/conversations?limit=100{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let body = get(client, daemon, &path).await;
        let page = body["conversations"].as_array().unwrap();
        total += page.len();
        tickets += page.iter().filter(|c| c["ticket"].is_string()).count();
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (total, tickets),
        }
    }
}

async fn send_all(smtp: SocketAddr, sessions: usize, mails: usize) {
    let tasks: Vec<_> = (0..sessions)
        .map(|s| {
            tokio::spawn(async move {
                let mut client = RawSmtp::connect(smtp).await;
                let mut n = s;
                while n < mails {
                    let code = client
                        .send(
                            &format!("c{n}@customer.example"),
                            "support@example.com",
                            &mail(n),
                        )
                        .await;
                    assert_eq!(code, 250, "mail {n}");
                    n += sessions;
                }
                client.quit().await;
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

async fn run(bin: &Path, on: bool, sessions: usize, mails: usize) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(bin, dir.path(), &config(if on { ROUTING_ON } else { "" }));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    if on {
        for agent in AGENTS {
            let response = client
                .put(daemon.url("/api/v1/agents/me/availability"))
                .bearer_auth(token(bin, dir.path(), agent))
                .json(&json!({"available": true}))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{response:?}");
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    send_all(daemon.smtp, sessions, mails).await;
    let seconds = start.elapsed().as_secs_f64();
    let load_average = support::load_average();

    let (conversations, tickets) = count(&client, &daemon, "").await;
    let (unassigned, _) = count(&client, &daemon, "&assignee=none").await;
    let mut loads = Vec::new();
    if on {
        for agent in AGENTS {
            loads.push(
                count(&client, &daemon, &format!("&assignee={agent}"))
                    .await
                    .0,
            );
        }
    }
    Run {
        seconds,
        conversations,
        unassigned,
        tickets,
        loads,
        load_average,
    }
}

#[tokio::main]
async fn main() {
    let sessions = support::env_usize("SESSIONS", 20);
    let mails = support::env_usize("MAILS", 5000);
    let rounds = support::env_usize("ROUNDS", 2);
    let bin = support::daemon_bin();

    println!(
        "| run | routing + tickets | mails | seconds | msg/s | conversations | unassigned | tickets | per agent | load avg |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let (mut off_seconds, mut on_seconds) = (0.0, 0.0);
    for round in 1..=rounds {
        for on in [false, true] {
            let result = run(&bin, on, sessions, mails).await;
            assert_eq!(result.conversations, mails, "every mail is a conversation");
            if on {
                assert_eq!(result.unassigned, 0, "routing on: all assigned");
                assert_eq!(result.tickets, mails, "routing on: all ticketed");
                on_seconds += result.seconds;
            } else {
                assert_eq!(result.tickets, 0);
                off_seconds += result.seconds;
            }
            let loads = if result.loads.is_empty() {
                "–".to_string()
            } else {
                result
                    .loads
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(" / ")
            };
            println!(
                "| {round} | {} | {mails} | {:.2} | {:.0} | {} | {} | {} | {loads} | {} |",
                if on { "on" } else { "off" },
                result.seconds,
                mails as f64 / result.seconds,
                result.conversations,
                result.unassigned,
                result.tickets,
                result.load_average,
            );
        }
    }
    let total = (mails * rounds) as f64;
    let rate_off = total / off_seconds;
    let rate_on = total / on_seconds;
    println!();
    println!("| routing + tickets | mails | msg/s |");
    println!("|---|---|---|");
    println!("| off | {} | {rate_off:.0} |", mails * rounds);
    println!("| on | {} | {rate_on:.0} |", mails * rounds);
    println!();
    println!(
        "Ratio on/off: **{:.3}**. Routing cost per conversation (1/rate_on − 1/rate_off, \
         wall clock at {sessions} concurrent sessions): **{:.1} µs**.",
        rate_on / rate_off,
        (1.0 / rate_on - 1.0 / rate_off) * 1e6
    );
}
