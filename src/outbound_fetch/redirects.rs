//! GET with redirects followed by hand: the client itself follows none, so
//! each hop's URL goes through `check_url` (and its name through the
//! resolver) before it is requested, at most `MAX_REDIRECTS` hops. Twilio
//! media URLs, for one, answer a redirect to their CDN.
//!
//! Credentials go only to the origin they were meant for: a hop to another
//! scheme, host or port is requested without them (as browsers and HTTP
//! clients do), so a signed CDN link never sees the account's token.

use reqwest::header::{HeaderValue, LOCATION};
use reqwest::{RequestBuilder, Response, StatusCode, Url};

use super::policy::{check_url, refused_in, Refused};

/// The most redirects one fetch follows.
pub const MAX_REDIRECTS: usize = 5;

/// Why a fetch got no answer to read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("not a URL: {0}")]
    BadUrl(String),
    #[error("refused: {0}")]
    Refused(Refused),
    #[error("HTTP {status} redirect without a usable Location")]
    BadRedirect { status: u16 },
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    /// A network error or timeout; never carries the URL (provider links
    /// are signed).
    #[error("request failed: {0}")]
    Http(reqwest::Error),
}

impl FetchError {
    /// Whether trying again cannot help: only network trouble may pass.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, FetchError::Http(_))
    }

    fn from_http(error: reqwest::Error) -> FetchError {
        match refused_in(&error) {
            Some(refused) => FetchError::Refused(refused.clone()),
            None => FetchError::Http(error.without_url()),
        }
    }
}

/// Where a redirect answer sends the request next, checked by the policy;
/// `hops` is how many redirects were followed before this one.
pub fn next_hop(
    current: &Url,
    status: StatusCode,
    location: Option<&HeaderValue>,
    hops: usize,
    allow_private: bool,
) -> Result<Url, FetchError> {
    if hops >= MAX_REDIRECTS {
        return Err(FetchError::TooManyRedirects);
    }
    let bad = || FetchError::BadRedirect {
        status: status.as_u16(),
    };
    let location = location.and_then(|v| v.to_str().ok()).ok_or_else(bad)?;
    // A relative Location is resolved against the URL that answered it.
    let next = current.join(location).map_err(|_| bad())?;
    check_url(&next, allow_private).map_err(FetchError::Refused)?;
    Ok(next)
}

/// `Fetcher::get`: `client` (built by `super::client`, so it follows no
/// redirect itself) and the policy it was built for.
pub(super) async fn get(
    client: &reqwest::Client,
    allow_private: bool,
    url: &str,
    authorize: impl Fn(RequestBuilder) -> RequestBuilder,
) -> Result<Response, FetchError> {
    // The parse error names no part of the URL.
    let first = Url::parse(url).map_err(|e| FetchError::BadUrl(e.to_string()))?;
    check_url(&first, allow_private).map_err(FetchError::Refused)?;
    let mut current = first.clone();
    let mut hops = 0;
    loop {
        let mut request = client.get(current.clone());
        if current.origin() == first.origin() {
            request = authorize(request);
        }
        let response = request.send().await.map_err(FetchError::from_http)?;
        let status = response.status();
        if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        current = next_hop(
            &current,
            status,
            response.headers().get(LOCATION),
            hops,
            allow_private,
        )?;
        hops += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(location: Option<&str>, hops: usize, allow_private: bool) -> Result<Url, FetchError> {
        let current = Url::parse("https://api.example/2010-04-01/Media/ME1").unwrap();
        let location = location.map(|l| HeaderValue::from_str(l).unwrap());
        next_hop(
            &current,
            StatusCode::TEMPORARY_REDIRECT,
            location.as_ref(),
            hops,
            allow_private,
        )
    }

    #[test]
    fn a_redirect_is_resolved_against_the_url_that_answered_it() {
        let next = hop(Some("https://cdn.example/m/ME1?sig=x"), 0, false).unwrap();
        assert_eq!(next.as_str(), "https://cdn.example/m/ME1?sig=x");
        let next = hop(Some("/other/ME1"), 0, false).unwrap();
        assert_eq!(next.as_str(), "https://api.example/other/ME1");
    }

    #[test]
    fn every_hop_is_checked_by_the_policy() {
        for location in [
            "http://127.0.0.1/x",
            "http://2130706433/x",
            "http://0x7f.1/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00::1]/x",
        ] {
            assert!(
                matches!(hop(Some(location), 0, false), Err(FetchError::Refused(_))),
                "{location}"
            );
            assert!(hop(Some(location), 0, true).is_ok(), "{location} allowed");
        }
        assert!(matches!(
            hop(Some("file:///etc/passwd"), 0, true),
            Err(FetchError::Refused(Refused::Scheme(_)))
        ));
    }

    #[test]
    fn redirects_are_bounded_and_need_a_location() {
        assert!(hop(Some("/x"), MAX_REDIRECTS - 1, false).is_ok());
        assert!(matches!(
            hop(Some("/x"), MAX_REDIRECTS, false),
            Err(FetchError::TooManyRedirects)
        ));
        assert!(matches!(
            hop(None, 0, false),
            Err(FetchError::BadRedirect { status: 307 })
        ));
        assert!(hop(None, 0, false).unwrap_err().is_permanent());
    }
}
