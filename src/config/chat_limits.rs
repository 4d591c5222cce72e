//! A chat channel's limits per client address (`[channels.per_address]`)
//! and the proxies whose `X-Forwarded-For` names that address
//! (`trusted_proxies`): how many visitor sockets one address may hold
//! open, how many new visitors (each a conversation to be) it may start a
//! minute, and how many messages its visitors may send a minute together.
//! They stop one host from holding hundreds of sockets or starting a
//! conversation per hello (a visitor's own limit, `messages_per_minute`,
//! starts afresh when it drops its token). IPv6 addresses count by /64.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Deserialize;

/// `[channels.per_address]` of a chat channel.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPerAddress {
    /// Visitor sockets one address may hold open at once.
    pub max_sockets: Option<u32>,
    /// Token-less hellos (new visitors) one address may send a minute.
    pub new_conversations_per_minute: Option<u32>,
    /// Messages the visitors of one address may send a minute together.
    pub messages_per_minute: Option<u32>,
}

/// Validated per-address limits; each is at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerAddress {
    pub max_sockets: u32,
    pub new_conversations_per_minute: u32,
    pub messages_per_minute: u32,
}

/// Enough for a family or an office behind one address with a few tabs
/// each; far below what one host could hold.
pub const DEFAULT_PER_ADDRESS: PerAddress = PerAddress {
    max_sockets: 20,
    new_conversations_per_minute: 10,
    messages_per_minute: 60,
};

/// The visitor sockets the daemon holds at once, on every channel; more
/// are refused with `503`. No address may be allowed more.
pub const MAX_SOCKETS_LIMIT: u32 = 50_000;
/// The highest `new_conversations_per_minute` taken: as many as the
/// daemon holds sockets (a load test from one machine needs that many).
const MAX_NEW_CONVERSATIONS_LIMIT: u32 = MAX_SOCKETS_LIMIT;
/// The highest `messages_per_minute` taken.
const MAX_MESSAGES_LIMIT: u32 = 100_000;

/// The default `trusted_proxies`: a reverse proxy on this machine.
pub const LOOPBACK: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

type Found = Vec<(String, String)>;

/// Validates `[channels.per_address]` at `path` (the channel's path).
pub(super) fn per_address(
    raw: Option<&RawPerAddress>,
    path: &str,
    found: &mut Found,
) -> PerAddress {
    let empty = RawPerAddress::default();
    let raw = raw.unwrap_or(&empty);
    let mut check = |key: &str, given: Option<u32>, default: u32, most: u32| -> u32 {
        let value = given.unwrap_or(default);
        if value == 0 || value > most {
            found.push((
                format!("{path}.per_address.{key}"),
                format!("must be between 1 and {most} (got {value})"),
            ));
        }
        value
    };
    PerAddress {
        max_sockets: check(
            "max_sockets",
            raw.max_sockets,
            DEFAULT_PER_ADDRESS.max_sockets,
            MAX_SOCKETS_LIMIT,
        ),
        new_conversations_per_minute: check(
            "new_conversations_per_minute",
            raw.new_conversations_per_minute,
            DEFAULT_PER_ADDRESS.new_conversations_per_minute,
            MAX_NEW_CONVERSATIONS_LIMIT,
        ),
        messages_per_minute: check(
            "messages_per_minute",
            raw.messages_per_minute,
            DEFAULT_PER_ADDRESS.messages_per_minute,
            MAX_MESSAGES_LIMIT,
        ),
    }
}

/// Validates `trusted_proxies` at `path`; not given: loopback.
pub(super) fn trusted_proxies(
    raw: Option<&[String]>,
    path: &str,
    found: &mut Found,
) -> Vec<IpAddr> {
    let Some(raw) = raw else {
        return LOOPBACK.to_vec();
    };
    raw.iter()
        .enumerate()
        .filter_map(|(i, text)| match text.trim().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                found.push((
                    format!("{path}.trusted_proxies[{i}]"),
                    format!("\"{text}\" is not an IP address"),
                ));
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_each_limit_is_bounded_at_its_path() {
        let mut found = Found::new();
        assert_eq!(
            per_address(None, "channels[1]", &mut found),
            DEFAULT_PER_ADDRESS
        );
        assert_eq!(trusted_proxies(None, "channels[1]", &mut found), LOOPBACK);
        assert!(found.is_empty(), "{found:?}");

        let raw = RawPerAddress {
            max_sockets: Some(0),
            new_conversations_per_minute: Some(50_001),
            messages_per_minute: Some(5),
        };
        let limits = per_address(Some(&raw), "channels[1]", &mut found);
        assert_eq!(limits.messages_per_minute, 5);
        let paths: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "channels[1].per_address.max_sockets",
                "channels[1].per_address.new_conversations_per_minute"
            ]
        );
        assert_eq!(found[0].1, "must be between 1 and 50000 (got 0)");

        found.clear();
        let given = ["10.0.0.1".to_string(), "proxy".to_string()];
        let proxies = trusted_proxies(Some(&given), "channels[1]", &mut found);
        assert_eq!(proxies, ["10.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(found[0].0, "channels[1].trusted_proxies[1]");
        assert!(trusted_proxies(Some(&[]), "c", &mut found).is_empty());
    }
}
