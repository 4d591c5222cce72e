//! The outbound-fetch policy: how the daemon requests a URL that someone
//! other than the operator can influence, without being turned against the
//! host it runs on or its network (SSRF: a loopback admin port, the LAN, a
//! cloud metadata service at 169.254.169.254).
//!
//! Unless the channel sets `allow_private_targets = true`, such a request
//! goes only to public addresses (`address::is_public`): not private,
//! loopback, link-local, unspecified, carrier-grade NAT, documentation,
//! multicast or reserved ones, nor IPv6 forms that embed one
//! (`::ffff:127.0.0.1`, NAT64). It is checked on the address actually
//! connected to:
//! - the client built by [`client`] resolves every name through
//!   `PublicOnly`, which drops the non-public addresses, so a DNS answer
//!   that changes between a check and the connection cannot slip through;
//! - a host written as an IP address is never resolved, so `check_url`
//!   checks it before the request (the URL parser has already normalised
//!   odd spellings such as `2130706433` or `0x7f.1` to `127.0.0.1`);
//! - the client follows no redirect; [`Fetcher::get`] follows them by
//!   hand, the policy checked again on each hop, at most `MAX_REDIRECTS`;
//! - no proxy is taken from the environment (a proxy would resolve the
//!   name itself, past the check); only `http` and `https` are fetched.
//!
//! Who uses it, and why:
//! - the custom channel's sender (`channels::custom::send`): the webhook
//!   URL is whatever the channel was configured with, maybe by someone
//!   trusted less than the host's owner;
//! - the media worker (`channels::meta::media`): Messenger attachment
//!   URLs and SMS/MMS `MediaUrl`s arrive in webhook bodies, a voicemail's
//!   `RecordingUrl` in a callback, WhatsApp's download URL in the Graph
//!   API's answer about a media id from a webhook.
//!
//! Who does not: the clients that call a provider's API at the base URL the
//! operator configured (`graph_base_url`, `api_base_url`): the Meta and SMS
//! senders, the Messenger greeting, the WhatsApp media lookup. Their host
//! is configuration, not input (a test points it at a loopback fake; an
//! operator may point it at an egress proxy), and what a webhook adds to
//! such a URL is a path segment at most, which cannot change the host.
//! They follow no redirects either.

mod address;
mod policy;
mod redirects;

use std::sync::Arc;
use std::time::Duration;

pub use address::is_public;
pub use policy::{check_url, refused_in, PublicOnly, Refused};
pub use redirects::{FetchError, MAX_REDIRECTS};

/// How long a fetch may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To set up the connection.
    pub connect: Duration,
    /// The whole of one request (each redirect hop has its own); none when
    /// the caller sets one per request.
    pub request: Option<Duration>,
}

/// The HTTP client that enforces the policy: unless `allow_private`, it
/// connects only to public addresses of a name; it follows no redirect and
/// uses no proxy. A URL with an IP literal must still pass `check_url`
/// (as [`Fetcher`] does).
pub fn client(allow_private: bool, timeouts: Timeouts) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")));
    if let Some(request) = timeouts.request {
        builder = builder.timeout(request);
    }
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build()
}

/// One policy client for channels that keep the default, one for channels
/// that allow private targets; `for_channel` picks.
///
/// Build it once and share it: a client keeps its connection pool.
#[derive(Debug, Clone)]
pub struct Clients {
    public_only: reqwest::Client,
    any_target: reqwest::Client,
}

impl Clients {
    pub fn new(timeouts: Timeouts) -> Result<Clients, reqwest::Error> {
        Ok(Clients {
            public_only: client(false, timeouts)?,
            any_target: client(true, timeouts)?,
        })
    }

    /// The fetcher for a channel with `allow_private_targets` as given.
    pub fn for_channel(&self, allow_private: bool) -> Fetcher<'_> {
        let client = if allow_private {
            &self.any_target
        } else {
            &self.public_only
        };
        Fetcher {
            client,
            allow_private,
        }
    }
}

/// A policy client together with what it allows, so a URL is always
/// checked by the same rule its connection is made under.
#[derive(Debug, Clone, Copy)]
pub struct Fetcher<'a> {
    client: &'a reqwest::Client,
    allow_private: bool,
}

impl Fetcher<'_> {
    /// Whether `url` may be requested (`check_url` under this policy).
    pub fn check(&self, url: &reqwest::Url) -> Result<(), Refused> {
        check_url(url, self.allow_private)
    }

    /// The client, for a request that is never redirected (`check` its URL
    /// first; `refused_in` finds the resolver's refusal in its error).
    pub fn client(&self) -> &reqwest::Client {
        self.client
    }

    /// GETs `url`, following up to `MAX_REDIRECTS` redirects, each checked
    /// by the policy; `authorize` adds credentials to the requests that go
    /// to the first URL's origin. Answers the first response that is not a
    /// redirect, whatever its status.
    pub async fn get(
        &self,
        url: &str,
        authorize: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, FetchError> {
        redirects::get(self.client, self.allow_private, url, authorize).await
    }
}
