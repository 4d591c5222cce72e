//! End-to-end tests of the visitor socket's limits per client address
//! (issue 20): open sockets (`429 too_many_sockets` before the upgrade),
//! new visitors a minute (a `rate_limited` frame, then close `1013`, and no
//! conversation), and messages a minute across the address's visitors
//! (`rate_limited`, not stored); a returning visitor with its token is not
//! new; IPv6 counts by /64; every refusal is counted in `/metrics`.
//!
//! Every test client connects from 127.0.0.1, which chat channels trust as
//! a reverse proxy by default: `X-Forwarded-For` gives other addresses.

mod common;

use common::chat::{chat_config, Next, Visitor, WAIT};
use common::{eventually, test_config, Daemon};
use serde_json::{json, Value};

/// A daemon whose `web` channel has `extra` (its own keys, then tables).
fn start(extra: &str) -> (tempfile::TempDir, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let config = chat_config(dir.path(), test_config(1024 * 1024), extra);
    let daemon = Daemon::start_with_config(dir.path(), &config);
    (dir, daemon)
}

/// `switchboard_chat_rejections_total` of `channel` and `reason`; every
/// series is there from the start (at 0).
fn rejections(d: &Daemon, channel: &str, reason: &str) -> u64 {
    d.metric(&format!(
        "switchboard_chat_rejections_total{{channel=\"{channel}\",reason=\"{reason}\"}}"
    )) as u64
}

/// The conversations of the `web` channel.
fn web_conversations(d: &Daemon) -> Vec<Value> {
    d.all_conversations("")
        .into_iter()
        .filter(|c| c["channel"] == "web")
        .collect()
}

/// The refusal of one socket too many from `address`.
fn refused_from(d: &Daemon, address: &str) -> Value {
    match Visitor::try_connect_from(d.http, "web", address) {
        Ok(_) => panic!("a socket from {address} past the cap was accepted"),
        Err((status, body)) => {
            assert_eq!(status, 429, "{body}");
            body
        }
    }
}

#[test]
fn sockets_past_the_cap_of_an_address_are_refused_until_one_closes() {
    let (_dir, d) = start("[channels.per_address]\nmax_sockets = 3\n");
    assert_eq!(rejections(&d, "web", "too_many_sockets"), 0);
    let mut open: Vec<Visitor> = (0..3).map(|_| Visitor::connect(d.http, "web")).collect();
    let refused = Visitor::try_connect_with(d.http, "web", Some(common::chat::ORIGIN), None)
        .err()
        .expect("a fourth socket from 127.0.0.1 is refused");
    assert_eq!(refused.0, 429);
    assert_eq!(refused.1["error"], "too_many_sockets", "{}", refused.1);
    assert!(
        refused.1["message"].as_str().unwrap().contains("at most 3"),
        "{}",
        refused.1
    );
    let mut refusals = 1;
    // The held sockets still work.
    assert_eq!(open[0].hello(None)["type"], "welcome");

    // Each channel counts by its own limit; other addresses by theirs.
    open.push(Visitor::connect(d.http, "strict"));
    for address in ["203.0.113.7", "198.51.100.1"] {
        open.push(Visitor::try_connect_from(d.http, "web", address).unwrap());
    }
    // An IPv6 client counts by its /64: four addresses in one /64 are one
    // address; the next /64 is another.
    for host in ["1", "2", "ffff:1:2"] {
        let address = format!("2001:db8:1:2::{host}");
        open.push(Visitor::try_connect_from(d.http, "web", &address).unwrap());
    }
    let body = refused_from(&d, "2001:db8:1:2:aaaa::9");
    assert_eq!(body["error"], "too_many_sockets");
    refusals += 1;
    open.push(Visitor::try_connect_from(d.http, "web", "2001:db8:1:3::1").unwrap());

    // Closing one of 127.0.0.1's sockets lets a new one in (once the
    // daemon has seen the close).
    open.remove(1).close();
    let again =
        eventually(
            "a socket in place of the closed one",
            WAIT,
            || match Visitor::try_connect_with(d.http, "web", Some(common::chat::ORIGIN), None) {
                Ok(visitor) => Ok(visitor),
                Err((status, body)) => {
                    assert_eq!(status, 429, "{body}");
                    refusals += 1;
                    Err(body.to_string())
                }
            },
        );
    open.push(again);
    assert!(Visitor::try_connect(d.http, "web", Some(common::chat::ORIGIN)).is_err());
    refusals += 1;
    assert_eq!(rejections(&d, "web", "too_many_sockets"), refusals);
}

