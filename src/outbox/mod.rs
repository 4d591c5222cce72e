//! The outbox: the only way a message leaves. Outbound messages and their
//! delivery jobs are written together (see `store::outbound`); this module's
//! worker takes due jobs, hands each to its channel's sender, and records the
//! outcome: `sent`, a retry with exponential backoff and jitter, or `failed`
//! after the configured number of attempts. Jobs live in the store, so
//! pending deliveries resume after a restart.

mod backoff;
mod retry_after;
mod sender;
mod worker;

pub use backoff::backoff;
pub use retry_after::{parse_retry_after, retry_after};
pub use sender::{OutboundDelivery, SendOutcome};
pub use worker::{OutboxWorker, Senders};
