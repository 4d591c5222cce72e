//! Fetching attachments of Messenger and WhatsApp messages into the store.
//! Provider links expire (WhatsApp's within minutes), so the webhook queues
//! a durable media job next to each message and this worker downloads the
//! bytes right away, a few at a time, retrying with exponential backoff and
//! jitter; jobs left at shutdown resume at the next start.
//!
//! Messenger: `GET payload.url` as it is. WhatsApp: `GET {graph}/{version}/
//! {media_id}` with `Authorization: Bearer <access token>` answers JSON
//! `{url, mime_type, ...}`; then `GET url` with the same bearer header.
//!
//! Every link from a webhook or the lookup's answer is fetched under the
//! outbound-fetch policy (`crate::outbound_fetch`): public addresses only
//! unless the channel sets `allow_private_targets`, redirects followed by
//! hand and re-checked. A refused link is given up at once; the message
//! keeps the attachment, marked with why its bytes will not come. The
//! lookup itself goes to the operator's configured Graph API base.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::Rng;
use serde::Deserialize;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::ChannelKind;
use crate::model::Millis;
use crate::outbound_fetch::{self, FetchError, Fetcher, Timeouts};
use crate::store::{MediaJob, MediaSource, StoreError};

/// Downloads at once.
const CONCURRENCY: usize = 4;
/// Attempts before a download is given up (the link has surely expired).
const MAX_ATTEMPTS: u32 = 6;
const INITIAL_BACKOFF: Duration = Duration::from_millis(1000);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The largest attachment taken (WhatsApp documents go up to 100 MB).
const MAX_BYTES: u64 = 100 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest the worker sleeps without looking at the queue.
const IDLE_POLL: Duration = Duration::from_secs(30);

/// Wakes the worker when the webhook queued jobs.
static WAKE: Notify = Notify::const_new();

/// Tells the worker that new jobs are due.
pub fn wake() {
    WAKE.notify_one();
}

impl From<reqwest::Error> for MediaError {
    fn from(error: reqwest::Error) -> Self {
        MediaError::Http(error.without_url())
    }
}

/// Why one download attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("channel {0} is no longer a WhatsApp channel")]
    ChannelGone(String),
    #[error("the message is not stored (yet)")]
    MessageMissing,
    #[error("the message has no attachment {0}")]
    NoAttachment(u32),
    /// Always without its URL (a media URL may carry a signed query).
    #[error("request failed: {0}")]
    Http(reqwest::Error),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{what} answered HTTP {status}")]
    Status { what: &'static str, status: u16 },
    #[error("the media lookup answered no url")]
    NoUrl,
    #[error("the attachment is larger than {MAX_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store task failed: {0}")]
    Task(String),
}

impl MediaError {
    /// Whether trying again cannot help.
    fn is_permanent(&self) -> bool {
        match self {
            MediaError::ChannelGone(_)
            | MediaError::NoAttachment(_)
            | MediaError::NoUrl
            | MediaError::TooLarge => true,
            MediaError::Status { status, .. } => {
                (400..500).contains(status) && !matches!(status, 408 | 429)
            }
            MediaError::Fetch(error) => error.is_permanent(),
            _ => false,
        }
    }
}

/// Queues a download for each attachment not stored yet (a replayed post
/// whose attachments already arrived, or were given up, queues nothing).
/// Written before the messages, so the flush that makes them durable
/// covers the jobs too.
pub fn queue(
    app: &App,
    channel: &str,
    messages: &[super::webhook::Received],
    now: Millis,
) -> Result<usize, StoreError> {
    let mut jobs = Vec::new();
    for received in messages.iter().filter(|r| !r.media.is_empty()) {
        let Some(external_id) = &received.inbound.external_id else {
            continue;
        };
        let stored = app.store.message_by_external_id(channel, external_id)?;
        for (index, source) in &received.media {
            let settled = stored.as_ref().is_some_and(|m| {
                m.attachments
                    .get(*index as usize)
                    .is_some_and(|a| a.size > 0 || a.fetch_failed.is_some())
            });
            if !settled {
                jobs.push(MediaJob {
                    channel: channel.to_string(),
                    external_id: external_id.clone(),
                    index: *index,
                    source: source.clone(),
                    attempts: 0,
                    due: now,
                });
            }
        }
    }
    app.store.queue_media(&jobs)?;
    Ok(jobs.len())
}

