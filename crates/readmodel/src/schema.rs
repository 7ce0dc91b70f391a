//! The backend ([`Backend`]: SQLite or PostgreSQL, chosen by the URL) and the schema,
//! created idempotently and recreated empty when its version changes.

use crate::Result;
use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};
use std::str::FromStr;
use std::time::Duration;

/// Version of the schema below. A database holding another version (or none: the
/// first, SQLite-only schema) is emptied and recreated at checkpoint 0, and the
/// projection replays the log into it: a read model is always rebuildable.
pub(crate) const SCHEMA_VERSION: i64 = 6;

/// Portable DDL: `BIGINT` and `TEXT` only, so SQLite and PostgreSQL read the same
/// types through sqlx `Any`. Every statement is idempotent.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS checkpoint (
        id BIGINT PRIMARY KEY,
        seq BIGINT NOT NULL
    )",
    // The identity of the stream the checkpoint counts in (see
    // casegrid_eventlog::StreamIdentity): a state past 0 never reads another stream.
    // Beside the checkpoint, not in it: when it was recorded is not a read model.
    "CREATE TABLE IF NOT EXISTS stream_identity (
        id BIGINT PRIMARY KEY,
        stream TEXT NOT NULL,
        created TEXT NOT NULL,
        first_seq BIGINT NOT NULL
    )",
    "INSERT INTO checkpoint (id, seq) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
    "CREATE TABLE IF NOT EXISTS cases (
        id TEXT PRIMARY KEY,
        number TEXT NOT NULL,
        status TEXT NOT NULL,
        version BIGINT NOT NULL,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        category TEXT NOT NULL,
        urgency TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        address TEXT,
        grid TEXT,
        reporter_name TEXT,
        reporter_phone TEXT,
        lead TEXT,
        assisting TEXT NOT NULL,
        signed TEXT NOT NULL,
        sign_due TEXT,
        handle_due TEXT,
        rule TEXT,
        reply_result TEXT,
        satisfaction TEXT,
        filed_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        filed_seq BIGINT NOT NULL,
        street TEXT,
        filed_ms BIGINT NOT NULL,
        filed_day TEXT NOT NULL,
        handle_due_ms BIGINT,
        state TEXT NOT NULL,
        level TEXT,
        escalated_by TEXT NOT NULL,
        lead_excused BIGINT NOT NULL,
        whistled_by TEXT NOT NULL,
        summoned TEXT NOT NULL,
        dispatch_version BIGINT,
        dispatched_ms BIGINT,
        filed_by TEXT,
        mediator TEXT,
        deadlines TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS cases_filed_seq ON cases (filed_seq)",
    "CREATE INDEX IF NOT EXISTS cases_status ON cases (status)",
    "CREATE INDEX IF NOT EXISTS cases_lead ON cases (lead)",
    "CREATE INDEX IF NOT EXISTS cases_street ON cases (street)",
    "CREATE INDEX IF NOT EXISTS cases_category ON cases (category)",
    "CREATE INDEX IF NOT EXISTS cases_handle_due ON cases (handle_due_ms)",
    "CREATE INDEX IF NOT EXISTS cases_filed_by ON cases (filed_by)",
    "CREATE INDEX IF NOT EXISTS cases_mediator ON cases (mediator)",
    "CREATE INDEX IF NOT EXISTS cases_grid ON cases (grid)",
    "CREATE TABLE IF NOT EXISTS timeline (
        case_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        seq BIGINT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        actor_kind TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        summary TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (case_id, version)
    )",
    "CREATE TABLE IF NOT EXISTS inbox (
        department TEXT NOT NULL,
        case_id TEXT NOT NULL,
        role TEXT NOT NULL,
        signed BIGINT NOT NULL,
        PRIMARY KEY (department, case_id)
    )",
    "CREATE INDEX IF NOT EXISTS inbox_case ON inbox (case_id)",
    // One row per department of each dispatch (a work order): 响应率.
    "CREATE TABLE IF NOT EXISTS dispatches (
        case_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        department TEXT NOT NULL,
        role TEXT NOT NULL,
        dispatched_ms BIGINT NOT NULL,
        day TEXT NOT NULL,
        sign_due TEXT NOT NULL,
        signed_at TEXT,
        on_time BIGINT,
        excused BIGINT NOT NULL,
        PRIMARY KEY (case_id, version, department)
    )",
    "CREATE INDEX IF NOT EXISTS dispatches_department ON dispatches (department)",
    // One row per callback, counted for the lead department at that time: 解决率, 满意率.
    "CREATE TABLE IF NOT EXISTS callbacks (
        case_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        department TEXT,
        satisfaction TEXT NOT NULL,
        resolved BIGINT NOT NULL,
        at_ms BIGINT NOT NULL,
        day TEXT NOT NULL,
        excused BIGINT NOT NULL,
        PRIMARY KEY (case_id, version)
    )",
    // Version 5 (issue 15, assessment): one row per dispatch for its lead (及时签收率,
    // 按时办结率, 回退率, 重办率, 超期件数, working time), see crate::assessment.
    "CREATE TABLE IF NOT EXISTS handlings (
        case_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        department TEXT NOT NULL,
        day TEXT NOT NULL,
        dispatched_ms BIGINT NOT NULL,
        sign_due_ms BIGINT NOT NULL,
        signed_ms BIGINT,
        sign_on_time BIGINT,
        replied_ms BIGINT,
        reply_on_time BIGINT,
        returned BIGINT NOT NULL,
        reopened BIGINT NOT NULL,
        overdue BIGINT NOT NULL,
        suspended TEXT NOT NULL,
        excused BIGINT NOT NULL,
        PRIMARY KEY (case_id, version)
    )",
    "CREATE INDEX IF NOT EXISTS handlings_department ON handlings (department)",
    // Appeals of callbacks (申诉); `accepted` NULL while pending.
    "CREATE TABLE IF NOT EXISTS appeals (
        case_id TEXT NOT NULL,
        callback_version BIGINT NOT NULL,
        department TEXT NOT NULL,
        accepted BIGINT,
        PRIMARY KEY (case_id, callback_version)
    )",
    // Stored messages not applied (see casegrid_eventlog::classify), by stream sequence.
    "CREATE TABLE IF NOT EXISTS quarantine (
        seq BIGINT PRIMARY KEY,
        subject TEXT NOT NULL,
        case_id TEXT,
        version BIGINT,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL,
        head TEXT NOT NULL
    )",
    // Version 5: the knowledge base (crate::kb): entries, their versions as stored,
    // and the answers at intake that cited them.
    "CREATE TABLE IF NOT EXISTS kb_entries (
        id TEXT PRIMARY KEY,
        version BIGINT NOT NULL,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        category TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_until TEXT,
        valid_until_ms BIGINT,
        owner TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_hash TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS kb_entries_owner ON kb_entries (owner)",
    "CREATE TABLE IF NOT EXISTS kb_versions (
        entry_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        seq BIGINT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        actor_kind TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (entry_id, version)
    )",
    "CREATE TABLE IF NOT EXISTS kb_citations (
        case_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        entry_id TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        PRIMARY KEY (case_id, version)
    )",
    "CREATE INDEX IF NOT EXISTS kb_citations_entry ON kb_citations (entry_id)",
];

