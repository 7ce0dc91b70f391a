//! Routing's own durable state, in its own SQLite database: the open deadlines of
//! every case (sign, handle, report-in, per department), the cases waiting for a human
//! dispatcher, and the checkpoint (last stream sequence applied) — all written in one
//! transaction per batch, so a crash applies nothing twice and loses nothing.

use anyhow::Context;
use casegrid_domain::event::Deadline;
use casegrid_domain::{CaseId, DepartmentId, Event};
use casegrid_eventlog::StoredEvent;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
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
    "CREATE TABLE IF NOT EXISTS leads (case_id TEXT PRIMARY KEY, lead TEXT NOT NULL)",
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
    /// transaction; events at or below the checkpoint change nothing.
    pub async fn apply(&self, events: &[StoredEvent]) -> anyhow::Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut checkpoint: i64 = sqlx::query_scalar("SELECT seq FROM checkpoint WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        for stored in events {
            if stored.seq as i64 <= checkpoint {
                continue;
            }
            let e = &stored.envelope;
            if let Ok(event) = Event::from_parts(&e.event_type, e.schema, &e.data) {
                fold(&mut tx, &e.case_id.to_string(), &event, e.occurred_at).await?;
            }
            checkpoint = stored.seq as i64;
        }
        sqlx::query("UPDATE checkpoint SET seq = ? WHERE id = 1")
            .bind(checkpoint)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(checkpoint as u64)
    }

    /// Open deadlines due at or before `now`, oldest first.
    pub async fn due(&self, now: OffsetDateTime, limit: u32) -> anyhow::Result<Vec<DueDeadline>> {
        let rows = sqlx::query(
            "SELECT case_id, kind, department, due_at FROM deadlines
             WHERE due_at <= ? ORDER BY due_at, case_id, kind, department LIMIT ?",
        )
        .bind(secs(now))
        .bind(i64::from(limit))
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

async fn set_deadline(
    tx: &mut Transaction<'_, Sqlite>,
    case_id: &str,
    kind: Deadline,
    department: &DepartmentId,
    due: OffsetDateTime,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT OR REPLACE INTO deadlines (case_id, kind, department, due_at) VALUES (?, ?, ?, ?)",
    )
    .bind(case_id)
    .bind(kind_str(kind))
    .bind(department.as_str())
    .bind(secs(due))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn clear(
    tx: &mut Transaction<'_, Sqlite>,
    case_id: &str,
    kind: Option<Deadline>,
    department: Option<&DepartmentId>,
) -> anyhow::Result<()> {
    sqlx::query(
        "DELETE FROM deadlines WHERE case_id = ?
         AND (? IS NULL OR kind = ?) AND (? IS NULL OR department = ?)",
    )
    .bind(case_id)
    .bind(kind.map(kind_str))
    .bind(kind.map(kind_str))
    .bind(department.map(DepartmentId::as_str))
    .bind(department.map(DepartmentId::as_str))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How one event changes the open deadlines.
async fn fold(
    tx: &mut Transaction<'_, Sqlite>,
    case_id: &str,
    event: &Event,
    _at: OffsetDateTime,
) -> anyhow::Result<()> {
    match event {
        Event::CaseDispatched(d) => {
            clear(tx, case_id, Some(Deadline::Sign), None).await?;
            clear(tx, case_id, Some(Deadline::Handle), None).await?;
            for department in std::iter::once(&d.lead).chain(&d.assisting) {
                set_deadline(tx, case_id, Deadline::Sign, department, d.sign_due).await?;
            }
            set_deadline(tx, case_id, Deadline::Handle, &d.lead, d.handle_due).await?;
            sqlx::query("INSERT OR REPLACE INTO leads (case_id, lead) VALUES (?, ?)")
                .bind(case_id)
                .bind(d.lead.as_str())
                .execute(&mut **tx)
                .await?;
            sqlx::query("DELETE FROM queue WHERE case_id = ?")
                .bind(case_id)
                .execute(&mut **tx)
                .await?;
        }
        Event::DispatchSigned(s) => {
            clear(tx, case_id, Some(Deadline::Sign), Some(&s.department)).await?
        }
        Event::ReportedIn(r) => {
            clear(tx, case_id, Some(Deadline::Report), Some(&r.department)).await?
        }
        Event::DeadlineMissed(m) => {
            clear(tx, case_id, Some(m.deadline), Some(&m.department)).await?
        }
        Event::WhistleBlown(w) => {
            for department in &w.departments {
                set_deadline(tx, case_id, Deadline::Report, department, w.report_due).await?;
            }
        }
        Event::ExtensionDecided(x) => {
            if let (true, Some(due)) = (x.granted, x.handle_due) {
                set_deadline(tx, case_id, Deadline::Handle, &x.department, due).await?;
            }
        }
        // The clock stops while a case waits on the citizen or a third party.
        Event::CaseSuspended(_) => {
            clear(tx, case_id, Some(Deadline::Sign), None).await?;
            clear(tx, case_id, Some(Deadline::Handle), None).await?;
        }
        Event::CaseResumed(r) => {
            let lead: Option<String> =
                sqlx::query_scalar("SELECT lead FROM leads WHERE case_id = ?")
                    .bind(case_id)
                    .fetch_optional(&mut **tx)
                    .await?;
            if let Some(lead) = lead {
                set_deadline(
                    tx,
                    case_id,
                    Deadline::Handle,
                    &DepartmentId::parse(&lead)?,
                    r.handle_due,
                )
                .await?;
            }
        }
        // Back to dispatch: the next CaseDispatched sets new deadlines.
        Event::DispatchReturned(_) | Event::CaseReopened(_) => {
            clear(tx, case_id, Some(Deadline::Sign), None).await?;
            clear(tx, case_id, Some(Deadline::Handle), None).await?;
        }
        Event::CaseReplied(_) => {
            clear(tx, case_id, Some(Deadline::Sign), None).await?;
            clear(tx, case_id, Some(Deadline::Handle), None).await?;
        }
        Event::CaseClosed(_)
        | Event::CaseMerged(_)
        | Event::CaseDeclined(_)
        | Event::CaseWithdrawn(_)
        | Event::CaseReferred(_)
        | Event::RepliedAtIntake(_) => {
            clear(tx, case_id, None, None).await?;
            sqlx::query("DELETE FROM queue WHERE case_id = ?")
                .bind(case_id)
                .execute(&mut **tx)
                .await?;
        }
        _ => {}
    }
    Ok(())
}
