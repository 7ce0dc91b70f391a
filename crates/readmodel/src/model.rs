//! [`ReadModel`]: the database (SQLite or PostgreSQL), its case queries and [`ReadModel::diff`].

use crate::schema::{self, Backend};
use crate::{ReadModelError, Result};
use casegrid_contracts::views::{
    CaseView, DeadlineView, InboxItem, InboxView, QuarantineView, QuarantinedMessage,
    TimelineEntry, TimelineView,
};
use casegrid_domain::{Actor, ActorKind, CaseId, Status};
use casegrid_eventlog::store::Numbering;
use casegrid_eventlog::StreamIdentity;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Column, Row};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Tables compared by [`ReadModel::diff`], with the columns that key their rows.
const TABLES: &[(&str, &[&str])] = &[
    ("checkpoint", &["id"]),
    ("cases", &["id"]),
    ("timeline", &["case_id", "version"]),
    ("inbox", &["department", "case_id"]),
    ("dispatches", &["case_id", "version", "department"]),
    ("callbacks", &["case_id", "version"]),
    ("quarantine", &["seq"]),
    ("handlings", &["case_id", "version"]),
    ("appeals", &["case_id", "callback_version"]),
    ("kb_entries", &["id"]),
    ("kb_versions", &["entry_id", "version"]),
    ("kb_citations", &["case_id", "version"]),
];

/// Default and largest number of items of an inbox query.
pub const INBOX_LIMIT: u32 = 100;
pub const INBOX_MAX: u32 = 1000;

/// The projection's read models over a SQLite or PostgreSQL pool; cheap to clone.
#[derive(Clone)]
pub struct ReadModel {
    pool: AnyPool,
    backend: Backend,
    /// The URL it was opened with (a rebuild into PostgreSQL opens a `COPY`
    /// connection of its own); never printed, it may carry credentials.
    url: Arc<str>,
    pub(crate) numbering: Numbering,
    /// Events of case `X` are on `<subject_prefix>.X` (the log's configuration).
    pub(crate) subject_prefix: String,
    names: Arc<HashMap<String, String>>,
    /// Working time between two instants for the figures (the district calendar).
    pub(crate) working: crate::assessment::WorkingMs,
}

impl std::fmt::Debug for ReadModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry credentials; name only the backend.
        f.debug_struct("ReadModel")
            .field("backend", &self.backend.name())
            .finish_non_exhaustive()
    }
}

/// Actor display names from a district: departments and principals by id.
pub fn names_from<'a>(
    departments: impl IntoIterator<Item = (&'a str, &'a str)>,
    principals: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> HashMap<String, String> {
    // Departments win over principals of the same id: their names are the official ones.
    let mut names: HashMap<String, String> = principals
        .into_iter()
        .map(|(id, name)| (id.to_owned(), name.to_owned()))
        .collect();
    names.extend(
        departments
            .into_iter()
            .map(|(id, name)| (id.to_owned(), name.to_owned())),
    );
    names
}

impl ReadModel {
    /// Opens the database at `url` and creates the schema idempotently:
    /// `sqlite://path?mode=rwc` or `sqlite:path` (created when absent, WAL mode),
    /// `sqlite::memory:`, or `postgres://user:password@host/db` (the database must exist).
    pub async fn connect(url: &str) -> Result<Self> {
        let backend = Backend::of(url).ok_or_else(|| {
            ReadModelError::Config(
                "the read-model URL must start with sqlite: or postgres://".to_owned(),
            )
        })?;
        let pool = schema::open(url, backend).await?;
        schema::migrate(&pool, backend).await?;
        Ok(Self {
            pool,
            backend,
            url: url.into(),
            numbering: Numbering::default(),
            subject_prefix: casegrid_eventlog::LogConfig::default().subject_prefix,
            names: Arc::new(HashMap::new()),
            working: crate::assessment::wall_clock(),
        })
    }

    /// Case numbers are formed with `numbering` (the district's prefix and offset).
    pub fn with_numbering(mut self, numbering: Numbering) -> Self {
        self.numbering = numbering;
        self
    }

