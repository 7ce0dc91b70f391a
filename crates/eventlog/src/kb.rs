//! [`KbStore`]: knowledge-base entries over the log, each on its own subject
//! (`<prefix>.kb.<entry id>`), with a case's guarantees: the envelope and hash chain,
//! appends expecting the entry's last sequence (a conflict reloads and decides again),
//! message ids `<entry>:<command id>`, and a command id already in the entry answering
//! what it did then (another request under the same id is refused). Entries change
//! seldom, so nothing is cached: each command loads its entry by batched direct get.

use crate::classify::{classify_kb_parsed, Head};
use crate::envelope::Envelope;
use crate::error::LogError;
use crate::log::EventLog;
use crate::store::{Applied, CommandMeta, ExecuteError};
use casegrid_domain::kb::{KbCommand, KbEntry, KbEntryId};
use casegrid_domain::{Actor, ActorKind, CaseId};
use std::collections::HashMap;
use time::OffsetDateTime;

const MAX_ATTEMPTS: usize = 50;

/// An entry as loaded: its state, what each command id did, and where its chain ends.
#[derive(Debug, Clone)]
pub struct LoadedEntry {
    pub entry: KbEntry,
    pub applied: HashMap<String, Applied>,
    /// Stream sequence of the entry's last message (0: none).
    pub last_seq: u64,
    pub head: Head,
}

/// What a command did.
#[derive(Debug, Clone)]
pub struct KbOutcome {
    pub entry: KbEntry,
    pub version: u64,
    /// The command id had been applied before: nothing was appended now.
    pub already_done: bool,
    pub event_type: &'static str,
}

#[derive(Clone)]
pub struct KbStore {
    log: EventLog,
}

impl KbStore {
    pub fn new(log: EventLog) -> Self {
        Self { log }
    }

    /// Loads entry `id` from the log (an entry never written loads empty). A message
    /// that breaks its chain makes the entry refuse commands, like a case.
    pub async fn load(&self, id: KbEntryId) -> Result<LoadedEntry, LogError> {
        let prefix = &self.log.config().subject_prefix;
        let messages = self
            .log
            .load_subject_raw(&self.log.kb_subject(id), 0)
            .await?;
        let mut loaded = LoadedEntry {
            entry: KbEntry::new(id),
            applied: HashMap::new(),
            last_seq: 0,
            head: Head::genesis(),
        };
        for message in &messages {
            loaded.last_seq = message.seq;
            match classify_kb_parsed(prefix, message, Some(&loaded.head)) {
                Ok((stored, event)) => {
                    let e = &stored.envelope;
                    loaded.entry.apply(e.version, &e.command_id, &event);
                    loaded.applied.insert(
                        e.command_id.clone(),
                        Applied::new(e.version, event.event_type(), e.request.as_ref()),
                    );
                    loaded.head = Head {
                        version: e.version,
                        hash: e.hash.clone(),
                    };
                }
                Err(q) => {
                    if let Some(b) = q.chain_break() {
                        return Err(LogError::ChainBroken(b));
                    }
                }
            }
        }
        Ok(loaded)
    }

    /// Decides `command` by `actor` (one of `editors`) on entry `id` and appends its
    /// event, retrying on conflict; a command id already applied answers what it did.
    pub async fn execute(
        &self,
        id: KbEntryId,
        actor: &Actor,
        editors: &[ActorKind],
        command: &KbCommand,
        meta: &CommandMeta,
        now: OffsetDateTime,
    ) -> Result<KbOutcome, ExecuteError> {
        let stream_id = CaseId::from_uuid(id.as_uuid());
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.load(id).await?;
            if let Some(first) = loaded.applied.get(&meta.command_id) {
                if !first.same_request(meta.request.as_ref()) {
                    return Err(ExecuteError::KeyReused {
                        case: format!("knowledge-base entry {id}"),
                        command_id: meta.command_id.clone(),
                        first: first.clone(),
                    });
                }
                return Ok(KbOutcome {
                    version: first.version,
                    event_type: first.event_type,
                    entry: loaded.entry,
                    already_done: true,
                });
            }
            let event = loaded.entry.decide(actor, editors, command)?;
            let envelope = Envelope::seal(
                stream_id,
                loaded.head.version + 1,
                &loaded.head.hash,
                event.event_type(),
                event.schema(),
                event.data(),
                actor.clone(),
                meta.command_id.clone(),
                meta.correlation_id.clone(),
                meta.causation_id.clone(),
                now,
            )?
            .with_request(meta.request.clone())?;
            let subject = self.log.kb_subject(id);
            match self
                .log
                .append_on(&subject, &envelope, loaded.last_seq)
                .await
            {
                Ok(_) => {
                    let mut entry = loaded.entry;
                    entry.apply(envelope.version, &envelope.command_id, &event);
                    return Ok(KbOutcome {
                        entry,
                        version: envelope.version,
                        already_done: false,
                        event_type: event.event_type(),
                    });
                }
                // Another writer first, or this very append landed before: reload.
                Err(LogError::Conflict { .. } | LogError::Duplicate { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ExecuteError::Contended(stream_id, MAX_ATTEMPTS))
    }

    /// The entry's state, for checking a citation (an entry never written: `None`).
    pub async fn entry(&self, id: KbEntryId) -> Result<Option<KbEntry>, LogError> {
        let loaded = self.load(id).await?;
        Ok(loaded.entry.content.is_some().then_some(loaded.entry))
    }
}
