//! Folding stored events into the read models, a batch at a time: one transaction per
//! batch with the checkpoint, events at or below it skipped.
//!
//! Each case keeps the domain's own state ([`Case`], as JSON in `cases.state`) and every
//! event is folded with [`Case::apply`], so the status and every derived column equal
//! the aggregate's by construction. A batch is folded in memory: each touched case is
//! loaded once, all its events of the batch applied, and its row written once; timeline
//! rows, work orders and callbacks go out as multi-row statements.

use crate::assessment::Handling;
use crate::rows::{self, Val};
use crate::summary::{self, enum_str, rfc3339};
use crate::{ReadModel, ReadModelError, Result};
use casegrid_domain::personal::{Sealed, ERASED};
use casegrid_domain::{ActorKind, Case, CaseId, DepartmentId, Event};
use casegrid_eventlog::classify::{
    case_of_subject, is_kb_subject, judge, prepare, Head, Prepared, Quarantined, RawMessage,
};
use casegrid_eventlog::StoredEvent;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use time::{OffsetDateTime, UtcOffset};

/// One case as the projection holds it: the domain's state plus what only the read
/// model needs (where the filing sits in the stream, when the current dispatch was
/// made, who escalated).
#[derive(Debug, Clone)]
pub(crate) struct Folded {
    pub(crate) case: Case,
    filed_seq: i64,
    filed_at: String,
    filed_ms: i64,
    filed_day: String,
    updated_at: String,
    /// Version and instant (ms) of the current dispatch's event: its work orders' key.
    dispatch_version: Option<i64>,
    dispatched_ms: Option<i64>,
    /// Units (departments, streets) that escalated the case: the case never counts
    /// against their figures.
    escalated_by: BTreeSet<String>,
    /// Hash of the case's last applied event: the head the next one must chain to.
    last_hash: String,
    /// The principal (id) whose `CaseFiled` made the case: a grid worker sees its own.
    filed_by: Option<String>,
}

/// One inbox row: (department, role, signed).
type InboxRow = (String, &'static str, bool);

/// A work order (one department of one dispatch), keyed by (case, version, department).
#[derive(Debug, Clone)]
struct WorkOrder {
    role: &'static str,
    dispatched_ms: i64,
    day: String,
    sign_due: String,
    signed_at: Option<String>,
    on_time: Option<bool>,
    excused: bool,
}

/// Case states kept between batches by a rebuild, the only writer of its database.
/// Cases in a final state are dropped (they seldom change again and are reloaded if so).
#[derive(Debug, Default)]
pub(crate) struct Cache {
    cases: HashMap<CaseId, Cached>,
    /// A rebuild into an empty database: a case neither here nor in `dropped` has no
    /// row, and the rows of a case kept here (`cases`, `inbox`, its current handling)
    /// are written only once it is final, or at the end ([`Cache::flush`]): a case's
    /// row is written once, not once per batch that touches it.
    fresh: bool,
    /// Cases written and dropped from memory (fresh rebuilds only).
    dropped: HashSet<CaseId>,
}

/// One case kept between batches: its state, the inbox rows the database holds for
/// it, and the handling of its current dispatch (so neither is read back).
#[derive(Debug)]
struct Cached {
    folded: Folded,
    inbox: Vec<InboxRow>,
    handling: Option<Handling>,
}

impl Cache {
    /// The cache of a rebuild into an empty database (see its `fresh` field).
    pub(crate) fn fresh() -> Self {
        Self {
            fresh: true,
            ..Self::default()
        }
    }

    /// The rows of every case still kept, as [`Writes`] (a fresh rebuild's end).
    pub(crate) fn flush(&mut self, model: &ReadModel) -> Result<Writes> {
        let mut kept: Vec<Cached> = self.cases.drain().map(|(_, c)| c).collect();
        kept.sort_by_key(|c| c.folded.filed_seq);
        let mut writes = Writes::new(model);
        let mut handlings = crate::assessment::Changes::default();
        for c in kept {
            let id = c.folded.case.id;
            writes.case(&c.folded, &c.inbox)?;
            if let (Some(version), Some(h)) = (c.folded.dispatch_version, c.handling) {
                handlings.put((id, version), h);
            }
        }
        (writes.handlings, writes.appeals) = handlings.rows();
        Ok(writes)
    }
}

/// Everything one batch changes, gathered in memory, then turned into [`Writes`].
pub(crate) struct Batch<'a> {
    model: &'a ReadModel,
    /// Touched cases: their state, and the inbox rows the database holds for them.
    cases: HashMap<CaseId, (Folded, Vec<InboxRow>)>,
    /// Cases in the order they were first touched (deterministic writes).
    order: Vec<CaseId>,
    timeline: Vec<Vec<Val>>,
    orders: BTreeMap<(CaseId, i64, String), WorkOrder>,
    callbacks: Vec<Vec<Val>>,
    /// (case, unit): that unit's rows of the case stop counting (escalated by it).
    excuse: Vec<(CaseId, String)>,
    erased: Vec<CaseId>,
    /// The assessment rows the batch changes (crate::assessment).
    assessment: crate::assessment::Changes,
    /// Messages of the batch that are not applied.
    quarantined: Vec<Quarantined>,
    /// The batch's knowledge-base messages and citations ([`crate::kb::fold`] folds
    /// them when the batch is written: it reads the entries' heads there).
    kb_messages: Vec<RawMessage>,
    citations: Vec<crate::kb::Citation>,
}

