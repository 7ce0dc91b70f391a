//! The knowledge base's read model: entries (`kb_entries`), every version as stored
//! (`kb_versions`), and the answers at intake that cited an entry (`kb_citations`).
//! Folded in the projection's batch transaction from the messages on
//! `<prefix>.kb.<entry id>` (judged by [`classify_kb_parsed`]; anything malformed goes
//! to the quarantine like a case's message) and from `RepliedAtIntake` events with a
//! `kb_entry`. Search ranks by character bigrams ([`crate::ngram`]).

use crate::ngram::{coverage, grams};
use crate::summary::rfc3339;
use crate::{ReadModel, ReadModelError, Result};
use casegrid_contracts::kb::{
    KbEntryView, KbExpiredQuery, KbHistoryView, KbHit, KbPage, KbSearchQuery, KbVersionView,
};
use casegrid_domain::kb::KbEntryId;
use casegrid_domain::{Actor, CaseId};
use casegrid_eventlog::classify::{
    classify_kb_parsed, kb_of_subject, Head, Quarantined, RawMessage,
};
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub const SEARCH_LIMIT: u32 = 20;
const SEARCH_MAX: u32 = 200;

/// One answer at intake citing an entry: (case, version, entry, instant in ms).
pub(crate) type Citation = (CaseId, u64, KbEntryId, i64);