#[test]
fn new_visitors_past_the_limit_are_closed_and_start_no_conversation() {
    let (_dir, d) = start("[channels.per_address]\nnew_conversations_per_minute = 2\n");
    assert_eq!(rejections(&d, "web", "new_conversations"), 0);
    let mut tokens = Vec::new();
    for n in 0..2 {
        let mut visitor = Visitor::connect(d.http, "web");
        let welcome = visitor.hello(None);
        tokens.push(welcome["visitor_token"].as_str().unwrap().to_string());
        visitor.say(&format!("c-{n}"), &format!("Question {n}"));
        visitor.close();
    }
    assert_eq!(web_conversations(&d).len(), 2);

    // The third token-less hello from this address in the minute.
    let mut third = Visitor::connect(d.http, "web");
    third.send(json!({"type": "hello"}));
    let error = third.expect("error");
    assert_eq!(error["code"], "rate_limited", "{error}");
    let wait = error["retry_after_ms"].as_u64().unwrap();
    assert!(wait > 0 && wait <= 60_000, "{error}");
    match third.next(WAIT) {
        Next::Closed(Some((code, _))) => assert_eq!(code, 1013),
        other => panic!("expected close 1013, got {other:?}"),
    }
    // An empty token is no token.
    let mut fourth = Visitor::connect(d.http, "web");
    fourth.send(json!({"type": "hello", "visitor_token": ""}));
    assert_eq!(fourth.expect("error")["code"], "rate_limited");
    assert_eq!(rejections(&d, "web", "new_conversations"), 2);

    // Returning visitors (with their token) are not new, however often.
    for round in 0..3 {
        for (n, token) in tokens.iter().enumerate() {
            let mut visitor = Visitor::connect(d.http, "web");
            let welcome = visitor.hello(Some(token));
            assert_ne!(welcome["conversation"], Value::Null, "{welcome}");
            let ack = visitor.say(&format!("r-{round}-{n}"), "Still there?");
            assert_eq!(ack["conversation"], welcome["conversation"]);
            visitor.close();
        }
    }
    // Another address starts its own.
    let mut elsewhere = Visitor::try_connect_from(d.http, "web", "2001:db8:5::1").unwrap();
    elsewhere.hello(None);
    elsewhere.say("e-1", "Hello from elsewhere");

    assert_eq!(
        web_conversations(&d).len(),
        3,
        "no conversation for refused hellos"
    );
    assert_eq!(rejections(&d, "web", "new_conversations"), 2);
}

/// Sends a message and returns the daemon's answer to it: `ack` or `error`.
fn send_message(visitor: &mut Visitor, client_id: &str, text: &str) -> Value {
    visitor.send(json!({"type": "message", "client_id": client_id, "text": text}));
    loop {
        match visitor.next(WAIT) {
            Next::Frame(frame)
                if frame["client_id"] == client_id
                    && (frame["type"] == "ack" || frame["type"] == "error") =>
            {
                return frame
            }
            Next::Frame(_) => continue,
            other => panic!("no answer to {client_id}: {other:?}"),
        }
    }
}

#[test]
fn messages_past_the_limit_of_an_address_are_refused_across_its_visitors() {
    let (_dir, d) = start("[channels.per_address]\nmessages_per_minute = 4\n");
    assert_eq!(rejections(&d, "web", "messages"), 0);
    let mut ann = Visitor::connect(d.http, "web");
    ann.hello(None);
    let mut bob = Visitor::connect(d.http, "web");
    bob.hello(None);
    let mut acked = Vec::new();
    // Three each, taking turns: within each visitor's own limit (30 a
    // minute, bursts of 10), over the address's 4.
    for n in 0..3 {
        for (name, visitor) in [("ann", &mut ann), ("bob", &mut bob)] {
            let text = format!("{name} asks {n}");
            let answer = send_message(visitor, &format!("{name}-{n}"), &text);
            if n < 2 {
                assert_eq!(answer["type"], "ack", "{answer}");
                acked.push(text);
            } else {
                assert_eq!(answer["code"], "rate_limited", "{answer}");
                let wait = answer["retry_after_ms"].as_u64().unwrap();
                assert!(wait > 0 && wait <= 60_000, "{answer}");
            }
        }
    }
    // The sockets stay open; another address is not held back.
    ann.send(json!({"type": "ping"}));
    ann.expect("pong");
    let mut carol = Visitor::try_connect_from(d.http, "web", "203.0.113.50").unwrap();
    carol.hello(None);
    assert_eq!(carol.say("carol-0", "carol asks 0")["type"], "ack");

    // Exactly the acknowledged messages were stored.
    let mut stored: Vec<String> = web_conversations(&d)
        .iter()
        .flat_map(|c| d.messages(c["id"].as_str().unwrap()))
        .filter(|m| m["direction"] == "inbound")
        .map(|m| m["text"].as_str().unwrap().to_string())
        .filter(|text| !text.starts_with("carol"))
        .collect();
    stored.sort();
    acked.sort();
    assert_eq!(stored, acked);
    assert_eq!(rejections(&d, "web", "messages"), 2);
    assert_eq!(rejections(&d, "web", "visitor_messages"), 0);
}

/// Without a trusted proxy, `X-Forwarded-For` names nobody: the peer is
/// the client.
#[test]
fn forwarded_addresses_count_only_from_trusted_proxies() {
    let (_dir, d) = start("trusted_proxies = []\n[channels.per_address]\nmax_sockets = 1\n");
    let _first = Visitor::try_connect_from(d.http, "web", "203.0.113.1").unwrap();
    let body = refused_from(&d, "203.0.113.2");
    assert_eq!(body["error"], "too_many_sockets");
}

/// The visitor's own limit (`messages_per_minute`) still holds, and is
/// counted apart from the address's.
#[test]
fn the_per_visitor_limit_still_applies_and_is_counted_apart() {
    let (_dir, d) = start("");
    // `strict` takes 3 a minute from one visitor, in bursts of one.
    let mut visitor = Visitor::connect(d.http, "strict");
    visitor.hello(None);
    assert_eq!(visitor.say("v-0", "quick")["type"], "ack");
    let answer = send_message(&mut visitor, "v-1", "one too many");
    assert_eq!(answer["code"], "rate_limited", "{answer}");
    assert_eq!(rejections(&d, "strict", "visitor_messages"), 1);
    assert_eq!(rejections(&d, "strict", "messages"), 0);
}
