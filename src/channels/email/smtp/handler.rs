//! The `mailin::Handler` the session engine calls back into.
//!
//! mailin owns its handler and gives no access to it, so what the session
//! loop needs back (the envelope as mailin saw it when DATA began) is handed
//! over through a small shared slot. The handler decides recipients (only
//! addresses the sink accepts, at most `max_recipients` per transaction) and
//! otherwise says OK: message bytes never pass through it, and `data_end`
//! must always succeed, because an error there leaves mailin stuck in its
//! DATA state (EMAIL.md §1.3). The real end-of-data answer is the session's.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use mailin::{Handler, Response};

use super::reply;
use super::MailSink;

/// The envelope of a transaction as mailin passed it to `data_start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataStart {
    pub helo: String,
    pub reverse_path: String,
    pub recipients: Vec<String>,
}

/// Where the handler leaves the envelope for the session loop to take.
#[derive(Debug, Default, Clone)]
pub(crate) struct Slot(Arc<Mutex<Option<DataStart>>>);

impl Slot {
    fn put(&self, value: DataStart) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }

    pub(crate) fn take(&self) -> Option<DataStart> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// One connection's handler.
pub(crate) struct SinkHandler<S> {
    sink: Arc<S>,
    max_recipients: usize,
    /// Recipients accepted in the current transaction.
    accepted: usize,
    slot: Slot,
}

impl<S: MailSink> SinkHandler<S> {
    pub(crate) fn new(sink: Arc<S>, max_recipients: usize, slot: Slot) -> Self {
        SinkHandler {
            sink,
            max_recipients,
            accepted: 0,
            slot,
        }
    }
}

impl<S: MailSink> Handler for SinkHandler<S> {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        // Every transaction starts here (RSET and HELO end one without a callback).
        self.accepted = 0;
        if !self.sink.has_room() {
            return reply::insufficient_storage().into_mailin();
        }
        mailin::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        // An error keeps mailin's state, so refusing one recipient leaves the
        // others in place.
        if self.accepted >= self.max_recipients {
            return reply::too_many_recipients().into_mailin();
        }
        if !self.sink.accepts_recipient(to) {
            return reply::unknown_recipient(to).into_mailin();
        }
        self.accepted += 1;
        mailin::response::OK
    }

    fn data_start(&mut self, domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        // The reserve may have been reached since MAIL FROM.
        if !self.sink.has_room() {
            return reply::insufficient_storage().into_mailin();
        }
        self.slot.put(DataStart {
            helo: domain.to_string(),
            reverse_path: from.to_string(),
            recipients: to.to_vec(),
        });
        mailin::response::OK
    }

    fn data_end(&mut self) -> Response {
        mailin::response::OK
    }
}
