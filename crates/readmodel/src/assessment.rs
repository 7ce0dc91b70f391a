//! The assessment figures beyond the four rates (issue 15): one row per dispatch of a
//! case for its lead department (`handlings`: 及时签收率, 按时办结率, 回退率, 重办率,
//! 超期件数, working time to sign and to reply) and one row per appealed callback
//! (`appeals`: an accepted appeal takes its callback out of 解决率 and 满意率).
//!
//! Rows keep instants (Unix ms) and the suspended intervals, never working time: the
//! working time is counted at query time with the district calendar
//! ([`ReadModel::with_working_time`]), so a rebuild equals the live model whatever the
//! calendar, and a corrected calendar corrects every figure.
//!
//! "On time" reads the case's own handling deadline at the reply: approved extensions
//! move it ([`casegrid_domain::Case::apply`] of `ExtensionDecided`) and a resume after a
//! suspension moves it by the working time left, so suspended time never counts
//! against the unit. An escalation by the lead excuses its row (`excused`), as it does
//! the other figures.

use crate::rows::{self, Val};
use crate::{Backend, ReadModel, Result};
use casegrid_contracts::query::{Rate, WorkingTime};
use casegrid_domain::event::Deadline;
use casegrid_domain::{ActorKind, Case, CaseId, Event};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::OffsetDateTime;

/// Working milliseconds between two instants (Unix ms): the district calendar.
pub(crate) type WorkingMs = Arc<dyn Fn(i64, i64) -> i64 + Send + Sync>;

/// The lead's handling of one dispatch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Handling {
    department: String,
    day: String,
    dispatched_ms: i64,
    sign_due_ms: i64,
    signed_ms: Option<i64>,
    sign_on_time: Option<bool>,
    replied_ms: Option<i64>,
    reply_on_time: Option<bool>,
    returned: bool,
    reopened: bool,
    overdue: bool,
    /// Suspended intervals `[from, to]` (Unix ms).
    suspended: Vec<[i64; 2]>,
    excused: bool,
}

/// What one batch changes: handlings keyed by (case, dispatch version), appeals by
/// (case, callback version) → (department, accepted).
#[derive(Default)]
pub(crate) struct Changes {
    handlings: BTreeMap<(CaseId, i64), Handling>,
    appeals: BTreeMap<(CaseId, i64), (String, Option<bool>)>,
}

/// What the fold knows of the case around one event.
pub(crate) struct At<'a> {
    pub(crate) id: CaseId,
    pub(crate) version: i64,
    pub(crate) at: OffsetDateTime,
    pub(crate) day: String,
    /// The current dispatch's version (before a return or reopen clears it).
    pub(crate) dispatch_version: Option<i64>,
    /// The case after the event.
    pub(crate) case: &'a Case,
    /// Whether the current lead escalated the case.
    pub(crate) lead_excused: bool,
}

impl Changes {
    /// Loads the handlings of the current dispatches of the touched cases.
    pub(crate) async fn load(
        &mut self,
        conn: &mut AnyConnection,
        model: &ReadModel,
        keys: &[(CaseId, i64)],
    ) -> Result<()> {
        let keys: Vec<&(CaseId, i64)> = keys
            .iter()
            .filter(|k| !self.handlings.contains_key(k))
            .collect();
        for chunk in rows::chunks(&keys) {
            let ids: Vec<String> = chunk.iter().map(|(id, _)| id.to_string()).collect();
            let sql = format!(
                "SELECT * FROM handlings WHERE case_id IN ({})",
                rows::placeholders(model.backend(), 1, ids.len())
            );
            let mut q = sqlx::query(&sql);
            for id in &ids {
                q = q.bind(id.as_str());
            }
            for row in q.fetch_all(&mut *conn).await? {
                let id: String = row.try_get("case_id")?;
                let version: i64 = row.try_get("version")?;
                let Some(key) = chunk
                    .iter()
                    .find(|(c, v)| *v == version && c.to_string() == id)
                else {
                    continue;
                };
                self.handlings.insert(**key, handling_of(&row)?);
            }
        }
        Ok(())
    }

