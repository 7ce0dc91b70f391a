//! The knowledge base's writes (知识库): creating and editing entries, decided by the
//! domain's [`KbEntry`](casegrid_domain::kb::KbEntry) with the configured editors
//! (`[kb] editors`) and appended by a [`KbStore`]; and the check that an answer at
//! intake cites an entry that exists and is valid now (the injected clock).

use crate::Intake;
use casegrid_commandbus::{fingerprint, http_command_id, parse_request, problem_of};
use casegrid_contracts::kb::{KbReply, KbRequest};
use casegrid_contracts::Problem;
use casegrid_domain::kb::{KbCommand, KbDraft, KbEntryId};
use casegrid_domain::ActorKind;
use casegrid_eventlog::{CommandMeta, KbStore};
use time::format_description::well_known::Rfc3339;

/// The principal kinds of `[kb] editors` (`supervisor`, `operator`, …).
pub fn editors_of(names: &[String]) -> anyhow::Result<Vec<ActorKind>> {
    names
        .iter()
        .map(|n| {
            serde_json::from_value(serde_json::Value::String(n.clone()))
                .map_err(|_| anyhow::anyhow!("[kb] editors: {n:?} is not a principal kind"))
        })
        .collect()
}

impl Intake {
    fn kb_store(&self) -> KbStore {
        KbStore::new(self.store.log().clone())
    }

    /// Creates (`entry_id` absent) or edits an entry. A repeated `Idempotency-Key` with
    /// the same body answers the first result; with another body, 422.
    pub async fn kb(&self, payload: &[u8]) -> Result<KbReply, Problem> {
        let request: KbRequest = parse_request(payload)?;
        let action = if request.entry_id.is_some() {
            "kb_edit"
        } else {
            "kb_create"
        };
        let meta = CommandMeta {
            command_id: http_command_id(&request.actor, &request.idempotency_key),
            correlation_id: request.correlation_id.clone(),
            causation_id: None,
            request: Some(fingerprint(action, &request.body)?),
        };
        let draft: KbDraft = serde_json::from_value(request.body)
            .map_err(|e| Problem::unprocessable(format!("entry: {e}")))?;
        let (id, command) = match request.entry_id {
            Some(id) => (id, KbCommand::Edit(draft)),
            None => (
                KbEntryId::for_creation(&request.actor.id, &request.idempotency_key),
                KbCommand::Create(draft),
            ),
        };
        let outcome = self
            .kb_store()
            .execute(
                id,
                &request.actor,
                &self.kb_editors,
                &command,
                &meta,
                self.clock.now(),
            )
            .await
            .map_err(problem_of)?;
        Ok(KbReply {
            id,
            version: outcome.version,
            created: !outcome.already_done && outcome.event_type == "KbEntryCreated",
        })
    }

    /// An answer at intake may cite only an entry that exists and is valid now.
    pub(crate) async fn check_citation(&self, id: KbEntryId) -> Result<(), Problem> {
        let entry = self
            .kb_store()
            .entry(id)
            .await
            .map_err(|e| problem_of(e.into()))?
            .ok_or_else(|| {
                Problem::unprocessable(format!("kb_entry: no knowledge-base entry {id}"))
            })?;
        let now = self.clock.now();
        let content = entry
            .content
            .as_ref()
            .expect("an entry that exists has content");
        if entry.is_expired(now) || content.valid_from > now {
            let when = |t: Option<time::OffsetDateTime>| {
                t.and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
            };
            return Err(Problem::unprocessable(format!(
                "kb_entry: entry {id} is valid from {} until {}, not now; its owner {} must renew it",
                when(Some(content.valid_from)),
                when(content.valid_until),
                content.owner
            )));
        }
        Ok(())
    }
}