/// The worker's HTTP clients: `api` for the Graph media lookup at the
/// configured base URL, `links` (the outbound-fetch policy) for every URL a
/// webhook or the lookup handed us.
#[derive(Clone)]
struct Clients {
    api: reqwest::Client,
    links: outbound_fetch::Clients,
}

impl Clients {
    fn new() -> Result<Clients, reqwest::Error> {
        let api = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let links = outbound_fetch::Clients::new(Timeouts {
            connect: CONNECT_TIMEOUT,
            request: Some(REQUEST_TIMEOUT),
        })?;
        Ok(Clients { api, links })
    }
}

/// Runs the media worker until `shutdown` is cancelled.
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let client = match Clients::new() {
        Ok(clients) => clients,
        Err(error) => {
            tracing::error!(%error, "media: cannot build the HTTP client; attachments will not be fetched");
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let in_flight: Arc<Mutex<HashSet<JobName>>> = Arc::default();
    let mut fetches = JoinSet::new();
    loop {
        // Below the storage reserve, downloads wait (their jobs stay due).
        let room = app.disk.check().is_ok();
        if room {
            if let Err(error) = start_due(&app, &client, &permits, &in_flight, &mut fetches) {
                tracing::error!(%error, "media: cannot read due jobs");
            }
        }
        let wait = if room {
            until_next_due(&app, &permits, &in_flight)
        } else {
            crate::disk_space::RETRY_AFTER
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = WAKE.notified() => {}
            () = tokio::time::sleep(wait) => {}
            Some(_) = fetches.join_next(), if !fetches.is_empty() => {}
        }
    }
    // Unfinished downloads stay queued and run again after the next start.
    fetches.abort_all();
    while fetches.join_next().await.is_some() {}
}

type JobName = (String, String, u32);

fn lock(set: &Mutex<HashSet<JobName>>) -> MutexGuard<'_, HashSet<JobName>> {
    set.lock().unwrap_or_else(|p| p.into_inner())
}

fn start_due(
    app: &Arc<App>,
    client: &Clients,
    permits: &Arc<Semaphore>,
    in_flight: &Arc<Mutex<HashSet<JobName>>>,
    fetches: &mut JoinSet<()>,
) -> Result<(), StoreError> {
    let free = permits.available_permits();
    if free == 0 {
        return Ok(());
    }
    let busy = lock(in_flight).len();
    for job in app.store.due_media_jobs(app.clock.now(), free + busy)? {
        let name = name(&job);
        if lock(in_flight).contains(&name) {
            continue;
        }
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            break;
        };
        lock(in_flight).insert(name.clone());
        let (app, client, in_flight) = (app.clone(), client.clone(), in_flight.clone());
        fetches.spawn(async move {
            if let Err(error) = attempt(&app, &client, job).await {
                tracing::error!(%error, "media: cannot record a download attempt");
            }
            lock(&in_flight).remove(&name);
            drop(permit);
            wake();
        });
    }
    Ok(())
}

/// How long until a job that is not running yet comes due; while every
/// permit is taken, a finishing download wakes the worker instead.
fn until_next_due(app: &App, permits: &Semaphore, in_flight: &Mutex<HashSet<JobName>>) -> Duration {
    if permits.available_permits() == 0 {
        return IDLE_POLL;
    }
    let busy = lock(in_flight).clone();
    let next = app
        .store
        .due_media_jobs(i64::MAX, busy.len() + 1)
        .ok()
        .and_then(|jobs| jobs.into_iter().find(|job| !busy.contains(&name(job))));
    match next {
        Some(job) => {
            let millis = (job.due - app.clock.now()).clamp(0, IDLE_POLL.as_millis() as i64);
            Duration::from_millis(millis as u64)
        }
        None => IDLE_POLL,
    }
}

fn name(job: &MediaJob) -> JobName {
    (job.channel.clone(), job.external_id.clone(), job.index)
}

