//! Classifying stored messages: the one place that decides whether a message of the
//! stream is an event this build may apply, or goes to quarantine, and why.
//!
//! Every consumer of the log (projection, routing, the SSE feed, rebuild, the case
//! store) reads raw messages ([`RawMessage`]) and passes each through [`classify`]
//! with the head of the message's case as that consumer knows it ([`Head`]: the last
//! applied version and its hash). Only [`Classified::Valid`] envelopes are applied;
//! everything else is [`Quarantined`] with a [`Reason`], and processing goes on: no
//! stored message can stop a consumer. A quarantined message never moves its case's
//! head, so the next event of that case is judged against the last valid one.
//!
//! [`Heads`] keeps heads for a consumer that folds nothing else (routing, the SSE
//! feed): a case met for the first time is read from the log up to the message, by
//! batched direct get, and classified the same way.

use crate::envelope::{hash_of, ChainBreak, Envelope, StoredEvent, GENESIS_HASH};
use crate::error::LogError;
use crate::log::EventLog;
use bytes::Bytes;
use casegrid_domain::kb::{KbEntryId, KbEvent};
use casegrid_domain::{event::schema_of, CaseId, Event};
use serde_json::Value;
use std::collections::HashMap;

/// How many bytes of a quarantined payload are kept for people to look at.
pub const HEAD_BYTES: usize = 200;

/// One message as stored in the stream, before anyone trusts it.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// Stream sequence.
    pub seq: u64,
    pub subject: String,
    pub payload: Bytes,
}

impl RawMessage {
    /// The message a stored event was read from (its canonical bytes).
    pub fn of(prefix: &str, event: &StoredEvent) -> Self {
        let payload = crate::canonical::to_canonical(&event.raw)
            .map(String::into_bytes)
            .unwrap_or_else(|_| serde_json::to_vec(&event.raw).unwrap_or_default());
        Self {
            seq: event.seq,
            subject: format!("{prefix}.{}", event.envelope.case_id),
            payload: payload.into(),
        }
    }
}

/// Why a message is not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// An event type or schema this build does not know: written by a newer version.
    /// A rebuild after the upgrade applies it.
    NewerVersion,
    /// Not JSON, not an event envelope, data this build cannot read, or on a subject
    /// that does not name its case.
    Unreadable,
    /// `prev_hash` is not the hash of the case's previous event, or the stored hash
    /// does not recompute: forged or edited.
    ChainBreak,
    /// A version beyond the next one: an event in between is missing or quarantined.
    VersionGap,
    /// A version the case already has.
    DuplicateVersion,
}

impl Reason {
    pub const ALL: [Reason; 5] = [
        Self::NewerVersion,
        Self::Unreadable,
        Self::ChainBreak,
        Self::VersionGap,
        Self::DuplicateVersion,
    ];

    /// The stable name stored in the quarantine and used as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewerVersion => "newer_version",
            Self::Unreadable => "unreadable",
            Self::ChainBreak => "chain_break",
            Self::VersionGap => "version_gap",
            Self::DuplicateVersion => "duplicate_version",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the case's chain cannot be extended past such a message: appending the
    /// next version after it would fork the case's history.
    pub fn blocks_case(self) -> bool {
        !matches!(self, Self::Unreadable | Self::DuplicateVersion)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message that is not applied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub seq: u64,
    pub subject: String,
    /// The case the subject names, when it names one.
    pub case_id: Option<CaseId>,
    /// The version the envelope claims, when it is an envelope.
    pub version: Option<u64>,
    pub reason: Reason,
    /// A sentence saying what is wrong ("written by a newer version: …").
    pub detail: String,
    /// The first [`HEAD_BYTES`] bytes of the payload (lossy UTF-8).
    pub head: String,
}

impl Quarantined {
    /// The break a case store reports for a message that blocks its case.
    pub fn chain_break(&self) -> Option<ChainBreak> {
        let (case_id, version) = (self.case_id?, self.version?);
        self.reason.blocks_case().then(|| ChainBreak {
            case_id,
            version,
            reason: format!("stream sequence {}: {}", self.seq, self.detail),
        })
    }
}

/// What a message is.
// Short-lived (matched at once by every reader), and nearly every message is valid:
// boxing the common variant would cost an allocation per event for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Classified {
    Valid(StoredEvent),
    Quarantined(Quarantined),
    /// A valid event of a knowledge-base entry (`<prefix>.kb.<entry id>`): no case's,
    /// so case consumers pass it by; the projection folds it.
    Kb(StoredEvent),
}