    /// Folds one event (after the case applied it).
    pub(crate) fn fold(&mut self, e: &At<'_>, event: &Event) {
        let at = crate::fold::millis(e.at);
        if let Event::CaseDispatched(d) = event {
            self.handlings.insert(
                (e.id, e.version),
                Handling {
                    department: d.lead.to_string(),
                    day: e.day.clone(),
                    dispatched_ms: at,
                    sign_due_ms: crate::fold::millis(d.sign_due),
                    excused: e.lead_excused,
                    ..Handling::default()
                },
            );
            return;
        }
        if let Event::RatingAppealed(a) = event {
            self.appeals.insert(
                (e.id, a.callback_version as i64),
                (a.department.to_string(), None),
            );
            return;
        }
        if let Event::AppealDecided(a) = event {
            self.appeals.insert(
                (e.id, a.callback_version as i64),
                (a.department.to_string(), Some(a.accepted)),
            );
            return;
        }
        let Some(h) = e
            .dispatch_version
            .and_then(|v| self.handlings.get_mut(&(e.id, v)))
        else {
            return;
        };
        match event {
            Event::DispatchSigned(s)
                if !s.whistle && s.department.as_str() == h.department && h.signed_ms.is_none() =>
            {
                h.signed_ms = Some(at);
                h.sign_on_time = Some(s.on_time);
            }
            Event::DispatchReturned(r) if r.department.as_str() == h.department => {
                h.returned = true;
            }
            Event::CaseResumed(r) => h.suspended.push([crate::fold::millis(r.suspended_at), at]),
            Event::CaseReplied(r) if r.department.as_str() == h.department => {
                let on_time = e
                    .case
                    .dispatch
                    .as_ref()
                    .is_none_or(|d| e.at <= d.handle_due);
                h.replied_ms = Some(at);
                h.reply_on_time = Some(on_time);
                h.overdue |= !on_time;
            }
            Event::DeadlineMissed(m)
                if m.deadline == Deadline::Handle && m.department.as_str() == h.department =>
            {
                h.overdue = true;
            }
            Event::CaseReopened(_) if h.replied_ms.is_some() => h.reopened = true,
            Event::CaseEscalated(x)
                if matches!(x.by.kind, ActorKind::Department | ActorKind::Street)
                    && x.by.id == h.department =>
            {
                h.excused = true;
            }
            _ => {}
        }
    }

    /// The handling of a dispatch (case, version) kept from an earlier batch.
    pub(crate) fn put(&mut self, key: (CaseId, i64), handling: Handling) {
        self.handlings.insert(key, handling);
    }

    /// The handling of a dispatch, taken out: it is not written with this batch.
    pub(crate) fn take(&mut self, key: &(CaseId, i64)) -> Option<Handling> {
        self.handlings.remove(key)
    }

    pub(crate) fn get(&self, key: &(CaseId, i64)) -> Option<&Handling> {
        self.handlings.get(key)
    }

    /// The batch's rows: `handlings` and `appeals`, for [`write`].
    pub(crate) fn rows(self) -> (Vec<Vec<Val>>, Vec<Vec<Val>>) {
        let handlings = self
            .handlings
            .into_iter()
            .map(|((id, version), h)| {
                vec![
                    Val::text(id.to_string()),
                    Val::int(version),
                    Val::text(h.department),
                    Val::text(h.day),
                    Val::int(h.dispatched_ms),
                    Val::int(h.sign_due_ms),
                    Val::opt_int(h.signed_ms),
                    Val::opt_int(h.sign_on_time.map(i64::from)),
                    Val::opt_int(h.replied_ms),
                    Val::opt_int(h.reply_on_time.map(i64::from)),
                    Val::int(i64::from(h.returned)),
                    Val::int(i64::from(h.reopened)),
                    Val::int(i64::from(h.overdue)),
                    Val::text(serde_json::to_string(&h.suspended).expect("numbers serialize")),
                    Val::int(i64::from(h.excused)),
                ]
            })
            .collect();
        let appeals = self
            .appeals
            .into_iter()
            .map(|((id, version), (department, accepted))| {
                vec![
                    Val::text(id.to_string()),
                    Val::int(version),
                    Val::text(department),
                    Val::opt_int(accepted.map(i64::from)),
                ]
            })
            .collect();
        (handlings, appeals)
    }
}

/// Writes a batch's [`Changes::rows`] (before the batch's excuses are applied to the
/// tables).
pub(crate) async fn write(
    conn: &mut AnyConnection,
    backend: Backend,
    handlings: Vec<Vec<Val>>,
    appeals: Vec<Vec<Val>>,
) -> Result<()> {
    let set: Vec<String> = HANDLING_COLUMNS[2..]
        .iter()
        .map(|c| match *c {
            // An excuse, once given, stays.
            "excused" => {
                "excused = CASE WHEN excluded.excused = 1 THEN 1 ELSE handlings.excused END"
                    .to_owned()
            }
            c => format!("{c} = excluded.{c}"),
        })
        .collect();
    rows::insert(
        conn,
        backend,
        "handlings",
        HANDLING_COLUMNS,
        &format!(
            "ON CONFLICT (case_id, version) DO UPDATE SET {}",
            set.join(", ")
        ),
        handlings,
    )
    .await?;
    rows::insert(
        conn,
        backend,
        "appeals",
        &["case_id", "callback_version", "department", "accepted"],
        "ON CONFLICT (case_id, callback_version) DO UPDATE SET
          accepted = COALESCE(excluded.accepted, appeals.accepted)",
        appeals,
    )
    .await?;
    Ok(())
}