/// The rows one batch writes, owned, so they can be written on another task while
/// the next batch is folded; [`Writes::write`] writes them in one go.
pub(crate) struct Writes {
    backend: crate::Backend,
    prefix: String,
    quarantined: Vec<Quarantined>,
    timeline: Vec<Vec<Val>>,
    erased: Vec<String>,
    cases: Vec<Vec<Val>>,
    /// Cases whose inbox rows go before `inbox` is written.
    inbox_gone: Vec<String>,
    inbox: Vec<Vec<Val>>,
    orders: Vec<Vec<Val>>,
    callbacks: Vec<Vec<Val>>,
    handlings: Vec<Vec<Val>>,
    appeals: Vec<Vec<Val>>,
    excuse: Vec<(String, String)>,
    kb_messages: Vec<RawMessage>,
    citations: Vec<crate::kb::Citation>,
}

impl ReadModel {
    /// Applies a batch of events in stream order: [`Self::apply_raw`] of the messages
    /// they were read from.
    pub async fn apply(&self, events: &[StoredEvent]) -> Result<u64> {
        let messages: Vec<RawMessage> = events
            .iter()
            .map(|e| RawMessage::of(&self.subject_prefix, e))
            .collect();
        self.apply_raw(&messages).await
    }

    /// Applies a batch of stored messages in stream order, in one transaction with
    /// the checkpoint. Messages at or below the checkpoint were applied before and
    /// are skipped, so a redelivered batch changes nothing. Each message is
    /// classified against its case's head as this database holds it
    /// ([`casegrid_eventlog::classify`]): valid envelopes are folded, every other
    /// message is written to the quarantine, and the checkpoint passes both. Returns
    /// the checkpoint after the batch.
    pub async fn apply_raw(&self, events: &[RawMessage]) -> Result<u64> {
        // The write lock comes first (SQLite: BEGIN IMMEDIATE; PostgreSQL: the
        // checkpoint row FOR UPDATE): a second writer waits here, then reads the
        // checkpoint the first committed and skips what it applied.
        let mut tx = self.backend().begin_write(self.pool()).await?;
        let checkpoint = self.apply_in(&mut tx, events, None, None).await?;
        tx.commit().await?;
        Ok(checkpoint)
    }

    /// [`Self::apply`] inside an open write transaction on `conn`; `cache` holds case
    /// states between batches when this is the database's only writer (a rebuild);
    /// `prepared`, when given, holds each of `events` (in order) already [`prepare`]d,
    /// `None` for a knowledge-base message (which [`crate::kb::fold`] judges).
    pub(crate) async fn apply_in(
        &self,
        conn: &mut AnyConnection,
        events: &[RawMessage],
        prepared: Option<Vec<Option<Prepared<Event>>>>,
        cache: Option<&mut Cache>,
    ) -> Result<u64> {
        let before: i64 = sqlx::query_scalar(self.backend().lock_checkpoint())
            .fetch_one(&mut *conn)
            .await?;
        let before = before as u64;
        let Some(last) = events.iter().map(|e| e.seq).filter(|&s| s > before).max() else {
            return Ok(before);
        };
        let mut cache = cache;
        let mut batch = Batch::new(self);
        let missing = batch.take_cached(events, before, cache.as_deref_mut());
        batch.load(conn, &missing).await?;
        batch.fold_all(events, before, prepared);
        batch.finish(cache)?.write(conn, None).await?;
        sqlx::query("UPDATE checkpoint SET seq = $1 WHERE id = 1")
            .bind(last as i64)
            .execute(&mut *conn)
            .await?;
        Ok(last)
    }
}

impl<'a> Batch<'a> {
    pub(crate) fn new(model: &'a ReadModel) -> Self {
        Self {
            model,
            cases: HashMap::new(),
            order: Vec::new(),
            timeline: Vec::new(),
            orders: BTreeMap::new(),
            callbacks: Vec::new(),
            excuse: Vec::new(),
            erased: Vec::new(),
            assessment: Default::default(),
            quarantined: Vec::new(),
            kb_messages: Vec::new(),
            citations: Vec::new(),
        }
    }

    fn offset(&self) -> UtcOffset {
        self.model.numbering.offset
    }