    /// Actor display names (id → name) used by [`Self::timeline`].
    pub fn with_names(mut self, names: HashMap<String, String>) -> Self {
        self.names = Arc::new(names);
        self
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool; pending writes are already committed.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The last stream sequence applied (0 before any).
    pub async fn checkpoint(&self) -> Result<u64> {
        let seq: i64 = sqlx::query_scalar("SELECT seq FROM checkpoint WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq as u64)
    }

    /// The quarantine: counts per reason (every reason, 0 included) and up to `limit`
    /// messages, oldest first.
    pub async fn quarantine(&self, limit: u32) -> Result<QuarantineView> {
        let mut counts: BTreeMap<String, u64> = casegrid_eventlog::Reason::ALL
            .iter()
            .map(|r| (r.as_str().to_owned(), 0))
            .collect();
        let rows = sqlx::query("SELECT reason, COUNT(*) AS n FROM quarantine GROUP BY reason")
            .fetch_all(&self.pool)
            .await?;
        for r in rows {
            counts.insert(r.try_get("reason")?, r.try_get::<i64, _>("n")? as u64);
        }
        let rows = sqlx::query(
            "SELECT seq, subject, case_id, version, reason, detail, head
             FROM quarantine ORDER BY seq LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(QuarantinedMessage {
                    seq: r.try_get::<i64, _>("seq")? as u64,
                    subject: r.try_get("subject")?,
                    case_id: r.try_get("case_id")?,
                    version: r.try_get::<Option<i64>, _>("version")?.map(|v| v as u64),
                    reason: r.try_get("reason")?,
                    detail: r.try_get("detail")?,
                    head: r.try_get("head")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(QuarantineView { counts, items })
    }

    /// The identity of the stream this read model was built from, once recorded.
    pub async fn stream_identity(&self) -> Result<Option<StreamIdentity>> {
        let row =
            sqlx::query("SELECT stream, created, first_seq FROM stream_identity WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            Ok(StreamIdentity {
                stream: row.try_get("stream")?,
                created: row.try_get("created")?,
                first_seq: row.try_get::<i64, _>("first_seq")? as u64,
            })
        })
        .transpose()
    }

    /// Records the identity of the stream this read model reads.
    pub async fn record_stream_identity(&self, identity: &StreamIdentity) -> Result<()> {
        sqlx::query(
            "INSERT INTO stream_identity (id, stream, created, first_seq) VALUES (1, $1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET stream = excluded.stream,
               created = excluded.created, first_seq = excluded.first_seq",
        )
        .bind(identity.stream.clone())
        .bind(identity.created.clone())
        .bind(identity.first_seq as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Checks that `log` is the stream this read model was built from (refusing an
    /// empty or different one once past checkpoint 0) and records its identity;
    /// answers it, for [`casegrid_eventlog::EventLog::watch_identity`].
    pub async fn check_stream(&self, log: &casegrid_eventlog::EventLog) -> Result<StreamIdentity> {
        let recorded = self.stream_identity().await?;
        let current = log
            .check_identity(recorded.as_ref(), self.checkpoint().await?)
            .await?;
        let keep = recorded
            .as_ref()
            .is_some_and(|r| r.created == current.created && r.first_seq == current.first_seq);
        if !keep {
            self.record_stream_identity(&current).await?;
        }
        Ok(current)
    }

    /// How many cases are in each status (for `/metrics`).
    pub async fn cases_by_status(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM cases GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut out = std::collections::BTreeMap::new();
        for row in rows {
            let status: String = row.try_get("status")?;
            let n: i64 = row.try_get("n")?;
            out.insert(status, n as u64);
        }
        Ok(out)
    }

    /// The summary of one case, or `None` when it was never filed.
    pub async fn case(&self, id: CaseId) -> Result<Option<CaseView>> {
        let row = sqlx::query("SELECT * FROM cases WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| case_from_row(&r)).transpose()
    }

    /// A case's events for people, oldest first, with actor names and masked data;
    /// `None` when the log holds nothing of the case.
    pub async fn timeline(&self, id: CaseId) -> Result<Option<TimelineView>> {
        let rows = sqlx::query(
            "SELECT version, type, occurred_at, actor_kind, actor_id, summary, data, prev_hash, hash
             FROM timeline WHERE case_id = $1 ORDER BY version",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let number: Option<String> = sqlx::query_scalar("SELECT number FROM cases WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let events = rows
            .iter()
            .map(|r| self.entry_from_row(r))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(TimelineView {
            case_id: id,
            number: number.unwrap_or_else(|| id.to_string()),
            events,
        }))
    }

    /// A department's open cases (dispatched to it, neither replied nor closed),
    /// soonest handling deadline first; `limit` defaults to 100, at most 1000.
    pub async fn inbox(&self, department: &str, limit: Option<u32>) -> Result<InboxView> {
        let limit = limit.unwrap_or(INBOX_LIMIT).clamp(1, INBOX_MAX);
        let rows = sqlx::query(
            "SELECT c.id, c.number, c.title, c.category, c.urgency, c.status, i.role, i.signed,
                    c.sign_due, c.handle_due, c.version, c.deadlines
             FROM inbox i JOIN cases c ON c.id = i.case_id
             WHERE i.department = $1
             ORDER BY CASE WHEN c.handle_due_ms IS NULL THEN 1 ELSE 0 END, c.handle_due_ms,
                      c.filed_seq
             LIMIT $2",
        )
        .bind(department)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(InboxItem {
                    id: parse_id(&r.try_get::<String, _>("id")?)?,
                    number: r.try_get("number")?,
                    title: r.try_get("title")?,
                    category: r.try_get("category")?,
                    urgency: r.try_get("urgency")?,
                    status: parse_status(&r.try_get::<String, _>("status")?)?,
                    role: r.try_get("role")?,
                    signed: r.try_get::<i64, _>("signed")? != 0,
                    sign_due: r.try_get("sign_due")?,
                    handle_due: r.try_get("handle_due")?,
                    version: r.try_get::<i64, _>("version")? as u64,
                    // The countdown: this unit's own running deadline, soonest kind
                    // first (sign before handle before report-in).
                    due: deadlines_of(r)?
                        .into_iter()
                        .find(|d| d.unit == department)
                        .map(|d| d.due),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(InboxView {
            department: department.to_owned(),
            items,
        })
    }

    /// The display name of an actor id, else the id itself.
    pub fn actor_name(&self, id: &str) -> String {
        self.names.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }

    /// Every difference between this read model and `other`, table by table and row
    /// by row, as sentences; empty when they are equal.
    pub async fn diff(&self, other: &ReadModel) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for (table, keys) in TABLES {
            let (columns, mine) = self.table_rows(table, keys).await?;
            let (_, theirs) = other.table_rows(table, keys).await?;
            for (key, row) in &mine {
                match theirs.get(key) {
                    None => out.push(format!("{table} {key}: only in the first read model")),
                    Some(their) if their != row => {
                        for (i, column) in columns.iter().enumerate() {
                            let (a, b) = (row.get(i), their.get(i));
                            if a != b {
                                out.push(format!(
                                    "{table} {key}: {column} is {} in the first, {} in the second",
                                    show(a),
                                    show(b)
                                ));
                            }
                        }
                    }
                    Some(_) => {}
                }
            }
            for key in theirs.keys().filter(|k| !mine.contains_key(*k)) {
                out.push(format!("{table} {key}: only in the second read model"));
            }
        }
        Ok(out)
    }

    /// A table's column names and its rows keyed by their key columns, values as JSON.
    pub(crate) async fn table_rows(
        &self,
        table: &str,
        keys: &[&str],
    ) -> Result<(Vec<String>, BTreeMap<String, Vec<serde_json::Value>>)> {
        // Names come from our own constants, never from input.
        let rows = sqlx::query(&format!("SELECT * FROM {table}"))
            .fetch_all(&self.pool)
            .await?;
        let mut columns = Vec::new();
        let mut out = BTreeMap::new();
        for row in rows {
            if columns.is_empty() {
                columns = row.columns().iter().map(|c| c.name().to_owned()).collect();
            }
            let values = (0..columns.len())
                .map(|i| json_value(&row, i))
                .collect::<Result<Vec<_>>>()?;
            let key: Vec<&serde_json::Value> = keys
                .iter()
                .filter_map(|k| columns.iter().position(|c| c == k))
                .map(|i| &values[i])
                .collect();
            out.insert(serde_json::to_string(&key).unwrap_or_default(), values);
        }
        Ok((columns, out))
    }

    /// The tables and their key columns.
    #[cfg(test)]
    pub(crate) fn tables() -> &'static [(&'static str, &'static [&'static str])] {
        TABLES
    }

    fn entry_from_row(&self, r: &AnyRow) -> Result<TimelineEntry> {
        let actor_id: String = r.try_get("actor_id")?;
        let kind: String = r.try_get("actor_kind")?;
        let kind: ActorKind = serde_json::from_value(serde_json::Value::String(kind.clone()))
            .map_err(|e| ReadModelError::Corrupt(format!("actor kind {kind:?}: {e}")))?;
        let data: String = r.try_get("data")?;
        Ok(TimelineEntry {
            version: r.try_get::<i64, _>("version")? as u64,
            event_type: r.try_get("type")?,
            occurred_at: r.try_get("occurred_at")?,
            actor_name: self.actor_name(&actor_id),
            actor: Actor::new(kind, actor_id),
            summary: r.try_get("summary")?,
            data: serde_json::from_str(&data)
                .map_err(|e| ReadModelError::Corrupt(format!("timeline data: {e}")))?,
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        })
    }
}

/// One column of a row as JSON: integers, text or null (the schema holds nothing else).
fn json_value(row: &AnyRow, i: usize) -> Result<serde_json::Value> {
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return Ok(v.map_or(serde_json::Value::Null, Into::into));
    }
    let v: Option<String> = row.try_get(i)?;
    Ok(v.map_or(serde_json::Value::Null, Into::into))
}

fn show(v: Option<&serde_json::Value>) -> String {
    v.map_or_else(|| "absent".to_owned(), |v| v.to_string())
}

pub(crate) fn parse_id(s: &str) -> Result<CaseId> {
    CaseId::parse(s).map_err(|e| ReadModelError::Corrupt(format!("case id {s:?}: {e}")))
}

pub(crate) fn parse_status(s: &str) -> Result<Status> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| ReadModelError::Corrupt(format!("status {s:?}: {e}")))
}

fn json_list(s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(|e| ReadModelError::Corrupt(format!("list {s:?}: {e}")))
}

/// The running deadlines the fold stored with the case (`Case::running_deadlines`).
fn deadlines_of(r: &AnyRow) -> Result<Vec<DeadlineView>> {
    let text: String = r.try_get("deadlines")?;
    serde_json::from_str(&text).map_err(|e| ReadModelError::Corrupt(format!("deadlines: {e}")))
}

pub(crate) fn case_from_row(r: &AnyRow) -> Result<CaseView> {
    Ok(CaseView {
        id: parse_id(&r.try_get::<String, _>("id")?)?,
        number: r.try_get("number")?,
        status: parse_status(&r.try_get::<String, _>("status")?)?,
        version: r.try_get::<i64, _>("version")? as u64,
        channel: r.try_get("channel")?,
        kind: r.try_get("kind")?,
        category: r.try_get("category")?,
        urgency: r.try_get("urgency")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        address: r.try_get("address")?,
        grid: r.try_get("grid")?,
        reporter_name: r.try_get("reporter_name")?,
        reporter_phone: r.try_get("reporter_phone")?,
        lead: r.try_get("lead")?,
        assisting: json_list(&r.try_get::<String, _>("assisting")?)?,
        signed: json_list(&r.try_get::<String, _>("signed")?)?,
        summoned: json_list(&r.try_get::<String, _>("summoned")?)?,
        whistled_by: json_list(&r.try_get::<String, _>("whistled_by")?)?,
        level: r.try_get("level")?,
        sign_due: r.try_get("sign_due")?,
        handle_due: r.try_get("handle_due")?,
        rule: r.try_get("rule")?,
        reply_result: r.try_get("reply_result")?,
        satisfaction: r.try_get("satisfaction")?,
        filed_at: r.try_get("filed_at")?,
        updated_at: r.try_get("updated_at")?,
        filed_by: r.try_get("filed_by")?,
        mediator: r.try_get("mediator")?,
        deadlines: deadlines_of(r)?,
    })
}
