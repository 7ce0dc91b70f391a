//! The knowledge base (知识库): entries the centre keeps so operators answer inquiries at
//! intake (直接答复). Each entry is an aggregate of its own, kept as events on its own
//! subject (`casegrid.events.kb.<entry id>`) with the same envelope, hash chain,
//! optimistic appends and idempotency as a case; the envelope's `case_id` carries the
//! entry id there. Every edit is an event, so an entry's history keeps every version.
//!
//! Who edits is configuration (`[kb] editors`, supervisors by default): the service
//! passes the allowed kinds in, the rule that checks them lives here.

use crate::actor::{Actor, ActorKind};
use crate::case::{Rejection, RejectionKind};
use crate::event::UnreadableEvent;
use crate::ids::{Category, DepartmentId, ParseError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// Names entries created through the API: a UUIDv5 of (principal, idempotency key).
const KB_NAMESPACE: Uuid = Uuid::from_u128(0x6b62_2d65_6e74_7279_8000_0000_0000_0001);

/// The identity of a knowledge-base entry: a UUID, the last token of its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KbEntryId(Uuid);

impl KbEntryId {
    /// The entry a creation with this idempotency key by this principal makes.
    pub fn for_creation(principal: &str, idempotency_key: &str) -> Self {
        let name = format!("{principal}\u{1f}{idempotency_key}");
        Self(Uuid::new_v5(&KB_NAMESPACE, name.as_bytes()))
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| ParseError::new("kb_entry", format!("{s:?} is not a UUID")))
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for KbEntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// What an editor writes: the whole entry, at creation and at every edit.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KbDraft {
    /// Not blank.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub question: String,
    /// Not blank.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub answer: String,
    pub category: Category,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "schema", schemars(with = "String", extend("format" = "date-time")))]
    pub valid_from: OffsetDateTime,
    /// Absent: valid until edited; after `valid_from`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>", extend("format" = "date-time")))]
    pub valid_until: Option<OffsetDateTime>,
    /// The department that answers for the entry and is told when it expires.
    pub owner: DepartmentId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KbCommand {
    Create(KbDraft),
    Edit(KbDraft),
}

/// An entry's content as one event writes it (the whole entry, so each version reads
/// alone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbEntryWritten {
    pub question: String,
    pub answer: String,
    pub category: Category,
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub valid_until: Option<OffsetDateTime>,
    pub owner: DepartmentId,
}

/// The events of an entry, `{"type": …, "data": …}` like a case's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum KbEvent {
    KbEntryCreated(KbEntryWritten),
    KbEntryEdited(KbEntryWritten),
}

impl KbEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::KbEntryCreated(_) => "KbEntryCreated",
            Self::KbEntryEdited(_) => "KbEntryEdited",
        }
    }

    /// Every KB event type is at schema 1.
    pub fn schema(&self) -> u32 {
        1
    }

    /// Whether `event_type` names a KB event this build knows.
    pub fn knows(event_type: &str) -> bool {
        matches!(event_type, "KbEntryCreated" | "KbEntryEdited")
    }

    pub fn data(&self) -> serde_json::Value {
        match self {
            Self::KbEntryCreated(w) | Self::KbEntryEdited(w) => {
                serde_json::to_value(w).expect("entries serialize")
            }
        }
    }

    pub fn written(&self) -> &KbEntryWritten {
        match self {
            Self::KbEntryCreated(w) | Self::KbEntryEdited(w) => w,
        }
    }

    /// Reads an event back from the envelope's `type`, `schema` and `data`.
    pub fn from_parts(
        event_type: &str,
        schema: u32,
        data: &serde_json::Value,
    ) -> Result<Self, UnreadableEvent> {
        let unreadable = |source| UnreadableEvent {
            event_type: event_type.to_owned(),
            schema,
            source,
        };
        if schema != 1 {
            return Err(unreadable(serde::de::Error::custom(format!(
                "this version reads {event_type} at schema 1"
            ))));
        }
        serde_json::from_value(serde_json::json!({ "type": event_type, "data": data }))
            .map_err(unreadable)
    }
}

/// An entry as its events leave it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbEntry {
    pub id: Option<KbEntryId>,
    pub version: u64,
    pub content: Option<KbEntryWritten>,
    /// Command ids already applied: a repeated one is done, not done again.
    pub commands: BTreeSet<String>,
}

impl KbEntry {
    pub fn new(id: KbEntryId) -> Self {
        Self {
            id: Some(id),
            ..Self::default()
        }
    }