/// Folds the knowledge-base messages of a batch (in stream order) and the batch's
/// citations; answers the messages that go to the quarantine.
pub(crate) async fn fold(
    conn: &mut AnyConnection,
    prefix: &str,
    messages: &[&RawMessage],
    citations: &[Citation],
) -> Result<Vec<Quarantined>> {
    let mut quarantined = Vec::new();
    let mut heads: HashMap<KbEntryId, Head> = HashMap::new();
    for message in messages {
        let id = kb_of_subject(prefix, &message.subject);
        let head = match id {
            Some(id) if !heads.contains_key(&id) => {
                let row = sqlx::query("SELECT version, last_hash FROM kb_entries WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&mut *conn)
                    .await?;
                if let Some(row) = row {
                    let head = Head {
                        version: row.try_get::<i64, _>("version")? as u64,
                        hash: row.try_get("last_hash")?,
                    };
                    heads.insert(id, head);
                }
                heads.get(&id).cloned()
            }
            Some(id) => heads.get(&id).cloned(),
            None => None,
        };
        let (stored, event) = match classify_kb_parsed(prefix, message, head.as_ref()) {
            Ok(valid) => valid,
            Err(q) => {
                tracing::warn!(seq = q.seq, subject = %q.subject, reason = %q.reason, detail = %q.detail, "quarantined");
                quarantined.push(*q);
                continue;
            }
        };
        let e = &stored.envelope;
        let w = event.written();
        let at = rfc3339(e.occurred_at);
        let until = w.valid_until.map(rfc3339);
        sqlx::query(
            "INSERT INTO kb_entries (id, version, question, answer, category, valid_from,
                valid_until, valid_until_ms, owner, created_at, updated_at, last_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version,
                question = excluded.question, answer = excluded.answer,
                category = excluded.category, valid_from = excluded.valid_from,
                valid_until = excluded.valid_until, valid_until_ms = excluded.valid_until_ms,
                owner = excluded.owner, updated_at = excluded.updated_at,
                last_hash = excluded.last_hash",
        )
        .bind(e.case_id.to_string())
        .bind(e.version as i64)
        .bind(w.question.clone())
        .bind(w.answer.clone())
        .bind(w.category.to_string())
        .bind(rfc3339(w.valid_from))
        .bind(until)
        .bind(w.valid_until.map(crate::fold::millis))
        .bind(w.owner.to_string())
        .bind(at.clone())
        .bind(at.clone())
        .bind(e.hash.clone())
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO kb_versions (entry_id, version, seq, type, occurred_at, actor_kind,
                actor_id, data, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (entry_id, version) DO NOTHING",
        )
        .bind(e.case_id.to_string())
        .bind(e.version as i64)
        .bind(stored.seq as i64)
        .bind(e.event_type.clone())
        .bind(at)
        .bind(e.actor.kind.as_str())
        .bind(e.actor.id.clone())
        .bind(e.data.to_string())
        .bind(e.prev_hash.clone())
        .bind(e.hash.clone())
        .execute(&mut *conn)
        .await?;
        if let Some(id) = id {
            heads.insert(
                id,
                Head {
                    version: e.version,
                    hash: e.hash.clone(),
                },
            );
        }
    }
    for (case, version, entry, at_ms) in citations {
        sqlx::query(
            "INSERT INTO kb_citations (case_id, version, entry_id, at_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (case_id, version) DO NOTHING",
        )
        .bind(case.to_string())
        .bind(*version as i64)
        .bind(entry.to_string())
        .bind(*at_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(quarantined)
}

const ENTRY_COLUMNS: &str = "e.id, e.version, e.question, e.answer, e.category, e.valid_from,
    e.valid_until, e.owner, e.created_at, e.updated_at,
    (SELECT COUNT(*) FROM kb_citations c WHERE c.entry_id = e.id) AS cited";

fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<KbEntryView> {
    let id: String = r.try_get("id")?;
    Ok(KbEntryView {
        id: KbEntryId::parse(&id).map_err(|e| ReadModelError::Corrupt(format!("kb id: {e:?}")))?,
        version: r.try_get::<i64, _>("version")? as u64,
        question: r.try_get("question")?,
        answer: r.try_get("answer")?,
        category: r.try_get("category")?,
        valid_from: r.try_get("valid_from")?,
        valid_until: r.try_get("valid_until")?,
        owner: r.try_get("owner")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        answers_at_intake: r.try_get::<i64, _>("cited")? as u64,
    })
}

fn instant(what: &str, s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|e| {
        ReadModelError::BadQuery(format!("{what}: {s:?} is not an RFC 3339 instant: {e}"))
    })
}

impl ReadModel {
    /// One entry, with how many answers at intake cited it.
    pub async fn kb_entry(&self, id: KbEntryId) -> Result<Option<KbEntryView>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM kb_entries e WHERE e.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(entry_from_row).transpose()
    }

    /// Every version of an entry as stored, oldest first.
    pub async fn kb_history(&self, id: KbEntryId) -> Result<Option<KbHistoryView>> {
        let rows = sqlx::query(
            "SELECT version, type, occurred_at, actor_kind, actor_id, data, prev_hash, hash
             FROM kb_versions WHERE entry_id = $1 ORDER BY version",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut versions = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind: String = r.try_get("actor_kind")?;
            let actor: Actor = serde_json::from_value(serde_json::json!({
                "kind": kind, "id": r.try_get::<String, _>("actor_id")?
            }))
            .map_err(|e| ReadModelError::Corrupt(format!("kb actor: {e}")))?;
            versions.push(KbVersionView {
                version: r.try_get::<i64, _>("version")? as u64,
                event_type: r.try_get("type")?,
                occurred_at: r.try_get("occurred_at")?,
                actor,
                data: serde_json::from_str(&r.try_get::<String, _>("data")?)
                    .map_err(|e| ReadModelError::Corrupt(format!("kb data: {e}")))?,
                prev_hash: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            });
        }
        Ok(Some(KbHistoryView { id, versions }))
    }

    /// Entries of `q.category` (all without one), valid at `q.valid_at` when given,
    /// ranked by how much of `q.q` each holds in its question and answer (question
    /// first); without `q.q`, the most cited first.
    pub async fn kb_search(&self, q: &KbSearchQuery) -> Result<KbPage> {
        let limit = q.limit.unwrap_or(SEARCH_LIMIT).clamp(1, SEARCH_MAX) as usize;
        let mut sql = format!("SELECT {ENTRY_COLUMNS} FROM kb_entries e WHERE 1 = 1");
        let category = q
            .category
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        if category.is_some() {
            sql.push_str(" AND e.category = $1");
        }
        sql.push_str(" ORDER BY e.id");
        let mut query = sqlx::query(&sql);
        if let Some(c) = category {
            query = query.bind(c.to_owned());
        }
        let valid_at = q
            .valid_at
            .as_deref()
            .map(|v| instant("valid_at", v))
            .transpose()?;
        let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let wanted = text.map(grams);
        let mut items = Vec::new();
        for row in query.fetch_all(self.pool()).await? {
            let entry = entry_from_row(&row)?;
            if let Some(at) = valid_at {
                let from = instant("valid_from", &entry.valid_from)?;
                let until = entry
                    .valid_until
                    .as_deref()
                    .map(|u| instant("valid_until", u))
                    .transpose()?;
                if at < from || until.is_some_and(|u| u <= at) {
                    continue;
                }
            }
            let score = match &wanted {
                None => 0,
                Some(w) => {
                    let question = coverage(w, &grams(&entry.question));
                    let both = coverage(w, &grams(&format!("{}{}", entry.question, entry.answer)));
                    (2 * question + both) / 3
                }
            };
            if wanted.is_some() && score < 500 / 3 {
                continue;
            }
            items.push(KbHit { score, entry });
        }
        items.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then(b.entry.answers_at_intake.cmp(&a.entry.answers_at_intake))
        });
        items.truncate(limit);
        Ok(KbPage { items })
    }

    /// Entries past their validity at `q.now`, of `q.owner` (all owners without one),
    /// longest expired first: what each owner department must renew or retire.
    pub async fn kb_expired(&self, q: &KbExpiredQuery) -> Result<KbPage> {
        let now = crate::fold::millis(instant("now", &q.now)?);
        let mut sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM kb_entries e
             WHERE e.valid_until_ms IS NOT NULL AND e.valid_until_ms <= $1"
        );
        let owner = q.owner.as_deref().map(str::trim).filter(|o| !o.is_empty());
        if owner.is_some() {
            sql.push_str(" AND e.owner = $2");
        }
        sql.push_str(" ORDER BY e.valid_until_ms, e.id");
        let mut query = sqlx::query(&sql).bind(now);
        if let Some(o) = owner {
            query = query.bind(o.to_owned());
        }
        let mut items = Vec::new();
        for row in query.fetch_all(self.pool()).await? {
            items.push(KbHit {
                score: 0,
                entry: entry_from_row(&row)?,
            });
        }
        Ok(KbPage { items })
    }
}
