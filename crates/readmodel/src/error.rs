//! [`ReadModelError`], classified so callers know how to react.

use casegrid_eventlog::LogError;

#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// The database failed (locked, disk full, gone). Nothing of the failed batch was
    /// written: retry the batch later.
    #[error("read-model database: {0}")]
    Database(#[from] sqlx::Error),
    /// The database URL names no supported backend: fix the configuration.
    #[error("read-model configuration: {0}")]
    Config(String),
    /// The request cannot be answered as asked (a malformed cursor or instant): tell
    /// the caller, do not retry.
    #[error("bad query: {0}")]
    BadQuery(String),
    /// A row in the database cannot be read back into a view: the schema was changed
    /// by hand or by another version. Rebuild the read model.
    #[error("read-model row is unreadable: {0}")]
    Corrupt(String),
    /// Reading the event log failed during a rebuild; `Unavailable` may be retried.
    #[error(transparent)]
    Log(#[from] LogError),
}
