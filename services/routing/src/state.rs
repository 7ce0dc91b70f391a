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
    // The notifications this replica has seen claimed (crate::notify); their records
    // live in the CASEGRID_NOTIFICATIONS bucket. `done`: sent or dead-lettered.
    "CREATE TABLE IF NOT EXISTS notifications (id TEXT PRIMARY KEY, case_id TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS notifications_open ON notifications (done)",
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

    /// A write transaction that holds SQLite's write lock from its start (`BEGIN
    /// IMMEDIATE`): a deferred one that reads first fails at once with "database is
    /// locked" when another connection wrote in between (the busy timeout does not
    /// apply to that upgrade), and routing's consumer, timers and notifier write at once.
    async fn write(&self) -> sqlx::Result<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
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
        let mut tx = self.write().await?;
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
        let touched: Vec<&Case> = touched.iter().filter_map(|id| cases.get(id)).collect();
        write_cases(&mut tx, &touched).await?;
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
        let mut tx = self.write().await?;
        write_cases(&mut tx, &[case]).await?;
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

    /// Open deadlines of `kind` due after `from` and at or before `to`.
    pub async fn due_between(
        &self,
        kind: Deadline,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> anyhow::Result<Vec<DueDeadline>> {
        let rows = sqlx::query(
            "SELECT case_id, department, due_at FROM deadlines
             WHERE kind = ? AND due_at > ? AND due_at <= ? ORDER BY due_at, case_id, department",
        )
        .bind(kind_str(kind))
        .bind(secs(from))
        .bind(secs(to))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let case_id: String = row.try_get("case_id")?;
            let department: String = row.try_get("department")?;
            out.push(DueDeadline {
                case_id: CaseId::parse(&case_id)?,
                deadline: kind,
                department: DepartmentId::parse(&department)?,
                due: OffsetDateTime::from_unix_timestamp(row.try_get("due_at")?)?,
            });
        }
        Ok(out)
    }

    /// Whether this replica has seen notification `id` claimed.
    pub async fn has_notification(&self, id: &str) -> anyhow::Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM notifications WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Remembers a claimed notification (by this replica or another).
    pub async fn index_notification(&self, id: &str, case_id: CaseId) -> anyhow::Result<()> {
        sqlx::query("INSERT OR IGNORE INTO notifications (id, case_id) VALUES (?, ?)")
            .bind(id)
            .bind(case_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Notifications not yet sent or dead-lettered, oldest first.
    pub async fn open_notifications(&self, limit: u32) -> anyhow::Result<Vec<String>> {
        Ok(
            sqlx::query_scalar(
                "SELECT id FROM notifications WHERE done = 0 ORDER BY rowid LIMIT ?",
            )
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?,
        )
    }

    /// A notification reached a final state: the sender looks at it no more.
    pub async fn notification_done(&self, id: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE notifications SET done = 1 WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every notification id of `case` (or of every case), oldest first.
    pub async fn notifications_of(&self, case: Option<CaseId>) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM notifications WHERE ? IS NULL OR case_id = ? ORDER BY rowid",
        )
        .bind(case.map(|c| c.to_string()))
        .bind(case.map(|c| c.to_string()))
        .fetch_all(&self.pool)
        .await?)
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
/// Cases per statement of [`write_cases`] (SQLite binds at most 32,766 values; a case
/// has at most a handful of open deadlines, four values each).
const CASES_PER_STATEMENT: usize = 200;

/// Rewrites the deadline rows of `cases` from their states, skipping each case whose
/// rows were computed from a newer version: a few statements per batch of cases, not
/// per case (each statement is a round trip to SQLite's worker thread).
async fn write_cases(tx: &mut Transaction<'_, Sqlite>, cases: &[&Case]) -> anyhow::Result<()> {
    for chunk in cases.chunks(CASES_PER_STATEMENT) {
        let ids: Vec<String> = chunk.iter().map(|c| c.id.to_string()).collect();
        let mut newer = sqlx::QueryBuilder::<Sqlite>::new(
            "SELECT case_id, version FROM deadline_cases WHERE case_id IN (",
        );
        let mut list = newer.separated(", ");
        for id in &ids {
            list.push_bind(id);
        }
        newer.push(")");
        let written: HashMap<String, i64> = newer
            .build_query_as::<(String, i64)>()
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
        let due: Vec<(&String, &&Case)> = ids
            .iter()
            .zip(chunk)
            .filter(|(id, case)| written.get(*id).is_none_or(|v| *v <= case.version as i64))
            .collect();
        if due.is_empty() {
            continue;
        }
        let mut delete =
            sqlx::QueryBuilder::<Sqlite>::new("DELETE FROM deadlines WHERE case_id IN (");
        let mut list = delete.separated(", ");
        for (id, _) in &due {
            list.push_bind(*id);
        }
        delete.push(")");
        delete.build().execute(&mut **tx).await?;
        let rows: Vec<(&String, casegrid_domain::OpenDeadline)> = due
            .iter()
            .flat_map(|(id, case)| {
                case.open_deadlines()
                    .into_iter()
                    .map(move |open| (*id, open))
            })
            .collect();
        if !rows.is_empty() {
            let mut insert = sqlx::QueryBuilder::<Sqlite>::new(
                "INSERT INTO deadlines (case_id, kind, department, due_at) ",
            );
            insert.push_values(&rows, |mut row, (id, open)| {
                row.push_bind(*id)
                    .push_bind(kind_str(open.kind))
                    .push_bind(open.unit.as_str())
                    .push_bind(secs(open.due));
            });
            insert.build().execute(&mut **tx).await?;
        }
        let mut versions = sqlx::QueryBuilder::<Sqlite>::new(
            "INSERT OR REPLACE INTO deadline_cases (case_id, version) ",
        );
        versions.push_values(&due, |mut row, (id, case)| {
            row.push_bind(*id).push_bind(case.version as i64);
        });
        versions.build().execute(&mut **tx).await?;
        // Only a received case waits for a human dispatcher.
        let left: Vec<&String> = due
            .iter()
            .filter(|(_, case)| case.status != Status::Received)
            .map(|(id, _)| *id)
            .collect();
        if !left.is_empty() {
            let mut dequeue =
                sqlx::QueryBuilder::<Sqlite>::new("DELETE FROM queue WHERE case_id IN (");
            let mut list = dequeue.separated(", ");
            for id in left {
                list.push_bind(id);
            }
            dequeue.push(")");
            dequeue.build().execute(&mut **tx).await?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use casegrid_domain::command::{Dispatch, FileCase};
    use casegrid_domain::event::{CaseKind, Channel, Location, Urgency};
    use casegrid_domain::ids::Category;
    use casegrid_domain::{Actor, ActorKind, Command};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

    fn filed(key: &str) -> Case {
        let mut case = Case::new(CaseId::for_filing("op.zhang", key));
        let file = Command::FileCase(FileCase {
            channel: Channel::SuggestionBox,
            kind: CaseKind::Complaint,
            category: Category::parse("noise").unwrap(),
            urgency: Urgency::Normal,
            title: "夜间施工噪音".into(),
            description: "工地每晚仍在施工".into(),
            location: Location::default(),
            reporter: None,
            source: Default::default(),
            grid_found: None,
            personal: Vec::new(),
        });
        let operator = Actor::new(ActorKind::Operator, "op.zhang");
        let event = case.decide(&operator, &file, NOW).unwrap();
        case.apply(&event);
        case
    }

    fn dispatched(key: &str, lead: &str) -> Case {
        let mut case = filed(key);
        let dispatch = Command::Dispatch(Dispatch {
            lead: DepartmentId::parse(lead).unwrap(),
            assisting: vec![],
            sign_due: datetime!(2026-11-23 12:00 UTC),
            handle_due: datetime!(2026-11-30 18:00 UTC),
            rule: "noise".into(),
            return_due: None,
        });
        let event = case.decide(&Actor::routing(), &dispatch, NOW).unwrap();
        case.apply(&event);
        case
    }

    async fn rows(state: &RoutingState) -> Vec<(CaseId, Deadline, String)> {
        let mut rows: Vec<_> = state
            .all_deadlines()
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.case_id, d.deadline, d.department.to_string()))
            .collect();
        rows.sort_by_key(|r| r.0.to_string());
        rows
    }

    #[tokio::test]
    async fn one_rewrite_of_many_cases_keeps_each_case_at_its_newest_version() {
        let state = RoutingState::connect("sqlite::memory:").await.unwrap();
        let (a, b, c) = (
            dispatched("a", "dept.housing"),
            filed("b"),
            dispatched("c", "dept.water"),
        );
        state.enqueue(b.id, "no rule", NOW).await.unwrap();
        state.enqueue(c.id, "no rule", NOW).await.unwrap();
        let mut tx = state.write().await.unwrap();
        write_cases(&mut tx, &[&a, &b, &c]).await.unwrap();
        tx.commit().await.unwrap();
        let mut want = vec![
            (a.id, Deadline::Sign, "dept.housing".to_owned()),
            (a.id, Deadline::Handle, "dept.housing".to_owned()),
            (c.id, Deadline::Sign, "dept.water".to_owned()),
            (c.id, Deadline::Handle, "dept.water".to_owned()),
        ];
        want.sort_by_key(|r| r.0.to_string());
        let mut got = rows(&state).await;
        got.sort_by_key(|r| format!("{}{:?}", r.0, r.1));
        want.sort_by_key(|r| format!("{}{:?}", r.0, r.1));
        assert_eq!(
            got, want,
            "a filed case has no deadline; dispatched ones have theirs"
        );
        let queued: Vec<CaseId> = state
            .queue()
            .await
            .unwrap()
            .iter()
            .map(|q| q.case_id)
            .collect();
        assert_eq!(
            queued,
            vec![b.id],
            "a dispatched case leaves the queue, a received one stays"
        );

        // An older state of `a` (filed only) beside a newer one of `b`: `a` keeps its rows.
        let (old_a, new_b) = (filed("a"), dispatched("b", "dept.housing"));
        let mut tx = state.write().await.unwrap();
        write_cases(&mut tx, &[&old_a, &new_b]).await.unwrap();
        tx.commit().await.unwrap();
        let got = rows(&state).await;
        assert_eq!(got.iter().filter(|r| r.0 == a.id).count(), 2, "{got:?}");
        assert_eq!(got.iter().filter(|r| r.0 == new_b.id).count(), 2, "{got:?}");
        assert!(state.queue().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn concurrent_rewrites_wait_for_each_other_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("routing.db").display());
        let state = RoutingState::connect(&url).await.unwrap();
        let cases: Vec<Case> = (0..8)
            .map(|i| dispatched(&format!("k{i}"), "dept.housing"))
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        for case in cases {
            let state = state.clone();
            tasks.spawn(async move {
                for _ in 0..40 {
                    state.rewrite(&case).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().expect("a rewrite beside others");
        }
        assert_eq!(state.open_deadlines().await.unwrap(), 16);
    }
}
