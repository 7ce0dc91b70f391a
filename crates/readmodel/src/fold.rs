//! Folding stored events into the read models: one transaction per batch, the
//! checkpoint written in the same transaction, events at or below it skipped.

use crate::model::case_from_row;
use crate::summary::{self, enum_str, rfc3339};
use crate::{ReadModel, Result};
use casegrid_contracts::views::CaseView;
use casegrid_domain::event::CaseDispatched;
use casegrid_domain::personal::ERASED;
use casegrid_domain::{Case, DepartmentId, Event, Status};
use casegrid_eventlog::StoredEvent;
use sqlx::{Any, Row, Transaction};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

type Tx<'c> = Transaction<'c, Any>;

impl ReadModel {
    /// Applies a batch of events in stream order, in one transaction with the
    /// checkpoint. Events at or below the checkpoint were applied before and are
    /// skipped, so a redelivered batch changes nothing. Returns the checkpoint after
    /// the batch. Events this version cannot read still get a timeline row.
    pub async fn apply(&self, events: &[StoredEvent]) -> Result<u64> {
        // The write lock comes first (SQLite: BEGIN IMMEDIATE; PostgreSQL: the
        // checkpoint row FOR UPDATE): a second writer waits here, then reads the
        // checkpoint the first committed and skips what it applied.
        let backend = self.backend();
        let mut tx = backend.begin_write(self.pool()).await?;
        let before: i64 = sqlx::query_scalar(backend.lock_checkpoint())
            .fetch_one(&mut *tx)
            .await?;
        let mut checkpoint = before as u64;
        for stored in events {
            if stored.seq <= checkpoint {
                continue;
            }
            self.fold(&mut tx, stored).await?;
            checkpoint = stored.seq;
        }
        if checkpoint != before as u64 {
            sqlx::query("UPDATE checkpoint SET seq = $1 WHERE id = 1")
                .bind(checkpoint as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(checkpoint)
    }

    async fn fold(&self, tx: &mut Tx<'_>, stored: &StoredEvent) -> Result<()> {
        let e = &stored.envelope;
        let case_id = e.case_id.to_string();
        let occurred_at = rfc3339(e.occurred_at);
        let event = match Event::from_parts(&e.event_type, e.schema, &e.data) {
            Ok(event) => Some(event),
            Err(err) => {
                tracing::warn!(seq = stored.seq, error = %err, "event recorded without folding");
                None
            }
        };
        let summary = event
            .as_ref()
            .map_or_else(|| summary::unreadable(&e.event_type, e.schema), summary::of);
        sqlx::query(
            "INSERT INTO timeline
             (case_id, version, seq, type, occurred_at, actor_kind, actor_id, summary, data,
              prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (case_id, version) DO UPDATE SET
              seq = excluded.seq, type = excluded.type, occurred_at = excluded.occurred_at,
              actor_kind = excluded.actor_kind, actor_id = excluded.actor_id,
              summary = excluded.summary, data = excluded.data,
              prev_hash = excluded.prev_hash, hash = excluded.hash",
        )
        .bind(&case_id)
        .bind(e.version as i64)
        .bind(stored.seq as i64)
        .bind(&e.event_type)
        .bind(&occurred_at)
        .bind(e.actor.kind.as_str())
        .bind(&e.actor.id)
        .bind(&summary)
        .bind(summary::without_sealed(&e.data).to_string())
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .execute(&mut **tx)
        .await?;

        let existing = sqlx::query("SELECT * FROM cases WHERE id = $1")
            .bind(&case_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|row| -> Result<(CaseView, i64)> {
                Ok((case_from_row(&row)?, row.try_get("filed_seq")?))
            })
            .transpose()?;
        let filed_seq = existing.as_ref().map_or(stored.seq as i64, |(_, seq)| *seq);
        let existing = existing.map(|(view, _)| view);
        let view = match (&event, existing) {
            (Some(Event::CaseFiled(f)), _) => {
                let reporter = f.reporter.as_ref();
                CaseView {
                    id: e.case_id,
                    number: self.numbering.number(e.occurred_at, stored.seq),
                    status: Status::Received,
                    version: e.version,
                    channel: enum_str(&f.channel),
                    kind: enum_str(&f.kind),
                    category: f.category.to_string(),
                    urgency: enum_str(&f.urgency),
                    title: f.title.clone(),
                    description: f.description.clone(),
                    address: f.location.address.clone(),
                    grid: f.location.grid.as_ref().map(ToString::to_string),
                    // Masked only: the sealed form never leaves the log.
                    reporter_name: reporter
                        .and_then(|r| r.name.as_ref())
                        .map(|s| s.masked.clone()),
                    reporter_phone: reporter
                        .and_then(|r| r.phone.as_ref())
                        .map(|s| s.masked.clone()),
                    lead: None,
                    assisting: Vec::new(),
                    signed: Vec::new(),
                    sign_due: None,
                    handle_due: None,
                    rule: None,
                    reply_result: None,
                    satisfaction: None,
                    filed_at: occurred_at.clone(),
                    updated_at: occurred_at.clone(),
                }
            }
            (_, Some(mut view)) => {
                if let Some(event) = &event {
                    fold_into(&mut view, event);
                    view.status = next_status(&view, event);
                }
                view.version = e.version;
                view.updated_at = occurred_at.clone();
                view
            }
            (_, None) => {
                // An event of a case whose filing this model never saw: the timeline
                // keeps it; there is no summary to update.
                tracing::warn!(seq = stored.seq, case = %case_id, "event of an unknown case");
                return Ok(());
            }
        };
        if let Some(Event::PersonalDataErased(_)) = &event {
            erase_masked_in_timeline(tx, &case_id).await?;
        }
        upsert_case(tx, &view, filed_seq, self.numbering.offset).await?;
        update_inbox(tx, &view, event.as_ref()).await?;
        if let Some(event) = &event {
            update_figures(tx, &view, event, e.occurred_at, self.numbering.offset).await?;
        }
        Ok(())
    }
}

/// Once a case's key is erased, even the masked forms of its personal fields go
/// from the timeline, as they go from the summary.
async fn erase_masked_in_timeline(tx: &mut Tx<'_>, case_id: &str) -> Result<()> {
    let rows =
        sqlx::query("SELECT version, data FROM timeline WHERE case_id = $1 AND type = 'CaseFiled'")
            .bind(case_id)
            .fetch_all(&mut **tx)
            .await?;
    for row in rows {
        let version: i64 = row.try_get("version")?;
        let data: String = row.try_get("data")?;
        let mut data: serde_json::Value = serde_json::from_str(&data)
            .map_err(|e| crate::ReadModelError::Corrupt(format!("timeline data: {e}")))?;
        if let Some(reporter) = data.get_mut("reporter").and_then(|r| r.as_object_mut()) {
            for field in reporter.values_mut() {
                if let Some(masked) = field.get_mut("masked") {
                    *masked = serde_json::Value::String(ERASED.to_owned());
                }
            }
        }
        sqlx::query("UPDATE timeline SET data = $1 WHERE case_id = $2 AND version = $3")
            .bind(data.to_string())
            .bind(case_id)
            .bind(version)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Folds an event's facts into the summary (the status is the domain's business).
fn fold_into(view: &mut CaseView, event: &Event) {
    match event {
        Event::CaseFiled(_)
        | Event::NoteAdded(_)
        | Event::CaseClosed(_)
        | Event::PersonalDataRevealed(_) => {}
        Event::PersonalDataErased(_) => {
            for field in [&mut view.reporter_name, &mut view.reporter_phone] {
                if field.is_some() {
                    *field = Some(ERASED.to_owned());
                }
            }
        }
        Event::CaseDispatched(d) => {
            view.lead = Some(d.lead.to_string());
            view.assisting = d.assisting.iter().map(ToString::to_string).collect();
            view.signed.clear();
            view.sign_due = Some(rfc3339(d.sign_due));
            view.handle_due = Some(rfc3339(d.handle_due));
            view.rule = Some(d.rule.clone());
        }
        Event::DispatchSigned(s) => {
            let department = s.department.to_string();
            if !view.signed.contains(&department) {
                view.signed.push(department);
            }
        }
        Event::DispatchReturned(_) => {
            // The dispatch is void; the case waits for a new one.
            view.lead = None;
            view.assisting.clear();
            view.signed.clear();
            view.sign_due = None;
            view.handle_due = None;
        }
        Event::ExtensionDecided(x) => {
            if let (true, Some(due)) = (x.granted, x.handle_due) {
                view.handle_due = Some(rfc3339(due));
            }
        }
        Event::CaseResumed(r) => view.handle_due = Some(rfc3339(r.handle_due)),
        Event::CaseReplied(r) => view.reply_result = Some(enum_str(&r.result)),
        Event::CallbackRecorded(c) => view.satisfaction = Some(enum_str(&c.satisfaction)),
        // Facts the summary does not show (yet): the timeline keeps them. A new event
        // that changes a column gets its own arm above.
        _ => {}
    }
}

/// The status after `event`, decided by the domain's own fold so the read model can
/// never disagree with the aggregate. Only what `Case::apply` reads is filled in.
fn next_status(view: &CaseView, event: &Event) -> Status {
    let mut case = Case::new(view.id);
    case.status = view.status;
    case.version = view.version;
    case.dispatch = view
        .lead
        .as_deref()
        .and_then(|lead| DepartmentId::parse(lead).ok())
        .map(|lead| CaseDispatched {
            lead,
            assisting: Vec::new(),
            sign_due: OffsetDateTime::UNIX_EPOCH,
            handle_due: OffsetDateTime::UNIX_EPOCH,
            rule: String::new(),
            return_due: None,
        });
    case.apply(event);
    case.status
}

/// Writes the summary, with the columns queries filter and sort on: the filing's
/// stream sequence (list order, cursors), the street (the grid's first two levels),
/// instants in milliseconds (RFC 3339 strings with and without fractions do not sort
/// as text) and the filing's local day.
async fn upsert_case(
    tx: &mut Tx<'_>,
    v: &CaseView,
    filed_seq: i64,
    offset: UtcOffset,
) -> Result<()> {
    let filed = parse_instant(&v.filed_at)?;
    let handle_due_ms = v
        .handle_due
        .as_deref()
        .map(parse_instant)
        .transpose()?
        .map(millis);
    sqlx::query(
        "INSERT INTO cases
         (id, number, status, version, channel, kind, category, urgency, title, description,
          address, grid, reporter_name, reporter_phone, lead, assisting, signed, sign_due,
          handle_due, rule, reply_result, satisfaction, filed_at, updated_at,
          filed_seq, street, filed_ms, filed_day, handle_due_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)
         ON CONFLICT (id) DO UPDATE SET
          number = excluded.number, status = excluded.status, version = excluded.version,
          channel = excluded.channel, kind = excluded.kind, category = excluded.category,
          urgency = excluded.urgency, title = excluded.title,
          description = excluded.description, address = excluded.address,
          grid = excluded.grid, reporter_name = excluded.reporter_name,
          reporter_phone = excluded.reporter_phone, lead = excluded.lead,
          assisting = excluded.assisting, signed = excluded.signed,
          sign_due = excluded.sign_due, handle_due = excluded.handle_due,
          rule = excluded.rule, reply_result = excluded.reply_result,
          satisfaction = excluded.satisfaction, filed_at = excluded.filed_at,
          updated_at = excluded.updated_at, filed_seq = excluded.filed_seq,
          street = excluded.street, filed_ms = excluded.filed_ms,
          filed_day = excluded.filed_day, handle_due_ms = excluded.handle_due_ms",
    )
    .bind(v.id.to_string())
    .bind(&v.number)
    .bind(v.status.as_str())
    .bind(v.version as i64)
    .bind(&v.channel)
    .bind(&v.kind)
    .bind(&v.category)
    .bind(&v.urgency)
    .bind(&v.title)
    .bind(&v.description)
    .bind(&v.address)
    .bind(&v.grid)
    .bind(&v.reporter_name)
    .bind(&v.reporter_phone)
    .bind(&v.lead)
    .bind(serde_json::to_string(&v.assisting).expect("strings serialize"))
    .bind(serde_json::to_string(&v.signed).expect("strings serialize"))
    .bind(&v.sign_due)
    .bind(&v.handle_due)
    .bind(&v.rule)
    .bind(&v.reply_result)
    .bind(&v.satisfaction)
    .bind(&v.filed_at)
    .bind(&v.updated_at)
    .bind(filed_seq)
    .bind(v.grid.as_deref().and_then(street_of))
    .bind(millis(filed))
    .bind(local_day(filed, offset))
    .bind(handle_due_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The rows behind the figures: a work order per department of each dispatch (signed
/// on time or not: 响应率) and each callback (解决率, 满意率). 办结率 reads `cases`.
/// New event types that count for a figure get an arm here.
async fn update_figures(
    tx: &mut Tx<'_>,
    view: &CaseView,
    event: &Event,
    at: OffsetDateTime,
    offset: UtcOffset,
) -> Result<()> {
    let case_id = view.id.to_string();
    match event {
        Event::CaseDispatched(d) => {
            let orders = std::iter::once((&d.lead, "lead"))
                .chain(d.assisting.iter().map(|a| (a, "assisting")));
            for (department, role) in orders {
                sqlx::query(
                    "INSERT INTO dispatches
                     (case_id, version, department, role, dispatched_ms, day, sign_due)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (case_id, version, department) DO NOTHING",
                )
                .bind(&case_id)
                .bind(view.version as i64)
                .bind(department.as_str())
                .bind(role)
                .bind(millis(at))
                .bind(local_day(at, offset))
                .bind(rfc3339(d.sign_due))
                .execute(&mut **tx)
                .await?;
            }
        }
        // A summoned department's signature answers a whistle, not a dispatch.
        Event::DispatchSigned(s) if !s.whistle => {
            // The latest work order of this department on this case, signed once.
            sqlx::query(
                "UPDATE dispatches SET signed_at = $1, on_time = $2
                 WHERE case_id = $3 AND department = $4 AND signed_at IS NULL
                   AND version = (SELECT MAX(version) FROM dispatches
                                  WHERE case_id = $3 AND department = $4)",
            )
            .bind(rfc3339(at))
            .bind(i64::from(s.on_time))
            .bind(&case_id)
            .bind(s.department.as_str())
            .execute(&mut **tx)
            .await?;
        }
        Event::CallbackRecorded(c) => {
            sqlx::query(
                "INSERT INTO callbacks
                 (case_id, version, department, satisfaction, resolved, at_ms, day)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (case_id, version) DO NOTHING",
            )
            .bind(&case_id)
            .bind(view.version as i64)
            .bind(&view.lead)
            .bind(enum_str(&c.satisfaction))
            .bind(i64::from(c.resolved))
            .bind(millis(at))
            .bind(local_day(at, offset))
            .execute(&mut **tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// `NH.HB` of `NH.HB.BJ.03`: district and street/township.
pub(crate) fn street_of(grid: &str) -> Option<String> {
    let mut levels = grid.split('.');
    let (district, street) = (levels.next()?, levels.next()?);
    Some(format!("{district}.{street}"))
}

pub(crate) fn parse_instant(s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| crate::ReadModelError::Corrupt(format!("instant {s:?}: {e}")))
}

pub(crate) fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// `2026-11-23`: the local date (the district's offset) that periods group by.
fn local_day(t: OffsetDateTime, offset: UtcOffset) -> String {
    let d = t.to_offset(offset).date();
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

/// A dispatch (re)fills the inbox of each department; signing marks it; the case
/// leaves every inbox once it is replied or closed (or in any state but handling).
async fn update_inbox(tx: &mut Tx<'_>, view: &CaseView, event: Option<&Event>) -> Result<()> {
    let case_id = view.id.to_string();
    let handling = matches!(
        view.status,
        Status::Dispatched | Status::InProgress | Status::Suspended
    );
    if !handling || matches!(event, Some(Event::CaseDispatched(_))) {
        sqlx::query("DELETE FROM inbox WHERE case_id = $1")
            .bind(&case_id)
            .execute(&mut **tx)
            .await?;
    }
    if !handling {
        return Ok(());
    }
    match event {
        Some(Event::CaseDispatched(d)) => {
            let roles = std::iter::once((&d.lead, "lead"))
                .chain(d.assisting.iter().map(|a| (a, "assisting")));
            for (department, role) in roles {
                sqlx::query(
                    "INSERT INTO inbox (department, case_id, role, signed)
                     VALUES ($1, $2, $3, 0)
                     ON CONFLICT (department, case_id) DO UPDATE SET
                      role = excluded.role, signed = excluded.signed",
                )
                .bind(department.as_str())
                .bind(&case_id)
                .bind(role)
                .execute(&mut **tx)
                .await?;
            }
        }
        Some(Event::DispatchSigned(s)) => {
            sqlx::query("UPDATE inbox SET signed = 1 WHERE department = $1 AND case_id = $2")
                .bind(s.department.as_str())
                .bind(&case_id)
                .execute(&mut **tx)
                .await?;
        }
        _ => {}
    }
    Ok(())
}
