//! Where a custom channel's webhook may point. A webhook URL is written by
//! whoever configures the channel, so unless `allow_private_targets = true`
//! replies never go to private, loopback, link-local, unspecified or other
//! non-public addresses (PROTOCOLS.md 9.5: no SSRF into the host or its
//! network, e.g. a cloud metadata service at 169.254.169.254).
//!
//! The check happens where the connection is made: the HTTP client resolves
//! names through `PublicOnly`, which drops every non-public address, so the
//! client connects only to an address that was checked (a DNS answer that
//! changes between a check and the connection cannot slip through). An IP
//! literal in the URL is never resolved, so `check_literal` checks it before
//! the request. Redirects are never followed, so a public target cannot
//! bounce the request inward either.

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A webhook target refused because it is not a public address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the webhook host {host} resolves only to private, loopback or link-local addresses \
     ({addresses}); set allow_private_targets = true on the channel to allow it"
)]
pub struct BlockedTarget {
    pub host: String,
    pub addresses: String,
}

/// Whether `ip` is a public unicast address a webhook may go to.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", including 0.0.0.0
        || ip.is_loopback() // 127/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16 (cloud metadata)
        || (a == 100 && (b & 0xc0) == 64) // 100.64/10, carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24, IETF assignments
        || ip.is_documentation() // 192.0.2/24, 198.51.100/24, 203.0.113/24
        || (a == 198 && (b & 0xfe) == 18) // 198.18/15, benchmarking
        || ip.is_multicast() // 224/4
        || a >= 240; // 240/4 reserved, and the broadcast address
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [.., hi, lo] = s;
        let v4 = Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
        return is_public_v4(v4);
    }
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
        || (s[0] & 0xfe00) == 0xfc00 // fc00::/7, unique local
        || (s[0] & 0xffc0) == 0xfe80 // fe80::/10, link-local
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10, old site-local
        || (s[0] & 0xff00) == 0xff00 // ff00::/8, multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8); // 2001:db8::/32, documentation
    !special
}

/// Refuses a URL whose host is an IP literal that is not public (names are
/// checked when they are resolved, by `PublicOnly`).
pub fn check_literal(url: &reqwest::Url) -> Result<(), BlockedTarget> {
    // The URL parser normalises IPv4 spellings (`0x7f.1`) to dotted quads
    // and writes IPv6 hosts in brackets.
    let host = url.host_str().unwrap_or_default();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let Ok(ip) = host.parse::<IpAddr>() else {
        return Ok(());
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err(BlockedTarget {
            host: ip.to_string(),
            addresses: ip.to_string(),
        })
    }
}

/// A DNS resolver for the HTTP client that answers only public addresses,
/// and a `BlockedTarget` error when a name has none.
#[derive(Debug, Default, Clone, Copy)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (public, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
                found.into_iter().partition(|addr| is_public(addr.ip()));
            if public.is_empty() && !refused.is_empty() {
                let addresses = refused
                    .iter()
                    .map(|addr| addr.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Box::new(BlockedTarget { host, addresses }) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The `BlockedTarget` somewhere in an error's chain of sources (the HTTP
/// client wraps the resolver's error).
pub fn blocked_in<'e>(error: &'e (dyn Error + 'static)) -> Option<&'e BlockedTarget> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(blocked) = error.downcast_ref::<BlockedTarget>() {
            return Some(blocked);
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!public(ip), "{ip} must not count as public");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "93.184.216.34",
            "::ffff:93.184.216.34",
            "64:ff9b::808:808",
            "2606:4700:4700::1111",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn literal_hosts_are_checked_and_names_left_to_the_resolver() {
        let url = |text: &str| reqwest::Url::parse(text).unwrap();
        assert!(check_literal(&url("http://127.0.0.1:8080/hook")).is_err());
        assert!(check_literal(&url("http://[::1]/hook")).is_err());
        // Other spellings of loopback parse to the same address.
        assert!(check_literal(&url("http://0x7f.1/hook")).is_err());
        assert!(check_literal(&url("http://2130706433/hook")).is_err());
        assert!(check_literal(&url("https://93.184.216.34/hook")).is_ok());
        assert!(check_literal(&url("https://localhost/hook")).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_loopback_addresses() {
        let error = match PublicOnly.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost must not resolve"),
            Err(error) => error,
        };
        let blocked = blocked_in(error.as_ref()).expect("a BlockedTarget");
        assert_eq!(blocked.host, "localhost");
        assert!(blocked.to_string().contains("allow_private_targets"));
    }
}