const HANDLING_COLUMNS: &[&str] = &[
    "case_id",
    "version",
    "department",
    "day",
    "dispatched_ms",
    "sign_due_ms",
    "signed_ms",
    "sign_on_time",
    "replied_ms",
    "reply_on_time",
    "returned",
    "reopened",
    "overdue",
    "suspended",
    "excused",
];

fn handling_of(row: &AnyRow) -> Result<Handling> {
    let flag = |name: &str| -> Result<bool> { Ok(row.try_get::<i64, _>(name)? != 0) };
    let opt_flag = |name: &str| -> Result<Option<bool>> {
        Ok(row.try_get::<Option<i64>, _>(name)?.map(|v| v != 0))
    };
    let suspended: String = row.try_get("suspended")?;
    Ok(Handling {
        department: row.try_get("department")?,
        day: row.try_get("day")?,
        dispatched_ms: row.try_get("dispatched_ms")?,
        sign_due_ms: row.try_get("sign_due_ms")?,
        signed_ms: row.try_get("signed_ms")?,
        sign_on_time: opt_flag("sign_on_time")?,
        replied_ms: row.try_get("replied_ms")?,
        reply_on_time: opt_flag("reply_on_time")?,
        returned: flag("returned")?,
        reopened: flag("reopened")?,
        overdue: flag("overdue")?,
        suspended: serde_json::from_str(&suspended)
            .map_err(|e| crate::ReadModelError::Corrupt(format!("handlings.suspended: {e}")))?,
        excused: flag("excused")?,
    })
}

/// The counts of the handlings of one group and period.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    dispatches: u64,
    signed_on_time: u64,
    replies: u64,
    replied_on_time: u64,
    returned: u64,
    reopened: u64,
    overdue: u64,
    signed: u64,
    sign_ms: i64,
    reply_ms: i64,
}

impl Counts {
    /// Adds one `handlings` row.
    pub(crate) fn add(&mut self, row: &AnyRow, working: &WorkingMs) -> Result<()> {
        let h = handling_of(row)?;
        self.dispatches += 1;
        self.returned += u64::from(h.returned);
        self.overdue += u64::from(h.overdue);
        if let Some(signed) = h.signed_ms {
            self.signed += 1;
            self.signed_on_time += u64::from(h.sign_on_time == Some(true));
            self.sign_ms += working(h.dispatched_ms, signed);
        }
        if let Some(replied) = h.replied_ms {
            self.replies += 1;
            self.replied_on_time += u64::from(h.reply_on_time == Some(true));
            self.reopened += u64::from(h.reopened);
            let suspended: i64 = h.suspended.iter().map(|[a, b]| working(*a, *b)).sum();
            self.reply_ms += (working(h.dispatched_ms, replied) - suspended).max(0);
        }
        Ok(())
    }

    /// Whether any count is not zero.
    pub(crate) fn any(&self) -> bool {
        self.dispatches > 0
    }

    /// Fills the row's assessment figures.
    pub(crate) fn fill(&self, row: &mut casegrid_contracts::query::StatsRow) {
        let minutes = |ms: i64| (ms.max(0) as u64 + 30_000) / 60_000;
        row.timely_sign = Rate::new(self.signed_on_time, self.dispatches);
        row.on_time_reply = Rate::new(self.replied_on_time, self.replies);
        row.returns = Rate::new(self.returned, self.dispatches);
        row.reopens = Rate::new(self.reopened, self.replies);
        row.overdue = self.overdue;
        row.sign_time = WorkingTime::new(minutes(self.sign_ms), self.signed);
        row.reply_time = WorkingTime::new(minutes(self.reply_ms), self.replies);
    }
}

/// Around the clock: what counts without a district calendar.
pub(crate) fn wall_clock() -> WorkingMs {
    Arc::new(|a, b| (b - a).max(0))
}

impl ReadModel {
    /// Counts working time with `working(from_ms, to_ms)` (the district calendar's
    /// working milliseconds between two instants) in the figures; without it, time
    /// counts around the clock.
    pub fn with_working_time(
        mut self,
        working: impl Fn(i64, i64) -> i64 + Send + Sync + 'static,
    ) -> Self {
        self.working = Arc::new(working);
        self
    }
}
