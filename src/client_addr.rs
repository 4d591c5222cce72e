//! Who a request comes from, for per-address limits (web forms, the
//! website chat): the peer, or the client a trusted reverse proxy names in
//! `X-Forwarded-For`; and the key an address is counted under. An IPv4
//! address counts alone; an IPv6 address by its /64, because one host (one
//! subscriber) is given a whole /64 and may pick a new address from it for
//! every request.

use std::net::{IpAddr, Ipv6Addr};

use axum::http::HeaderMap;

/// The client's address: the peer, or, when the peer is a trusted proxy,
/// the last address in `X-Forwarded-For` that is not one (proxies append
/// the address they saw, so earlier entries are the client's to forge).
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer),
    )
}

/// The key `ip` is limited under: `203.0.113.9`, or `2001:db8:1:2::/64`.
/// An IPv4 address mapped into IPv6 (a dual-stack listener) is the IPv4
/// address.
pub fn limit_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_client_is_the_peer_unless_it_is_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.1, 203.0.113.9"),
        );
        assert_eq!(client_ip(Some(client), &headers, &[proxy]), Some(client));
        assert_eq!(client_ip(Some(proxy), &headers, &[proxy]), Some(client));
        assert_eq!(
            client_ip(Some(proxy), &HeaderMap::new(), &[proxy]),
            Some(proxy)
        );
    }

    #[test]
    fn ipv6_counts_by_its_slash_64_and_ipv4_by_address() {
        let key = |text: &str| limit_key(text.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:1:2:3"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_ne!(key("203.0.113.9"), key("203.0.113.10"));
        assert_eq!(key("::ffff:203.0.113.9"), "203.0.113.9", "mapped IPv4");
        assert_eq!(key("::1"), "::/64");
    }
}
