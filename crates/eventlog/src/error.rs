//! Errors of the event log, classified at the edge so callers can `match` on them.

use casegrid_domain::CaseId;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Another writer appended to the case first (wrong last subject sequence).
    /// Reload the case, look for your command id, and decide again.
    #[error("case {case_id} changed since sequence {expected}: another writer appended first")]
    Conflict { case_id: CaseId, expected: u64 },
    /// JetStream saw this message id within its duplicate window: the command was
    /// already appended (at `seq`). Reload and answer from the log.
    #[error("command already appended to case {case_id} at sequence {seq}")]
    Duplicate { case_id: CaseId, seq: u64 },
    /// NATS or JetStream did not answer (timeout, no responders, connection lost).
    /// The outcome of an append is unknown: retry with the same command id.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    /// A stored message cannot be read as an event or breaks its case's chain.
    /// Stop and alert: the log has been tampered with or written by a foreign tool.
    #[error("corrupt event at stream sequence {seq}: {reason}")]
    Corrupt { seq: u64, reason: String },
    /// The case's chain is broken at a version (a forged, missing or newer-version
    /// event): nothing may be appended to it. Answer 409 and alert a supervisor.
    #[error("{0}: the case's chain is broken, so it accepts no more commands")]
    ChainBroken(crate::envelope::ChainBreak),
    /// The stream does not exist. Services never create it: run `casegrid init` (or
    /// `casegrid dev` on an empty data folder), or point the service at the right server.
    #[error("the event stream {stream} does not exist: the NATS admin creates it with `casegrid init` (or `casegrid dev` on an empty data folder); or point the service at the server that holds it")]
    Missing { stream: String },
    /// The stream is not the one this consumer's state was built from. Refuse to run.
    #[error("refusing to continue: this state was built from {recorded}, but the server holds {found}: {why}. Point the service at the right server, or give it fresh state to read this stream")]
    StreamMismatch {
        recorded: String,
        found: String,
        why: String,
    },
    /// The stream exists but is not append-only as casegrid requires. Refuse to run.
    #[error("stream {stream} is misconfigured: {problem}")]
    Misconfigured { stream: String, problem: String },
}

impl LogError {
    pub(crate) fn unavailable(e: impl std::fmt::Display) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// Why the free texts of a command could not be sealed ([`crate::CaseStore::seal_free_texts`]).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The case has no events: answer as for a missing case (404).
    #[error("case {0} not found")]
    CaseNotFound(CaseId),
    /// The case could not be read: as any other log error.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The key store did not answer: retry with the same command id.
    #[error(transparent)]
    Key(#[from] casegrid_privacy::PrivacyError),
}

/// `e` marked [`casegrid_runtime::restart::Transient`] when somewhere in its chain NATS
/// did not answer (the event log, the key bucket or the attachment bucket): what a
/// service's `serve` answers with, so that its process starts it again. A missing
/// stream or bucket, or a stream that is not the recorded one, is not marked.
pub fn transient_when_unavailable(e: anyhow::Error) -> anyhow::Error {
    use casegrid_runtime::restart::{is_transient, transient};
    let unavailable = e.chain().any(|cause| {
        matches!(cause.downcast_ref(), Some(LogError::Unavailable(_)))
            || matches!(
                cause.downcast_ref(),
                Some(casegrid_privacy::PrivacyError::Unavailable(_))
            )
            || matches!(
                cause.downcast_ref(),
                Some(crate::attachments::AttachmentError::Unavailable(_))
            )
    });
    if unavailable && !is_transient(&e) {
        transient(e)
    } else {
        e
    }
}
