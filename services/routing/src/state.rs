//! Routing's own durable state, in its own SQLite database: a cache of the open
//! deadlines of every case, the cases waiting for a human dispatcher, and the
//! checkpoint (last stream sequence applied) — all written in one transaction per
//! batch, so a crash applies nothing twice and loses nothing.
//!
//! The deadline table holds, for each case, exactly [`Case::open_deadlines`] of the
//! case's state: every batch rewrites the rows of each case it touches, and the timer
//! rewrites a case's rows after it fired or was refused. The domain alone decides which
//! deadlines are open, so no row can outlive what the domain would accept as missed.
//! Each case's rows carry the version they were computed from; an older state never
//! overwrites a newer one.

use anyhow::Context;
use casegrid_domain::event::Deadline;
use casegrid_domain::{Case, CaseId, DepartmentId, Status};
use casegrid_eventlog::StoredEvent;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO checkpoint (id, seq) VALUES (1, 0)",
    "CREATE TABLE IF NOT EXISTS deadlines (
        case_id TEXT NOT NULL, kind TEXT NOT NULL, department TEXT NOT NULL,
        due_at INTEGER NOT NULL, PRIMARY KEY (case_id, kind, department))",
    "CREATE INDEX IF NOT EXISTS deadlines_due ON deadlines (due_at)",
    "CREATE TABLE IF NOT EXISTS deadline_cases (case_id TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS queue (case_id TEXT PRIMARY KEY, reason TEXT NOT NULL, since TEXT NOT NULL)",
    // The stream the checkpoint counts in (casegrid_eventlog::StreamIdentity).
    "CREATE TABLE IF NOT EXISTS stream_identity (id INTEGER PRIMARY KEY CHECK (id = 1),
        stream TEXT NOT NULL, created TEXT NOT NULL, first_seq INTEGER NOT NULL)",
];

/// An open deadline whose time has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDeadline {
    pub case_id: CaseId,
    pub deadline: Deadline,
    pub department: DepartmentId,
    pub due: OffsetDateTime,
}

/// A case waiting for a human dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Queued {
    pub case_id: CaseId,
    pub reason: String,
    pub since: String,
}

#[derive(Clone)]
pub struct RoutingState {
    pool: SqlitePool,
}

fn kind_str(d: Deadline) -> &'static str {
    match d {
        Deadline::Sign => "sign",
        Deadline::Handle => "handle",
        Deadline::Report => "report",
    }
}

fn kind_of(s: &str) -> Option<Deadline> {
    match s {
        "sign" => Some(Deadline::Sign),
        "handle" => Some(Deadline::Handle),
        "report" => Some(Deadline::Report),
        _ => None,
    }
}

/// Deadlines are stored as Unix seconds so `due_at <= now` compares correctly.
fn secs(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

impl RoutingState {
    /// Opens (creating when absent) the state database at `url` (`sqlite:…`).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("routing database URL {url:?}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let in_memory = url.contains(":memory:");
        let pool = SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { 4 })
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .with_context(|| format!("opening the routing database {url}"))?;
        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await?;
        }
        Ok(Self { pool })
    }

    /// Checks that `log` is the stream this state was built from (refusing an empty or
    /// different one once past checkpoint 0) and records its identity; answers it.
    pub async fn check_stream(
        &self,
        log: &casegrid_eventlog::EventLog,
    ) -> anyhow::Result<casegrid_eventlog::StreamIdentity> {
        let recorded = sqlx::query("SELECT stream, created, first_seq FROM stream_identity")
            .fetch_optional(&self.pool)
            .await?
            .map(|r| casegrid_eventlog::StreamIdentity {
                stream: r.get("stream"),
                created: r.get("created"),
                first_seq: r.get::<i64, _>("first_seq") as u64,
            });
        let current = log
            .check_identity(recorded.as_ref(), self.checkpoint().await?)
            .await?;
        if recorded.as_ref() != Some(&current) {
            sqlx::query(
                "INSERT INTO stream_identity (id, stream, created, first_seq) VALUES (1, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET stream = excluded.stream,
                   created = excluded.created, first_seq = excluded.first_seq",
            )
            .bind(&current.stream)
            .bind(&current.created)
            .bind(current.first_seq as i64)
            .execute(&self.pool)
            .await?;
        }
        Ok(current)
    }

    pub async fn checkpoint(&self) -> anyhow::Result<u64> {
        let seq: i64 = sqlx::query_scalar("SELECT seq FROM checkpoint WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq as u64)
    }

    /// Applies a batch of events (in stream order) and the checkpoint in one
    /// transaction: the deadline rows of every case the batch touches become the open
    /// deadlines of its state in `cases` (at or after the batch's last event of the
    /// case). Events at or below the checkpoint change nothing.
    pub async fn apply(
        &self,
        events: &[StoredEvent],
        cases: &HashMap<CaseId, Case>,
    ) -> anyhow::Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut checkpoint: i64 = sqlx::query_scalar("SELECT seq FROM checkpoint WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let mut touched: Vec<CaseId> = Vec::new();
        for stored in events {
            if stored.seq as i64 <= checkpoint {
                continue;
            }
            let id = stored.envelope.case_id;
            if !touched.contains(&id) {
                touched.push(id);
            }
            checkpoint = stored.seq as i64;
        }
        for id in touched {
            if let Some(case) = cases.get(&id) {
                write_case(&mut tx, case).await?;
            }
        }
        sqlx::query("UPDATE checkpoint SET seq = ? WHERE id = 1")
            .bind(checkpoint)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(checkpoint as u64)
    }

    /// Rewrites one case's deadline rows from its state (after the timer fired or was
    /// refused), unless rows of a newer version are already there.
    pub async fn rewrite(&self, case: &Case) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        write_case(&mut tx, case).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Drops every deadline row of a case.
    pub async fn forget(&self, case_id: CaseId) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM deadlines WHERE case_id = ?")
            .bind(case_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every deadline row, sorted (for tests and audits): `(case, kind, unit, due)`.
    pub async fn all_deadlines(&self) -> anyhow::Result<Vec<DueDeadline>> {
        self.due_rows(None, None).await
    }

    /// Open deadlines past by `now` (the domain accepts a miss only after the due
    /// instant), oldest first.
    pub async fn due(&self, now: OffsetDateTime, limit: u32) -> anyhow::Result<Vec<DueDeadline>> {
        self.due_rows(Some(now), Some(limit)).await
    }

    async fn due_rows(
        &self,
        now: Option<OffsetDateTime>,
        limit: Option<u32>,
    ) -> anyhow::Result<Vec<DueDeadline>> {
        let rows = sqlx::query(
            "SELECT case_id, kind, department, due_at FROM deadlines
             WHERE due_at < ? ORDER BY due_at, case_id, kind, department LIMIT ?",
        )
        .bind(now.map(secs).unwrap_or(i64::MAX))
        .bind(limit.map(i64::from).unwrap_or(-1))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let case_id: String = row.try_get("case_id")?;
            let kind: String = row.try_get("kind")?;
            let department: String = row.try_get("department")?;
            let due_at: i64 = row.try_get("due_at")?;
            out.push(DueDeadline {
                case_id: CaseId::parse(&case_id)?,
                deadline: kind_of(&kind).context("unknown deadline kind in routing state")?,
                department: DepartmentId::parse(&department)?,
                due: OffsetDateTime::from_unix_timestamp(due_at)?,
            });
        }
        Ok(out)
    }

    /// Number of open deadlines (for tests and metrics).
    pub async fn open_deadlines(&self) -> anyhow::Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deadlines")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    /// Puts a case in the human dispatcher queue.
    pub async fn enqueue(
        &self,
        case_id: CaseId,
        reason: &str,
        since: OffsetDateTime,
    ) -> anyhow::Result<()> {
        sqlx::query("INSERT OR REPLACE INTO queue (case_id, reason, since) VALUES (?, ?, ?)")
            .bind(case_id.to_string())
            .bind(reason)
            .bind(since.format(&Rfc3339)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The cases waiting for a human dispatcher, longest waiting first.
    pub async fn queue(&self) -> anyhow::Result<Vec<Queued>> {
        let rows = sqlx::query("SELECT case_id, reason, since FROM queue ORDER BY since, case_id")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(Queued {
                    case_id: CaseId::parse(&row.try_get::<String, _>("case_id")?)?,
                    reason: row.try_get("reason")?,
                    since: row.try_get("since")?,
                })
            })
            .collect()
    }
}

