//! casegrid-readmodel: the projection's read models in SQL, folded from the event log,
//! without any NATS of its own.
//!
//! - [`ReadModel`]: the database — [`ReadModel::apply`] folds a batch of stored
//!   events in one transaction together with the checkpoint (last applied stream
//!   sequence), so redelivery changes nothing; queries answer the contract views
//!   ([`ReadModel::case`], [`ReadModel::timeline`], [`ReadModel::inbox`]) and the
//!   [`query`] types ([`ReadModel::list`], [`ReadModel::overdue`], [`ReadModel::stats`],
//!   and [`ReadModel::public`], the Open311 list with its public notes in one query).
//! - [`rebuild`]: replays the log from sequence 1 into a fresh read model, fast (see
//!   its module: large batches, states kept in memory, each case's row written once,
//!   folding and writing on different cores, `COPY` into PostgreSQL, no fsync until
//!   done).
//! - [`ReadModel::diff`]: compares two read models row by row (rebuild must equal live).
//! - [`summary`]: the one-line, bilingual summary of each event for supervisors.
//! - [`ReadModelError`]: what went wrong, and how a caller should react.
//!
//! ## Backends: one SQL through sqlx `Any`
//! The URL chooses the database ([`Backend`]): `sqlite:…` (the embedded default) or
//! `postgres://…` (at scale). Both run the same statements through sqlx's `Any` driver:
//! `$1` placeholders, `INSERT … ON CONFLICT … DO UPDATE`, `BIGINT`/`TEXT` columns only,
//! `SUBSTR`, `LOWER`, `LIKE … ESCAPE`. Two backends behind one type would have meant
//! every query twice; the portable subset covers everything here. Only locking
//! differs, in [`Backend`]: a write transaction is `BEGIN IMMEDIATE` on SQLite (the
//! database's write lock) and `BEGIN` + `SELECT … FROM checkpoint … FOR UPDATE` on
//! PostgreSQL. Instants that queries compare are stored as Unix milliseconds beside
//! their RFC 3339 text, and lists are ordered by the filing's stream sequence, so
//! no comparison depends on a collation.
//!
//! The schema is created idempotently on connect and carries a version
//! (`readmodel_schema`). A database with another version — or the first, SQLite-only
//! schema — is emptied and recreated at checkpoint 0; the projection's consumer then
//! replays the log into it (a read model is always rebuildable). On PostgreSQL an
//! advisory lock serializes replicas migrating at once; the database must exist.
//!
//! ## Exact state
//! Each case row keeps the domain's whole [`casegrid_domain::Case`] as JSON (`state`),
//! and every event is folded with `Case::apply`: status, dispatch, deadlines, reply,
//! callback, escalation `level`, summoned departments (`summoned`, `whistled_by`) are
//! all read off the aggregate's own state, so they cannot disagree with it (a reopen,
//! a return, a mediation or a suspension included). The number is the one
//! [`casegrid_eventlog::store::Numbering`] gives the filing. Sealed ciphertexts are
//! blanked in `state` (and masked values become `[erased]` once the key is erased).
//! A batch is folded in memory: each touched case is loaded once, all its events
//! applied, and its row written once; other rows go out as multi-row statements.
//!
//! ## Inboxes
//! Derived from the case's state alone, while it is being handled (dispatched, in
//! progress, suspended): the lead (`lead`) and assisting departments (`assisting`),
//! each department summoned by a whistle until it reports in (`summoned`; `signed`
//! once it signed the summons), and the whistling street (`whistling`) when the case
//! is not dispatched to it. A case list filtered by department also finds the cases
//! in that department's inbox.
//!
//! ## Exactly once, and replicas
//! The checkpoint and a batch's effects commit in one transaction, and the checkpoint
//! is read under the write lock: events at or below it are skipped. Two writers on one
//! database therefore never both apply an event — the second waits for the lock, then
//! sees the first's checkpoint. With PostgreSQL any number of projection replicas
//! share the database and the durable consumer. With SQLite, replicas on one machine
//! may share a file (WAL, `BEGIN IMMEDIATE`, busy timeout), but a SQLite file is not a
//! network database: run one replica per file, each with its own durable consumer
//! (today the consumer name is fixed, so: one SQLite replica), or elect one writer with
//! a leader lease in NATS KV and let the others answer queries only.
//!
//! ## Figures
//! 响应率 counts work orders (one row per department of each dispatch, `dispatches`)
//! signed on time by the event's `on_time`; 解决率 and 满意率 count `callbacks`, each
//! attributed to the lead department at the time; 办结率 counts `cases` now replied or
//! closed over cases filed. Periods are local days/months (the numbering's offset).
//! Every rate comes with its counts ([`Rate`]), in integer per-mille.
//!
//! The assessment figures (issue 15, module `assessment`): one `handlings` row per
//! dispatch for its lead gives 及时签收率, 按时办结率 (the case's own handling deadline
//! at the reply, which approved extensions and resumes after a suspension move),
//! 回退率, 重办率, 超期件数 and the working time to sign and to reply (suspended time
//! left out), counted at query time with the district calendar
//! ([`ReadModel::with_working_time`]) so rows hold instants only and a rebuild equals
//! the live model. `appeals` holds each appealed callback; an accepted appeal takes
//! its callback out of 解决率 and 满意率 and counts it in `appealed`.
//!
//! Escalating a case that cannot be solved locally never counts against the unit
//! (department or street office) that escalated it: a `CaseEscalated` whose `by` is
//! such a unit marks that unit's work orders and callbacks of the case `excused`
//! (those already written and those to come), and the case's 办结率 row when that unit
//! is its lead (`lead_excused`). Figures grouped by department leave excused rows out;
//! by street and category they still count (they are not the escalating unit's
//! figures). An escalation by routing's timers or a supervisor excuses no one.
//!
//! Personal data is kept masked only: every `sealed` member of an event is dropped
//! before anything is written.

mod assessment;
mod copy;
mod error;
mod fold;
pub mod kb;
mod model;
pub mod ngram;
pub mod query;
mod rebuild;
mod rows;
mod schema;
pub mod similar;
pub mod summary;

pub use error::ReadModelError;
pub use model::{names_from, ReadModel, INBOX_LIMIT, INBOX_MAX};
pub use query::{
    CaseFilter, CasePage, GroupBy, ListQuery, OverdueQuery, Period, PublicNote, PublicPage,
    PublicQuery, PublicRequest, Rate, StatsQuery, StatsRow, StatsView,
};
pub use rebuild::{rebuild, rebuild_with_progress, REBUILD_BATCH};
pub use schema::Backend;

/// Result of read-model operations.
pub type Result<T, E = ReadModelError> = std::result::Result<T, E>;

#[cfg(test)]
mod kb_tests;
#[cfg(test)]
mod rebuild_tests;
#[cfg(test)]
mod similar_tests;
#[cfg(test)]
mod tests;