/// Indexes the fold reads by (it deletes a case's inbox rows by case): a rebuild keeps
/// them.
const FOLD_READS_BY: &[&str] = &["inbox_case"];

/// The secondary indexes of the schema the fold does not read by (each
/// `CREATE INDEX IF NOT EXISTS <name> ON …` statement): `(name, statement)`. A fresh
/// rebuild drops them first and builds each once at the end, instead of updating it
/// row by row.
pub(crate) fn secondary_indexes() -> impl Iterator<Item = (&'static str, &'static str)> {
    SCHEMA.iter().filter_map(|statement| {
        let rest = statement.strip_prefix("CREATE INDEX IF NOT EXISTS ")?;
        let name = rest.split_whitespace().next()?;
        (!FOLD_READS_BY.contains(&name)).then_some((name, *statement))
    })
}

/// Every table of the schema, dropped when the version changes.
const ALL_TABLES: &[&str] = &[
    "checkpoint",
    "cases",
    "timeline",
    "inbox",
    "dispatches",
    "callbacks",
    "quarantine",
    "stream_identity",
    "handlings",
    "appeals",
    "kb_entries",
    "kb_versions",
    "kb_citations",
];

/// The tables that say where the read models stand (not folded from events).
const BOOKKEEPING_TABLES: &[&str] = &["checkpoint", "stream_identity"];