    /// Takes the cases the messages after `before` touch out of `cache` (they go back
    /// in [`Self::finish`]; a failed batch fails the whole rebuild) and answers those
    /// the database may hold, for [`Self::load`]: all but the cached ones, and on a
    /// fresh rebuild only those written and dropped before.
    pub(crate) fn take_cached(
        &mut self,
        events: &[RawMessage],
        before: u64,
        mut cache: Option<&mut Cache>,
    ) -> Vec<CaseId> {
        let prefix = &self.model.subject_prefix;
        let mut missing = Vec::new();
        let mut seen = HashSet::new();
        for m in events.iter().filter(|m| m.seq > before) {
            let Some(id) = case_of_subject(prefix, &m.subject) else {
                continue;
            };
            if !seen.insert(id) {
                continue;
            }
            match cache.as_mut().and_then(|c| c.cases.remove(&id)) {
                Some(cached) => {
                    if let (Some(version), Some(h)) =
                        (cached.folded.dispatch_version, cached.handling)
                    {
                        self.assessment.put((id, version), h);
                    }
                    self.cases.insert(id, (cached.folded, cached.inbox));
                    self.order.push(id);
                }
                None if cache
                    .as_ref()
                    .is_some_and(|c| c.fresh && !c.dropped.contains(&id)) => {}
                None => missing.push(id),
            }
        }
        missing
    }

    /// Loads the cases `missing` from the database (those it holds), with the handlings
    /// of their current dispatches.
    pub(crate) async fn load(
        &mut self,
        conn: &mut AnyConnection,
        missing: &[CaseId],
    ) -> Result<()> {
        for chunk in rows::chunks(missing) {
            let sql = format!(
                "SELECT id, state, filed_seq, filed_at, filed_ms, filed_day, updated_at,
                        dispatch_version, dispatched_ms, escalated_by, filed_by,
                        t.hash AS last_hash
                 FROM cases c LEFT JOIN timeline t ON t.case_id = c.id AND t.version = c.version
                 WHERE c.id IN ({})",
                rows::placeholders(self.model.backend(), 1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.to_string());
            }
            for row in q.fetch_all(&mut *conn).await? {
                let folded = Folded {
                    case: serde_json::from_str(&row.try_get::<String, _>("state")?)
                        .map_err(|e| ReadModelError::Corrupt(format!("case state: {e}")))?,
                    filed_seq: row.try_get("filed_seq")?,
                    filed_at: row.try_get("filed_at")?,
                    filed_ms: row.try_get("filed_ms")?,
                    filed_day: row.try_get("filed_day")?,
                    updated_at: row.try_get("updated_at")?,
                    dispatch_version: row.try_get("dispatch_version")?,
                    dispatched_ms: row.try_get("dispatched_ms")?,
                    escalated_by: serde_json::from_str(&row.try_get::<String, _>("escalated_by")?)
                        .map_err(|e| ReadModelError::Corrupt(format!("escalated_by: {e}")))?,
                    last_hash: row
                        .try_get::<Option<String>, _>("last_hash")?
                        .unwrap_or_default(),
                    filed_by: row.try_get("filed_by")?,
                };
                let inbox = inbox_of(&folded);
                self.cases.insert(folded.case.id, (folded, inbox));
            }
        }
        let mut dispatches = Vec::new();
        for &id in missing {
            if let Some((folded, _)) = self.cases.get(&id) {
                self.order.push(id);
                dispatches.extend(folded.dispatch_version.map(|v| (id, v)));
            }
        }
        self.assessment
            .load(&mut *conn, self.model, &dispatches)
            .await?;
        Ok(())
    }

    /// Judges and folds the messages after `before`, in stream order; `prepared` as
    /// in [`ReadModel::apply_in`].
    pub(crate) fn fold_all(
        &mut self,
        events: &[RawMessage],
        before: u64,
        prepared: Option<Vec<Option<Prepared<Event>>>>,
    ) {
        let prefix = self.model.subject_prefix.clone();
        let mut prepared = prepared.map(Vec::into_iter);
        for message in events {
            let ready = prepared.as_mut().and_then(Iterator::next).flatten();
            if message.seq <= before {
                continue;
            }
            if is_kb_subject(&prefix, &message.subject) {
                self.kb_messages.push(message.clone());
                continue;
            }
            let head = case_of_subject(&prefix, &message.subject)
                .and_then(|id| self.cases.get(&id))
                .map(|(folded, _)| Head {
                    version: folded.case.version,
                    hash: folded.last_hash.clone(),
                });
            // The classifier parses the event once; the fold takes it as parsed.
            let ready = ready.unwrap_or_else(|| prepare(&prefix, message));
            match judge(message, ready, head.as_ref()) {
                Ok((stored, event)) => {
                    if let Event::RepliedAtIntake(r) = &event {
                        if let Some(entry) = r.kb_entry {
                            let e = &stored.envelope;
                            self.citations.push((
                                e.case_id,
                                e.version,
                                entry,
                                millis(e.occurred_at),
                            ));
                        }
                    }
                    self.fold(&stored, Some(event))
                }
                Err(q) => {
                    tracing::warn!(seq = q.seq, subject = %q.subject, reason = %q.reason, detail = %q.detail, "quarantined");
                    self.quarantined.push(*q);
                }
            }
        }
    }