/// One attempt at one job; records the outcome (done, retry later, or
/// given up) in the queue.
async fn attempt(app: &App, client: &Clients, job: MediaJob) -> Result<(), StoreError> {
    let outcome = fetch(app, client, &job).await;
    let attempts = job.attempts + 1;
    let (channel, message) = (&job.channel, &job.external_id);
    match outcome {
        Ok(size) => {
            tracing::info!(%channel, %message, index = job.index, size, "media: attachment stored");
            app.store.update_media_job(&job, None)
        }
        Err(error) if error.is_permanent() || attempts >= MAX_ATTEMPTS => {
            tracing::warn!(%channel, %message, index = job.index, attempts, %error, "media: download given up");
            mark_failed(app, &job, &error.to_string());
            app.store.update_media_job(&job, None)
        }
        Err(error) => {
            let delay = backoff(attempts);
            tracing::info!(%channel, %message, index = job.index, attempts, %error, retry_in_ms = delay.as_millis() as u64, "media: download failed; will retry");
            let next = MediaJob {
                attempts,
                due: app.clock.now() + delay.as_millis() as i64,
                ..job.clone()
            };
            app.store.update_media_job(&job, Some(&next))
        }
    }
}

/// Marks the job's attachment as given up, with `reason`, so the message
/// says its bytes will not come (it is kept as it is either way).
fn mark_failed(app: &App, job: &MediaJob, reason: &str) {
    let marked = app
        .store
        .message_by_external_id(&job.channel, &job.external_id)
        .and_then(|message| match message {
            Some(message) => app
                .store
                .fail_attachment(message.id, job.index, reason, app.clock.now())
                .map(Some),
            None => Ok(None),
        });
    if let Err(error) = marked {
        tracing::error!(channel = %job.channel, message = %job.external_id, index = job.index, %error, "media: cannot mark the attachment as failed");
    }
}

/// `initial * 2^(attempts-1)` capped, then a random point in its upper half.
fn backoff(attempts: u32) -> Duration {
    let base = INITIAL_BACKOFF
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(20))
        .min(MAX_BACKOFF);
    let half = base / 2;
    half + Duration::from_millis(rand::thread_rng().gen_range(0..=half.as_millis() as u64))
}

/// Downloads the job's attachment and stores it; returns its size. An
/// attachment already stored (a replayed post) is not fetched again.
async fn fetch(app: &App, client: &Clients, job: &MediaJob) -> Result<usize, MediaError> {
    let message = app
        .store
        .message_by_external_id(&job.channel, &job.external_id)?
        .ok_or(MediaError::MessageMissing)?;
    let meta = message
        .attachments
        .get(job.index as usize)
        .ok_or(MediaError::NoAttachment(job.index))?;
    if meta.size > 0 {
        return Ok(meta.size as usize);
    }
    let links = client.links.for_channel(allows_private(app, &job.channel));
    let (content_type, bytes) = match &job.source {
        MediaSource::Url { url } => match sms_credentials(app, &job.channel) {
            Some((sid, token)) => sms_media(links, url, &sid, &token).await?,
            None => download(links, url, Auth::None, "the attachment URL").await?,
        },
        MediaSource::ProviderMedia { id } => {
            whatsapp_media(app, &client.api, links, &job.channel, id).await?
        }
    };
    let content_type = content_type.unwrap_or_else(|| meta.content_type.clone());
    let (store, index, size, now) = (app.store.clone(), job.index, bytes.len(), app.clock.now());
    tokio::task::spawn_blocking(move || {
        store.set_attachment(message.id, index, &content_type, &bytes, now)
    })
    .await
    .map_err(|e| MediaError::Task(e.to_string()))??;
    Ok(size)
}

/// Whether the channel lets its media links point at non-public addresses
/// (a channel no longer configured does not).
fn allows_private(app: &App, channel: &str) -> bool {
    match app.workspace().channel(channel).map(|c| &c.kind) {
        Some(ChannelKind::Messenger(page)) => page.allow_private_targets,
        Some(ChannelKind::Whatsapp(number)) => number.allow_private_targets,
        Some(ChannelKind::Sms(sms)) => sms.allow_private_targets,
        Some(ChannelKind::Calls(calls)) => calls.provider.allow_private_targets,
        _ => false,
    }
}

/// What the Graph API tells about a WhatsApp media id.
#[derive(Deserialize)]
struct MediaInfo {
    url: Option<String>,
    mime_type: Option<String>,
}