/// The tables folded from events: every table but the bookkeeping ones, emptied when
/// a rebuild starts again at 0.
pub(crate) fn folded_tables() -> impl Iterator<Item = &'static str> {
    ALL_TABLES
        .iter()
        .copied()
        .filter(|table| !BOOKKEEPING_TABLES.contains(table))
}

/// Which database a URL names; the SQL is the same, only locking differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `sqlite:…` or `postgres://…` / `postgresql://…`.
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// Starts a write transaction that excludes every other writer of the read model
    /// until it ends: SQLite's `BEGIN IMMEDIATE` takes the database's write lock at
    /// once; on PostgreSQL the caller then locks the checkpoint row
    /// ([`Self::lock_checkpoint`]).
    pub(crate) async fn begin_write(
        self,
        pool: &AnyPool,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self {
            Self::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
            Self::Postgres => pool.begin().await?,
        })
    }

    /// Reads the checkpoint inside a write transaction, locking its row on PostgreSQL
    /// so two writers can never both apply the same batch.
    pub(crate) fn lock_checkpoint(self) -> &'static str {
        match self {
            Self::Sqlite => "SELECT seq FROM checkpoint WHERE id = 1",
            Self::Postgres => "SELECT seq FROM checkpoint WHERE id = 1 FOR UPDATE",
        }
    }
}

/// Opens a pool on `url`: a SQLite file is created when absent and put in WAL mode;
/// `sqlite::memory:` keeps exactly one connection (each would be a database of its own).
pub(crate) async fn open(url: &str, backend: Backend) -> Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let options = match backend {
        Backend::Sqlite if !in_memory => {
            // `Any` reads only the URL: create the file and switch it to WAL (which
            // persists in the file) through the SQLite driver first.
            let conn = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .connect()
                .await?;
            conn.close().await?;
            AnyPoolOptions::new().max_connections(4)
        }
        Backend::Sqlite => AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None),
        Backend::Postgres => AnyPoolOptions::new().max_connections(8),
    };
    let options = if backend == Backend::Sqlite {
        options.after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                Ok(())
            })
        })
    } else {
        options
    };
    let pool = options
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await?;
    Ok(pool)
}

/// Creates the schema, or recreates it empty when it has another version. On
/// PostgreSQL an advisory lock serializes replicas that start together.
pub(crate) async fn migrate(pool: &AnyPool, backend: Backend) -> Result<()> {
    let mut tx = backend.begin_write(pool).await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(4242017)")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS readmodel_schema (
            id BIGINT PRIMARY KEY,
            version BIGINT NOT NULL
        )",
    )
    .execute(&mut *tx)
    .await?;
    let version: Option<i64> =
        sqlx::query_scalar("SELECT version FROM readmodel_schema WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
    if version != Some(SCHEMA_VERSION) {
        if version.is_some() {
            tracing::warn!(
                from = version,
                to = SCHEMA_VERSION,
                "read-model schema changed: emptied, the projection replays the log"
            );
        }
        for table in ALL_TABLES {
            sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
                .execute(&mut *tx)
                .await?;
        }
    }
    for statement in SCHEMA {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    sqlx::query(
        "INSERT INTO readmodel_schema (id, version) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
    )
    .bind(SCHEMA_VERSION)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table added to the schema but not to [`ALL_TABLES`] would survive a version
    /// change and, folded, keep its rows when a rebuild starts again at 0.
    #[test]
    fn every_created_table_is_dropped_on_a_new_version_and_emptied_by_a_rebuild() {
        let created: Vec<&str> = SCHEMA
            .iter()
            .filter_map(|s| s.trim().strip_prefix("CREATE TABLE IF NOT EXISTS "))
            .filter_map(|rest| {
                rest.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .next()
            })
            .collect();
        assert!(created.len() > 10, "{created:?}");
        for table in &created {
            assert!(
                ALL_TABLES.contains(table),
                "{table} is missing from ALL_TABLES"
            );
        }
        for table in ALL_TABLES {
            assert!(created.contains(table), "{table} is not created by SCHEMA");
        }
        let folded: Vec<&str> = folded_tables().collect();
        assert!(folded.contains(&"cases") && folded.contains(&"kb_citations"));
        assert!(!folded.contains(&"checkpoint") && !folded.contains(&"stream_identity"));
    }
}