    /// Folds one event: its timeline row, the case's state, the figures' rows.
    /// Folds one event; `event` is its data as already parsed (`None`: parse it here).
    fn fold(&mut self, stored: &StoredEvent, event: Option<Event>) {
        let e = &stored.envelope;
        let at = e.occurred_at;
        let occurred_at = rfc3339(at);
        let event = match event {
            Some(event) => Some(event),
            None => match Event::from_parts(&e.event_type, e.schema, &e.data) {
                Ok(event) => Some(event),
                Err(err) => {
                    tracing::warn!(seq = stored.seq, error = %err, "event recorded without folding");
                    None
                }
            },
        };
        let summary = event
            .as_ref()
            .map_or_else(|| summary::unreadable(&e.event_type, e.schema), summary::of);
        self.timeline.push(vec![
            Val::text(e.case_id.to_string()),
            Val::int(e.version as i64),
            Val::int(stored.seq as i64),
            Val::text(e.event_type.clone()),
            Val::text(occurred_at.clone()),
            Val::text(e.actor.kind.as_str()),
            Val::text(e.actor.id.clone()),
            Val::text(summary),
            Val::text(summary::without_sealed(&e.data).to_string()),
            Val::text(e.prev_hash.clone()),
            Val::text(e.hash.clone()),
        ]);

        let id = e.case_id;
        if let Some(Event::CaseFiled(_)) = &event {
            if !self.cases.contains_key(&id) {
                let mut case = Case::new(id);
                case.number = Some(self.model.numbering.number(at, stored.seq));
                let folded = Folded {
                    case,
                    filed_seq: stored.seq as i64,
                    filed_at: occurred_at.clone(),
                    filed_ms: millis(at),
                    filed_day: local_day(at, self.offset()),
                    updated_at: occurred_at.clone(),
                    dispatch_version: None,
                    dispatched_ms: None,
                    escalated_by: BTreeSet::new(),
                    last_hash: String::new(),
                    filed_by: Some(e.actor.id.clone()),
                };
                self.cases.insert(id, (folded, Vec::new()));
                self.order.push(id);
            }
        }
        let offset = self.offset();
        let Some((folded, _)) = self.cases.get_mut(&id) else {
            // An event of a case whose filing this model never saw: the timeline
            // keeps it; there is no case to update.
            tracing::warn!(seq = stored.seq, case = %id, "event of an unknown case");
            return;
        };
        if let Some(event) = &event {
            // What the figures need from before the event.
            let lead = folded.case.lead().map(ToString::to_string);
            let already_signed = match event {
                Event::DispatchSigned(s) => folded.case.signed.contains(&s.department),
                _ => false,
            };
            folded.case.apply(event);
            match event {
                Event::CaseDispatched(d) => {
                    folded.dispatch_version = Some(e.version as i64);
                    folded.dispatched_ms = Some(millis(at));
                    let departments = std::iter::once(&d.lead).chain(d.assisting.iter()).cloned();
                    for department in departments.collect::<Vec<_>>() {
                        let key = (id, e.version as i64, department.to_string());
                        if let Some(order) = work_order(folded, &department, offset) {
                            self.orders.insert(key, order);
                        }
                    }
                }
                // A summoned department's signature answers a whistle, not a dispatch.
                Event::DispatchSigned(s) if !s.whistle && !already_signed => {
                    if let (Some(version), Some(mut order)) = (
                        folded.dispatch_version,
                        work_order(folded, &s.department, offset),
                    ) {
                        order.signed_at = Some(occurred_at.clone());
                        order.on_time = Some(s.on_time);
                        let key = (id, version, s.department.to_string());
                        let entry = self.orders.entry(key).or_insert(order.clone());
                        entry.signed_at = order.signed_at;
                        entry.on_time = order.on_time;
                    }
                }
                Event::CallbackRecorded(c) => {
                    let excused = lead
                        .as_ref()
                        .is_some_and(|l| folded.escalated_by.contains(l));
                    self.callbacks.push(vec![
                        Val::text(id.to_string()),
                        Val::int(e.version as i64),
                        Val::opt_text(lead),
                        Val::text(enum_str(&c.satisfaction)),
                        Val::int(i64::from(c.resolved)),
                        Val::int(millis(at)),
                        Val::text(local_day(at, offset)),
                        Val::int(i64::from(excused)),
                    ]);
                }
                Event::CaseEscalated(x)
                    if matches!(x.by.kind, ActorKind::Department | ActorKind::Street) =>
                {
                    // Escalating is legitimate: the case stops counting against the
                    // unit that escalated it, in every work order and callback.
                    folded.escalated_by.insert(x.by.id.clone());
                    for order in self.orders.iter_mut() {
                        if order.0 .0 == id && order.0 .2 == x.by.id {
                            order.1.excused = true;
                        }
                    }
                    self.excuse.push((id, x.by.id.clone()));
                }
                Event::PersonalDataErased(_) => self.erased.push(id),
                _ => {}
            }
            let lead_excused = folded
                .case
                .lead()
                .is_some_and(|l| folded.escalated_by.contains(l.as_str()));
            self.assessment.fold(
                &crate::assessment::At {
                    id,
                    version: e.version as i64,
                    at,
                    day: local_day(at, offset),
                    dispatch_version: folded.dispatch_version,
                    case: &folded.case,
                    lead_excused,
                },
                event,
            );
        }
        if folded.case.dispatch.is_none() {
            folded.dispatch_version = None;
            folded.dispatched_ms = None;
        }
        // The envelope's version is the truth, also past an event this version
        // cannot read.
        folded.case.version = e.version;
        folded.last_hash = e.hash.clone();
        folded.updated_at = occurred_at;
        folded.case.keep_masked_only();
    }

