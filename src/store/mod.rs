//! The store: contacts, conversations, messages, attachments and the indexes
//! that find them, on sled. Nothing outside this module sees sled types, so a
//! second backend can be added behind the same interface.
//!
//! Writes are serialised by one writer lock and applied in one multi-tree
//! transaction each; durability comes from the shared group-commit flush
//! (`durable`), which callers await before acknowledging anything.

mod agent_mail;
mod calls;
mod chat;
mod check;
mod contact_links;
mod contacts;
mod conversations;
mod dedupe;
mod event_log;
#[cfg(feature = "fault-injection")]
mod fault;
mod forms;
mod group_commit;
mod ingest;
mod keys;
mod media;
mod merge;
mod outbound;
#[cfg(test)]
mod outbound_tests;
mod outbox;
mod participants;
mod provider_ids;
mod read;
mod records;
pub mod recovery;
mod routing;
mod schema;
mod secrets;
#[cfg(test)]
mod tests;
mod tickets;
mod write_set;

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

pub use calls::CallChange;
pub use check::{CheckReport, Problem};
pub use contact_links::ContactIdentity;
pub use contacts::{ContactPatch, ContactUpdateError};
pub use conversations::ConversationPatch;
pub use ingest::{Accepted, IngestRequest};
pub use media::{MediaJob, MediaSource};
pub use merge::MergeError;
pub use outbound::{OutboundError, OutboundRequest, Target};
pub use outbox::{Job, Notification};
pub use read::{AssigneeFilter, ConversationQuery, Page};
pub use routing::{AssignmentPlan, Load, OwnerInfo, TicketPlan};
pub use tickets::{TicketPatch, TicketQuery};

pub use group_commit::FlushObserver;
use group_commit::GroupCommit;

/// The page cache when `[storage] cache_mib` is not set.
pub const DEFAULT_CACHE_BYTES: u64 = 32 * 1024 * 1024;

use crate::ids::IdGenerator;

/// Trees, by what they hold. See `keys` for each key layout.
#[derive(Clone)]
struct Trees {
    meta: sled::Tree,
    contacts: sled::Tree,
    identities: sled::Tree,
    conversations: sled::Tree,
    messages: sled::Tree,
    message_conversation: sled::Tree,
    activity: sled::Tree,
    external_refs: sled::Tree,
    dedupe: sled::Tree,
    contact_channel: sled::Tree,
    attachments: sled::Tree,
    raw: sled::Tree,
    events: sled::Tree,
    outbox: sled::Tree,
    reply_tokens: sled::Tree,
    availability: sled::Tree,
    /// Agents' open-assignment counts and per-contact ticket counts.
    counters: sled::Tree,
    tickets: sled::Tree,
    /// Attachments still to fetch, by due time (`media`).
    media_jobs: sled::Tree,
    /// `channel NUL provider id` -> outbound message (`provider_ids`).
    provider_ids: sled::Tree,
    /// `conversation ++ address` -> (): who took part (`participants`).
    participants: sled::Tree,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("cannot open the store at {path}: {source}")]
    Open { path: String, source: sled::Error },
    #[error(
        "the store at {path} has schema version {found}, this build needs {expected}; \
         export it with the build that wrote it"
    )]
    SchemaMismatch {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("store I/O failed: {0}")]
    Io(#[from] sled::Error),
    #[error("store transaction failed: {0}")]
    Transaction(String),
    #[error("a stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("could not make the write durable: {0}")]
    NotDurable(String),
}

/// The one handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    trees: Trees,
    commit: GroupCommit,
    writer: Arc<Mutex<()>>,
    ids: Arc<IdGenerator>,
    /// The last event sequence number committed (in memory, maybe not yet
    /// durable). Advanced only under the writer lock, after a commit.
    committed_seq: Arc<AtomicU64>,
}

impl Store {
    /// Opens (or creates) the store at `path` and starts its flusher. Must be
    /// called inside a tokio runtime.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens the store with at most about `cache_bytes` of pages kept in
    /// memory (sled counts pages by their stored size; the heap they take
    /// is about a third more).
    pub fn open_with_cache(path: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        recovery::set_aside_unreadable_snapshots(path)
            .map_err(|error| open_error(sled::Error::Io(error)))?;
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .flush_every_ms(None)
            .open()
            .map_err(open_error)?;
        let tree = |name: &str| db.open_tree(name).map_err(open_error);
        let trees = Trees {
            meta: tree("meta")?,
            contacts: tree("contacts")?,
            identities: tree("identities")?,
            conversations: tree("conversations")?,
            messages: tree("messages")?,
            message_conversation: tree("message_conversation")?,
            activity: tree("activity")?,
            external_refs: tree("external_refs")?,
            dedupe: tree("dedupe")?,
            contact_channel: tree("contact_channel")?,
            attachments: tree("attachments")?,
            raw: tree("raw")?,
            events: tree("events")?,
            outbox: tree("outbox")?,
            reply_tokens: tree("reply_tokens")?,
            availability: tree("availability")?,
            counters: tree("counters")?,
            tickets: tree("tickets")?,
            media_jobs: tree("media_jobs")?,
            provider_ids: tree("provider_ids")?,
            participants: tree("participants")?,
        };
        schema::check_or_init(&trees.meta, path)?;
        db.flush().map_err(open_error)?;
        let committed_seq = Arc::new(AtomicU64::new(event_log::last_seq(&trees.events)?));
        #[cfg(feature = "fault-injection")]
        fault::arm(path);
        let commit = GroupCommit::start(db.clone(), committed_seq.clone());
        Ok(Store {
            db,
            trees,
            commit,
            writer: Arc::new(Mutex::new(())),
            ids: Arc::new(IdGenerator::default()),
            committed_seq,
        })
    }

    /// Waits until every write made before the call is on disk.
    pub async fn durable(&self) -> Result<(), StoreError> {
        self.commit.durable().await.map_err(StoreError::NotDurable)
    }

    /// How many group-commit flushes have run since the store was opened.
    pub fn flush_count(&self) -> u64 {
        self.commit.flush_count()
    }

    /// Reports every later group-commit flush to `observer` (the daemon's
    /// metrics); `false` if an observer was already set.
    pub fn observe_flushes(&self, observer: Arc<dyn FlushObserver>) -> bool {
        self.commit.observe(observer)
    }

    /// The last event sequence number on disk, and its changes.
    pub fn durable_seq(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commit.durable_seq()
    }

    /// Takes the writer lock: every write holds it from its reads to its commit.
    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Flushes everything now (used at shutdown).
    pub fn flush_now(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain structs to JSON cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}
