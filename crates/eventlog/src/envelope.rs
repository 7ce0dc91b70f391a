//! The event envelope as stored in the stream, and its per-case hash chain:
//! `hash` = lowercase hex SHA-256 of the canonical JSON of the envelope without
//! its `hash` member; `prev_hash` = the previous event's hash (64 zeros for version 1).

use crate::canonical::to_canonical;
use crate::error::LogError;
use casegrid_domain::{Actor, CaseId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// `prev_hash` of a case's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub event_id: Uuid,
    pub case_id: CaseId,
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub actor: Actor,
    pub command_id: String,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub data: Value,
    /// The fingerprint of the HTTP request that made this event (absent for system
    /// commands and for events written before fingerprints existed). Part of the
    /// hashed content like every other member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestFingerprint>,
    pub prev_hash: String,
    pub hash: String,
}

/// What a request asked for: its action and the SHA-256 (lowercase hex) of the RFC 8785
/// form of `{"action": …, "body": …}`. A repeated `Idempotency-Key` is the same request
/// only when its fingerprint is equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFingerprint {
    pub action: String,
    pub hash: String,
}

impl RequestFingerprint {
    /// The fingerprint of `action` with `body` (`null` counts as `{}`); a body holding
    /// a floating-point number has none.
    pub fn of(action: &str, body: &Value) -> Result<Self, crate::canonical::NotCanonical> {
        let body = if body.is_null() {
            Value::Object(Default::default())
        } else {
            body.clone()
        };
        let canonical = to_canonical(&serde_json::json!({ "action": action, "body": body }))?;
        Ok(Self {
            action: action.to_owned(),
            hash: hex_sha256(canonical.as_bytes()),
        })
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Envelope {
    /// Builds the envelope of a case's next event and computes its hash.
    #[allow(clippy::too_many_arguments)]
    pub fn seal(
        case_id: CaseId,
        version: u64,
        prev_hash: &str,
        event_type: &str,
        schema: u32,
        data: Value,
        actor: Actor,
        command_id: String,
        correlation_id: String,
        causation_id: Option<String>,
        occurred_at: OffsetDateTime,
    ) -> Result<Self, LogError> {
        // Microseconds: enough for ordering by people, short in every language's parser.
        let occurred_at = occurred_at
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(occurred_at.nanosecond() / 1000 * 1000)
            .expect("truncated nanoseconds stay in range");
        let mut envelope = Self {
            event_id: Uuid::now_v7(),
            case_id,
            version,
            event_type: event_type.to_owned(),
            schema,
            occurred_at,
            actor,
            command_id,
            correlation_id,
            causation_id,
            data,
            request: None,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        envelope.reseal()?;
        Ok(envelope)
    }

    /// The same envelope made by the request with `fingerprint`, hashed again.
    pub fn with_request(
        mut self,
        fingerprint: Option<RequestFingerprint>,
    ) -> Result<Self, LogError> {
        if fingerprint.is_some() {
            self.request = fingerprint;
            self.reseal()?;
        }
        Ok(self)
    }

    /// The same envelope under another event id, hashed again: an import gives each
    /// event a stable id (so a retried import writes the very same bytes).
    pub fn with_event_id(mut self, event_id: Uuid) -> Result<Self, LogError> {
        self.event_id = event_id;
        self.reseal()?;
        Ok(self)
    }

    fn reseal(&mut self) -> Result<(), LogError> {
        self.hash = String::new();
        let value = serde_json::to_value(&*self).map_err(|e| LogError::Corrupt {
            seq: 0,
            reason: e.to_string(),
        })?;
        self.hash = hash_of(&value).map_err(|reason| LogError::Corrupt { seq: 0, reason })?;
        Ok(())
    }

    /// The bytes stored in the stream: the canonical JSON of the whole envelope.
    pub fn to_payload(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("envelopes serialize");
        to_canonical(&value)
            .expect("sealed envelopes hold no floats")
            .into_bytes()
    }
}

/// The hash of an envelope given as JSON: SHA-256 over its canonical form without `hash`.
pub fn hash_of(envelope: &Value) -> Result<String, String> {
    if !envelope.is_object() {
        return Err("an envelope must be a JSON object".into());
    }
    let canonical =
        crate::canonical::to_canonical_except(envelope, "hash").map_err(|e| e.to_string())?;
    Ok(hex_sha256(canonical.as_bytes()))
}

/// One event as read back from the stream.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Stream sequence.
    pub seq: u64,
    pub envelope: Envelope,
    /// The payload exactly as stored, for `/log` and verification.
    pub raw: Value,
}

impl StoredEvent {
    pub fn parse(seq: u64, payload: &[u8]) -> Result<Self, LogError> {
        let corrupt = |reason: String| LogError::Corrupt { seq, reason };
        let raw: Value = serde_json::from_slice(payload)
            .map_err(|e| corrupt(format!("payload is not JSON: {e}")))?;
        let envelope: Envelope = serde_json::from_value(raw.clone())
            .map_err(|e| corrupt(format!("payload is not an event envelope: {e}")))?;
        Ok(Self { seq, envelope, raw })
    }
}

/// Where and why a case's chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("case {case_id} version {version}: {reason}")]
pub struct ChainBreak {
    pub case_id: CaseId,
    pub version: u64,
    pub reason: String,
}

/// Checks one case's events, in stream order: versions 1..n contiguous, every
/// `prev_hash` the previous `hash`, every `hash` recomputed from the stored bytes.
pub fn verify_chain(case_id: CaseId, events: &[StoredEvent]) -> Result<(), ChainBreak> {
    let mut prev = GENESIS_HASH.to_owned();
    for (i, event) in events.iter().enumerate() {
        let expected_version = i as u64 + 1;
        let e = &event.envelope;
        let brk = |reason: String| ChainBreak {
            case_id,
            version: e.version,
            reason,
        };
        if e.case_id != case_id {
            return Err(brk(format!("event belongs to case {}", e.case_id)));
        }
        if e.version != expected_version {
            return Err(ChainBreak {
                case_id,
                version: expected_version,
                reason: format!(
                    "found version {} where {expected_version} belongs",
                    e.version
                ),
            });
        }
        if e.prev_hash != prev {
            return Err(brk(format!(
                "prev_hash {} does not match the previous event's hash {prev}",
                e.prev_hash
            )));
        }
        let recomputed = hash_of(&event.raw).map_err(&brk)?;
        if recomputed != e.hash {
            return Err(brk(format!(
                "stored hash {} but the content hashes to {recomputed}",
                e.hash
            )));
        }
        prev = e.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use casegrid_domain::ActorKind;
    use serde_json::json;

    fn chain(n: u64) -> (CaseId, Vec<StoredEvent>) {
        let case_id = CaseId::for_filing("op", "k");
        let mut prev = GENESIS_HASH.to_owned();
        let mut events = Vec::new();
        for version in 1..=n {
            let e = Envelope::seal(
                case_id,
                version,
                &prev,
                "NoteAdded",
                1,
                json!({"text": format!("note {version}")}),
                Actor::new(ActorKind::Operator, "op"),
                format!("cmd-{version}"),
                "corr".into(),
                None,
                OffsetDateTime::now_utc(),
            )
            .unwrap();
            prev = e.hash.clone();
            events.push(StoredEvent::parse(version, &e.to_payload()).unwrap());
        }
        (case_id, events)
    }

    #[test]
    fn a_sealed_chain_verifies() {
        let (id, events) = chain(3);
        assert_eq!(events[0].envelope.prev_hash, GENESIS_HASH);
        assert_eq!(events[0].envelope.hash.len(), 64);
        verify_chain(id, &events).unwrap();
    }

    #[test]
    fn an_edited_payload_is_named() {
        let (id, mut events) = chain(3);
        events[1].raw["data"]["text"] = json!("edited");
        let brk = verify_chain(id, &events).unwrap_err();
        assert_eq!(brk.version, 2);
        assert!(brk.reason.contains("hashes to"), "{brk}");
    }

    #[test]
    fn the_request_fingerprint_is_hashed_and_old_envelopes_have_none() {
        let (id, events) = chain(1);
        assert!(events[0].raw.get("request").is_none(), "absent, not null");
        let fingerprint = RequestFingerprint::of("annotate", &json!({"text": "x"})).unwrap();
        let e = events[0]
            .envelope
            .clone()
            .with_request(Some(fingerprint))
            .unwrap();
        assert_ne!(e.hash, events[0].envelope.hash, "the fingerprint is hashed");
        let mut stored = StoredEvent::parse(1, &e.to_payload()).unwrap();
        assert_eq!(stored.envelope.request, e.request);
        verify_chain(id, std::slice::from_ref(&stored)).unwrap();
        stored.raw["request"]["action"] = json!("erase");
        assert!(
            verify_chain(id, &[stored]).is_err(),
            "an edited fingerprint is caught"
        );
    }

    #[test]
    fn a_missing_version_is_named() {
        let (id, mut events) = chain(3);
        events.remove(1);
        let brk = verify_chain(id, &events).unwrap_err();
        assert_eq!(brk.version, 2);
    }
}