    /// The batch's rows, owned ([`Writes`]); the touched cases go back into `cache`
    /// (a final case is dropped). On a fresh rebuild a case that is not final keeps
    /// its rows in the cache, written once it is final or at the end.
    pub(crate) fn finish(mut self, mut cache: Option<&mut Cache>) -> Result<Writes> {
        let mut writes = Writes::new(self.model);
        let defer = cache.as_ref().is_some_and(|c| c.fresh);
        for id in std::mem::take(&mut self.order) {
            let Some((folded, before)) = self.cases.remove(&id) else {
                continue;
            };
            let done = folded.case.status.is_final();
            let inbox = if defer && !done {
                before
            } else {
                writes.case(&folded, &before)?
            };
            let Some(cache) = cache.as_deref_mut() else {
                continue;
            };
            if done {
                if cache.fresh {
                    cache.dropped.insert(id);
                }
                continue;
            }
            let key = folded.dispatch_version.map(|v| (id, v));
            let handling = key.and_then(|key| {
                if defer {
                    self.assessment.take(&key)
                } else {
                    self.assessment.get(&key).cloned()
                }
            });
            cache.cases.insert(
                id,
                Cached {
                    folded,
                    inbox,
                    handling,
                },
            );
        }
        writes.quarantined = self.quarantined;
        writes.timeline = match dedup(&self.timeline, 2) {
            Some(deduped) => deduped,
            None => self.timeline,
        };
        writes.erased = self.erased.iter().map(ToString::to_string).collect();
        writes.orders = self
            .orders
            .into_iter()
            .map(|((id, version, department), o)| {
                vec![
                    Val::text(id.to_string()),
                    Val::int(version),
                    Val::text(department),
                    Val::text(o.role),
                    Val::int(o.dispatched_ms),
                    Val::text(o.day),
                    Val::text(o.sign_due),
                    Val::opt_text(o.signed_at),
                    Val::opt_int(o.on_time.map(i64::from)),
                    Val::int(i64::from(o.excused)),
                ]
            })
            .collect();
        writes.callbacks = self.callbacks;
        (writes.handlings, writes.appeals) = self.assessment.rows();
        writes.excuse = self
            .excuse
            .into_iter()
            .map(|(id, unit)| (id.to_string(), unit))
            .collect();
        writes.kb_messages = self.kb_messages;
        writes.citations = self.citations;
        Ok(writes)
    }
}

impl Writes {
    fn new(model: &ReadModel) -> Self {
        Self {
            backend: model.backend(),
            prefix: model.subject_prefix.clone(),
            quarantined: Vec::new(),
            timeline: Vec::new(),
            erased: Vec::new(),
            cases: Vec::new(),
            inbox_gone: Vec::new(),
            inbox: Vec::new(),
            orders: Vec::new(),
            callbacks: Vec::new(),
            handlings: Vec::new(),
            appeals: Vec::new(),
            excuse: Vec::new(),
            kb_messages: Vec::new(),
            citations: Vec::new(),
        }
    }

    /// Adds the case's row and, when they changed from `before` (what the database
    /// holds), its inbox rows; answers the inbox rows as written.
    fn case(&mut self, folded: &Folded, before: &[InboxRow]) -> Result<Vec<InboxRow>> {
        let id = folded.case.id.to_string();
        self.cases.push(case_row(folded)?);
        let after = inbox_of(folded);
        if after != before {
            if !before.is_empty() {
                self.inbox_gone.push(id.clone());
            }
            for (department, role, signed) in &after {
                self.inbox.push(vec![
                    Val::text(department.clone()),
                    Val::text(id.clone()),
                    Val::text(*role),
                    Val::int(i64::from(*signed)),
                ]);
            }
        }
        Ok(after)
    }