/// Makes the case's rows exactly its open deadlines, unless a newer version wrote them.
async fn write_case(tx: &mut Transaction<'_, Sqlite>, case: &Case) -> anyhow::Result<()> {
    let id = case.id.to_string();
    let written: Option<i64> =
        sqlx::query_scalar("SELECT version FROM deadline_cases WHERE case_id = ?")
            .bind(&id)
            .fetch_optional(&mut **tx)
            .await?;
    if written.is_some_and(|v| v > case.version as i64) {
        return Ok(());
    }
    sqlx::query("DELETE FROM deadlines WHERE case_id = ?")
        .bind(&id)
        .execute(&mut **tx)
        .await?;
    for open in case.open_deadlines() {
        sqlx::query(
            "INSERT INTO deadlines (case_id, kind, department, due_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(kind_str(open.kind))
        .bind(open.unit.as_str())
        .bind(secs(open.due))
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("INSERT OR REPLACE INTO deadline_cases (case_id, version) VALUES (?, ?)")
        .bind(&id)
        .bind(case.version as i64)
        .execute(&mut **tx)
        .await?;
    // Only a received case waits for a human dispatcher.
    if case.status != Status::Received {
        sqlx::query("DELETE FROM queue WHERE case_id = ?")
            .bind(&id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl crate::Routing {
    /// Folds a batch into the state: the deadline rows of each case it touches become
    /// the open deadlines of the case as the store knows it, at or after the batch's
    /// last event of that case (loading it when the cache is behind).
    pub async fn apply(&self, events: &[StoredEvent]) -> anyhow::Result<u64> {
        let mut latest: HashMap<CaseId, (u64, u64)> = HashMap::new();
        for stored in events {
            let e = &stored.envelope;
            let (v, seq) = latest.entry(e.case_id).or_default();
            *v = (*v).max(e.version);
            *seq = (*seq).max(stored.seq);
        }
        let mut cases = HashMap::with_capacity(latest.len());
        for (id, (version, seq)) in latest {
            let loaded = match self.store.snapshot(id).await {
                Ok(s) if s.case.version < version => self.store.refresh_to(s, seq).await,
                other => other,
            };
            let snapshot = match loaded {
                Ok(s) => s,
                // A case the store cannot fold keeps its rows; the timer's refusal
                // path removes them.
                Err(e @ casegrid_eventlog::LogError::Corrupt { .. }) => {
                    tracing::warn!(case = %id, error = %e, "case state unreadable; deadlines not rewritten");
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            anyhow::ensure!(
                snapshot.case.version >= version,
                "case {id} loads to version {} only, before the event of version {version}",
                snapshot.case.version
            );
            cases.insert(id, snapshot.case.clone());
        }
        self.state.apply(events, &cases).await
    }
}
