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
use sqlx::{Row, Sqlite, Transaction};
use time::OffsetDateTime;

impl ReadModel {
    /// Applies a batch of events in stream order, in one transaction with the
    /// checkpoint. Events at or below the checkpoint were applied before and are
    /// skipped, so a redelivered batch changes nothing. Returns the checkpoint after
    /// the batch. Events this version cannot read still get a timeline row.
    pub async fn apply(&self, events: &[StoredEvent]) -> Result<u64> {
        // IMMEDIATE takes the write lock first: a read-then-write transaction can then
        // never fail half-way because another writer committed in between.
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let before: i64 = sqlx::query_scalar("SELECT seq FROM checkpoint WHERE id = 1")
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
            sqlx::query("UPDATE checkpoint SET seq = ? WHERE id = 1")
                .bind(checkpoint as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(checkpoint)
    }

    async fn fold(&self, tx: &mut Transaction<'_, Sqlite>, stored: &StoredEvent) -> Result<()> {
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
            "INSERT OR REPLACE INTO timeline
             (case_id, version, seq, type, occurred_at, actor_kind, actor_id, summary, data,
              prev_hash, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

        let existing = sqlx::query("SELECT * FROM cases WHERE id = ?")
            .bind(&case_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(|row| case_from_row(&row))
            .transpose()?;
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
        upsert_case(tx, &view).await?;
        update_inbox(tx, &view, event.as_ref()).await
    }
}

/// Once a case's key is erased, even the masked forms of its personal fields go
/// from the timeline, as they go from the summary.
async fn erase_masked_in_timeline(tx: &mut Transaction<'_, Sqlite>, case_id: &str) -> Result<()> {
    let rows =
        sqlx::query("SELECT version, data FROM timeline WHERE case_id = ? AND type = 'CaseFiled'")
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
        sqlx::query("UPDATE timeline SET data = ? WHERE case_id = ? AND version = ?")
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
        Event::CaseReplied(r) => view.reply_result = Some(enum_str(&r.result)),
        Event::CallbackRecorded(c) => view.satisfaction = Some(enum_str(&c.satisfaction)),
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
        });
    case.apply(event);
    case.status
}

async fn upsert_case(tx: &mut Transaction<'_, Sqlite>, v: &CaseView) -> Result<()> {
    sqlx::query(
        "INSERT OR REPLACE INTO cases
         (id, number, status, version, channel, kind, category, urgency, title, description,
          address, grid, reporter_name, reporter_phone, lead, assisting, signed, sign_due,
          handle_due, rule, reply_result, satisfaction, filed_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A dispatch (re)fills the inbox of each department; signing marks it; the case
/// leaves every inbox once it is replied or closed (or in any state but handling).
async fn update_inbox(
    tx: &mut Transaction<'_, Sqlite>,
    view: &CaseView,
    event: Option<&Event>,
) -> Result<()> {
    let case_id = view.id.to_string();
    let handling = matches!(
        view.status,
        Status::Dispatched | Status::InProgress | Status::Suspended
    );
    if !handling || matches!(event, Some(Event::CaseDispatched(_))) {
        sqlx::query("DELETE FROM inbox WHERE case_id = ?")
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
                    "INSERT OR REPLACE INTO inbox (department, case_id, role, signed)
                     VALUES (?, ?, ?, 0)",
                )
                .bind(department.as_str())
                .bind(&case_id)
                .bind(role)
                .execute(&mut **tx)
                .await?;
            }
        }
        Some(Event::DispatchSigned(s)) => {
            sqlx::query("UPDATE inbox SET signed = 1 WHERE department = ? AND case_id = ?")
                .bind(s.department.as_str())
                .bind(&case_id)
                .execute(&mut **tx)
                .await?;
        }
        _ => {}
    }
    Ok(())
}