    /// Writes the rows in the open transaction on `conn`: the knowledge base's messages
    /// first (their quarantine goes with the batch's), then every table; the timeline
    /// and case rows through `copier` when given (a fresh rebuild into PostgreSQL,
    /// committed on its own connection before the rest).
    pub(crate) async fn write(
        self,
        conn: &mut AnyConnection,
        mut copier: Option<&mut crate::copy::Copier>,
    ) -> Result<()> {
        let kb_messages: Vec<&RawMessage> = self.kb_messages.iter().collect();
        let kb_quarantined =
            crate::kb::fold(conn, &self.prefix, &kb_messages, &self.citations).await?;
        let backend = self.backend;
        let quarantined: Vec<Vec<Val>> = self
            .quarantined
            .into_iter()
            .chain(kb_quarantined)
            .map(|q| {
                vec![
                    Val::int(q.seq as i64),
                    Val::text(q.subject),
                    Val::opt_text(q.case_id.map(|id| id.to_string())),
                    Val::opt_int(q.version.map(|v| v as i64)),
                    Val::text(q.reason.as_str()),
                    Val::text(q.detail),
                    Val::text(q.head),
                ]
            })
            .collect();
        rows::insert(
            conn,
            backend,
            "quarantine",
            &[
                "seq", "subject", "case_id", "version", "reason", "detail", "head",
            ],
            "ON CONFLICT (seq) DO NOTHING",
            quarantined,
        )
        .await?;
        let timeline_tail = "ON CONFLICT (case_id, version) DO UPDATE SET
              seq = excluded.seq, type = excluded.type, occurred_at = excluded.occurred_at,
              actor_kind = excluded.actor_kind, actor_id = excluded.actor_id,
              summary = excluded.summary, data = excluded.data,
              prev_hash = excluded.prev_hash, hash = excluded.hash";
        match copier.as_deref_mut() {
            Some(copier) => {
                copier
                    .upsert("timeline", TIMELINE_COLUMNS, timeline_tail, &self.timeline)
                    .await?
            }
            None => {
                rows::insert(
                    conn,
                    backend,
                    "timeline",
                    TIMELINE_COLUMNS,
                    timeline_tail,
                    self.timeline,
                )
                .await?
            }
        }
        for id in &self.erased {
            erase_masked_in_timeline(conn, id).await?;
        }
        let set: Vec<String> = CASE_COLUMNS[1..]
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let cases_tail = format!("ON CONFLICT (id) DO UPDATE SET {}", set.join(", "));
        match copier {
            Some(copier) => {
                copier
                    .upsert("cases", CASE_COLUMNS, &cases_tail, &self.cases)
                    .await?
            }
            None => {
                rows::insert(
                    conn,
                    backend,
                    "cases",
                    CASE_COLUMNS,
                    &cases_tail,
                    self.cases,
                )
                .await?
            }
        }
        for chunk in rows::chunks(&self.inbox_gone) {
            let sql = format!(
                "DELETE FROM inbox WHERE case_id IN ({})",
                rows::placeholders(backend, 1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            q.execute(&mut *conn).await?;
        }
        rows::insert(
            conn,
            backend,
            "inbox",
            &["department", "case_id", "role", "signed"],
            "ON CONFLICT (department, case_id) DO UPDATE SET
              role = excluded.role, signed = excluded.signed",
            self.inbox,
        )
        .await?;
        // The first signature counts; an excuse, once given, stays.
        rows::insert(
            conn,
            backend,
            "dispatches",
            &[
                "case_id",
                "version",
                "department",
                "role",
                "dispatched_ms",
                "day",
                "sign_due",
                "signed_at",
                "on_time",
                "excused",
            ],
            "ON CONFLICT (case_id, version, department) DO UPDATE SET
              signed_at = COALESCE(dispatches.signed_at, excluded.signed_at),
              on_time = COALESCE(dispatches.on_time, excluded.on_time),
              excused = CASE WHEN excluded.excused = 1 THEN 1 ELSE dispatches.excused END",
            self.orders,
        )
        .await?;
        rows::insert(
            conn,
            backend,
            "callbacks",
            &[
                "case_id",
                "version",
                "department",
                "satisfaction",
                "resolved",
                "at_ms",
                "day",
                "excused",
            ],
            "ON CONFLICT (case_id, version) DO NOTHING",
            self.callbacks,
        )
        .await?;
        crate::assessment::write(conn, backend, self.handlings, self.appeals).await?;
        for (id, unit) in &self.excuse {
            for table in ["dispatches", "callbacks", "handlings"] {
                sqlx::query(&format!(
                    "UPDATE {table} SET excused = 1 WHERE case_id = $1 AND department = $2"
                ))
                .bind(id.as_str())
                .bind(unit.as_str())
                .execute(&mut *conn)
                .await?;
            }
        }
        Ok(())
    }
}

/// The columns of `timeline`, in the order [`Batch::fold`] gives them.
const TIMELINE_COLUMNS: &[&str] = &[
    "case_id",
    "version",
    "seq",
    "type",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "summary",
    "data",
    "prev_hash",
    "hash",
];

/// The `cases` row of a folded case, in [`CASE_COLUMNS`] order.
fn case_row(f: &Folded) -> Result<Vec<Val>> {
    let c = &f.case;
    let filed = c.filed.as_ref();
    let dispatch = c.dispatch.as_ref();
    let personal = |s: Option<&Sealed>| {
        s.map(|s| {
            if c.personal_erased {
                ERASED.to_owned()
            } else {
                s.masked.clone()
            }
        })
    };
    let reporter = filed.and_then(|f| f.reporter.as_ref());
    let grid = filed.and_then(|f| f.location.grid.as_ref().map(ToString::to_string));
    let list = |items: Vec<String>| serde_json::to_string(&items).expect("strings serialize");
    let summoned: Vec<String> = c.summoned.keys().map(ToString::to_string).collect();
    let mut whistled_by: Vec<String> = c.summoned.values().map(|s| s.street.to_string()).collect();
    whistled_by.sort();
    whistled_by.dedup();
    let lead = c.lead().map(ToString::to_string);
    let lead_excused = lead.as_ref().is_some_and(|l| f.escalated_by.contains(l));
    let state = serde_json::to_string(c)
        .map_err(|e| ReadModelError::Corrupt(format!("case state: {e}")))?;
    Ok(vec![
        Val::text(c.id.to_string()),
        Val::text(c.label()),
        Val::text(c.status.as_str()),
        Val::int(c.version as i64),
        Val::text(filed.map(|f| enum_str(&f.channel)).unwrap_or_default()),
        Val::text(filed.map(|f| enum_str(&f.kind)).unwrap_or_default()),
        Val::text(filed.map(|f| f.category.to_string()).unwrap_or_default()),
        Val::text(filed.map(|f| enum_str(&f.urgency)).unwrap_or_default()),
        Val::text(filed.map(|f| f.title.clone()).unwrap_or_default()),
        Val::text(filed.map(|f| f.description.clone()).unwrap_or_default()),
        Val::opt_text(filed.and_then(|f| f.location.address.clone())),
        Val::opt_text(grid.clone()),
        Val::opt_text(personal(reporter.and_then(|r| r.name.as_ref()))),
        Val::opt_text(personal(reporter.and_then(|r| r.phone.as_ref()))),
        Val::opt_text(lead),
        Val::text(list(
            dispatch
                .map(|d| d.assisting.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
        )),
        // In the dispatch's order (lead first), as the departments read it.
        Val::text(list(
            c.departments()
                .filter(|d| c.signed.contains(*d))
                .map(ToString::to_string)
                .collect(),
        )),
        Val::opt_text(dispatch.map(|d| rfc3339(d.sign_due))),
        Val::opt_text(dispatch.map(|d| rfc3339(d.handle_due))),
        Val::opt_text(dispatch.map(|d| d.rule.clone())),
        Val::opt_text(c.reply.as_ref().map(|r| enum_str(&r.result))),
        Val::opt_text(c.callback.as_ref().map(|b| enum_str(&b.satisfaction))),
        Val::text(f.filed_at.clone()),
        Val::text(f.updated_at.clone()),
        Val::int(f.filed_seq),
        Val::opt_text(grid.as_deref().and_then(street_of)),
        Val::int(f.filed_ms),
        Val::text(f.filed_day.clone()),
        // The handling deadline while its clock runs (the domain's rule): the
        // overdue list and the inbox order read it; suspended or mediated cases
        // have none.
        Val::opt_int(c.running_handle_due().map(millis)),
        Val::text(state),
        Val::opt_text(c.level.as_ref().map(enum_str)),
        Val::text(list(f.escalated_by.iter().cloned().collect())),
        Val::int(i64::from(lead_excused)),
        Val::text(list(whistled_by)),
        Val::text(list(summoned)),
        Val::opt_int(f.dispatch_version),
        Val::opt_int(f.dispatched_ms),
        Val::opt_text(f.filed_by.clone()),
        Val::opt_text(c.mediation.as_ref().map(|m| m.mediator.clone())),
        Val::text(
            serde_json::to_string(&casegrid_contracts::views::DeadlineView::of(c))
                .expect("deadlines serialize"),
        ),
    ])
}

/// The columns of `cases`, in the order [`case_row`] gives them.
const CASE_COLUMNS: &[&str] = &[
    "id",
    "number",
    "status",
    "version",
    "channel",
    "kind",
    "category",
    "urgency",
    "title",
    "description",
    "address",
    "grid",
    "reporter_name",
    "reporter_phone",
    "lead",
    "assisting",
    "signed",
    "sign_due",
    "handle_due",
    "rule",
    "reply_result",
    "satisfaction",
    "filed_at",
    "updated_at",
    "filed_seq",
    "street",
    "filed_ms",
    "filed_day",
    "handle_due_ms",
    "state",
    "level",
    "escalated_by",
    "lead_excused",
    "whistled_by",
    "summoned",
    "dispatch_version",
    "dispatched_ms",
    "filed_by",
    "mediator",
    "deadlines",
];

/// Rows with a repeated key (the columns before `key_len`) keep only the last (one
/// multi-row upsert may not touch a row twice); `None` when no key repeats.
fn dedup(rows: &[Vec<Val>], key_len: usize) -> Option<Vec<Vec<Val>>> {
    let keys: std::collections::HashSet<&[Val]> = rows.iter().map(|r| &r[..key_len]).collect();
    if keys.len() == rows.len() {
        return None;
    }
    let mut seen: HashMap<&[Val], usize> = HashMap::new();
    let mut out: Vec<Vec<Val>> = Vec::with_capacity(rows.len());
    for row in rows {
        match seen.get(&row[..key_len]) {
            Some(&i) => out[i] = row.clone(),
            None => {
                seen.insert(&row[..key_len], out.len());
                out.push(row.clone());
            }
        }
    }
    Some(out)
}

/// The work order of `department` in the case's current dispatch, unsigned.
fn work_order(f: &Folded, department: &DepartmentId, offset: UtcOffset) -> Option<WorkOrder> {
    let d = f.case.dispatch.as_ref()?;
    let role = if &d.lead == department {
        "lead"
    } else if d.assisting.contains(department) {
        "assisting"
    } else {
        return None;
    };
    let dispatched_ms = f.dispatched_ms?;
    Some(WorkOrder {
        role,
        dispatched_ms,
        day: local_day(from_millis(dispatched_ms), offset),
        sign_due: rfc3339(d.sign_due),
        signed_at: None,
        on_time: None,
        excused: f.escalated_by.contains(department.as_str()),
    })
}

/// The inbox rows of a case, derived from its state alone: while it is being handled,
/// the dispatched departments (lead, assisting), then each summoned department until
/// it has reported in, then the whistling street when the case is not dispatched to it.
fn inbox_of(f: &Folded) -> Vec<InboxRow> {
    let c = &f.case;
    if !c.status.is_in_handling() {
        return Vec::new();
    }
    let mut rows: Vec<InboxRow> = Vec::new();
    let add = |rows: &mut Vec<InboxRow>, department: &DepartmentId, role, signed| {
        if !rows.iter().any(|(d, _, _)| d == department.as_str()) {
            rows.push((department.to_string(), role, signed));
        }
    };
    if let Some(d) = &c.dispatch {
        add(&mut rows, &d.lead, "lead", c.signed.contains(&d.lead));
        for a in &d.assisting {
            add(&mut rows, a, "assisting", c.signed.contains(a));
        }
    }
    for (department, summons) in &c.summoned {
        if summons.reported.is_none() {
            add(&mut rows, department, "summoned", summons.signed);
        }
    }
    for summons in c.summoned.values() {
        add(&mut rows, &summons.street, "whistling", true);
    }
    rows
}

/// Once a case's key is erased, even the masked forms of its personal fields go
/// from the timeline, as they go from the summary.
async fn erase_masked_in_timeline(conn: &mut AnyConnection, case_id: &str) -> Result<()> {
    let rows = sqlx::query(
        "SELECT version, summary, data FROM timeline
         WHERE case_id = $1 AND type IN ('CaseFiled', 'MediationOpened', 'NoteAdded',
             'CaseReplied', 'RepliedAtIntake', 'ProgressRecorded')",
    )
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let version: i64 = row.try_get("version")?;
        let mut summary: String = row.try_get("summary")?;
        let data: String = row.try_get("data")?;
        let mut data: serde_json::Value = serde_json::from_str(&data)
            .map_err(|e| ReadModelError::Corrupt(format!("timeline data: {e}")))?;
        let masked = casegrid_domain::personal::strip_sealed(&mut data, true);
        // A summary may name a party by its masked name: that goes too.
        for m in masked
            .iter()
            .filter(|m| !m.is_empty() && m.as_str() != ERASED)
        {
            summary = summary.replace(m.as_str(), ERASED);
        }
        sqlx::query(
            "UPDATE timeline SET summary = $1, data = $2 WHERE case_id = $3 AND version = $4",
        )
        .bind(summary)
        .bind(data.to_string())
        .bind(case_id)
        .bind(version)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// `NH.HB` of `NH.HB.BJ.03`: district and street/township.
pub(crate) fn street_of(grid: &str) -> Option<String> {
    let mut levels = grid.split('.');
    let (district, street) = (levels.next()?, levels.next()?);
    Some(format!("{district}.{street}"))
}

pub(crate) fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2026-11-23`: the local date (the district's offset) that periods group by.
fn local_day(t: OffsetDateTime, offset: UtcOffset) -> String {
    let d = t.to_offset(offset).date();
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}