    /// Past its validity at `now` (an entry without `valid_until` never expires).
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.content
            .as_ref()
            .and_then(|c| c.valid_until)
            .is_some_and(|until| until <= now)
    }

    /// Decides `command` by `actor`, whose kind must be one of `editors`.
    pub fn decide(
        &self,
        actor: &Actor,
        editors: &[ActorKind],
        command: &KbCommand,
    ) -> Result<KbEvent, Rejection> {
        let id = self
            .id
            .map(|i| i.to_string())
            .unwrap_or_else(|| "(new)".into());
        if !editors.contains(&actor.kind) {
            return Err(Rejection::new(
                RejectionKind::Forbidden,
                format!(
                    "{} {} cannot edit knowledge-base entry {id}: only {} may",
                    actor.kind.as_str(),
                    actor.id,
                    editors
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let (draft, exists) = match command {
            KbCommand::Create(d) => (d, false),
            KbCommand::Edit(d) => (d, true),
        };
        match (exists, self.content.is_some()) {
            (false, true) => {
                return Err(Rejection::new(
                    RejectionKind::AlreadyExists,
                    format!("knowledge-base entry {id} exists: edit it"),
                ))
            }
            (true, false) => {
                return Err(Rejection::new(
                    RejectionKind::NotFound,
                    format!("knowledge-base entry {id} not found"),
                ))
            }
            _ => {}
        }
        for (field, text) in [("question", &draft.question), ("answer", &draft.answer)] {
            if text.trim().is_empty() {
                return Err(Rejection::new(
                    RejectionKind::Invalid,
                    format!("{field}: must not be empty"),
                ));
            }
        }
        if draft.valid_until.is_some_and(|u| u <= draft.valid_from) {
            return Err(Rejection::new(
                RejectionKind::Invalid,
                "valid_until: must be after valid_from",
            ));
        }
        let written = KbEntryWritten {
            question: draft.question.trim().to_owned(),
            answer: draft.answer.trim().to_owned(),
            category: draft.category.clone(),
            valid_from: draft.valid_from,
            valid_until: draft.valid_until,
            owner: draft.owner.clone(),
        };
        Ok(if exists {
            KbEvent::KbEntryEdited(written)
        } else {
            KbEvent::KbEntryCreated(written)
        })
    }

    /// Folds one event (version `version`, made by `command_id`).
    pub fn apply(&mut self, version: u64, command_id: &str, event: &KbEvent) {
        self.version = version;
        self.content = Some(event.written().clone());
        self.commands.insert(command_id.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn supervisor() -> Actor {
        Actor::new(ActorKind::Supervisor, "sup.li")
    }

    fn draft(answer: &str) -> KbDraft {
        KbDraft {
            question: "社保关系如何转移？".into(),
            answer: answer.into(),
            category: Category::parse("social_insurance").unwrap(),
            valid_from: datetime!(2026-01-01 00:00 UTC),
            valid_until: Some(datetime!(2026-12-31 16:00 UTC)),
            owner: DepartmentId::parse("dept.hrss").unwrap(),
        }
    }

    const EDITORS: &[ActorKind] = &[ActorKind::Supervisor];

    /// Given the events, when `command` is decided, then the event (applied).
    fn when(entry: &mut KbEntry, actor: &Actor, command: KbCommand) -> Result<KbEvent, Rejection> {
        let event = entry.decide(actor, EDITORS, &command)?;
        entry.apply(
            entry.version + 1,
            &format!("cmd-{}", entry.version + 1),
            &event,
        );
        Ok(event)
    }

    #[test]
    fn a_supervisor_creates_then_edits_an_entry() {
        let id = KbEntryId::for_creation("sup.li", "k1");
        let mut entry = KbEntry::new(id);
        let created = when(
            &mut entry,
            &supervisor(),
            KbCommand::Create(draft("携带身份证到社保窗口办理")),
        )
        .unwrap();
        assert_eq!(created.event_type(), "KbEntryCreated");
        let edited = when(
            &mut entry,
            &supervisor(),
            KbCommand::Edit(draft("可在“浙里办”网上办理")),
        )
        .unwrap();
        assert_eq!(edited.event_type(), "KbEntryEdited");
        assert_eq!(entry.version, 2);
        assert_eq!(
            entry.content.as_ref().unwrap().answer,
            "可在“浙里办”网上办理"
        );
        // Read back from the envelope's parts, as the log stores them.
        let back = KbEvent::from_parts("KbEntryEdited", 1, &edited.data()).unwrap();
        assert_eq!(back, edited);
        assert!(KbEvent::from_parts("KbEntryEdited", 2, &edited.data()).is_err());
        assert!(KbEvent::from_parts("KbEntryEdited", 1, &serde_json::json!({"x": 1})).is_err());
    }

    #[test]
    fn only_editors_write_and_creation_and_edit_need_the_right_state() {
        let id = KbEntryId::for_creation("sup.li", "k1");
        let mut entry = KbEntry::new(id);
        let operator = Actor::new(ActorKind::Operator, "op.wang");
        let no = when(&mut entry, &operator, KbCommand::Create(draft("x"))).unwrap_err();
        assert_eq!(no.kind, RejectionKind::Forbidden);
        assert!(no.detail.contains("only supervisor"), "{}", no.detail);
        let missing = when(&mut entry, &supervisor(), KbCommand::Edit(draft("x"))).unwrap_err();
        assert_eq!(missing.kind, RejectionKind::NotFound);
        let empty = when(&mut entry, &supervisor(), KbCommand::Create(draft(" "))).unwrap_err();
        assert_eq!(
            (empty.kind, empty.detail.as_str()),
            (RejectionKind::Invalid, "answer: must not be empty")
        );
        let mut backwards = draft("x");
        backwards.valid_until = Some(datetime!(2025-01-01 00:00 UTC));
        let bad = when(&mut entry, &supervisor(), KbCommand::Create(backwards)).unwrap_err();
        assert!(bad.detail.starts_with("valid_until"), "{}", bad.detail);
        when(&mut entry, &supervisor(), KbCommand::Create(draft("x"))).unwrap();
        let twice = when(&mut entry, &supervisor(), KbCommand::Create(draft("x"))).unwrap_err();
        assert_eq!(twice.kind, RejectionKind::AlreadyExists);
    }

    #[test]
    fn an_entry_expires_at_its_valid_until() {
        let mut entry = KbEntry::new(KbEntryId::for_creation("sup.li", "k1"));
        when(&mut entry, &supervisor(), KbCommand::Create(draft("x"))).unwrap();
        assert!(!entry.is_expired(datetime!(2026-12-31 15:59 UTC)));
        assert!(entry.is_expired(datetime!(2026-12-31 16:00 UTC)));
    }
}
