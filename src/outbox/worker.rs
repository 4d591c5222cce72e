//! The delivery worker: one task that finds due jobs and runs up to
//! `concurrency` attempts at once, each through its channel's sender.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::backoff::backoff;
use super::sender::{OutboundDelivery, SendOutcome};
use crate::app::App;
use crate::channels::chat::send::ChatSender;
use crate::channels::custom::send::CustomSender;
use crate::channels::email::notify::compose_notification;
use crate::channels::email::relay::EmailSender;
use crate::channels::meta::send::MetaSender;
use crate::channels::sms::send::SmsSender;
use crate::config::{ChannelKind, OutboxSettings};
use crate::ids::Id;
use crate::model::{Author, DeliveryState, DeliveryStatus};
use crate::store::{Job, Notification, StoreError};

/// The longest the worker sleeps without looking at the outbox.
const IDLE_POLL: Duration = Duration::from_secs(30);
/// How long attempts in flight may finish after shutdown; the rest are
/// retried after the next start.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// One sender per channel kind that can send.
#[derive(Default)]
pub struct Senders {
    /// Present when `[outbound_smtp]` is configured.
    pub email: Option<EmailSender>,
    /// Messenger and WhatsApp, through the Graph API.
    pub meta: MetaSender,
    /// Custom channels, through their signed webhooks.
    pub custom: CustomSender,
    /// SMS channels, through the provider's REST API.
    pub sms: SmsSender,
    /// Website chat: the visitor's open sockets, or the email fallback.
    pub chat: ChatSender,
}

impl Senders {
    async fn send(&self, delivery: &OutboundDelivery) -> SendOutcome {
        match &delivery.channel.kind {
            ChannelKind::Email(_) => match &self.email {
                Some(sender) => sender.send(delivery).await,
                None => SendOutcome::Failed {
                    reason: "no outbound SMTP relay is configured".into(),
                },
            },
            ChannelKind::Messenger(_) | ChannelKind::Whatsapp(_) => self.meta.send(delivery).await,
            ChannelKind::Custom(_) => self.custom.send(delivery).await,
            ChannelKind::Sms(_) => self.sms.send(delivery).await,
            // A conversation a call started is answered by text, from the
            // same business number.
            ChannelKind::Calls(_) => self.sms.send(delivery).await,
            // Answers to a form go out by email through its `reply_via`.
            ChannelKind::Form(form) => match &self.email {
                Some(sender) => crate::channels::form::reply::send(sender, delivery, form).await,
                None => SendOutcome::Failed {
                    reason: "no outbound SMTP relay is configured".into(),
                },
            },
            ChannelKind::Chat(_) => self.chat.send(delivery, self.email.as_ref()).await,
        }
    }
}

pub struct OutboxWorker {
    app: Arc<App>,
    senders: Arc<Senders>,
    settings: OutboxSettings,
}

impl OutboxWorker {
    pub fn new(app: Arc<App>, senders: Senders, settings: OutboxSettings) -> Self {
        OutboxWorker {
            app,
            senders: Arc::new(senders),
            settings,
        }
    }

