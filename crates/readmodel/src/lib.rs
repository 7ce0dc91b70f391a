//! casegrid-readmodel: the projection's read models in SQL (SQLite), folded from
//! the event log, without any NATS of its own.
//!
//! - [`ReadModel`]: the database — [`ReadModel::apply`] folds a batch of stored
//!   events in one transaction together with the checkpoint (last applied stream
//!   sequence), so redelivery changes nothing; queries answer the contract views
//!   ([`ReadModel::case`], [`ReadModel::timeline`], [`ReadModel::inbox`]).
//! - [`rebuild`]: replays the log from sequence 1 into a fresh read model.
//! - [`ReadModel::diff`]: compares two read models row by row (rebuild must equal live).
//! - [`summary`]: the one-line, bilingual summary of each event for supervisors.
//! - [`ReadModelError`]: what went wrong, and how a caller should react.
//!
//! Personal data is kept masked only: every `sealed` member of an event is dropped
//! before anything is written.

mod error;
mod fold;
mod model;
mod rebuild;
pub mod summary;

pub use error::ReadModelError;
pub use model::{names_from, ReadModel, INBOX_LIMIT, INBOX_MAX};
pub use rebuild::{rebuild, REBUILD_BATCH};

/// Result of read-model operations.
pub type Result<T, E = ReadModelError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
