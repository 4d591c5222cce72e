//! The check itself: `check_url` before a request is made (the scheme, and
//! a host that is an IP literal, which the client never resolves), and
//! `PublicOnly`, the resolver through which the client learns the
//! addresses of every name, so it connects only to addresses that passed.

use std::error::Error;
use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

use super::address::is_public;

/// Why the policy does not fetch a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{0}: URLs are fetched only over http and https")]
    Scheme(String),
    #[error(
        "{address} is not a public address (private, loopback, link-local or reserved); \
         set allow_private_targets = true on the channel to allow it"
    )]
    Address { address: IpAddr },
    #[error(
        "the host {host} resolves only to private, loopback or link-local addresses \
         ({addresses}); set allow_private_targets = true on the channel to allow it"
    )]
    Name { host: String, addresses: String },
}

/// Whether `url` may be requested: always only `http` and `https`; unless
/// `allow_private`, a host written as an IP address must be public. Names
/// are checked later, when `PublicOnly` resolves them.
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), Refused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused::Scheme(url.scheme().to_string()));
    }
    if allow_private {
        return Ok(());
    }
    // The URL parser has already turned every IPv4 spelling (`2130706433`,
    // `0x7f.1`, `0177.0.0.1`) into a dotted quad, and IPv6 hosts into their
    // canonical form in brackets (`[::ffff:7f00:1]`).
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
        Err(Refused::Address { address: ip })
    }
}

/// A DNS resolver for the HTTP client that answers only the public
/// addresses of a name, and `Refused::Name` when it has none.
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
                return Err(Box::new(Refused::Name { host, addresses }) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The `Refused` somewhere in an error's chain of sources (the HTTP client
/// wraps the resolver's error).
pub fn refused_in<'e>(error: &'e (dyn Error + 'static)) -> Option<&'e Refused> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(refused) = error.downcast_ref::<Refused>() {
            return Some(refused);
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), Refused> {
        check_url(&Url::parse(text).unwrap(), false)
    }

    #[test]
    fn every_spelling_of_a_private_literal_is_refused() {
        for url in [
            "http://127.0.0.1:8080/media",
            "http://[::1]/media",
            "http://[::ffff:127.0.0.1]:9/media",
            "http://2130706433/media",
            "http://0x7f.1/media",
            "http://0177.0.0.1/media",
            "http://127.1/media",
            "http://10.20.30.40/media",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00::]/media",
            "http://[fe80::1]/media",
            "http://0.0.0.0/media",
        ] {
            match check(url) {
                Err(Refused::Address { .. }) => {}
                other => panic!("{url}: {other:?}"),
            }
        }
        let Err(refused) = check("http://2130706433:9/media") else {
            panic!("2130706433 is loopback")
        };
        assert_eq!(
            refused,
            Refused::Address {
                address: "127.0.0.1".parse().unwrap()
            }
        );
        assert!(refused.to_string().contains("allow_private_targets"));
    }

    #[test]
    fn public_literals_pass_and_names_are_left_to_the_resolver() {
        assert_eq!(check("https://93.184.216.34/media"), Ok(()));
        assert_eq!(check("https://[2606:4700:4700::1111]/media"), Ok(()));
        assert_eq!(check("https://localhost/media"), Ok(()));
        assert_eq!(check("https://cdn.example/media"), Ok(()));
    }

    #[test]
    fn allowing_private_targets_passes_literals_but_not_other_schemes() {
        let url = |text: &str| Url::parse(text).unwrap();
        assert_eq!(check_url(&url("http://127.0.0.1:9/m"), true), Ok(()));
        assert_eq!(check_url(&url("http://[::1]:9/m"), true), Ok(()));
        for text in ["file:///etc/passwd", "ftp://93.184.216.34/m", "gopher://x/"] {
            assert!(
                matches!(check_url(&url(text), true), Err(Refused::Scheme(_))),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_loopback_addresses() {
        let error = match PublicOnly.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost must not resolve"),
            Err(error) => error,
        };
        let Some(Refused::Name { host, addresses }) = refused_in(error.as_ref()) else {
            panic!("a Refused::Name in {error:?}")
        };
        assert_eq!(host, "localhost");
        assert!(addresses.contains("127.0.0.1"), "{addresses}");
    }

    #[tokio::test]
    async fn the_resolver_passes_public_addresses() {
        // A numeric name needs no DNS server: the lookup answers it as is.
        let addrs: Vec<SocketAddr> = PublicOnly
            .resolve("93.184.216.34".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(addrs.len(), 1);
        assert_eq!(addrs[0].ip(), "93.184.216.34".parse::<IpAddr>().unwrap());
    }
}
