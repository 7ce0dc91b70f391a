//! The casegrid event log on NATS JetStream, and the case store on top of it.
//!
//! - [`canonical`]: RFC 8785 (JCS) canonical JSON, the form every hash is taken over.
//! - [`envelope`]: the event envelope, its hash chain and [`envelope::verify_chain`].
//! - [`classify`]: the one judgement of a stored message — a valid envelope, or
//!   quarantined as written by a newer version, unreadable, a chain break, a version
//!   gap or a duplicate version — so no stored message can stop a consumer.
//! - [`log`]: [`EventLog`] — the append-only stream: creation and configuration checks,
//!   optimistic idempotent appends, loading one case by batched direct get, reading the
//!   whole log from any sequence.
//! - [`store`]: [`CaseStore`] — a cache of case states over the log that decides
//!   commands, appends their events and retries on conflict.
//! - [`kb`]: [`KbStore`] — knowledge-base entries on their own subjects, with a case's
//!   chain, optimistic appends and idempotency.
//! - [`attachments`]: [`AttachmentStore`] — the Object Store bucket of files added to
//!   cases, under `<case id>/<sha256>`.
//! - [`error`]: [`LogError`] (and [`SealError`]), classified so callers know how to react.

pub mod attachments;
pub mod audit;
pub mod canonical;
pub mod classify;
pub mod envelope;
pub mod error;
pub mod kb;
pub mod log;
pub mod store;

pub use attachments::AttachmentStore;
pub use batch::BatchConfig;
/// Group commit ([`casegrid_runtime::batch`]): the event log's, and the key bucket's.
pub use casegrid_runtime::batch;
pub use classify::{Classified, Head, Heads, Quarantined, RawMessage, Reason};
pub use envelope::{ChainBreak, Envelope, RequestFingerprint, StoredEvent};
pub use error::{LogError, SealError};
pub use kb::{KbOutcome, KbStore};
pub use log::{EventLog, LogConfig, StreamIdentity};
pub use store::{Applied, CaseStore, CommandMeta, ExecuteError, Outcome, Snapshot};
