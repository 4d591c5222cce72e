//! End-to-end: the agent API's authentication, access rules, errors and
//! pagination, and the `check-config` command.

mod common;

use std::process::Command;

use common::mails;
use common::smtp::deliver;
use common::{create_token, Daemon, BIN};

#[test]
fn wrong_or_missing_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    assert_eq!(daemon.get_with("/healthz", None).0, 200);
    for path in ["/api/v1/inboxes", "/api/v1/conversations"] {
        let (status, body) = daemon.get_with(path, None);
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["error"], "unauthorized");
        assert_eq!(daemon.get_with(path, Some("sb_0000")).0, 401);
        assert_eq!(daemon.get_with(path, Some(&daemon.token)).0, 200);
    }
    let response = common::http()
        .get(daemon.url("/api/v1/inboxes"))
        .header("Authorization", format!("Basic {}", daemon.token))
        .send()
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[test]
fn errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let (status, body) = daemon.get("/api/v1/conversations?status=sleeping");
    assert_eq!(status, 400);
    assert_eq!(body["field"], "status");
    let (status, body) = daemon.get("/api/v1/conversations?limit=0");
    assert_eq!((status, body["field"].as_str()), (400, Some("limit")));
    let (status, body) = daemon.get("/api/v1/conversations?cursor=%%%");
    assert_eq!((status, body["field"].as_str()), (400, Some("cursor")));
    let (status, body) = daemon.get("/api/v1/conversations?inbox=nope");
    assert_eq!((status, body["field"].as_str()), (400, Some("inbox")));
    assert_eq!(
        daemon
            .get("/api/v1/conversations/01JAAAAAAAAAAAAAAAAAAAAAAA")
            .0,
        404
    );
    assert_eq!(daemon.get("/api/v1/conversations/not-an-id").0, 404);
    assert_eq!(
        daemon.get("/api/v1/contacts/01JAAAAAAAAAAAAAAAAAAAAAAA").0,
        404
    );
    assert_eq!(
        daemon
            .get("/api/v1/messages/01JAAAAAAAAAAAAAAAAAAAAAAA/attachments/0")
            .0,
        404
    );
    assert_eq!(daemon.get("/api/v1/nothing").0, 404);
}

#[test]
fn pages_follow_latest_activity_and_agents_see_only_their_inboxes() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    for i in 0..7 {
        let mail = mails::simple(
            &format!("p{i}@x.example"),
            "p@x.example",
            "support@example.com",
            &format!("page {i}"),
            "x",
        );
        assert_eq!(
            deliver(daemon.smtp, "p@x.example", &["support@example.com"], &mail).code,
            250
        );
    }
    let sales = mails::simple(
        "s@x.example",
        "q@x.example",
        "sales@example.com",
        "for sales",
        "x",
    );
    assert_eq!(
        deliver(daemon.smtp, "q@x.example", &["sales@example.com"], &sales).code,
        250
    );

    let (_, first) = daemon.get("/api/v1/conversations?inbox=support&status=open&limit=3");
    let subjects = |page: &serde_json::Value| -> Vec<String> {
        page["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["subject"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(subjects(&first), ["page 6", "page 5", "page 4"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = daemon.get(&format!(
        "/api/v1/conversations?inbox=support&status=open&limit=3&cursor={cursor}"
    ));
    assert_eq!(subjects(&second), ["page 3", "page 2", "page 1"]);
    let cursor = second["next_cursor"].as_str().unwrap();
    let (_, third) = daemon.get(&format!(
        "/api/v1/conversations?inbox=support&status=open&limit=3&cursor={cursor}"
    ));
    assert_eq!(subjects(&third), ["page 0"]);
    assert!(third["next_cursor"].is_null());
    // A cursor from one query is refused by another.
    let (status, _) = daemon.get(&format!(
        "/api/v1/conversations?inbox=sales&limit=3&cursor={cursor}"
    ));
    assert_eq!(status, 400);
    assert!(
        daemon.get("/api/v1/conversations?status=closed").1["conversations"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Bob works only the sales inbox.
    let bob = create_token(dir.path(), "bob");
    let (_, inboxes) = daemon.get_with("/api/v1/inboxes", Some(&bob));
    let ids: Vec<&str> = inboxes
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sales"]);
    let (_, visible) = daemon.get_with("/api/v1/conversations", Some(&bob));
    assert_eq!(subjects(&visible), ["for sales"]);
    let support_id = first["conversations"][0]["id"].as_str().unwrap();
    assert_eq!(
        daemon
            .get_with(&format!("/api/v1/conversations/{support_id}"), Some(&bob))
            .0,
        404
    );
    assert_eq!(
        daemon
            .get_with("/api/v1/conversations?inbox=support", Some(&bob))
            .0,
        400
    );
}

#[test]
fn check_config_accepts_the_example_and_lists_every_error() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml");
    let output = Command::new(BIN)
        .args(["check-config", "--config", example])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = String::from_utf8(output.stdout).unwrap();
    assert!(
        summary.contains("support-email email support@example.com"),
        "{summary}"
    );

    let dir = tempfile::tempdir().unwrap();
    let broken = std::fs::read_to_string(example)
        .unwrap()
        .replace("inbox = \"support\"\nkind", "inbox = \"sales\"\nkind")
        .replace("role = \"agent\"", "role = \"boss\"")
        .replace("[http]", "[http]\nport = 80");
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, broken).unwrap();
    let output = Command::new(BIN)
        .arg("check-config")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let errors = String::from_utf8(output.stderr).unwrap();
    assert!(
        errors.contains("channels[0].inbox: no inbox \"sales\""),
        "{errors}"
    );
    assert!(errors.contains("agents[1].role"), "{errors}");
    assert!(
        errors.contains("http") && errors.contains("port"),
        "{errors}"
    );
}

#[test]
fn token_create_refuses_unknown_agents() {
    let dir = tempfile::tempdir().unwrap();
    common::prepare(dir.path(), 1024);
    let output = Command::new(BIN)
        .args(["token", "create", "--agent", "zoe", "--config"])
        .arg(dir.path().join("config.toml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no agent \"zoe\""));
}
