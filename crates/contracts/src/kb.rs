//! The knowledge base (知识库): writing entries through intake
//! ([`crate::subjects::INTAKE_KB`]) and reading them from projection (search, one entry
//! with its history, the expired entries of an owner, answers at intake by entry).

use casegrid_domain::kb::KbEntryId;
use casegrid_domain::Actor;
use serde::{Deserialize, Serialize};

/// Create (`entry_id` absent: the id is a UUIDv5 of actor and key) or edit an entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KbRequest {
    #[serde(default)]
    pub entry_id: Option<KbEntryId>,
    pub actor: Actor,
    /// `Idempotency-Key`, or one the gateway made up.
    pub idempotency_key: String,
    pub correlation_id: String,
    /// The entry as the editor wrote it (`KbDraft`), parsed by intake.
    pub body: serde_json::Value,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbReply {
    pub id: KbEntryId,
    pub version: u64,
    /// True when this request created the entry (answer 201).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created: bool,
}

/// One entry as the read model holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbEntryView {
    pub id: KbEntryId,
    pub version: u64,
    pub question: String,
    pub answer: String,
    pub category: String,
    pub valid_from: String,
    #[serde(default)]
    pub valid_until: Option<String>,
    pub owner: String,
    pub created_at: String,
    pub updated_at: String,
    /// Answers at intake (直接答复) that cited the entry.
    pub answers_at_intake: u64,
}

/// Search entries: `q` matched by character bigrams (Chinese needs no word breaks),
/// `category`, and only those valid at `valid_at` (RFC 3339) when given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbSearchQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub valid_at: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One search hit: how much of the query the entry holds (per mille) and the entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbHit {
    pub score: u32,
    pub entry: KbEntryView,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbPage {
    pub items: Vec<KbHit>,
}

/// One entry, or its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbEntryQuery {
    pub id: KbEntryId,
}

/// One version of an entry: its event as stored (the chain re-checkable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbVersionView {
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: String,
    pub actor: Actor,
    pub data: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbHistoryView {
    pub id: KbEntryId,
    pub versions: Vec<KbVersionView>,
}

/// Entries past their validity at `now` (RFC 3339, the caller's clock), of one owner
/// department or of all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbExpiredQuery {
    #[serde(default)]
    pub owner: Option<String>,
    pub now: String,
}