impl Classified {
    /// The event, when valid (a case's or an entry's): what moves a head.
    pub fn stored(&self) -> Option<&StoredEvent> {
        match self {
            Self::Valid(e) | Self::Kb(e) => Some(e),
            Self::Quarantined(_) => None,
        }
    }
}

/// The last applied event of a case: its version and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub version: u64,
    pub hash: String,
}

impl Head {
    /// Before version 1.
    pub fn genesis() -> Self {
        Self {
            version: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

/// The case a subject `<prefix>.<case id>` names.
pub fn case_of_subject(prefix: &str, subject: &str) -> Option<CaseId> {
    let id = subject.strip_prefix(prefix)?.strip_prefix('.')?;
    CaseId::parse(id).ok()
}

/// Classifies one message of a case whose last applied event is `head` (`None`: the
/// case has none). Pure: the same message against the same head is always judged the
/// same, so a rebuild re-evaluates the quarantine exactly as the consumers did.
pub fn classify(prefix: &str, message: &RawMessage, head: Option<&Head>) -> Classified {
    if is_kb_subject(prefix, &message.subject) {
        return match classify_kb_parsed(prefix, message, head) {
            Ok((stored, _)) => Classified::Kb(stored),
            Err(q) => Classified::Quarantined(*q),
        };
    }
    match classify_parsed(prefix, message, head) {
        Ok((stored, _)) => Classified::Valid(stored),
        Err(q) => Classified::Quarantined(*q),
    }
}

/// [`classify`], answering a valid message's event as parsed while judging it, so a
/// fold reads each event once.
pub fn classify_parsed(
    prefix: &str,
    message: &RawMessage,
    head: Option<&Head>,
) -> Result<(StoredEvent, Event), Box<Quarantined>> {
    judge(message, prepare(prefix, message), head)
}

/// The knowledge-base entry a subject `<prefix>.kb.<entry id>` names.
pub fn kb_of_subject(prefix: &str, subject: &str) -> Option<KbEntryId> {
    let id = subject.strip_prefix(prefix)?.strip_prefix(".kb.")?;
    KbEntryId::parse(id).ok()
}

/// Whether a subject lies under `<prefix>.kb.`: the knowledge base's, well formed or not.
/// Case consumers pass such messages by; the projection judges them with
/// [`classify_kb_parsed`].
pub fn is_kb_subject(prefix: &str, subject: &str) -> bool {
    subject
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with(".kb."))
}

/// [`classify_parsed`] for a message on a knowledge-base subject: the same envelope,
/// chain and version checks, the entry's events read as [`KbEvent`]s. The envelope's
/// `case_id` carries the entry id.
pub fn classify_kb_parsed(
    prefix: &str,
    message: &RawMessage,
    head: Option<&Head>,
) -> Result<(StoredEvent, KbEvent), Box<Quarantined>> {
    judge(message, prepare_kb(prefix, message), head)
}

/// The part of a message's judgement that does not depend on its aggregate's head:
/// the subject read, the message parsed, its content hashed, its event read.
/// [`prepare`] (a case's message) or [`prepare_kb`] (an entry's) makes it, [`judge`]
/// finishes it against the head. Pure and independent of every other message, so a
/// rebuild prepares a batch on other cores while the previous one is folded.
pub struct Prepared<E> {
    /// The aggregate the subject names, when it names one.
    case_id: Option<CaseId>,
    /// What was read, or (the envelope's version if known, why it is unreadable).
    parsed: Result<Parsed<E>, (Option<u64>, String)>,
}

struct Parsed<E> {
    raw: Value,
    envelope: Envelope,
    /// The content's hash, recomputed.
    hash: Result<String, String>,
    event: Result<E, (Reason, String)>,
}

/// Prepares a message on a case's subject: what [`classify_parsed`] judges.
pub fn prepare(prefix: &str, message: &RawMessage) -> Prepared<Event> {
    let named = case_of_subject(prefix, &message.subject).ok_or_else(|| {
        format!(
            "subject {} does not name a case ({prefix}.<case id>)",
            message.subject
        )
    });
    prepare_with(message, named, Event::from_parts, schema_of)
}

/// Prepares a message on a knowledge-base subject: what [`classify_kb_parsed`] judges.
pub fn prepare_kb(prefix: &str, message: &RawMessage) -> Prepared<KbEvent> {
    let named = kb_of_subject(prefix, &message.subject)
        .map(|id| CaseId::from_uuid(id.as_uuid()))
        .ok_or_else(|| {
            format!(
                "subject {} does not name a knowledge-base entry ({prefix}.kb.<entry id>)",
                message.subject
            )
        });
    prepare_with(message, named, KbEvent::from_parts, |t| {
        u32::from(KbEvent::knows(t))
    })
}

/// What every reader shares before the head: `named` is the aggregate the subject names
/// (or why it names none), `parse` reads the event, `known_schema` the newest schema of
/// a type this build reads (0: an unknown type).
fn prepare_with<E>(
    message: &RawMessage,
    named: Result<CaseId, String>,
    parse: fn(&str, u32, &Value) -> Result<E, casegrid_domain::event::UnreadableEvent>,
    known_schema: fn(&str) -> u32,
) -> Prepared<E> {
    let case_id = named.as_ref().ok().copied();
    let fail = |version: Option<u64>, detail: String| Prepared {
        case_id,
        parsed: Err((version, detail)),
    };
    let case_id = match named {
        Ok(id) => id,
        Err(detail) => return fail(None, detail),
    };
    let raw: Value = match serde_json::from_slice(&message.payload) {
        Ok(v) => v,
        Err(e) => return fail(None, format!("not JSON: {e}")),
    };
    let envelope = match <Envelope as serde::Deserialize>::deserialize(&raw) {
        Ok(e) => e,
        Err(e) => {
            let version = raw["version"].as_u64();
            return fail(version, format!("not an event envelope: {e}"));
        }
    };
    if envelope.case_id != case_id {
        return fail(
            Some(envelope.version),
            format!(
                "the subject names case {case_id} but the envelope case {}",
                envelope.case_id
            ),
        );
    }
    let hash = hash_of(&raw);
    let event = parse(&envelope.event_type, envelope.schema, &envelope.data).map_err(|e| {
        let known = known_schema(&envelope.event_type);
        let unknown_type = known == 0 || e.to_string().contains("unknown variant");
        if envelope.schema > known || unknown_type {
            (
                Reason::NewerVersion,
                format!(
                    "written by a newer version: {} schema {} (this build reads {})",
                    envelope.event_type,
                    envelope.schema,
                    if unknown_type {
                        "no such type".to_owned()
                    } else {
                        format!("up to schema {known}")
                    }
                ),
            )
        } else {
            (Reason::Unreadable, e.to_string())
        }
    });
    Prepared {
        case_id: Some(case_id),
        parsed: Ok(Parsed {
            raw,
            envelope,
            hash,
            event,
        }),
    }
}

/// The judgement every reader shares: a [`prepare`]d (or [`prepare_kb`]d) `message`
/// against its aggregate's head, a valid envelope with its event or why it is
/// quarantined. The checks run in one order whoever prepared the message: the subject,
/// JSON, the envelope, the version against the head, the chain, the stored hash, the
/// event's data.
pub fn judge<E>(
    message: &RawMessage,
    prepared: Prepared<E>,
    head: Option<&Head>,
) -> Result<(StoredEvent, E), Box<Quarantined>> {
    let case_id = prepared.case_id;
    let quarantine = |reason: Reason, version: Option<u64>, detail: String| {
        let end = message.payload.len().min(HEAD_BYTES);
        Err(Box::new(Quarantined {
            seq: message.seq,
            subject: message.subject.clone(),
            case_id,
            version,
            reason,
            detail,
            // PostgreSQL text holds no NUL.
            head: String::from_utf8_lossy(&message.payload[..end]).replace('\0', "\u{fffd}"),
        }))
    };
    let Parsed {
        raw,
        envelope,
        hash,
        event,
    } = match prepared.parsed {
        Ok(parsed) => parsed,
        Err((version, detail)) => return quarantine(Reason::Unreadable, version, detail),
    };
    let version = Some(envelope.version);
    let genesis = Head::genesis();
    let head = head.unwrap_or(&genesis);
    if envelope.version <= head.version {
        return quarantine(
            Reason::DuplicateVersion,
            version,
            format!(
                "version {} again: the case is at version {}",
                envelope.version, head.version
            ),
        );
    }
    if envelope.version > head.version + 1 {
        return quarantine(
            Reason::VersionGap,
            version,
            format!(
                "version {} follows version {}: version {} is missing or quarantined",
                envelope.version,
                head.version,
                head.version + 1
            ),
        );
    }
    if envelope.prev_hash != head.hash {
        return quarantine(
            Reason::ChainBreak,
            version,
            format!(
                "prev_hash {} is not the hash {} of version {}",
                envelope.prev_hash, head.hash, head.version
            ),
        );
    }
    match hash {
        Ok(h) if h == envelope.hash => {}
        Ok(h) => {
            return quarantine(
                Reason::ChainBreak,
                version,
                format!(
                    "stored hash {} but the content hashes to {h}",
                    envelope.hash
                ),
            )
        }
        Err(e) => return quarantine(Reason::Unreadable, version, e),
    }
    let event = match event {
        Ok(event) => event,
        Err((reason, detail)) => return quarantine(reason, version, detail),
    };
    Ok((
        StoredEvent {
            seq: message.seq,
            envelope,
            raw,
        },
        event,
    ))
}

/// Heads of the cases a consumer has met, for consumers that keep no case state of
/// their own. A case met for the first time is read from the log before the message.
#[derive(Debug, Default)]
pub struct Heads {
    heads: HashMap<CaseId, Head>,
    /// The consumer read the log from sequence 1: a case not met has no events.
    complete: bool,
}

/// Cases kept before the map is emptied (a miss only costs one case load).
const MAX_HEADS: usize = 200_000;

impl Heads {
    /// For a consumer starting at `from_seq`: at 1 every case's history is seen.
    pub fn new(from_seq: u64) -> Self {
        Self {
            heads: HashMap::new(),
            complete: from_seq <= 1,
        }
    }

    /// Classifies `message`, loading its case's head from `log` when unknown, and
    /// moves the head on a valid event.
    pub async fn classify(
        &mut self,
        log: &EventLog,
        message: &RawMessage,
    ) -> Result<Classified, LogError> {
        let mut classified = self
            .classify_all(log, std::slice::from_ref(message))
            .await?;
        Ok(classified.pop().expect("one message, one judgement"))
    }

    /// Classifies a batch of messages in stream order, as [`Self::classify`] would one
    /// by one. The heads of the cases the batch meets for the first time are read from
    /// `log` first, concurrently (a new case costs one round trip for the whole batch,
    /// not one each in turn).
    pub async fn classify_all(
        &mut self,
        log: &EventLog,
        messages: &[RawMessage],
    ) -> Result<Vec<Classified>, LogError> {
        let prefix = &log.config().subject_prefix;
        if !self.complete {
            if self.heads.len() >= MAX_HEADS {
                self.heads.clear();
            }
            // The first message of each unknown case: its head is what precedes it.
            let mut unknown: Vec<(CaseId, &RawMessage)> = Vec::new();
            for message in messages {
                if let Some(id) = subject_id(prefix, &message.subject) {
                    if !self.heads.contains_key(&id) && !unknown.iter().any(|(u, _)| *u == id) {
                        unknown.push((id, message));
                    }
                }
            }
            // Futures collected first, not a stream of a closure: services spawn this
            // on a multi-threaded runtime, and `Send` must be provable for any lifetime.
            let mut found: Vec<(CaseId, Option<Head>)> = Vec::with_capacity(unknown.len());
            for chunk in unknown.chunks(HEAD_LOOKUPS) {
                let lookups: Vec<_> =
                    chunk
                        .iter()
                        .map(|&(id, message)| {
                            let (subject, seq) = (message.subject.clone(), message.seq);
                            async move {
                                Ok::<_, LogError>((id, log.head_before_on(&subject, seq).await?))
                            }
                        })
                        .collect();
                found.extend(futures_util::future::try_join_all(lookups).await?);
            }
            for (id, head) in found {
                if let Some(head) = head {
                    self.heads.insert(id, head);
                }
            }
        }
        Ok(messages
            .iter()
            .map(|message| {
                let id = subject_id(prefix, &message.subject);
                let classified = classify(prefix, message, id.and_then(|id| self.heads.get(&id)));
                if let Some(e) = classified.stored() {
                    self.heads.insert(
                        e.envelope.case_id,
                        Head {
                            version: e.envelope.version,
                            hash: e.envelope.hash.clone(),
                        },
                    );
                }
                classified
            })
            .collect())
    }
}

/// Heads looked up at once by [`Heads::classify_all`].
const HEAD_LOOKUPS: usize = 64;

/// The aggregate a subject belongs to: a case, or a knowledge-base entry (they share
/// [`Heads`]' map: their ids are UUIDv5s of distinct namespaces).
fn subject_id(prefix: &str, subject: &str) -> Option<CaseId> {
    case_of_subject(prefix, subject)
        .or_else(|| kb_of_subject(prefix, subject).map(|k| CaseId::from_uuid(k.as_uuid())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use casegrid_domain::{Actor, ActorKind};
    use serde_json::json;
    use time::OffsetDateTime;

    const PREFIX: &str = "casegrid.events";

    fn sealed(case_id: CaseId, version: u64, prev: &str, kind: &str, schema: u32) -> Envelope {
        Envelope::seal(
            case_id,
            version,
            prev,
            kind,
            schema,
            json!({"text": "note"}),
            Actor::new(ActorKind::Operator, "op"),
            format!("cmd-{version}"),
            "corr".into(),
            None,
            OffsetDateTime::now_utc(),
        )
        .unwrap()
    }

    fn message(seq: u64, case_id: CaseId, payload: Vec<u8>) -> RawMessage {
        RawMessage {
            seq,
            subject: format!("{PREFIX}.{case_id}"),
            payload: payload.into(),
        }
    }

    fn reason(c: &Classified) -> Option<Reason> {
        match c {
            Classified::Valid(_) | Classified::Kb(_) => None,
            Classified::Quarantined(q) => Some(q.reason),
        }
    }

    #[test]
    fn every_kind_of_message_is_named() {
        let id = CaseId::for_filing("op", "k");
        let v1 = sealed(id, 1, GENESIS_HASH, "NoteAdded", 1);
        let head = Head {
            version: 1,
            hash: v1.hash.clone(),
        };
        let ok = classify(PREFIX, &message(1, id, v1.to_payload()), None);
        assert_eq!(reason(&ok), None);

        let garbage = classify(PREFIX, &message(2, id, b"not json".to_vec()), Some(&head));
        assert_eq!(reason(&garbage), Some(Reason::Unreadable));
        let bad_subject = RawMessage {
            subject: "casegrid.events.nope".into(),
            ..message(2, id, v1.to_payload())
        };
        assert_eq!(
            reason(&classify(PREFIX, &bad_subject, None)),
            Some(Reason::Unreadable)
        );
        let dup = classify(PREFIX, &message(3, id, v1.to_payload()), Some(&head));
        assert_eq!(reason(&dup), Some(Reason::DuplicateVersion));
        let v3 = sealed(id, 3, &v1.hash, "NoteAdded", 1);
        let gap = classify(PREFIX, &message(4, id, v3.to_payload()), Some(&head));
        assert_eq!(reason(&gap), Some(Reason::VersionGap));
        let forged = sealed(id, 2, GENESIS_HASH, "NoteAdded", 1);
        let brk = classify(PREFIX, &message(5, id, forged.to_payload()), Some(&head));
        assert_eq!(reason(&brk), Some(Reason::ChainBreak));
        let newer = sealed(id, 2, &v1.hash, "NoteAdded", 99);
        let Classified::Quarantined(q) =
            classify(PREFIX, &message(6, id, newer.to_payload()), Some(&head))
        else {
            panic!("a newer schema is quarantined");
        };
        assert_eq!(q.reason, Reason::NewerVersion);
        assert!(
            q.detail.starts_with("written by a newer version"),
            "{}",
            q.detail
        );
        assert_eq!(q.chain_break().unwrap().version, 2);
        let unknown = sealed(id, 2, &v1.hash, "CaseTeleported", 1);
        assert_eq!(
            reason(&classify(
                PREFIX,
                &message(7, id, unknown.to_payload()),
                Some(&head)
            )),
            Some(Reason::NewerVersion)
        );
        let next = sealed(id, 2, &v1.hash, "NoteAdded", 1);
        assert_eq!(
            reason(&classify(
                PREFIX,
                &message(8, id, next.to_payload()),
                Some(&head)
            )),
            None
        );
    }

    fn kb_message(seq: u64, subject: &str, payload: Vec<u8>) -> RawMessage {
        RawMessage {
            seq,
            subject: subject.to_owned(),
            payload: payload.into(),
        }
    }

    fn entry(id: KbEntryId, version: u64, prev: &str, kind: &str, data: Value) -> Envelope {
        Envelope::seal(
            CaseId::from_uuid(id.as_uuid()),
            version,
            prev,
            kind,
            1,
            data,
            Actor::new(ActorKind::Supervisor, "sup.li"),
            format!("cmd-{version}"),
            "corr".into(),
            None,
            OffsetDateTime::now_utc(),
        )
        .unwrap()
    }

    #[test]
    fn knowledge_base_subjects_are_judged_as_entries_and_anything_malformed_is_quarantined() {
        let id = KbEntryId::for_creation("sup.li", "k1");
        let subject = format!("{PREFIX}.kb.{id}");
        let written = json!({"question": "社保如何转移", "answer": "到窗口办理",
            "category": "social_insurance", "valid_from": "2026-01-01T00:00:00Z",
            "owner": "dept.hrss"});
        let v1 = entry(id, 1, GENESIS_HASH, "KbEntryCreated", written.clone());
        let first = classify(PREFIX, &kb_message(1, &subject, v1.to_payload()), None);
        let Classified::Kb(stored) = &first else {
            panic!("a valid entry event: {first:?}");
        };
        assert_eq!(stored.envelope.version, 1);
        assert!(case_of_subject(PREFIX, &subject).is_none(), "no case's");
        assert_eq!(kb_of_subject(PREFIX, &subject), Some(id));
        let head = Head {
            version: 1,
            hash: v1.hash.clone(),
        };
        let judged = |seq, subject: &str, payload: Vec<u8>, head: Option<&Head>| {
            reason(&classify(PREFIX, &kb_message(seq, subject, payload), head))
        };
        // Not an entry id, not JSON, a case event, unknown type, gap, break, duplicate.
        let bad_subject = format!("{PREFIX}.kb.nope");
        assert!(is_kb_subject(PREFIX, &bad_subject));
        assert_eq!(
            judged(2, &bad_subject, v1.to_payload(), None),
            Some(Reason::Unreadable)
        );
        assert_eq!(
            judged(3, &subject, b"{".to_vec(), Some(&head)),
            Some(Reason::Unreadable)
        );
        let note = entry(id, 2, &v1.hash, "NoteAdded", json!({"text": "x"}));
        assert_eq!(
            judged(4, &subject, note.to_payload(), Some(&head)),
            Some(Reason::NewerVersion)
        );
        let unknown = entry(id, 2, &v1.hash, "KbEntryRetired", json!({}));
        assert_eq!(
            judged(5, &subject, unknown.to_payload(), Some(&head)),
            Some(Reason::NewerVersion)
        );
        let newer = Envelope::seal(
            CaseId::from_uuid(id.as_uuid()),
            2,
            &v1.hash,
            "KbEntryEdited",
            2,
            written.clone(),
            Actor::new(ActorKind::Supervisor, "sup.li"),
            "c".into(),
            "c".into(),
            None,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        assert_eq!(
            judged(6, &subject, newer.to_payload(), Some(&head)),
            Some(Reason::NewerVersion)
        );
        let missing = entry(id, 2, &v1.hash, "KbEntryEdited", json!({"question": "q"}));
        assert_eq!(
            judged(7, &subject, missing.to_payload(), Some(&head)),
            Some(Reason::Unreadable)
        );
        let gap = entry(id, 3, &v1.hash, "KbEntryEdited", written.clone());
        assert_eq!(
            judged(8, &subject, gap.to_payload(), Some(&head)),
            Some(Reason::VersionGap)
        );
        let forged = entry(id, 2, GENESIS_HASH, "KbEntryEdited", written.clone());
        assert_eq!(
            judged(9, &subject, forged.to_payload(), Some(&head)),
            Some(Reason::ChainBreak)
        );
        assert_eq!(
            judged(10, &subject, v1.to_payload(), Some(&head)),
            Some(Reason::DuplicateVersion)
        );
        let other = KbEntryId::for_creation("sup.li", "k2");
        let elsewhere = format!("{PREFIX}.kb.{other}");
        assert_eq!(
            judged(11, &elsewhere, v1.to_payload(), None),
            Some(Reason::Unreadable)
        );
        let edit = entry(id, 2, &v1.hash, "KbEntryEdited", written);
        assert_eq!(judged(12, &subject, edit.to_payload(), Some(&head)), None);
        // A case consumer's own judgement never takes an entry's event for a case's.
        assert!(classify_parsed(PREFIX, &kb_message(1, &subject, v1.to_payload()), None).is_err());
    }

    #[test]
    fn the_head_of_a_quarantined_payload_is_kept_short() {
        let id = CaseId::for_filing("op", "k");
        let Classified::Quarantined(q) = classify(PREFIX, &message(1, id, vec![b'x'; 1000]), None)
        else {
            panic!("garbage is quarantined");
        };
        assert_eq!(q.head.len(), HEAD_BYTES);
        assert!(
            q.chain_break().is_none(),
            "unreadable bytes do not block a case"
        );
    }
}