/// WhatsApp's two-step download: look the media id up, then fetch its URL,
/// both with the channel's access token.
async fn whatsapp_media(
    app: &App,
    client: &reqwest::Client,
    links: Fetcher<'_>,
    channel: &str,
    media_id: &str,
) -> Result<(Option<String>, Vec<u8>), MediaError> {
    let workspace = app.workspace();
    let Some(ChannelKind::Whatsapp(settings)) = workspace.channel(channel).map(|c| &c.kind) else {
        return Err(MediaError::ChannelGone(channel.to_string()));
    };
    let token = settings.access_token.expose();
    let response = client
        .get(settings.graph.url(media_id))
        .query(&[("phone_number_id", settings.phone_number_id.as_str())])
        .bearer_auth(token)
        .send()
        .await
        .map_err(MediaError::from)?;
    let status = response.status();
    if !status.is_success() {
        return Err(MediaError::Status {
            what: "the Graph media lookup",
            status: status.as_u16(),
        });
    }
    let info: MediaInfo = response.json().await.map_err(MediaError::from)?;
    let url = info.url.ok_or(MediaError::NoUrl)?;
    let (content_type, bytes) = download(links, &url, Auth::Bearer(token), "the media URL").await?;
    Ok((info.mime_type.or(content_type), bytes))
}

/// The account SID and auth token of an SMS channel, whose MMS media may
/// need HTTP Basic auth.
fn sms_credentials(app: &App, channel: &str) -> Option<(String, String)> {
    match &app.workspace().channel(channel)?.kind {
        ChannelKind::Sms(sms) => {
            Some((sms.account_sid.clone(), sms.auth_token.expose().to_string()))
        }
        ChannelKind::Calls(calls) => Some((
            calls.provider.account_sid.clone(),
            calls.provider.auth_token.expose().to_string(),
        )),
        _ => None,
    }
}

/// An MMS media URL (PROTOCOLS.md 3.1): with Basic auth `AccountSid:
/// AuthToken` first, then without when that is refused (accounts that do
/// not enforce auth on media; the redirect to the CDN drops the header).
async fn sms_media(
    links: Fetcher<'_>,
    url: &str,
    sid: &str,
    token: &str,
) -> Result<(Option<String>, Vec<u8>), MediaError> {
    match download(links, url, Auth::Basic(sid, token), "the MMS media URL").await {
        Err(MediaError::Status {
            status: 401 | 403, ..
        }) => download(links, url, Auth::None, "the MMS media URL").await,
        other => other,
    }
}

/// How a download authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    Basic(&'a str, &'a str),
}

/// GETs `url` under the outbound-fetch policy (authenticated as `auth`
/// says, on the URL's own origin), at most `MAX_BYTES`; returns the content
/// type it names and the bytes. Errors never carry the URL (provider links
/// are signed).
async fn download(
    links: Fetcher<'_>,
    url: &str,
    auth: Auth<'_>,
    what: &'static str,
) -> Result<(Option<String>, Vec<u8>), MediaError> {
    let authorize = |request: reqwest::RequestBuilder| match auth {
        Auth::None => request,
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
    };
    let mut response = links.get(url, authorize).await?;
    let status = response.status();
    if !status.is_success() {
        return Err(MediaError::Status {
            what,
            status: status.as_u16(),
        });
    }
    if response.content_length().is_some_and(|len| len > MAX_BYTES) {
        return Err(MediaError::TooLarge);
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(MediaError::from)? {
        if (bytes.len() + chunk.len()) as u64 > MAX_BYTES {
            return Err(MediaError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((content_type, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_within_its_cap() {
        for _ in 0..50 {
            let first = backoff(1);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_millis(1000));
            let third = backoff(3);
            assert!(third >= Duration::from_millis(2000) && third <= Duration::from_millis(4000));
            assert!(backoff(40) <= MAX_BACKOFF);
        }
    }

    #[test]
    fn client_errors_are_permanent_except_timeouts_and_rate_limits() {
        let status = |status| MediaError::Status { what: "x", status };
        assert!(status(404).is_permanent());
        assert!(status(403).is_permanent());
        assert!(!status(429).is_permanent());
        assert!(!status(408).is_permanent());
        assert!(!status(500).is_permanent());
        assert!(!MediaError::MessageMissing.is_permanent());
        assert!(MediaError::TooLarge.is_permanent());
    }

    #[test]
    fn a_link_the_policy_refuses_is_given_up_at_once() {
        let refused = outbound_fetch::Refused::Address {
            address: "127.0.0.1".parse().unwrap(),
        };
        assert!(MediaError::Fetch(FetchError::Refused(refused)).is_permanent());
        assert!(MediaError::Fetch(FetchError::TooManyRedirects).is_permanent());
    }
}