    /// Delivers due jobs until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(self.settings.concurrency));
        let in_flight: Arc<Mutex<HashSet<Id>>> = Arc::default();
        let mut attempts = JoinSet::new();
        loop {
            if let Err(error) = self.start_due(&permits, &in_flight, &mut attempts) {
                tracing::error!(%error, "outbox: cannot read due jobs");
            }
            let wait = self.until_next_due();
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.app.outbox_wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                Some(_) = attempts.join_next(), if !attempts.is_empty() => {}
            }
        }
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while attempts.join_next().await.is_some() {}
        })
        .await;
    }

    fn start_due(
        &self,
        permits: &Arc<Semaphore>,
        in_flight: &Arc<Mutex<HashSet<Id>>>,
        attempts: &mut JoinSet<()>,
    ) -> Result<(), StoreError> {
        let free = permits.available_permits();
        if free == 0 {
            return Ok(());
        }
        let busy = lock(in_flight).len();
        let jobs = self.app.store.due_jobs(self.app.clock.now(), free + busy)?;
        for job in jobs {
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                break;
            };
            if !lock(in_flight).insert(job.message) {
                continue;
            }
            // An attempt that ended after `due_jobs` read this job (and then
            // left `in_flight`) has finished or moved it: do not send twice.
            if !matches!(self.app.store.job_pending(&job), Ok(true)) {
                lock(in_flight).remove(&job.message);
                continue;
            }
            let app = self.app.clone();
            let senders = self.senders.clone();
            let settings = self.settings.clone();
            let in_flight = in_flight.clone();
            attempts.spawn(async move {
                let message = job.message;
                if let Err(error) = attempt(&app, &senders, &settings, job).await {
                    tracing::error!(%error, %message, "outbox: cannot record a delivery attempt");
                }
                lock(&in_flight).remove(&message);
                drop(permit);
                app.outbox_wake.notify_one();
            });
        }
        Ok(())
    }

    fn until_next_due(&self) -> Duration {
        match self.app.store.next_due() {
            Ok(Some(due)) => {
                let millis = (due - self.app.clock.now()).clamp(0, IDLE_POLL.as_millis() as i64);
                Duration::from_millis(millis as u64)
            }
            _ => IDLE_POLL,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One delivery attempt and its bookkeeping.
async fn attempt(
    app: &App,
    senders: &Senders,
    settings: &OutboxSettings,
    job: Job,
) -> Result<(), StoreError> {
    let outcome = match &job.notification {
        Some(notification) => notify(app, senders, &job, notification).await?,
        None => match delivery_for(app, &job)? {
            Some(delivery) => senders.send(&delivery).await,
            None => SendOutcome::Failed {
                reason: "the message's channel is no longer configured".into(),
            },
        },
    };
    let now = app.clock.now();
    let attempts = job.attempts + 1;
    let status = move |state, reason: Option<String>, provider_id: Option<String>| DeliveryStatus {
        state,
        reason,
        attempts,
        provider_id,
        updated_at: now,
    };
    let store = app.store.clone();
    let message = job.message;
    let settings = settings.clone();
    let metrics = app.metrics.clone();
    let result = tokio::task::spawn_blocking(move || match outcome {
        SendOutcome::Delivered { provider_id } => {
            tracing::info!(%message, attempts, "delivered");
            store
                .finish_job(&job, status(DeliveryState::Sent, None, provider_id), now)
                .inspect(|sent| metrics.delivered(sent.as_ref(), now))
        }
        SendOutcome::Failed { reason } => {
            tracing::warn!(%message, %reason, "delivery failed");
            store
                .finish_job(&job, status(DeliveryState::Failed, Some(reason), None), now)
                .inspect(|_| metrics.delivery_failed())
        }
        SendOutcome::Retry { reason, .. } if attempts >= settings.max_attempts => {
            tracing::warn!(%message, %reason, attempts, "delivery failed, giving up");
            let reason = format!("gave up after {attempts} attempts: {reason}");
            store
                .finish_job(&job, status(DeliveryState::Failed, Some(reason), None), now)
                .inspect(|_| metrics.delivery_failed())
        }
        SendOutcome::Retry { reason, after } => {
            let delay = after.unwrap_or_else(|| backoff(&settings, attempts));
            tracing::info!(%message, %reason, attempts, ?delay, "delivery will be retried");
            let next = Job {
                attempts,
                due: now + delay.as_millis() as i64,
                ..job.clone()
            };
            store.reschedule_job(
                &job,
                &next,
                status(DeliveryState::Queued, Some(reason), None),
                now,
            )
        }
    })
    .await
    .map_err(|e| StoreError::Transaction(e.to_string()))?;
    result?;
    app.store.durable().await
}

/// Sends a notification to a team member from the conversation's email
/// channel.
async fn notify(
    app: &App,
    senders: &Senders,
    job: &Job,
    notification: &Notification,
) -> Result<SendOutcome, StoreError> {
    let Some(conversation) = app.store.conversation(job.conversation)? else {
        return Ok(SendOutcome::Failed {
            reason: "the conversation is gone".into(),
        });
    };
    let workspace = app.workspace();
    // From the conversation's own email channel, else an email channel of
    // its inbox, else any email channel.
    let email_of = |c: &crate::config::Channel| match &c.kind {
        ChannelKind::Email(email) => Some(email.clone()),
        _ => None,
    };
    let email = workspace
        .channel(&conversation.channel)
        .and_then(email_of)
        .or_else(|| {
            workspace
                .channels
                .iter()
                .filter(|c| c.inbox == conversation.inbox)
                .find_map(email_of)
        })
        .or_else(|| workspace.channels.iter().find_map(email_of));
    let (Some(email), Some(sender)) = (email, &senders.email) else {
        return Ok(SendOutcome::Failed {
            reason: "no email channel and relay to notify through".into(),
        });
    };
    let message_id = format!(
        "notify.{}@{}",
        job.message.to_string().to_lowercase(),
        app.hostname
    );
    Ok(
        match compose_notification(&email, notification, &message_id) {
            Ok(message) => sender.send_message(message).await,
            Err(error) => SendOutcome::Failed {
                reason: error.to_string(),
            },
        },
    )
}

/// Loads what the channel sender needs; `None` when the channel is gone.
fn delivery_for(app: &App, job: &Job) -> Result<Option<OutboundDelivery>, StoreError> {
    let store = &app.store;
    let missing = |what| StoreError::NotFound { what };
    let conversation = store
        .conversation(job.conversation)?
        .ok_or(missing("conversation"))?;
    let contact = store
        .contact(conversation.contact)?
        .ok_or(missing("contact"))?;
    let mut history = store.messages(job.conversation)?;
    let position = history
        .iter()
        .position(|m| m.id == job.message)
        .ok_or(missing("message"))?;
    let message = history.remove(position);
    history.truncate(position);
    let workspace = app.workspace();
    let Some(channel) = workspace.channel(&conversation.channel).cloned() else {
        return Ok(None);
    };
    let author = match &message.author {
        Some(Author::Agent { id }) => workspace.agent(id).cloned(),
        _ => None,
    };
    Ok(Some(OutboundDelivery {
        message,
        conversation,
        contact,
        history,
        channel,
        author,
    }))
}
